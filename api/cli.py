"""``hgv-lane``: the console script. Every user action is a sub-command with ``--help``.

Each command lives in its own module that exposes ``add_parser(sub)`` and keeps its heavy
imports inside the handler, so ``hgv-lane --help`` imports neither torch, ultralytics nor
ONNX Runtime and answers quickly. To add a command, add its module to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

COMMANDS: tuple[str, ...] = (
    "api.commands.config",
    "api.commands.doctor",
    "api.commands.eval",
    "api.commands.serve",
    "api.commands.dataset",
    "api.commands.train",
    "api.commands.models",
    "vision.synth.cli",
    "api.commands.actionlist",
    "api.commands.db",
    "api.commands.users",
    "api.commands.tokens",
    "api.commands.process",
    "api.commands.bench",
)
"""Modules that register sub-commands, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="hgv-lane",
        description="Lane assistant for HGV inspection: plates, trailer body type, action list, flag queue.",
    )
    parser.add_argument(
        "--config", type=Path, default=None, help="settings file (.toml or .yaml); also HGV_LANE_CONFIG"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hgv-lane`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.config is not None:
        os.environ["HGV_LANE_CONFIG"] = str(args.config)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from api.db.errors import StoreError  # noqa: PLC0415 (keeps --help light)
    from api.settings import SettingsError  # noqa: PLC0415

    try:
        code: int = args.func(args)
    except (SettingsError, StoreError) as exc:
        print(f"hgv-lane: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
