"""The flag queue over HTTP: list, detail, workflow actions, races, rematch on correction, audit."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from api.db import repository as repo
from api.db.models import FlagStatus
from api.db.session import session_scope
from api.flags import FlagOutcome


def _flag(api: Any, mark: str = "AB12CDE", **kw: Any) -> int:
    outcome = api.passage(mark, **kw)
    assert isinstance(outcome, FlagOutcome) and outcome.flag_id is not None
    return outcome.flag_id


def test_list_is_sorted_by_risk_with_reasons(api: Any) -> None:
    low = _flag(api, "XY99ZZZ", body="curtainsider")  # soft-sided only: 25
    high = _flag(api, "AB12CDE", body="box")  # exact hit: 80
    r = api.client.get("/v1/flags", headers=api.auth("officer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [f["id"] for f in body["items"]] == [high, low]
    assert body["items"][0]["risk_score"] == 80 and body["items"][0]["status"] == "new"
    assert "matches action list vehicle AB12CDE" in body["items"][0]["reasons"][0]["text"]
    assert body["last_event_id"] >= 2
    assert (
        api.client.get("/v1/flags?min_risk=50", headers=api.auth("officer")).json()["items"][0]["id"] == high
    )
    assert len(api.client.get("/v1/flags?mark=xy99 zzz", headers=api.auth("officer")).json()["items"]) == 1
    with session_scope(api.state.engine) as s:  # a search by mark is audited, the listing is not
        searches = [(a.actor, a.detail) for a in repo.audit_entries(s, "flag.search")]
    assert searches == [("officer", {"mark": "XY99ZZZ"})]


def test_detail_shows_evidence_match_and_allowed_actions_and_is_audited(api: Any) -> None:
    flag_id = _flag(api, "AB12CDE")
    r = api.client.get(f"/v1/flags/{flag_id}", headers=api.auth("officer"))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["allowed_actions"] == ["claim"]
    (m,) = d["matches"]
    assert m["mark"] == "AB12CDE" and m["match_type"] == "exact" and m["haulier"] == "Acme Ltd"
    (p,) = d["passages"]
    assert p["plates"][0]["text"] == "AB12CDE" and p["plates"][0]["crop_url"]
    crop = api.client.get(p["plates"][0]["crop_url"], headers=api.auth("officer"))
    assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg"
    assert crop.content.startswith(b"\xff\xd8")
    body = api.client.get(p["body_crop_url"], headers=api.auth("officer"))
    assert body.status_code == 200
    with session_scope(api.state.engine) as s:
        actions = [(a.actor, a.action) for a in repo.audit_entries(s)]
        views = [a for a in repo.audit_entries(s) if a.action == "evidence.view"]
        assert views[0].client_ip and views[0].user_agent
    assert ("officer", "flag.view") in actions
    assert actions.count(("officer", "evidence.view")) == 2


def test_unknown_flag_is_404_and_cameras_get_403_and_bad_tokens_401(api: Any) -> None:
    assert api.client.get("/v1/flags/999", headers=api.auth("officer")).status_code == 404
    assert api.client.post("/v1/flags/999/claim", headers=api.auth("officer")).status_code == 404
    r = api.client.get("/v1/flags", headers=api.auth("camera"))
    assert r.status_code == 403 and "camera" in r.json()["detail"]
    r = api.client.get("/v1/flags", headers={"Authorization": "Bearer hgv_wrong"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert api.client.get("/v1/flags").status_code == 401


def test_full_workflow_claim_verify_direct_dispose(api: Any) -> None:
    flag_id = _flag(api)
    h = api.auth("officer")
    r = api.client.post(f"/v1/flags/{flag_id}/claim", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "claimed" and r.json()["claimed_by"] == "officer"
    assert r.json()["allowed_actions"] == ["release", "verify_read", "reject_read"]
    assert (
        api.client.post(f"/v1/flags/{flag_id}/verify", json={}, headers=h).json()["status"] == "read_verified"
    )
    assert (
        api.client.post(f"/v1/flags/{flag_id}/direct", json={}, headers=h).json()["status"]
        == "directed_to_search"
    )
    r = api.client.post(
        f"/v1/flags/{flag_id}/dispose",
        json={"outcome": "entrants_found", "entrants_found": 3, "detection_methods": ["co2_probe", "dog"]},
        headers=h,
    )
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["status"] == "disposed" and d["outcome"] == "entrants_found" and d["entrants_found"] == 3
    assert d["detection_methods"] == ["co2_probe", "dog"] and d["allowed_actions"] == []
    kinds = [e["kind"] for e in d["events"]]
    assert kinds == ["created", "claim", "verify_read", "direct_to_search", "dispose"]
    with session_scope(api.state.engine) as s:
        audited = {a.action for a in repo.audit_entries(s) if a.actor == "officer"}
    assert {"flag.claim", "flag.verify_read", "flag.direct_to_search", "flag.dispose"} <= audited


def test_forbidden_transitions_are_409_with_the_reason(api: Any) -> None:
    flag_id = _flag(api)
    h = api.auth("officer")
    r = api.client.post(f"/v1/flags/{flag_id}/verify", json={}, headers=h)
    assert r.status_code == 409 and "cannot verify read a flag that is new" in r.json()["detail"]
    api.client.post(f"/v1/flags/{flag_id}/claim", headers=h)
    r = api.client.post(f"/v1/flags/{flag_id}/claim", headers=api.auth("officer2"))
    assert r.status_code == 409
    r = api.client.post(f"/v1/flags/{flag_id}/verify", json={}, headers=api.auth("officer2"))
    assert r.status_code == 409 and "claimed by officer" in r.json()["detail"]
    api.client.post(f"/v1/flags/{flag_id}/verify", json={}, headers=h)
    r = api.client.post(
        f"/v1/flags/{flag_id}/dispose", json={"outcome": "no_find", "detection_methods": ["dog"]}, headers=h
    )
    assert r.status_code == 409 and "needs a search" in r.json()["detail"]
    r = api.client.post(f"/v1/flags/{flag_id}/dispose", json={"outcome": "not_stopped"}, headers=h)
    assert r.status_code == 422 and "say why" in r.json()["detail"]
    # someone else's claim is refused before the details are looked at
    r = api.client.post(
        f"/v1/flags/{flag_id}/dispose", json={"outcome": "not_stopped"}, headers=api.auth("officer2")
    )
    assert r.status_code == 409 and "claimed by officer" in r.json()["detail"]
    r = api.client.post(
        f"/v1/flags/{flag_id}/dispose", json={"outcome": "not_stopped", "note": "waved through"}, headers=h
    )
    assert r.status_code == 200 and r.json()["outcome"] == "not_stopped"
    r = api.client.post(f"/v1/flags/{flag_id}/claim", headers=h)
    assert r.status_code == 409 and "closed" in r.json()["detail"]
    # a closed flag is closed, whatever a second disposal's details say
    for body in (
        {"outcome": "entrants_found", "entrants_found": 1, "detection_methods": ["dog"]},
        {"outcome": "not_stopped"},
    ):
        r = api.client.post(f"/v1/flags/{flag_id}/dispose", json=body, headers=h)
        assert r.status_code == 409 and "it is closed" in r.json()["detail"], r.text


def test_stale_version_is_409(api: Any) -> None:
    flag_id = _flag(api)
    r = api.client.post(f"/v1/flags/{flag_id}/claim", json={"version": 1}, headers=api.auth("officer"))
    assert r.status_code == 200 and r.json()["version"] == 2
    r = api.client.post(f"/v1/flags/{flag_id}/release", json={"version": 1}, headers=api.auth("officer"))
    assert r.status_code == 409 and "changed since you loaded it" in r.json()["detail"]


def test_supervisor_may_release_another_officers_claim(api: Any) -> None:
    flag_id = _flag(api)
    api.client.post(f"/v1/flags/{flag_id}/claim", headers=api.auth("officer"))
    r = api.client.post(
        f"/v1/flags/{flag_id}/release", json={"note": "shift ended"}, headers=api.auth("supervisor")
    )
    assert r.status_code == 200 and r.json()["status"] == "new" and r.json()["claimed_by"] is None


def test_two_officers_claiming_at_once_one_wins(api: Any) -> None:
    flag_id = _flag(api)
    barrier = threading.Barrier(2)
    codes: dict[str, int] = {}

    def claim(name: str) -> None:
        barrier.wait()
        codes[name] = api.client.post(f"/v1/flags/{flag_id}/claim", headers=api.auth(name)).status_code

    threads = [threading.Thread(target=claim, args=(n,)) for n in ("officer", "officer2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes.values()) == [200, 409], codes
    with session_scope(api.state.engine) as s:
        flag = repo.get_flag(s, flag_id)
        assert flag is not None and flag.status == FlagStatus.CLAIMED
        assert [e.kind for e in flag.events].count("claim") == 1


def test_reject_with_correction_rematches_and_updates_risk(api: Any) -> None:
    flag_id = _flag(api, "AB12CDK", body="box")  # one edit from AB12CDE: 50 points
    h = api.auth("officer")
    before = api.client.get(f"/v1/flags/{flag_id}", headers=h).json()
    assert before["risk_score"] == 50 and before["matches"][0]["match_type"] == "edit"
    api.client.post(f"/v1/flags/{flag_id}/claim", headers=h)
    r = api.client.post(
        f"/v1/flags/{flag_id}/reject",
        json={"reason": "last letter is E on the plate", "corrected_mark": "ab12 cde"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["status"] == "read_rejected" and d["vehicle_mark"] == "AB12CDE"
    assert d["read_mark"] == "AB12CDK" and d["corrected_mark"] == "AB12CDE"
    assert d["risk_score"] == 80
    (m,) = d["matches"]
    assert m["match_type"] == "exact" and m["source"] == "officer_correction"
    assert d["reasons"][0]["text"].startswith("Officer's corrected read:")
    event = d["events"][-1]
    assert event["kind"] == "reject_read" and event["detail"]["score_before"] == 50
    assert event["detail"]["score_after"] == 80 and event["detail"]["matches"] == ["AB12CDE"]
    assert d["allowed_actions"] == ["direct_to_search", "dispose"]


def test_reject_with_correction_off_the_list_drops_the_hit(api: Any) -> None:
    flag_id = _flag(api, "AB12CDE", body="curtainsider")
    h = api.auth("officer")
    api.client.post(f"/v1/flags/{flag_id}/claim", headers=h)
    r = api.client.post(
        f"/v1/flags/{flag_id}/reject", json={"reason": "misread", "corrected_mark": "ZZ99ZZZ"}, headers=h
    )
    assert r.status_code == 200
    d = r.json()
    assert d["matches"] == [] and d["risk_score"] == 25  # only the soft-sided reason is left


@pytest.mark.parametrize(
    ("body", "fragment"),
    [({"reason": "  "}, "say why"), ({"reason": "x", "corrected_mark": "!!"}, "not plate-like")],
)
def test_reject_needs_a_reason_and_a_plate_like_mark(api: Any, body: dict[str, str], fragment: str) -> None:
    flag_id = _flag(api)
    api.client.post(f"/v1/flags/{flag_id}/claim", headers=api.auth("officer"))
    r = api.client.post(f"/v1/flags/{flag_id}/reject", json=body, headers=api.auth("officer"))
    assert r.status_code == 422 and fragment in r.json()["detail"]
    # the flag's state first: someone else's claim, no such flag
    r = api.client.post(f"/v1/flags/{flag_id}/reject", json=body, headers=api.auth("officer2"))
    assert r.status_code == 409 and "claimed by officer" in r.json()["detail"]
    r = api.client.post("/v1/flags/9999/reject", json=body, headers=api.auth("officer"))
    assert r.status_code == 404


def test_dispose_validates_the_outcome(api: Any) -> None:
    flag_id = _flag(api)
    h = api.auth("officer")
    for step in ("claim", "verify", "direct"):
        api.client.post(f"/v1/flags/{flag_id}/{step}", json={}, headers=h)
    for body, fragment in (
        ({"outcome": "entrants_found", "detection_methods": ["dog"]}, "how many"),
        ({"outcome": "no_find"}, "detection methods"),
        (
            {"outcome": "security_breach", "entrants_found": 2, "detection_methods": ["physical"]},
            "no entrants",
        ),
    ):
        r = api.client.post(f"/v1/flags/{flag_id}/dispose", json=body, headers=h)
        assert r.status_code == 422 and fragment in r.json()["detail"], r.text
    r = api.client.post(
        f"/v1/flags/{flag_id}/dispose", json={"outcome": "no_find", "detection_methods": ["x-ray"]}, headers=h
    )
    assert r.status_code == 422  # not a detection method


def test_a_lost_race_says_whether_an_officer_or_a_new_passage_changed_the_flag() -> None:
    from api.db.models import Flag, FlagStatus
    from api.routers.flags import _raced

    moved = _raced(Flag(status=FlagStatus.CLAIMED, claimed_by="officer2"), FlagStatus.NEW)
    assert moved.status_code == 409 and moved.detail.startswith("another officer acted first")
    same = _raced(Flag(status=FlagStatus.CLAIMED, claimed_by="officer"), FlagStatus.CLAIMED)
    assert (
        same.status_code == 409 and "a new passage of the lorry" in same.detail and "reload it" in same.detail
    )
