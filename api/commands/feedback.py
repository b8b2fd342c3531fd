"""``hgv-lane dataset export-feedback``: the officers' corrections as labelled samples.

Registered under ``dataset`` by :func:`add_export_feedback` (one hook line in
:mod:`api.commands.dataset`); the work is done by :func:`api.feedback.export_feedback`.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from api.commands import error
from api.commands.db import add_db_option


def parse_since(text: str) -> int:
    """ISO 8601 date or date-time (``2026-11-30``, ``2026-11-30T08:00``, ``...+01:00``, ``...Z``)
    as milliseconds since the epoch; without a zone it is UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def add_export_feedback(dsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dataset export-feedback`` on the ``dataset`` command's sub-parsers."""
    d = dsub.add_parser(
        "export-feedback",
        help="officers' corrected reads and body types as labelled samples (import formats)",
        description="Export officers' feedback from the store: rejected reads with corrected marks as a "
        "plate manifest (OUT/plates/manifest.csv with the plate crops, plus a group column = passage), and "
        "confirmed or corrected trailer body types as folder-per-class crops (OUT/trailers/<body type>/"
        "<passage>.jpg) with OUT/trailers/manifest.csv (image_path,label,body_type,notes). Crops are "
        "copied from the data dir; missing ones are counted as problems. The last line is a JSON summary.",
    )
    d.add_argument("--out", type=Path, required=True, help="output folder (new or empty)")
    d.add_argument(
        "--since",
        type=parse_since,
        default=None,
        metavar="ISO8601",
        help="only feedback given at or after this time (date or date-time; UTC unless a zone is given)",
    )
    d.add_argument("--lane", default=None, metavar="L", help="only passages of this lane")
    d.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the store's evidence crops are (default: the configured data dir)",
    )
    add_db_option(d)
    d.set_defaults(func=export_feedback)


def export_feedback(args: argparse.Namespace) -> int:
    """Export; exit 0 (also with problems, which the summary counts), 2 when ``--out`` is taken."""
    from api.commands.store import opened_store  # noqa: PLC0415
    from api.feedback import export_feedback as export  # noqa: PLC0415
    from api.settings import get_settings  # noqa: PLC0415

    data_dir: Path = args.data_dir or get_settings().data_dir
    with opened_store(args) as engine:
        try:
            report = export(engine, data_dir, args.out, since_ts_ms=args.since, lane=args.lane)
        except FileExistsError as exc:
            error(f"{exc}")
            return 2
    for p in report.problems:
        print(f"problem ({p.kind}): {p.detail}")
    classes = ", ".join(f"{k} {v}" for k, v in report.trailer_classes.items()) or "none"
    print(
        f"wrote {report.plates} corrected plate(s) to {args.out / 'plates' / 'manifest.csv'} and "
        f"{report.trailers} trailer crop(s) to {args.out / 'trailers'} ({classes}); "
        f"{len(report.problems)} problem(s)"
    )
    print(json.dumps(report.summary()))
    return 0
