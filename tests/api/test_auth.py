"""Passwords, tokens, sessions, CSRF and roles."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from api.auth import hash_password, new_token, sha256_hex, verify_password
from api.db import repository as repo
from api.db.session import session_scope


def test_password_hashing_is_argon2id_and_salted() -> None:
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a.startswith("$argon2id$") and a != b
    assert verify_password(a, "correct horse") and not verify_password(a, "wrong")
    assert not verify_password(None, "anything") and not verify_password("not-a-hash", "x")


def test_tokens_are_random_and_only_their_hash_is_stored(api: Any) -> None:
    assert new_token() != new_token() and new_token().startswith("hgv_")
    token = api.tokens["officer"]
    with session_scope(api.state.engine) as s:
        rows = repo.list_tokens(s)
        assert all(token not in (r.token_sha256, r.prefix, r.name) for r in rows)
        assert any(r.token_sha256 == sha256_hex(token) for r in rows)


def _login(api: Any, name: str = "alice", password: str = "alice-password-1") -> Any:
    return api.client.post("/v1/auth/login", json={"name": name, "password": password})


def test_login_sets_a_strict_httponly_cookie_and_csrf_is_enforced(api: Any) -> None:
    api.user("alice", "officer", "alice-password-1")
    flag = api.passage("AB12CDE").flag_id
    r = _login(api)
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["name"] == "alice" and me["role"] == "officer" and me["csrf_token"]
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "hgv_session=" in cookie
    # the cookie alone reads ...
    assert api.client.get("/v1/flags").status_code == 200
    assert api.client.get("/v1/auth/me").json()["csrf_token"] == me["csrf_token"]
    # ... but changes nothing without the CSRF header
    r = api.client.post(f"/v1/flags/{flag}/claim")
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    r = api.client.post(f"/v1/flags/{flag}/claim", headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    r = api.client.post(f"/v1/flags/{flag}/claim", headers={"X-CSRF-Token": "été".encode()})
    assert r.status_code == 403  # a non-ASCII header is a wrong token, not a 500
    r = api.client.post(f"/v1/flags/{flag}/claim", headers={"X-CSRF-Token": me["csrf_token"]})
    assert r.status_code == 200 and r.json()["claimed_by"] == "alice"
    # log out ends the session server-side
    assert api.client.post("/v1/auth/logout", headers={"X-CSRF-Token": me["csrf_token"]}).status_code == 204
    assert api.client.get("/v1/flags").status_code == 401


def test_a_stolen_cookie_value_after_logout_is_useless(api: Any) -> None:
    api.user("alice", "officer", "alice-password-1")
    r = _login(api)
    raw = api.client.cookies.get("hgv_session")
    api.client.post("/v1/auth/logout", headers={"X-CSRF-Token": r.json()["csrf_token"]})
    api.client.cookies.clear()
    api.client.cookies.set("hgv_session", raw)
    assert api.client.get("/v1/flags").status_code == 401


def test_wrong_password_unknown_user_and_cameras_cannot_log_in(api: Any) -> None:
    api.user("alice", "officer", "alice-password-1")
    api.user("cam9", "camera", "camera-password")
    assert _login(api, password="nope").status_code == 401
    assert _login(api, name="nobody").status_code == 401
    assert _login(api, name="cam9", password="camera-password").status_code == 401
    with session_scope(api.state.engine) as s:
        failed = repo.audit_entries(s, "auth.login_failed")
    assert len(failed) == 3 and failed[0].client_ip


def test_repeated_failures_are_throttled(api: Any) -> None:
    api.user("alice", "officer", "alice-password-1")
    codes = [_login(api, password="nope").status_code for _ in range(5)]
    assert codes == [401] * 5
    assert _login(api).status_code == 429  # even the right password, for a while


def test_a_spray_of_names_from_one_address_is_blocked_and_audited_once_per_block(api: Any) -> None:
    api.user("alice", "officer", "alice-password-1")
    api.user("bob", "officer", "bob-password-12")
    assert _login(api).status_code == 200  # alice works from this address already
    codes = [_login(api, name=f"guess{i}", password="nope").status_code for i in range(25)]
    assert codes == [401] * 20 + [429] * 5  # each name tried once: only the address's count stops it
    assert _login(api, name="bob", password="bob-password-12").status_code == 429  # new here: blocked
    # behind a proxy or NAT every officer shares the address: those already working go on
    assert _login(api).status_code == 200
    with session_scope(api.state.engine) as s:
        assert len(repo.audit_entries(s, "auth.login_failed")) == 20
        # one row for the address's block (bob's try, refused by the same block, adds none)
        assert [a.actor for a in repo.audit_entries(s, "auth.login_blocked")] == ["guess20"]


def test_a_flood_of_guesses_passes_the_limit_by_at_most_the_checks_in_flight() -> None:
    # waiting for a place had let 44 of 60 concurrent guesses through a limit of 5
    import contextlib
    import threading

    import api.auth as auth_mod

    throttle = auth_mod.LoginThrottle(limit=5, concurrent=4, wait_s=2.0)
    digest = auth_mod.hash_password("alice-password-1")
    checked: list[bool] = []

    def guess() -> None:
        with contextlib.suppress(auth_mod.LoginBlocked, auth_mod.LoginBusy):  # refused: not checked
            checked.append(auth_mod.throttled_verify(throttle, "alice", "10.0.0.9", digest, "guess"))

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert 5 <= len(checked) <= 5 + 3 and not any(checked)


def test_password_checks_wait_briefly_for_a_place_then_are_refused() -> None:
    import threading

    import api.auth as auth_mod

    throttle = auth_mod.LoginThrottle(concurrent=2, wait_s=0.05)
    with throttle.checking(), throttle.checking(), pytest.raises(auth_mod.LoginBusy), throttle.checking():
        pass
    slow = auth_mod.LoginThrottle(concurrent=1, wait_s=5.0)
    held = threading.Event()

    def hold() -> None:
        with slow.checking():
            held.set()
            time.sleep(0.2)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(5)
    with slow.checking():  # waits for the place rather than refusing a burst of officers
        pass
    t.join(5)


@pytest.mark.parametrize(
    ("method", "path", "who", "code"),
    [
        ("get", "/v1/flags", "camera", 403),
        ("get", "/v1/audit", "officer", 403),
        ("get", "/v1/audit", "supervisor", 200),
        ("get", "/v1/users", "supervisor", 403),
        ("get", "/v1/users", "admin", 200),
        ("get", "/v1/passages", "camera", 403),
        ("get", "/v1/lanes", "camera", 200),
        ("get", "/v1/actionlist", "officer", 200),
    ],
)
def test_roles_are_checked_on_the_server(api: Any, method: str, path: str, who: str, code: int) -> None:
    r = getattr(api.client, method)(path, headers=api.auth(who))
    assert r.status_code == code, r.text


def test_every_v1_route_needs_authentication(api: Any) -> None:
    spec = api.client.get("/openapi.json").json()
    open_routes = []
    for path, ops in spec["paths"].items():
        for method in ops:
            if not path.startswith("/v1"):
                continue
            url = path.replace("{flag_id}", "1").replace("{passage_id}", "1").replace("{position}", "0")
            url = url.replace("{lane_id}", "L1").replace("{version}", "1").replace("{name}", "x")
            url = url.replace("{token_id}", "1")
            r = api.client.request(method.upper(), url)
            if r.status_code != 401:
                open_routes.append((method, path, r.status_code))
    assert open_routes == [("post", "/v1/auth/login", 422)]


def test_revoked_and_expired_tokens_are_refused(api: Any) -> None:
    r = api.client.post("/v1/tokens", json={"name": "cam"}, headers=api.auth("officer"))
    assert r.status_code == 201
    created = r.json()
    h = {"Authorization": f"Bearer {created['token']}"}
    assert api.client.get("/v1/flags", headers=h).status_code == 200
    assert api.client.delete(f"/v1/tokens/{created['id']}", headers=api.auth("officer")).status_code == 204
    r = api.client.get("/v1/flags", headers=h)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert api.client.delete(f"/v1/tokens/{created['id']}", headers=api.auth("officer")).status_code == 204
    with session_scope(api.state.engine) as s:  # revoking again is no second revocation
        assert [a.action for a in repo.audit_entries(s)].count("token.revoke") == 1
    with session_scope(api.state.engine) as s:
        row = repo.token_by_sha256(s, sha256_hex(api.tokens["officer2"]))
        assert row is not None
        row.expires_ts_ms = 1
    r = api.client.get("/v1/flags", headers=api.auth("officer2"))
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    assert api.client.get("/v1/flags", headers={"Authorization": "Basic abc"}).status_code == 401


def test_users_and_tokens_over_the_api(api: Any) -> None:
    h = api.auth("admin")
    r = api.client.post("/v1/users", json={"name": "lane3-cam", "role": "camera"}, headers=h)
    assert r.status_code == 201 and r.json()["has_password"] is False
    assert (
        api.client.post("/v1/users", json={"name": "lane3-cam", "role": "camera"}, headers=h).status_code
        == 409
    )
    r = api.client.post("/v1/users", json={"name": "bob", "role": "officer", "password": "short"}, headers=h)
    assert r.status_code == 422 and "too short" in r.json()["detail"]
    r = api.client.post(
        "/v1/users", json={"name": "cam9", "role": "camera", "password": "a-long-pass"}, headers=h
    )
    assert r.status_code == 422 and "a camera gets no password" in r.json()["detail"]
    r = api.client.patch("/v1/users/lane3-cam", json={"password": "a-long-pass"}, headers=h)
    assert r.status_code == 422 and "is a camera: it gets no password" in r.json()["detail"]
    r = api.client.post(
        "/v1/users", json={"name": "etl", "role": "officer"}, headers=h
    )  # token-only integration
    assert r.status_code == 201 and r.json()["has_password"] is False
    r = api.client.post("/v1/tokens", json={"user": "lane3-cam", "name": "lane 3", "lane": "L3"}, headers=h)
    assert r.status_code == 201 and r.json()["token"].startswith("hgv_") and r.json()["lane"] == "L3"
    lane3 = {"Authorization": f"Bearer {r.json()['token']}", "Content-Type": "image/jpeg"}
    assert api.client.post("/v1/lanes/L4/frames", content=b"x", headers=lane3).status_code == 403
    listed = api.client.get("/v1/tokens", headers=h).json()
    assert "token" not in listed[0] and [t["lane"] for t in listed if t["user"] == "lane3-cam"] == ["L3"]
    r = api.client.post("/v1/tokens", json={"user": "lane3-cam", "lane": "../L3"}, headers=h)
    assert r.status_code == 422
    r = api.client.post("/v1/tokens", json={"user": "officer", "lane": "L3"}, headers=h)
    assert r.status_code == 422 and "only a camera user's token" in r.json()["detail"]
    r = api.client.post("/v1/tokens", json={"user": "admin"}, headers=api.auth("officer"))
    assert r.status_code == 403
    # a camera holding a lane-bound token keeps its role until the token is revoked
    r = api.client.patch("/v1/users/lane3-cam", json={"role": "supervisor"}, headers=h)
    assert r.status_code == 409 and "lane-bound token" in r.json()["detail"]
    assert api.client.get("/v1/flags", headers=lane3).status_code == 403
    bound = [t["id"] for t in api.client.get("/v1/tokens", headers=h).json() if t["user"] == "lane3-cam"]
    assert all(api.client.delete(f"/v1/tokens/{i}", headers=h).status_code == 204 for i in bound)
    r = api.client.patch("/v1/users/lane3-cam", json={"role": "supervisor"}, headers=h)
    assert r.status_code == 200 and r.json()["role"] == "supervisor"
    r = api.client.patch("/v1/users/officer2", json={"active": False}, headers=h)
    assert r.status_code == 200 and r.json()["active"] is False
    assert api.client.get("/v1/flags", headers=api.auth("officer2")).status_code == 401
    with session_scope(api.state.engine) as s:
        assert {"user.add", "token.create", "user.update"} <= {a.action for a in repo.audit_entries(s)}


def test_cli_users_add_and_tokens_create(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    import io
    import json

    from api.cli import main

    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert main(["users", "add", "alice", "--role", "officer", "--password-stdin", "--db", db]) == 0
    assert main(["users", "add", "gate-cam", "--role", "camera", "--db", db]) == 0
    assert main(["users", "add", "cam2", "--role", "camera", "--password-stdin", "--db", db]) == 1
    said = capsys.readouterr()  # errors on standard error: standard output keeps the results
    assert "error: a camera gets no password" in said.err and "error" not in said.out
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert main(["users", "set-password", "gate-cam", "--password-stdin", "--db", db]) == 1
    assert "is a camera: it gets no password" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "bob", "--role", "officer", "--password-stdin", "--db", db]) == 1
    assert "too short" in capsys.readouterr().err
    assert main(["users", "add", "alice", "--role", "admin", "--db", db, "--password-stdin"]) == 1
    assert main(["tokens", "create", "--user", "gate-cam", "--name", "gate", "--json", "--db", db]) == 0
    out = capsys.readouterr().out
    token = json.loads(out.strip().splitlines()[-1])["token"]
    assert "shown only now" in out and token.startswith("hgv_")
    assert main(["tokens", "create", "--user", "nobody", "--db", db]) == 1
    for name in ("", "  ", "x" * 101):  # a token's name says what it is for, whole
        assert main(["tokens", "create", "--user", "gate-cam", "--name", name, "--db", db]) == 2
    assert main(["tokens", "create", "--user", "gate-cam", "--lane", "gate/1", "--db", db]) == 2
    assert "not a lane id" in capsys.readouterr().err
    assert main(["tokens", "create", "--user", "alice", "--lane", "gate-1", "--db", db]) == 2
    assert "not camera" in capsys.readouterr().err
    assert main(["tokens", "create", "--user", "gate-cam", "--lane", "gate-1", "--json", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "for lane 'gate-1' only" in out and json.loads(out.strip().splitlines()[-1])["lane"] == "gate-1"
    assert main(["tokens", "list", "--json", "--db", db]) == 0
    listed = capsys.readouterr().out
    assert token not in listed and "gate-cam" in listed and "lane gate-1" in listed and "any lane" in listed
    rows = json.loads(listed.strip().splitlines()[-1])["tokens"]
    assert sorted(str(t["lane"]) for t in rows) == ["None", "gate-1"]
    assert main(["users", "list", "--json", "--db", db]) == 0
    users = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["users"]
    assert {(u["name"], u["role"], u["password"]) for u in users} == {
        ("alice", "officer", True),
        ("gate-cam", "camera", False),
    }
    from api.db.session import open_store

    engine = open_store(db)
    try:
        with session_scope(engine) as s:
            user = repo.get_user_by_name(s, "alice")
            assert user is not None and verify_password(user.password_hash, "a-long-password")
            assert repo.token_by_sha256(s, sha256_hex(token)) is not None
    finally:
        engine.dispose()
    capsys.readouterr()
    assert main(["tokens", "revoke", "1", "--db", db]) == 0
    assert main(["tokens", "revoke", "1", "--db", db]) == 0  # again: said, not audited twice
    out = capsys.readouterr().out
    assert "token 1 revoked" in out and "token 1 was revoked already" in out
    engine = open_store(db)
    try:
        with session_scope(engine) as s:
            assert [a.action for a in repo.audit_entries(s)].count("token.revoke") == 1
    finally:
        engine.dispose()
    # a person's token expires by default (90 days); a new password revokes the person's tokens
    assert main(["tokens", "create", "--user", "alice", "--name", "script", "--json", "--db", db]) == 0
    made = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert made["expires_ts_ms"] is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("another-long-password\n"))
    assert main(["users", "set-password", "alice", "--password-stdin", "--db", db]) == 0
    assert "1 token(s) revoked" in capsys.readouterr().out
    engine = open_store(db)
    try:
        with session_scope(engine) as s:
            row = repo.token_by_sha256(s, sha256_hex(made["token"]))
            assert row is not None and row.revoked_ts_ms is not None
    finally:
        engine.dispose()


def test_the_login_throttle_holds_a_bounded_number_of_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Failures for many names or addresses age out and are capped: the throttle's memory does
    not grow with every name an attacker tries, and a blocked name is not pushed out by them."""
    import api.auth as auth_mod

    clock = [1000.0]
    monkeypatch.setattr(auth_mod.time, "monotonic", lambda: clock[0])
    throttle = auth_mod.LoginThrottle(limit=3, window_s=60.0, max_keys=100)
    for _ in range(3):
        throttle.failed("alice", "10.0.0.1")
    for i in range(500):  # a spray of names, one failure each
        clock[0] += 0.01
        throttle.failed(f"name{i}", "10.0.0.9")
    assert len(throttle) <= 100
    assert throttle.blocked("alice", "10.0.0.1")  # the spray pushed out unblocked keys, not hers
    clock[0] += 61.0  # every failure has aged out
    throttle.failed("bob", "10.0.0.2")
    for i in range(100):
        throttle.failed(f"late{i}", "10.0.0.3")
    assert len(throttle) <= 101 and not throttle.blocked("alice", "10.0.0.1")


