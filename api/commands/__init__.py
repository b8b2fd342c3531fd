"""The ``hgv-lane`` subcommands, one module each (``api/cli.py`` wires them)."""

from __future__ import annotations

import sys


def error(message: str) -> None:
    """Print ``error: message`` on standard error (standard output keeps the command's results)."""
    print(f"error: {message}", file=sys.stderr)
