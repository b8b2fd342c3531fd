"""``api.limits``: bodies over their route's limit are refused before anything reads them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from api.limits import route_limits


def test_each_route_has_its_limit() -> None:
    limit_for = route_limits(8_000_000, 50_000_000, 1_000_000)
    assert limit_for("/v1/lanes/gate-3/frames") == 8_000_000
    assert limit_for("/v1/actionlist/imports") == 50_000_000
    assert limit_for("/v1/auth/login") == limit_for("/v1/lanes/gate-3") == 1_000_000


def test_a_json_body_over_the_limit_is_413_without_credentials(api: Any) -> None:
    big = b'{"name": "officer", "password": "' + b"x" * 1_100_000 + b'"}'
    r = api.client.post("/v1/auth/login", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "over 1000000 bytes" in r.json()["detail"]
    assert "xxxx" not in r.text  # not echoed back, as a 422 would
    r = api.client.post("/v1/flags/1/release", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_a_chunked_body_is_cut_off_once_over(api: Any) -> None:

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 100_000

    r = api.client.post("/v1/auth/login", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "content-length" not in {k.lower() for k in r.request.headers}


def test_bodies_under_the_limits_still_work(api: Any) -> None:
    r = api.client.post("/v1/auth/login", json={"name": "officer", "password": "wrong-password"})
    assert r.status_code == 401
    import cv2
    import numpy as np

    jpeg = bytes(cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))[1])
    r = api.client.post(
        "/v1/lanes/L1/frames", content=jpeg, headers={**api.auth("camera"), "content-type": "image/jpeg"}
    )
    assert r.status_code == 202  # a frame under frames.max_bytes goes through the middleware
    jpeg_over = b"\xff\xd8" + b"\0" * 8_000_100
    r = api.client.post(
        "/v1/lanes/L1/frames", content=jpeg_over, headers={**api.auth("camera"), "content-type": "image/jpeg"}
    )
    assert r.status_code == 413
