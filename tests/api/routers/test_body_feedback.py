"""Officers confirm or correct the trailer body type of a flag's passage: who may, when, what is
stored, the flag event on the live queue and the audit row."""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np
import pytest

from api.db import repository as repo
from api.db.models import BodyFeedback
from api.db.session import session_scope
from vision.types import (
    BodyType,
    Passage,
    PassagePlate,
    PlateCandidate,
    PlateRole,
    ReadStatus,
    TrailerVerdict,
)


def _flag(api: Any, mark: str = "AB12CDE", body: str = "box") -> tuple[int, int]:
    """A flag with one passage; ``(flag id, passage id)``."""
    flag_id = api.passage(mark, body=body).flag_id
    d = api.client.get(f"/v1/flags/{flag_id}", headers=api.auth("officer")).json()
    return flag_id, d["passages"][0]["id"]


def _body(api: Any, flag_id: int, passage_id: int, who: str = "officer", **body: Any) -> Any:
    return api.client.post(
        f"/v1/flags/{flag_id}/passages/{passage_id}/body-type", json=body, headers=api.auth(who)
    )


def test_confirm_then_correct_is_stored_evented_and_audited(api: Any) -> None:
    flag_id, pid = _flag(api, body="box")
    h = api.auth("officer")
    claimed = api.client.post(f"/v1/flags/{flag_id}/claim", headers=h).json()
    assert claimed["body_feedback_allowed"] is True
    assert claimed["passages"][0]["body_feedback"] is None

    r = _body(api, flag_id, pid, action="confirm", version=claimed["version"])
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["status"] == "claimed" and d["version"] == claimed["version"] + 1
    fb = d["passages"][0]["body_feedback"]
    assert fb["kind"] == "confirmed" and fb["body_type"] == "box" and fb["side"] == "hard"
    assert fb["by"] == "officer" and fb["ts_ms"] > 0
    assert d["passages"][0]["body_type"] == "box"  # the machine's stays as it was
    assert d["events"][-1]["kind"] == "confirm_body" and d["events"][-1]["passage_id"] == pid

    r = _body(api, flag_id, pid, action="correct", body_type="curtainsider", note="curtains on the side")
    assert r.status_code == 200, r.text
    d = r.json()
    fb = d["passages"][0]["body_feedback"]
    assert fb["kind"] == "corrected" and fb["body_type"] == "curtainsider" and fb["side"] == "soft"
    event = d["events"][-1]
    assert event["kind"] == "correct_body" and event["to_status"] is None
    assert event["detail"] == {
        "passage": d["passages"][0]["passage_uid"],
        "feedback": "corrected",
        "machine_body_type": "box",
        "body_type": "curtainsider",
        "side": "soft",
        "before": "box",
        "note": "curtains on the side",
    }
    assert d["risk_score"] == claimed["risk_score"]  # a label: the risk is not recomputed

    with session_scope(api.state.engine) as s:
        row = repo.get_passage(s, pid)
        assert row is not None and row.body_feedback == BodyFeedback.CORRECTED
        assert row.body_type_officer == "curtainsider" and row.body_feedback_by == "officer"
        audited = [a for a in repo.audit_entries(s) if a.action.endswith("_body")]
        assert [a.action for a in audited] == ["flag.confirm_body", "flag.correct_body"]
        assert audited[1].detail["flag"] == flag_id and audited[1].detail["body_type"] == "curtainsider"
        assert audited[1].user_agent
        # the live queue replays flag events: the correction is one of them
        kinds = [e.kind for e in repo.events_after(s, 0, 100)]
        assert kinds[-2:] == ["confirm_body", "correct_body"]


def test_correcting_to_the_machines_type_is_a_confirmation(api: Any) -> None:
    flag_id, pid = _flag(api, body="tanker")
    api.client.post(f"/v1/flags/{flag_id}/claim", headers=api.auth("officer"))
    d = _body(api, flag_id, pid, action="correct", body_type="tanker").json()
    assert d["passages"][0]["body_feedback"]["kind"] == "confirmed"
    assert d["events"][-1]["kind"] == "confirm_body"


def test_who_may_and_when(api: Any) -> None:
    flag_id, pid = _flag(api)
    r = _body(api, flag_id, pid, action="confirm")
    assert r.status_code == 409 and "claim the flag" in r.json()["detail"]
    assert (
        api.client.get(f"/v1/flags/{flag_id}", headers=api.auth("officer")).json()["body_feedback_allowed"]
        is False
    )
    api.client.post(f"/v1/flags/{flag_id}/claim", headers=api.auth("officer"))
    r = _body(api, flag_id, pid, "officer2", action="confirm")
    assert r.status_code == 409 and "claimed by officer" in r.json()["detail"]
    assert (
        api.client.get(f"/v1/flags/{flag_id}", headers=api.auth("officer2")).json()["body_feedback_allowed"]
        is False
    )
    r = _body(api, flag_id, pid, "camera", action="confirm")
    assert r.status_code == 403
    r = _body(api, flag_id, pid, "supervisor", action="correct", body_type="reefer")
    assert r.status_code == 200 and r.json()["passages"][0]["body_feedback"]["by"] == "supervisor"
    # after the search and disposal the claiming officer may still say what the trailer was
    h = api.auth("officer")
    for step, body in (
        ("verify", {}),
        ("direct", {}),
        ("dispose", {"outcome": "no_find", "detection_methods": ["physical"]}),
    ):
        assert api.client.post(f"/v1/flags/{flag_id}/{step}", json=body, headers=h).status_code == 200
    r = _body(api, flag_id, pid, action="correct", body_type="box")
    assert r.status_code == 200 and r.json()["status"] == "disposed"
    assert r.json()["passages"][0]["body_feedback"]["kind"] == "confirmed"