def test_a_password_change_ends_the_sessions_of_the_old_one(api: Any) -> None:
    """A browser session opened with the old password (a stolen cookie) ends when an admin sets
    a new one; the user logs in again with the new password."""
    from fastapi.testclient import TestClient

    api.user("alice", "officer", "alice-password-1")
    other = TestClient(api.client.app)
    assert (
        other.post("/v1/auth/login", json={"name": "alice", "password": "alice-password-1"}).status_code
        == 200
    )
    assert other.get("/v1/flags").status_code == 200
    csrf = other.get("/v1/auth/me").json()["csrf_token"]
    minted = other.post("/v1/tokens", json={"name": "persist"}, headers={"X-CSRF-Token": csrf})
    assert minted.status_code == 201  # what a stolen cookie can do before the reset
    r = api.client.patch("/v1/users/alice", json={"password": "alice-password-2"}, headers=api.auth("admin"))
    assert r.status_code == 200
    assert other.get("/v1/flags").status_code == 401
    bearer = {"Authorization": f"Bearer {minted.json()['token']}"}
    assert api.client.get("/v1/flags", headers=bearer).status_code == 401  # the minted token ends too
    with session_scope(api.state.engine) as s:
        (entry,) = [a for a in repo.audit_entries(s, "user.update") if a.detail.get("user") == "alice"]
        # alice's two tokens: the fixture's and the minted one
        assert entry.detail["sessions_ended"] == 1 and entry.detail["tokens_revoked"] == 2
    assert _login(api, password="alice-password-2").status_code == 200


