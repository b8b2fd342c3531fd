"""``hgv-lane serve``: run the lane service with uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError

from api.settings import ServerSettings, Settings, get_settings, settings_error


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve``."""
    p = sub.add_parser("serve", help="start the lane service (HTTP API and officers' page)")
    p.add_argument("--host", default=None, help="listen address (default from settings: 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="TCP port (default from settings: 8000)")
    p.add_argument("--demo", action="store_true", help="run the bundled demo lane inside the service")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the service on the configured (or given) host and port; blocks until stopped."""
    import uvicorn  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415

    settings = get_settings()
    updates = {
        "host": args.host or settings.server.host,
        "port": args.port or settings.server.port,
        "demo": args.demo or settings.server.demo,
    }
    try:  # model_copy does not validate: a --port out of bounds must fail here, not in uvicorn
        server = ServerSettings.model_validate({**settings.server.model_dump(), **updates})
    except ValidationError as exc:
        raise settings_error(exc, under=("server",)) from exc
    settings = settings.model_copy(update={"server": server})
    app = create_app(settings, lane_runner=True)  # pushed frames always reach a pipeline
    uvicorn.run(app, **uvicorn_options(settings))
    return 0


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's keyword arguments: host, port, log level, and whose ``X-Forwarded-For`` to
    believe (``server.forwarded_allow_ips``; none by default, where uvicorn believes 127.0.0.1:
    anyone on the host could then pose as any address to the log-in throttle and the audit)."""
    proxies = settings.server.forwarded_allow_ips.strip()
    return {
        "host": settings.server.host,
        "port": settings.server.port,
        "log_level": settings.log_level.lower(),
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or "",
    }
