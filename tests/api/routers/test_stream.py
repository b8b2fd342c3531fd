"""The live queue (SSE) over a real HTTP server: new flags arrive within a second, events carry
ids, and a client reconnecting with Last-Event-ID gets what it missed."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from typing import Any

import httpx

Events = queue.Queue[dict[str, Any]]


def _reader(url: str, headers: dict[str, str], out: Events, stop: threading.Event) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server shut down under the open stream
        _read(url, headers, out, stop)


def _read(url: str, headers: dict[str, str], out: Events, stop: threading.Event) -> None:
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=30)) as client,
        client.stream("GET", url, headers=headers) as r,
    ):
        out.put({"status": r.status_code, "content_type": r.headers.get("content-type", "")})
        event: dict[str, Any] = {}
        for line in r.iter_lines():
            if stop.is_set():
                return
            if not line:
                if event:
                    out.put(event)
                event = {}
                continue
            key, _, value = line.partition(":")
            event[key] = value.strip()


def _next(out: queue.Queue[dict[str, Any]], kind: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {kind!r} event within {timeout_s} s"
        event = out.get(timeout=left)
        if event.get("event") == kind:
            return event


def test_new_flag_reaches_a_connected_officer_within_a_second_and_replays(live_server: Any) -> None:
    env = live_server.env
    headers = {"Authorization": f"Bearer {env.tokens['officer']}"}
    out: queue.Queue[dict[str, Any]] = queue.Queue()
    stop = threading.Event()
    url = f"{live_server.url}/v1/flags/stream"
    t = threading.Thread(target=_reader, args=(url, headers, out, stop), daemon=True)
    t.start()
    first = out.get(timeout=10)
    assert first["status"] == 200 and first["content_type"].startswith("text/event-stream")
    _next(out, "hello", 5)

    stored = time.monotonic()
    outcome = env.passage("AB12CDE")
    event = _next(out, "flag", 5)
    latency = time.monotonic() - stored
    assert latency < 1.0, latency
    data = json.loads(event["data"])
    assert data["flag"]["id"] == outcome.flag_id and data["kind"] == "created"
    assert data["flag"]["vehicle_mark"] == "AB12CDE" and data["flag"]["risk_score"] == 100
    first_id = int(event["id"])
    assert first_id == data["event_id"]
    stop.set()

    # while disconnected: two more flags, then reconnect with Last-Event-ID
    a = env.passage("WGM1034", lane="L2")
    b = env.passage("QQ11QQQ", body="tilt")
    out2: queue.Queue[dict[str, Any]] = queue.Queue()
    stop2 = threading.Event()
    t2 = threading.Thread(
        target=_reader, args=(url, {**headers, "Last-Event-ID": str(first_id)}, out2, stop2), daemon=True
    )
    t2.start()
    assert out2.get(timeout=10)["status"] == 200
    got = [json.loads(_next(out2, "flag", 5)["data"]) for _ in range(2)]
    assert [g["flag"]["id"] for g in got] == [a.flag_id, b.flag_id]
    assert all(g["event_id"] > first_id for g in got)
    stop2.set()


def test_stream_needs_an_officer(live_server: Any) -> None:
    env = live_server.env
    r = httpx.get(
        f"{live_server.url}/v1/flags/stream", headers={"Authorization": f"Bearer {env.tokens['camera']}"}
    )
    assert r.status_code == 403
    assert httpx.get(f"{live_server.url}/v1/flags/stream").status_code == 401
