"""Passage search and evidence crops, each view audited."""

from __future__ import annotations

from typing import Any

import pytest

from api.db import repository as repo
from api.db.session import session_scope


def test_search_by_mark_lane_and_time(api: Any) -> None:
    api.passage("AB12CDE", lane="L1", at_ms=1_700_000_000_000)
    api.passage("XY34ZZZ", lane="L2", at_ms=1_700_000_100_000, body="box")
    h = api.auth("officer")
    r = api.client.get("/v1/passages", params={"mark": "ab12 cde"}, headers=h)
    assert r.status_code == 200 and [p["plates"][0]["text"] for p in r.json()] == ["AB12CDE"]
    assert [p["lane_id"] for p in api.client.get("/v1/passages?lane=L2", headers=h).json()] == ["L2"]
    r = api.client.get("/v1/passages", params={"from_ts_ms": 1_700_000_050_000}, headers=h)
    assert [p["lane_id"] for p in r.json()] == ["L2"]
    assert len(api.client.get("/v1/passages?flagged=false", headers=h).json()) == 1  # the hard-sided XY34ZZZ
    with session_scope(api.state.engine) as s:
        searches = repo.audit_entries(s, "passage.search")
    assert searches[0].detail["query"]["mark"] == "AB12CDE" and searches[0].actor == "officer"


@pytest.mark.parametrize("path", ["/v1/passages", "/v1/flags", "/v1/actionlist/search"])
def test_a_mark_with_no_letter_or_digit_is_refused_not_a_filter_that_lists_everything(
    api: Any, path: str
) -> None:
    api.passage("AB12CDE")
    h = api.auth("officer")
    for mark in ("%%", " - "):
        r = api.client.get(path, params={"mark": mark}, headers=h)
        assert r.status_code == 422 and "no letters or digits" in r.json()["detail"], (mark, r.text)
    if path != "/v1/actionlist/search":  # where a mark is required
        assert api.client.get(path, params={"mark": ""}, headers=h).status_code == 200  # not given


def test_crops_are_jpeg_and_audited_and_missing_ones_404(api: Any) -> None:
    outcome = api.passage("AB12CDE")
    h = api.auth("officer")
    p = api.client.get(f"/v1/passages/{outcome.passage_row_id}", headers=h).json()
    r = api.client.get(p["body_crop_url"], headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert "no-store" in r.headers["cache-control"]
    assert (
        api.client.get(f"/v1/passages/{outcome.passage_row_id}/crops/plate/5", headers=h).status_code == 404
    )
    assert api.client.get("/v1/passages/999", headers=h).status_code == 404
    assert api.client.get(p["body_crop_url"], headers=api.auth("camera")).status_code == 403
    with session_scope(api.state.engine) as s:
        assert [a.action for a in repo.audit_entries(s) if a.actor == "officer"] == [
            "passage.view",
            "evidence.view",
        ]
