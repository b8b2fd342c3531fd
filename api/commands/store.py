"""Opening the store from a command: ``with opened_store(args) as engine: ...``.

The commands that touch the store repeat ``engine = open_store(store_url(args)); try: ...
finally: engine.dispose()``; this is that pattern once (new commands use it).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from api.commands.db import store_url

if TYPE_CHECKING:
    from sqlalchemy import Engine


@contextmanager
def opened_store(args: argparse.Namespace, *, migrate: bool = True) -> Iterator[Engine]:
    """An engine on ``--db`` (or the configured store), migrated to head unless ``migrate`` is
    False, disposed of when the block ends."""
    from api.db.session import open_store  # noqa: PLC0415 - keeps 'hgv-lane --help' fast

    engine = open_store(store_url(args), migrate=migrate)
    try:
        yield engine
    finally:
        engine.dispose()
