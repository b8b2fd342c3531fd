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

from api.db import repository as repo
from api.db.session import session_scope

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
    with session_scope(live_server.state.engine) as s:  # each opening audited, not each event
        opened = [(e.actor, e.detail) for e in repo.audit_entries(s, "flag.stream")]
    assert opened == [("officer", {"after": None}), ("officer", {"after": first_id})]


def test_stream_needs_an_officer(live_server: Any) -> None:
    env = live_server.env
    r = httpx.get(
        f"{live_server.url}/v1/flags/stream", headers={"Authorization": f"Bearer {env.tokens['camera']}"}
    )
    assert r.status_code == 403
    assert httpx.get(f"{live_server.url}/v1/flags/stream").status_code == 401


def test_a_stream_ends_when_the_log_in_behind_it_ends(live_server: Any) -> None:
    """The stream's log-in is checked again while it runs (``live.auth_recheck_s``): a token
    revoked under an open stream gets an ``ended`` event with the reason, then no more events."""
    from api.auth import now_ms, sha256_hex
    from api.db import repository as repo
    from api.db.session import session_scope

    live_server.state.settings.live.auth_recheck_s = 0.0
    env = live_server.env
    raw = env.tokens["officer"]
    out: Events = queue.Queue()
    stop = threading.Event()
    url = f"{live_server.url}/v1/flags/stream"
    t = threading.Thread(
        target=_reader, args=(url, {"Authorization": f"Bearer {raw}"}, out, stop), daemon=True
    )
    t.start()
    assert out.get(timeout=10)["status"] == 200
    _next(out, "hello", 5)
    with session_scope(live_server.state.engine) as s:
        token = repo.token_by_sha256(s, sha256_hex(raw))
        assert token is not None
        token.revoked_ts_ms = now_ms()
    ended = _next(out, "ended", 5)
    assert "revoked" in json.loads(ended["data"])["reason"]
    env.passage("AB12CDE")  # a flag after the end: never sent
    t.join(timeout=5)
    assert not t.is_alive()
    rest = [out.get_nowait() for _ in range(out.qsize())]
    assert not [e for e in rest if e.get("event") == "flag"], rest
    stop.set()


def test_an_event_id_the_store_never_had_resets_the_client(live_server: Any) -> None:
    """``after`` or ``Last-Event-ID`` past the newest event (a store restored from a backup):
    ``reset`` (reload the list), then the stream goes on from the newest event; past 64 bits,
    ``after`` is refused and ``Last-Event-ID`` resets too."""
    env = live_server.env
    auth = {"Authorization": f"Bearer {env.tokens['officer']}"}
    url = f"{live_server.url}/v1/flags/stream"
    huge = "99999999999999999999999"
    assert httpx.get(url, params={"after": huge}, headers=auth).status_code == 422
    for query, headers in (("?after=999999", auth), ("", {**auth, "Last-Event-ID": huge})):
        out: Events = queue.Queue()
        stop = threading.Event()
        t = threading.Thread(target=_reader, args=(url + query, headers, out, stop), daemon=True)
        t.start()
        assert out.get(timeout=10)["status"] == 200
        _next(out, "reset", 5)
        outcome = env.passage("AB12CDE")
        assert json.loads(_next(out, "flag", 5)["data"])["flag"]["id"] == outcome.flag_id
        stop.set()
