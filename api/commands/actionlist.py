"""``hgv-lane actionlist``: import the action list, list it, its versions, and match a read against it."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from api.commands import error
from api.commands.db import add_db_option
from api.commands.store import opened_store
from api.settings import get_settings

if TYPE_CHECKING:
    from api.actionlist import ImportRejected

MAX_SHOWN = 50
"""Errors (and diff marks) printed before "... and N more"."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``actionlist import|list|versions|match``."""
    p = sub.add_parser("actionlist", help="the action list: import, list, versions, match a read")
    asub = p.add_subparsers(dest="actionlist_command", metavar="ACTION", required=True)

    imp = asub.add_parser(
        "import",
        help="import a CSV (mark,kind,haulier,penalty_ref,amount_gbp,date,notes) as a new version",
        description="Import the action list from a UTF-8 CSV with the header "
        "mark,kind,haulier,penalty_ref,amount_gbp,date,notes. All or nothing: any bad row rejects "
        "the file, and every bad row is reported with its line number.",
    )
    imp.add_argument("file", type=Path, metavar="FILE", help="CSV file (UTF-8)")
    imp.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FILE_COLUMN=COLUMN",
        help="take a column under another header name, e.g. --map registration=mark (repeatable)",
    )
    imp.add_argument("--dry-run", action="store_true", help="validate and show the diff, store nothing")
    imp.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    add_db_option(imp)
    imp.set_defaults(func=import_)

    ls = asub.add_parser("list", help="the entries of the current (or a given) version")
    ls.add_argument(
        "--version", type=int, default=None, metavar="N", help="version number (default: current)"
    )
    ls.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    add_db_option(ls)
    ls.set_defaults(func=list_)

    vs = asub.add_parser("versions", help="every imported version with its diff counts")
    vs.add_argument(
        "--diff", type=int, default=None, metavar="N", help="also list the marks version N changed"
    )
    vs.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    add_db_option(vs)
    vs.set_defaults(func=versions)

    m = asub.add_parser(
        "match",
        help="match a read against the current list (exact, look-alike, edit distance)",
    )
    m.add_argument("text", metavar="TEXT", help="the read, e.g. 'WGM 1O34'")
    m.add_argument(
        "--candidate",
        action="append",
        default=[],
        metavar="TEXT",
        help="another reader candidate of the same read (repeatable)",
    )
    m.add_argument(
        "--max-edit", type=int, choices=(0, 1, 2), default=None, help="edit distance limit (default: setting)"
    )
    m.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    add_db_option(m)
    m.set_defaults(func=match)


def print_rejection(exc: ImportRejected, file: Path, out: TextIO | None = None) -> None:
    """Why ``file`` was rejected: the count, the warnings, then up to :data:`MAX_SHOWN` row errors
    (on ``out``, default standard error)."""
    out = out or sys.stderr
    print(f"rejected {file}: {len(exc.errors)} error(s); the action list was not changed", file=out)
    for warning in exc.warnings:
        print(f"  warning: {warning}", file=out)
    for row_error in exc.errors[:MAX_SHOWN]:
        print(f"  {row_error}", file=out)
    if len(exc.errors) > MAX_SHOWN:
        print(f"  ... and {len(exc.errors) - MAX_SHOWN} more", file=out)


def _short(items: list[str], limit: int = MAX_SHOWN) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" ... and {len(items) - limit} more" if len(items) > limit else "")


def import_(args: argparse.Namespace) -> int:
    """Validate and import FILE; exit 1 (store unchanged) when the file is rejected."""
    from api.actionlist import (  # noqa: PLC0415
        ConcurrentImport,
        ImportRejected,
        diff_summary,
        import_action_list,
        parse_mapping,
    )
    from api.db.session import session_scope  # noqa: PLC0415

    try:
        mapping = parse_mapping(args.map)
    except ValueError as exc:
        error(f"{exc}")
        return 2
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        error(f"cannot read {args.file}: {exc.strerror or exc}")
        return 2
    with opened_store(args) as engine:
        try:
            with session_scope(engine) as session:
                outcome = import_action_list(
                    session, data, source_name=args.file.name, column_map=mapping, dry_run=args.dry_run
                )
        except ImportRejected as exc:
            print_rejection(exc, args.file)
            if args.json:
                errors = [dataclasses.asdict(e) for e in exc.errors]
                print(json.dumps({"ok": False, "file": str(args.file), "errors": errors}))
            return 1
        except ConcurrentImport as exc:
            error(f"{exc}")
            return 1
    diff = outcome.diff
    for warning in outcome.warnings:
        print(f"warning: {warning}")
    head = "dry run, nothing stored" if outcome.dry_run else f"version {outcome.version_id}"
    prev = f"version {outcome.previous_version_id}" if outcome.previous_version_id else "an empty list"
    print(
        f"{args.file}: {outcome.n_entries} entries; {head}: {len(diff.added)} added, "
        f"{len(diff.removed)} removed, {len(diff.changed)} changed against {prev}"
    )
    if diff.added:
        print(f"  added: {_short(list(diff.added))}")
    if diff.removed:
        print(f"  removed: {_short(list(diff.removed))}")
    if diff.changed:
        changed = [f"{c.mark} ({', '.join(c.fields)})" for c in diff.changed]
        print(f"  changed: {_short(changed)}")
    if args.json:
        print(
            json.dumps(
                {
                    "ok": True,
                    "file": str(args.file),
                    "dry_run": outcome.dry_run,
                    "version": outcome.version_id,
                    "previous": outcome.previous_version_id,
                    "entries": outcome.n_entries,
                    "diff": diff_summary(diff),
                }
            )
        )
    return 0


