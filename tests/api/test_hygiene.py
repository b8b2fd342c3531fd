"""``api.hygiene``: no value sent comes back in a 422; API answers are not cached."""

from __future__ import annotations

from typing import Any


def test_a_422_says_where_and_why_but_not_what_was_sent(api: Any) -> None:
    r = api.client.post("/v1/auth/login", json={"name": "x" * 200, "password": "my-secret-passw0rd"})
    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "name"] and "at most 64" in error["msg"]
    assert "input" not in error and "xxxx" not in r.text
    r = api.client.post("/v1/auth/login", json={"name": "officer", "password": 12345678901})
    assert r.status_code == 422 and "12345678901" not in r.text


def test_api_answers_are_not_cached_and_crops_keep_their_own_header(api: Any) -> None:
    r = api.client.get("/v1/flags", headers=api.auth("officer"))
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert api.client.get("/v1/auth/me").headers["cache-control"] == "no-store"  # a 401 too
    assert "no-store" not in api.client.get("/static/app.css").headers.get("cache-control", "")