def test_unknown_flag_or_passage_of_another_flag_is_404_and_stale_version_409(api: Any) -> None:
    flag_id, pid = _flag(api, "AB12CDE")
    other_id, other_pid = _flag(api, "XY99ZZZ", body="curtainsider")
    api.client.post(f"/v1/flags/{flag_id}/claim", headers=api.auth("officer"))
    assert _body(api, 999, pid, action="confirm").status_code == 404
    r = _body(api, flag_id, other_pid, action="confirm")
    assert r.status_code == 404 and f"not a passage of flag {flag_id}" in r.json()["detail"]
    r = _body(api, flag_id, pid, action="confirm", version=1)
    assert r.status_code == 409 and "changed since you loaded it" in r.json()["detail"]
    assert other_id != flag_id


@pytest.mark.parametrize(
    ("machine", "body", "fragment"),
    [
        ("box", {"action": "correct"}, "give the body type"),
        ("box", {"action": "correct", "body_type": "unknown"}, "must be one of"),
        ("box", {"action": "confirm", "body_type": "tilt"}, "the machine said box"),
        ("unknown", {"action": "confirm"}, "correct it instead"),
        ("box", {"action": "agree"}, "action"),
        ("box", {"action": "correct", "body_type": "spaceship"}, "body_type"),
    ],
)
def test_details_that_do_not_fit_are_422(api: Any, machine: str, body: dict[str, str], fragment: str) -> None:
    flag_id = api.passage("AB12CDE", body=machine).flag_id
    pid = api.client.get(f"/v1/flags/{flag_id}", headers=api.auth("officer")).json()["passages"][0]["id"]
    api.client.post(f"/v1/flags/{flag_id}/claim", headers=api.auth("officer"))
    r = _body(api, flag_id, pid, **body)
    assert r.status_code == 422 and fragment in str(r.json()["detail"]), r.text
    with session_scope(api.state.engine) as s:
        row = repo.get_passage(s, pid)
        assert row is not None and row.body_feedback is None  # nothing half-stored


def test_cookie_requests_need_the_csrf_header(api: Any) -> None:
    api.user("alice", "officer", "alice-password-1")
    flag_id, pid = _flag(api)
    me = api.client.post("/v1/auth/login", json={"name": "alice", "password": "alice-password-1"}).json()
    csrf = {"X-CSRF-Token": me["csrf_token"]}
    assert api.client.post(f"/v1/flags/{flag_id}/claim", headers=csrf).status_code == 200
    url = f"/v1/flags/{flag_id}/passages/{pid}/body-type"
    r = api.client.post(url, json={"action": "confirm"})
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    r = api.client.post(url, json={"action": "confirm"}, headers=csrf)
    assert r.status_code == 200 and r.json()["passages"][0]["body_feedback"]["by"] == "alice"


def test_passage_search_shows_the_feedback(api: Any) -> None:
    flag_id, pid = _flag(api, "AB12CDE", body="box")
    api.client.post(f"/v1/flags/{flag_id}/claim", headers=api.auth("officer"))
    _body(api, flag_id, pid, action="correct", body_type="tilt")
    rows = api.client.get("/v1/passages?mark=AB12CDE", headers=api.auth("officer")).json()
    assert rows[0]["body_feedback"]["body_type"] == "tilt" and rows[0]["body_feedback"]["side"] == "soft"


def _jpeg(text: str) -> bytes:
    img = np.full((40, 120, 3), 255, np.uint8)
    cv2.putText(img, text, (2, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2)
    return bytes(cv2.imencode(".jpg", img)[1])


def test_a_correction_without_a_position_labels_the_plate_that_carried_the_rejected_read(api: Any) -> None:
    """Two plates: the front read right, the trailer mark misread. Rejecting the flag's read (the
    trailer's, on the list) without naming the plate must label the trailer plate, not the first."""
    now = int(time.time() * 1000)

    def plate(role: PlateRole, text: str) -> PassagePlate:
        return PassagePlate(
            role,
            text,
            0.95,
            ReadStatus.COMMITTED,
            (PlateCandidate(text, 0.95),),
            n_looks=3,
            crop_jpeg=_jpeg(text),
        )

    outcome = api.state.passage_recorder().record(
        Passage(
            "two-plates",
            "L1",
            now - 5000,
            now,
            (plate(PlateRole.REAR, "ZZ11ZZZ"), plate(PlateRole.TRAILER_MARK, "AB12CDE")),
            TrailerVerdict(BodyType.BOX, 0.9, 4),
            body_crop_jpeg=_jpeg("body"),
        )
    )
    flag_id = outcome.flag_id
    h = api.auth("officer")
    assert api.client.get(f"/v1/flags/{flag_id}", headers=h).json()["vehicle_mark"] == "AB12CDE"
    api.client.post(f"/v1/flags/{flag_id}/claim", headers=h)
    r = api.client.post(
        f"/v1/flags/{flag_id}/reject", json={"reason": "B is an 8", "corrected_mark": "A812CDE"}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["events"][-1]["detail"]["plate_position"] == 1


def test_the_page_offers_the_classifiers_body_types_with_their_sides() -> None:
    """``api/web/app.js`` lists the body types by hand (no build step): keep it in step with
    :class:`vision.types.BodyType`."""
    import re

    from api.routers.web import WEB_DIR

    block = (WEB_DIR / "app.js").read_text().split("const BODY_TYPES = [", 1)[1].split("];", 1)[0]
    listed = re.findall(r'\["(\w+)", "(\w+)"\]', block)
    assert listed == [(b.value, b.side.value) for b in BodyType if b is not BodyType.UNKNOWN]