def test_disabling_a_user_ends_their_sessions_for_good(api: Any) -> None:
    from fastapi.testclient import TestClient

    api.user("alice", "officer", "alice-password-1")
    other = TestClient(api.client.app)
    assert (
        other.post("/v1/auth/login", json={"name": "alice", "password": "alice-password-1"}).status_code
        == 200
    )
    for active in (False, True):
        r = api.client.patch("/v1/users/alice", json={"active": active}, headers=api.auth("admin"))
        assert r.status_code == 200
    assert other.get("/v1/flags").status_code == 401  # enabled again, the old cookie stays dead
    assert (
        api.client.get("/v1/flags", headers=api.auth("alice")).status_code == 200
    )  # tokens: inert only while disabled


def test_a_user_made_a_camera_loses_their_sessions_and_password(api: Any) -> None:
    from fastapi.testclient import TestClient

    api.user("o3", "officer", "o3-password-12")
    other = TestClient(api.client.app)
    assert other.post("/v1/auth/login", json={"name": "o3", "password": "o3-password-12"}).status_code == 200
    r = api.client.patch("/v1/users/o3", json={"role": "camera"}, headers=api.auth("admin"))
    assert r.status_code == 200
    assert other.get("/v1/auth/me").status_code == 401
    assert _login(api, name="o3", password="o3-password-12").status_code == 401
    with session_scope(api.state.engine) as s:
        user = repo.get_user_by_name(s, "o3")
        assert user is not None and user.password_hash is None
    # the officer's token does not go on as a camera's (it had pushed frames, 202), nor a camera's
    # never-expiring token as an admin's (it had read /v1/users)
    assert api.client.get("/v1/flags", headers=api.auth("o3")).status_code == 401
    r = api.client.patch("/v1/users/camera", json={"role": "admin"}, headers=api.auth("admin"))
    assert r.status_code == 200 and api.client.get("/v1/users", headers=api.auth("camera")).status_code == 401


