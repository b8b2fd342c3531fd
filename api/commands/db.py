"""``hgv-lane db``: bring the store's schema up to date, and prune old passages."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from api.settings import get_settings


def add_db_option(p: argparse.ArgumentParser) -> None:
    """The ``--db URL`` option every store command takes."""
    p.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="SQLAlchemy URL of the store (default: the configured store, Settings.database_url)",
    )


def store_url(args: argparse.Namespace) -> str:
    """``--db`` or the configured store."""
    url: str | None = args.db
    return url or get_settings().database_url


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``db upgrade`` and ``db prune``."""
    p = sub.add_parser("db", help="the store: schema migrations and retention")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dsub.add_parser("upgrade", help="run the schema migrations (alembic upgrade head)")
    add_db_option(up)
    up.set_defaults(func=upgrade)
    pr = dsub.add_parser(
        "prune", help="delete passages without a flag older than the retention period, with their crops"
    )
    add_db_option(pr)
    pr.add_argument("--dry-run", action="store_true", help="report what would be deleted, delete nothing")
    pr.add_argument(
        "--days", type=int, default=None, help="retention in days (default: flags.unflagged_retention_days)"
    )
    pr.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    pr.set_defaults(func=prune)


def upgrade(args: argparse.Namespace) -> int:
    """Migrate the store to the newest schema; prints the revision."""
    from api.commands.store import opened_store  # noqa: PLC0415 - store.py imports this module
    from api.db.session import current_revision, head_revision  # noqa: PLC0415

    with opened_store(args) as engine:
        print(
            f"store {engine.url.render_as_string(hide_password=True)}: "
            f"revision {current_revision(engine)} (head {head_revision()})"
        )
    return 0


def prune(args: argparse.Namespace) -> int:
    """Delete (or with ``--dry-run`` count) unflagged passages past retention."""
    from api.commands import error  # noqa: PLC0415
    from api.commands.store import opened_store  # noqa: PLC0415 - store.py imports this module
    from api.retention import prune_passages  # noqa: PLC0415
    from vision.pipeline.spool import spool_path  # noqa: PLC0415

    settings = get_settings()
    days = args.days if args.days is not None else settings.flags.unflagged_retention_days
    if days < 0:
        error("--days must be 0 or more")
        return 2
    with opened_store(args) as engine:
        report = prune_passages(engine, settings.data_dir, older_than_days=days, dry_run=args.dry_run)
    verb = "would delete" if report.dry_run else "deleted"
    print(
        f"{verb} {report.passages} passage(s) without a flag older than {days} day(s), "
        f"{report.files} crop file(s) ({report.bytes / 1e6:.1f} MB)"
        + (f"; {report.missing_files} crop file(s) were already gone" if report.missing_files else "")
        + (
            f"; {report.spool_replayed_lines} line(s) of the spool's replay record"
            if report.spool_replayed_lines
            else ""
        )
    )
    if report.spool_bad_lines:
        print(
            f"{report.spool_bad_lines} spooled passage(s) could not be replayed into the store and are "
            f"kept in {spool_path(settings.data_dir).with_suffix('.bad.jsonl')}: look at them",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps({**dataclasses.asdict(report), "days": days}))
    return 0