def list_(args: argparse.Namespace) -> int:
    """Print the entries of one version."""
    from api.actionlist import EntryView  # noqa: PLC0415
    from api.db import repository as repo  # noqa: PLC0415
    from api.db.session import session_scope  # noqa: PLC0415

    with opened_store(args) as engine, session_scope(engine) as session:
        version = repo.get_version(session, args.version) if args.version else repo.latest_version(session)
        if version is None:
            if args.version:
                error(f"no action-list version {args.version}")
                return 1
            print("the action list is empty")
            return 0
        rows = [EntryView.of(r) for r in repo.entries_at(session, version.id)]
        version_id = version.id
    print(f"action list version {version_id}: {len(rows)} entries")
    for r in rows:
        print(f"  {r.mark:<10} {r.kind:<7} {r.penalty_ref:<16} {r.amount_gbp:>12} {r.date}  {r.haulier}")
    if args.json:
        print(json.dumps({"version": version_id, "entries": [dataclasses.asdict(r) for r in rows]}))
    return 0


def versions(args: argparse.Namespace) -> int:
    """Print every version (and with ``--diff N`` the marks that version changed)."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from api.actionlist import diff_summary, version_diff, version_summary  # noqa: PLC0415
    from api.db import repository as repo  # noqa: PLC0415
    from api.db.session import session_scope  # noqa: PLC0415

    diff: dict[str, Any] | None = None
    with opened_store(args) as engine, session_scope(engine) as session:
        rows = [version_summary(v) for v in repo.list_versions(session)]
        if args.diff is not None:
            if repo.get_version(session, args.diff) is None:
                error(f"no action-list version {args.diff}")
                return 1
            diff = diff_summary(version_diff(session, args.diff))
    if not rows:
        print("no action-list versions yet")
    for v in rows:
        when = datetime.fromtimestamp(int(str(v["created_ts_ms"])) / 1000, tz=UTC).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        print(
            f"  v{v['version']:<4} {when} UTC  {v['entries']:>7} entries  +{v['added']} -{v['removed']} "
            f"~{v['changed']}  {v['source']} (by {v['imported_by']})"
        )
    if diff is not None:
        print(f"version {args.diff}: added {_short(diff['added']) or '-'}")
        print(f"version {args.diff}: removed {_short(diff['removed']) or '-'}")
        print(f"version {args.diff}: changed {_short([c['mark'] for c in diff['changed']]) or '-'}")
    if args.json:
        print(json.dumps({"versions": rows, **({"diff": diff} if diff is not None else {})}))
    return 0


def match(args: argparse.Namespace) -> int:
    """Match one read (and its other candidates) against the current list."""
    from api.actionlist import build_matcher  # noqa: PLC0415
    from api.db.session import session_scope  # noqa: PLC0415

    flags = get_settings().flags
    with opened_store(args) as engine, session_scope(engine) as session:
        matcher = build_matcher(
            session,
            max_edit_distance=flags.max_edit_distance if args.max_edit is None else args.max_edit,
            edit_min_length=flags.edit_min_length,
        )
    matches = matcher.match([args.text, *args.candidate])
    version = f"version {matcher.version_id}" if matcher.version_id else "no version imported yet"
    print(
        f"{args.text!r} against the action list ({version}, {len(matcher)} entries): {len(matches)} match(es)"
    )
    for m in matches:
        e = m.entry
        which = f" [candidate {m.candidate_rank}: {m.candidate}]" if m.candidate_rank else ""
        print(f"  {e.mark:<10} {m.match_type.value:<9} {m.describe()}{which}  {e.penalty_ref}  {e.haulier}")
    if args.json:
        out = {
            "query": args.text,
            "version": matcher.version_id,
            "matches": [
                {
                    "mark": m.entry.mark,
                    "match_type": m.match_type.value,
                    "distance": m.distance,
                    "haulier": m.entry.haulier,
                    "penalty_ref": m.entry.penalty_ref,
                    "kind": m.entry.kind,
                    "candidate": m.candidate,
                    "candidate_rank": m.candidate_rank,
                    "how": m.describe(),
                }
                for m in matches
            ],
        }
        print(json.dumps(out))
    return 0