def test_a_persons_token_expires_by_default_and_a_cameras_does_not(api: Any) -> None:
    import time

    api.user("alice", "officer", "alice-password-1")  # a person: she logs in with a password
    r = api.client.post("/v1/tokens", json={"name": "script"}, headers=api.auth("alice"))
    days = (r.json()["expires_ts_ms"] - time.time() * 1000) / 86_400_000
    assert r.status_code == 201 and 89.9 < days <= 90.0
    r = api.client.post("/v1/tokens", json={"name": "long", "expires_days": 365}, headers=api.auth("alice"))
    assert 364.9 < (r.json()["expires_ts_ms"] - time.time() * 1000) / 86_400_000 <= 365.0
    r = api.client.post("/v1/tokens", json={"user": "camera", "name": "gate"}, headers=api.auth("admin"))
    assert r.status_code == 201 and r.json()["expires_ts_ms"] is None
    api.user("feed", "officer")  # a token-only integration (no password): its feed must not stop
    r = api.client.post("/v1/tokens", json={"user": "feed", "name": "export"}, headers=api.auth("admin"))
    assert r.status_code == 201 and r.json()["expires_ts_ms"] is None


def test_a_camera_token_may_not_make_tokens(api: Any) -> None:
    r = api.client.post("/v1/tokens", json={"name": "more"}, headers=api.auth("camera"))
    assert r.status_code == 403 and "made by an admin" in r.json()["detail"]
    r = api.client.post("/v1/tokens", json={"user": "camera", "name": "gate"}, headers=api.auth("admin"))
    assert r.status_code == 201


