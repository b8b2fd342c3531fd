"""Opening the store: engine, Alembic ``upgrade head``, sessions.

Every command that touches the store goes through :func:`open_store`, which brings the
schema up to date first (the migrations live in :mod:`api.migrations`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.db.errors import StoreError
from api.store import make_engine

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
"""Alembic's script directory (shipped inside the package, with its ``alembic.ini``)."""


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration from the packaged ``alembic.ini``; ``url`` overrides the store's URL."""
    _quiet_alembic()
    from alembic.config import Config  # noqa: PLC0415 - alembic logs at INFO while it imports

    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` on ``engine`` (idempotent; a store already at
    head is only checked)."""
    before, head = current_revision(engine), head_revision()
    if revision == "head" and before == head:
        return
    cfg = alembic_config()
    from alembic import command  # noqa: PLC0415
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    known = {r.revision for r in ScriptDirectory.from_config(cfg).walk_revisions()}
    if before is not None and before not in known:
        raise StoreError(
            f"the store is at schema revision {before!r}, which this hgv-lane does not know (its newest "
            f"is {head!r}): a newer hgv-lane made it. Run that version, or restore a backup of the store"
        )

    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    log.info(
        "store schema upgraded from %s to %s", before or "empty", head if revision == "head" else revision
    )


def downgrade(engine: Engine, revision: str) -> None:
    """Run the migrations down to ``revision`` (``"base"`` drops every table)."""
    cfg = alembic_config()
    from alembic import command  # noqa: PLC0415

    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _quiet_alembic() -> None:
    """Alembic logs every plugin and context at INFO; keep that out of the commands' output
    unless logging was configured for it."""
    for name in ("alembic.runtime.plugins", "alembic.runtime.migration", "alembic.autogenerate"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


def current_revision(engine: Engine) -> str | None:
    """The schema revision the store is at (``None`` before the first upgrade)."""
    _quiet_alembic()
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the shipped migrations know."""
    cfg = alembic_config()
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory.from_config(cfg).get_current_head()


def open_store(url: str, *, migrate: bool = True) -> Engine:
    """An engine on ``url`` with the schema upgraded to head (unless ``migrate`` is False).
    Raises :class:`StoreError` when the store cannot be opened or created (an unwritable folder,
    a full disk, a database that refuses the connection) or was made by a newer hgv-lane."""
    from sqlalchemy import make_url  # noqa: PLC0415
    from sqlalchemy.exc import DatabaseError  # noqa: PLC0415 - OperationalError's parent

    try:
        engine = make_engine(url)
    except OSError as e:  # its folder cannot be made
        where = make_url(url).render_as_string(hide_password=True)
        raise StoreError(f"cannot open the store {where}: {e}") from e
    if migrate:
        try:
            upgrade(engine)
        except DatabaseError as e:  # cannot open or create it; not a database at all
            engine.dispose()
            where = engine.url.render_as_string(hide_password=True)
            raise StoreError(f"cannot open the store {where}: {e.orig or e}") from e
        except StoreError:
            engine.dispose()
            raise
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on ``engine``; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commits on success, rolls back (and re-raises) on any error."""
    with session_factory(engine)() as session, session.begin():
        yield session
