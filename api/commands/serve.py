"""``hgv-lane serve``: run the lane service with uvicorn."""

from __future__ import annotations

import argparse

from api.settings import get_settings


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
    settings = settings.model_copy(update={"server": settings.server.model_copy(update=updates)})
    app = create_app(settings)
    uvicorn.run(
        app, host=settings.server.host, port=settings.server.port, log_level=settings.log_level.lower()
    )
    return 0