def test_a_token_for_a_lane_the_configuration_does_not_list_is_warned_about(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.cli import main
    from api.settings import get_settings

    monkeypatch.setenv("HGV_LANE_PIPELINE__LANES", '[{"lane_id": "P1"}]')
    get_settings.cache_clear()
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    try:
        assert main(["users", "add", "cam", "--role", "camera", "--db", db]) == 0
        assert main(["tokens", "create", "--user", "cam", "--lane", "P11", "--db", db]) == 0
        said = capsys.readouterr()
        assert "lane 'P11' is not in pipeline.lanes (P1)" in said.err and "hgv_" in said.out
        assert main(["tokens", "create", "--user", "cam", "--lane", "P1", "--db", db]) == 0
        assert "warning" not in capsys.readouterr().err
        assert (
            main(
                [
                    "tokens",
                    "create",
                    "--user",
                    "cam",
                    "--lane",
                    "P1",
                    "--camera",
                    "front",
                    "--json",
                    "--db",
                    db,
                ]
            )
            == 0
        )
        out = capsys.readouterr().out
        assert (
            "for lane 'P1' only as camera 'front'" in out
            and json.loads(out.splitlines()[-1])["camera"] == "front"
        )
        assert main(["tokens", "create", "--user", "cam", "--camera", "front", "--db", db]) == 2
        assert "give the lane too" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


def test_a_person_changes_their_own_password_and_every_other_session_and_token_ends(api: Any) -> None:
    from fastapi.testclient import TestClient

    api.user("alice", "officer", "alice-password-1")  # with a token (api.tokens["alice"])
    other = TestClient(api.client.app)
    assert (
        other.post("/v1/auth/login", json={"name": "alice", "password": "alice-password-1"}).status_code
        == 200
    )
    me = _login(api)
    csrf = {"X-CSRF-Token": me.json()["csrf_token"]}
    change = {"current_password": "alice-password-1", "new_password": "alice-password-2"}
    wrong = {**change, "current_password": "not-it"}
    assert api.client.post("/v1/auth/password", json=wrong, headers=csrf).status_code == 403
    assert api.client.post("/v1/auth/password", json=change).status_code == 403  # no CSRF token
    assert api.client.post("/v1/auth/password", json=change, headers=csrf).status_code == 204
    assert api.client.get("/v1/flags").status_code == 200  # this session stays
    assert other.get("/v1/flags").status_code == 401  # the other one ended
    api.client.cookies.clear()
    assert api.client.get("/v1/flags", headers=api.auth("alice")).status_code == 401  # her token too
    assert _login(api, password="alice-password-2").status_code == 200
    with session_scope(api.state.engine) as s:
        assert len(repo.audit_entries(s, "auth.password_failed")) == 1
        (done,) = repo.audit_entries(s, "auth.password_changed")
        assert done.detail == {"sessions_ended": 1, "tokens_revoked": 1}
    cam = api.client.post("/v1/auth/password", json=change, headers={**api.auth("camera")})
    assert cam.status_code == 403 and "camera" in cam.json()["detail"]


def test_guessing_the_current_password_is_throttled_as_log_ins_are(api: Any) -> None:
    api.user("alice", "officer", "alice-password-1")
    wrong = {"current_password": "guess", "new_password": "alice-password-2"}
    codes = [
        api.client.post("/v1/auth/password", json=wrong, headers=api.auth("alice")).status_code
        for _ in range(6)
    ]
    assert codes == [403] * 5 + [429]
