"""``hgv-lane serve`` really starts a server that answers ``GET /health``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_answers_health(tmp_path: Path, tiny_model: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "HGV_LANE_DATA_DIR": str(tmp_path / "data"),
        "HGV_LANE_MODELS__DIR": str(tiny_model.parent),
    }
    env.pop("HGV_LANE_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                status = r.status_code
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert status == 200, proc.stdout.read() if proc.poll() is not None and proc.stdout else status
        assert r.json()["store"] == "sqlite"
        assert (tmp_path / "data" / "hgv-lane.sqlite3").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_forwarded_for_is_believed_only_from_configured_proxies(tmp_path: Path) -> None:
    """uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 by default: anyone on the host could
    pose as any address to the log-in throttle and the audit log. Served by ``serve``, no
    proxy's header is believed unless ``server.forwarded_allow_ips`` names it."""
    import uvicorn
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from api.commands.serve import uvicorn_options
    from api.settings import ServerSettings, Settings

    def proxied(settings: Settings) -> bool:
        config = uvicorn.Config(lambda scope, receive, send: None, **uvicorn_options(settings))
        config.load()
        app, seen = config.loaded_app, False
        while app is not None:  # uvicorn wraps the app: walk the wrappers
            seen = seen or isinstance(app, ProxyHeadersMiddleware)
            app = getattr(app, "app", None)
        return seen

    assert not proxied(Settings(data_dir=tmp_path))
    with_proxy = Settings(data_dir=tmp_path, server=ServerSettings(forwarded_allow_ips="10.0.0.5"))
    assert proxied(with_proxy) and uvicorn_options(with_proxy)["forwarded_allow_ips"] == "10.0.0.5"
