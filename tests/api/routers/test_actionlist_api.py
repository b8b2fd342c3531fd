"""The action list over HTTP: CSV upload (rebuilds the matcher), list, versions, search."""

from __future__ import annotations

from typing import Any

from api.db import repository as repo
from api.db.session import session_scope

CSV = "mark,kind,haulier,penalty_ref,amount_gbp,date\nZZ99ZZZ,vehicle,New Haulier,CP-9,100,2025-01-01\n"


def test_upload_creates_a_version_and_the_next_passage_matches_it(api: Any) -> None:
    h = {**api.auth("supervisor"), "Content-Type": "text/csv"}
    r = api.client.post("/v1/actionlist/imports?source_name=new.csv", content=CSV, headers=h)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["version"] == 2 and body["diff"]["added"] == ["ZZ99ZZZ"]
    assert body["diff"]["removed"] == ["AB12CDE", "WGM1034"]
    assert api.passage("ZZ99ZZZ", body="box").risk_score == 80  # the matcher was rebuilt
    versions = api.client.get("/v1/actionlist/versions", headers=api.auth("officer")).json()
    assert [v["version"] for v in versions] == [1, 2]
    detail = api.client.get("/v1/actionlist/versions/2", headers=api.auth("officer")).json()
    assert detail["diff"]["added"] == ["ZZ99ZZZ"]
    entries = api.client.get("/v1/actionlist", headers=api.auth("officer")).json()
    assert entries["version"] == 2 and [e["mark"] for e in entries["entries"]] == ["ZZ99ZZZ"]
    old = api.client.get("/v1/actionlist?version=1", headers=api.auth("officer")).json()
    assert len(old["entries"]) == 2


def test_a_bad_file_is_rejected_row_by_row_and_nothing_changes(api: Any) -> None:
    h = {**api.auth("supervisor"), "Content-Type": "text/csv"}
    bad = (
        "mark,kind,haulier,penalty_ref,amount_gbp,date\n=cmd,vehicle,X,P,1,2025-01-01\nAB1,lorry,X,P,1,2025\n"
    )
    r = api.client.post("/v1/actionlist/imports", content=bad, headers=h)
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert {e["line"] for e in errors} == {2, 3} and any("not plate-like" in e["reason"] for e in errors)
    assert len(api.client.get("/v1/actionlist/versions", headers=h).json()) == 1


def test_dry_run_and_roles(api: Any) -> None:
    r = api.client.post(
        "/v1/actionlist/imports?dry_run=true",
        content=CSV,
        headers={**api.auth("supervisor"), "Content-Type": "text/csv"},
    )
    assert r.status_code == 201 and r.json()["dry_run"] is True and r.json()["version"] is None
    r = api.client.post(
        "/v1/actionlist/imports", content=CSV, headers={**api.auth("officer"), "Content-Type": "text/csv"}
    )
    assert r.status_code == 403


def test_reading_the_list_is_audited(api: Any) -> None:
    """Who read the hauliers and penalties, and which version: the whole list and a version's diff."""
    r = api.client.get("/v1/actionlist", headers=api.auth("officer"))
    assert r.status_code == 200 and r.json()["entries"]
    version = r.json()["version"]
    assert (
        api.client.get(f"/v1/actionlist/versions/{version}", headers=api.auth("supervisor")).status_code
        == 200
    )
    assert api.client.get("/v1/actionlist/versions/999", headers=api.auth("officer")).status_code == 404
    with session_scope(api.state.engine) as s:
        views = [(a.actor, a.detail) for a in repo.audit_entries(s, "actionlist.view")]
    n = len(r.json()["entries"])
    assert views == [
        ("officer", {"version": version, "entries": n}),
        ("supervisor", {"version": version, "diff": True}),
    ]


def test_search_reports_how_a_read_matched(api: Any) -> None:
    r = api.client.get("/v1/actionlist/search", params={"mark": "WGM1O34"}, headers=api.auth("officer"))
    assert r.status_code == 200
    (m,) = r.json()["matches"]
    assert m["mark"] == "WGM1034" and m["match_type"] == "lookalike" and "O/0" in m["how"]


def test_an_upload_reaches_the_open_flags(api: Any) -> None:
    """A lorry flagged for an unsure read whose mark a new version lists: its open flag takes
    the hit at once (it had said "no action-list match" until the lorry came round again)."""
    outcome = api.passage("QQ11QQQ", body="box", conf=0.5)
    flag_id = outcome.flag_id
    before = api.client.get(f"/v1/flags/{flag_id}", headers=api.auth("officer")).json()
    assert before["risk_score"] == 20 and [r["code"] for r in before["reasons"]] == ["low_confidence"]
    h = {**api.auth("supervisor"), "Content-Type": "text/csv"}
    listed = CSV + "QQ11QQQ,vehicle,Q Haulage,CP-7,700,2025-01-01\n"
    assert api.client.post("/v1/actionlist/imports", content=listed, headers=h).status_code == 201
    after = api.client.get(f"/v1/flags/{flag_id}", headers=api.auth("officer")).json()
    assert after["risk_score"] == 100 and after["version"] > before["version"]
    hit = next(r for r in after["reasons"] if r["code"] == "action_list")
    assert "CP-7" in hit["text"] and len(after["reasons"]) == 2


def test_an_officers_corrected_read_is_what_a_new_version_is_matched_with(api: Any) -> None:
    """A flag whose read an officer corrected (and sent to search) is matched again by the
    officer's reading, not the machine's wrong one."""
    flag_id = api.passage("AB12CDK", body="box").flag_id  # a near miss of the listed AB12CDE
    h = api.auth("officer")
    api.client.post(f"/v1/flags/{flag_id}/claim", headers=h)
    r = api.client.post(
        f"/v1/flags/{flag_id}/reject",
        json={"reason": "plate says QQ11QQQ", "corrected_mark": "QQ11QQQ"},
        headers=h,
    )
    assert r.status_code == 200 and not [x for x in r.json()["reasons"] if x["code"] == "action_list"]
    assert (
        api.client.post(f"/v1/flags/{flag_id}/direct", json={}, headers=h).json()["status"]
        == "directed_to_search"
    )
    up = {**api.auth("supervisor"), "Content-Type": "text/csv"}
    listed = CSV + "QQ11QQQ,vehicle,Q Haulage,CP-7,700,2025-01-01\nAB12CDE,vehicle,Acme,CP-1,1,2025-01-01\n"
    assert api.client.post("/v1/actionlist/imports", content=listed, headers=up).status_code == 201
    hits = [
        x["text"]
        for x in api.client.get(f"/v1/flags/{flag_id}", headers=h).json()["reasons"]
        if x["code"] == "action_list"
    ]
    assert len(hits) == 1 and hits[0].startswith("Officer's corrected read:") and "CP-7" in hits[0]
