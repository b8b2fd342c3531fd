"""``hgv-lane config show``: print the effective settings."""

from __future__ import annotations

import argparse
import json
from typing import Any

from api.settings import Settings, get_settings


def _describe(model: type[Any], prefix: str = "") -> list[str]:
    """One line per setting: dotted name, type, default, bounds and description."""
    lines: list[str] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        dotted = f"{prefix}{name}"
        if isinstance(ann, type) and hasattr(ann, "model_fields"):
            lines.extend(_describe(ann, dotted + "."))
            continue
        bounds = ", ".join(str(m) for m in field.metadata)
        env = "HGV_LANE_" + dotted.upper().replace(".", "__")
        lines.append(f"{dotted} ({env}): {field.description or ''}" + (f" [{bounds}]" if bounds else ""))
    return lines


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``config show``."""
    p = sub.add_parser("config", help="show the effective settings")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    cs = csub.add_parser("show", help="print the effective settings (JSON)")
    cs.add_argument(
        "--schema", action="store_true", help="print every setting with its description and bounds"
    )
    cs.set_defaults(func=show)


def show(args: argparse.Namespace) -> int:
    """Print the effective settings as JSON (or, with ``--schema``, what each setting means)."""
    if args.schema:
        print("\n".join(_describe(Settings)))
        return 0
    from vision.pipeline.sources import redact_url  # noqa: PLC0415

    settings = get_settings()
    data = settings.model_dump(mode="json")
    # passwords in URLs are not printed: the output goes into tickets and screen shares
    data["database_url"] = redact_url(settings.database_url)
    if data["store"].get("url"):
        data["store"]["url"] = redact_url(data["store"]["url"])
    for lane in data["pipeline"]["lanes"]:
        lane["source"] = redact_url(lane["source"])
    print(json.dumps(data, indent=2, sort_keys=True))
    return 0
