from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from api.actionlist import build_matcher, import_action_list
from api.db import repository as repo
from api.db.models import Flag, FlagStatus, PassageRow
from api.db.session import session_scope
from api.flags import (
    DuplicatePassage,
    FlagAction,
    FlagRules,
    Reason,
    ReasonCode,
    assess,
    match_passage,
    process_passage,
    rematch,
    score_of,
)
from api.matching import ListEntry, Matcher
from api.settings import FlagSettings
from vision.types import (
    BodyType,
    Passage,
    PassagePlate,
    PlateCandidate,
    PlateRole,
    ReadStatus,
    TrailerVerdict,
)

T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC
MIN = 60_000
JPEG = b"\xff\xd8fake-jpeg\xff\xd9"
LIST = (
    "mark,kind,haulier,penalty_ref,amount_gbp,date,notes\n"
    "WGM1034,trailer,Haulier X,CP-2024-0183,2000,2024-03-01,\n"
    "AB12CDE,vehicle,Acme Ltd,CP-2024-0001,1500.50,2024-01-05,\n"
)


def plate(
    text: str,
    role: PlateRole = PlateRole.FRONT,
    conf: float = 0.95,
    status: ReadStatus = ReadStatus.COMMITTED,
    candidates: tuple[str, ...] = (),
    country: str | None = None,
) -> PassagePlate:
    cands = tuple(
        PlateCandidate(c, conf - 0.1 * i) for i, c in enumerate(candidates or ((text,) if text else ()))
    )
    return PassagePlate(
        role, text, conf, status, cands, country=country, n_looks=3, crop_jpeg=JPEG if text else b""
    )


def passage(
    uid: str,
    *plates: PassagePlate,
    body: BodyType = BodyType.BOX,
    at_ms: int = T0,
    lane: str = "L1",
) -> Passage:
    return Passage(
        uid, lane, at_ms, at_ms + 20_000, plates, TrailerVerdict(body, 0.9, 4), body_crop_jpeg=JPEG
    )


@pytest.fixture
def store(engine: Engine) -> Engine:
    with session_scope(engine) as s:
        import_action_list(s, LIST.encode(), source_name="list.csv")
    return engine


def run(
    engine: Engine, p: Passage, data_dir: Path, rules: FlagRules | None = None
) -> tuple[int, FlagAction, int | None]:
    with session_scope(engine) as s:
        matcher = build_matcher(s)
        out = process_passage(
            s, p, matcher, rules or FlagRules(), data_dir=data_dir, now_ms=p.last_seen_ts_ms
        )
        return out.passage_row_id, out.action, out.flag_id


def test_rules_come_from_settings() -> None:
    rules = FlagRules.from_settings(FlagSettings(threshold=55, repeat_window_min=5))
    assert rules.threshold == 55 and rules.repeat_window_min == 5 and rules.hit_exact_points == 80


def test_score_counts_each_kind_once_and_caps_at_100() -> None:
    r = [
        Reason(ReasonCode.UNREAD, 30, "a"),
        Reason(ReasonCode.UNREAD, 30, "b"),
        Reason(ReasonCode.SOFT_SIDED, 25, "c"),
    ]
    assert score_of(r) == 55
    assert score_of([*r, Reason(ReasonCode.ACTION_LIST, 80, "d")]) == 100
    assert score_of([]) == 0


def test_hit_reason_reads_like_an_officer_would_write_it() -> None:
    matcher = Matcher([ListEntry("WGM1034", "trailer", "Haulier X", "CP-2024-0183")])
    p = passage(
        "p1",
        plate("AB99XYZ"),
        plate("WGM1O34", PlateRole.TRAILER_MARK, country="PL"),
        body=BodyType.CURTAINSIDER,
    )
    reasons = assess(p, match_passage(p, matcher), FlagRules())
    texts = [r.text for r in reasons]
    assert texts[0] == (
        "Trailer mark PL WGM1O34 matches action list trailer WGM1034 (look-alike O/0 at position 5), "
        "penalty CP-2024-0183 (£0.00), haulier Haulier X"
    )
    assert texts[1] == "Soft-sided trailer: curtainsider (90% confident)"
    assert (
        reasons[0].details["match_type"] == "lookalike" and reasons[0].details["plate_role"] == "trailer_mark"
    )
    assert score_of(reasons) == 95


def test_a_later_candidate_matching_says_so() -> None:
    matcher = Matcher([ListEntry("WGM1034", "trailer", "X", "CP-1")])
    p = passage("p1", plate("WGM1084", candidates=("WGM1084", "WGM1034")))
    (reason,) = assess(p, match_passage(p, matcher), FlagRules())
    assert (
        "WGM1034 (reader's candidate 2; plate read as WGM1084) matches action list trailer WGM1034 (exact"
        in reason.text
    )
    assert reason.details["candidate_rank"] == 2 and reason.points == 80


def test_soft_sided_counts_the_soft_share_not_one_type() -> None:
    """Looks split between tilt and curtainsider name no type, yet the trailer is probably
    soft-sided: flagged. A named hard body is not, whatever share the soft types have."""
    rules = FlagRules()
    split = TrailerVerdict(
        BodyType.UNKNOWN, 0.0, 6, ((BodyType.TILT, 0.36), (BodyType.CURTAINSIDER, 0.28), (BodyType.BOX, 0.3))
    )
    p = replace(passage("p", plate("AB12CDF")), body=split)
    (reason,) = assess(p, (), rules)
    assert reason.code is ReasonCode.SOFT_SIDED
    assert reason.text == "Soft-sided trailer: curtainsider or tilt (body type not settled) (64% confident)"
    assert reason.details["soft_probability"] == pytest.approx(0.64)
    tilt = TrailerVerdict(BodyType.TILT, 0.42, 6, ((BodyType.TILT, 0.42), (BodyType.CURTAINSIDER, 0.3)))
    assert [r.text for r in assess(replace(p, body=tilt), (), rules)] == [
        "Soft-sided trailer: tilt (72% confident)"
    ]  # the old rule (tilt's own 0.42 < 0.5) said nothing
    unsure = TrailerVerdict(BodyType.UNKNOWN, 0.0, 6, ((BodyType.BOX, 0.5), (BodyType.TILT, 0.45)))
    assert assess(replace(p, body=unsure), (), rules) == ()
    box = TrailerVerdict(
        BodyType.BOX, 0.45, 6, ((BodyType.BOX, 0.45), (BodyType.TILT, 0.3), (BodyType.CURTAINSIDER, 0.25))
    )
    assert assess(replace(p, body=box), (), rules) == ()


def test_unread_and_low_confidence_on_a_lorry() -> None:
    rules = FlagRules()
    none = assess(passage("p", body=BodyType.BOX), (), rules)
    assert [r.text for r in none] == ["No plate seen on this lorry"]
    unread = assess(passage("p", plate("", status=ReadStatus.UNREAD)), (), rules)
    assert [(r.code, r.text) for r in unread] == [(ReasonCode.UNREAD, "No plate read on this lorry")]
    mixed = assess(
        passage(
            "p",
            plate("AB12CDF", conf=0.4, status=ReadStatus.LOW_CONFIDENCE),
            plate("", PlateRole.REAR, status=ReadStatus.UNREAD),
        ),
        (),
        rules,
    )
    assert [r.text for r in mixed] == [
        "Rear plate seen but not read",
        "Tractor plate read with low confidence: AB12CDF (40%)",
    ]
    unsettled = assess(passage("p", plate("AB12CDF", conf=0.96, status=ReadStatus.LOW_CONFIDENCE)), (), rules)
    assert [r.text for r in unsettled] == [
        "Tractor plate read with low confidence: AB12CDF (96%, not settled over 3 looks)"
    ]
    assert assess(passage("p", body=BodyType.OTHER), (), rules) == ()  # not a lorry
    assert assess(passage("p", plate("AB12CDF")), (), rules) == ()  # clean hard-sided lorry


def test_passage_is_stored_with_crops_and_a_flag_is_created(store: Engine, tmp_path: Path) -> None:
    p = passage(
        "p1",
        plate("AB12CDE", candidates=("AB12CDE", "AB12C0E")),
        plate("", PlateRole.REAR, status=ReadStatus.UNREAD),
    )
    row_id, action, flag_id = run(store, p, tmp_path)
    assert action is FlagAction.CREATED and flag_id is not None
    with session_scope(store) as s:
        row = s.get(PassageRow, row_id)
        assert row is not None and row.flag_id == flag_id and row.passage_uid == "p1"
        assert [c.text for c in row.plates[0].candidates] == ["AB12CDE", "AB12C0E"]
        assert row.body_crop_path and (tmp_path / row.body_crop_path).read_bytes() == JPEG
        assert row.plates[0].crop_path and (tmp_path / row.plates[0].crop_path).is_file()
        assert row.plates[1].crop_path is None
        flag = repo.get_flag(s, flag_id)
        assert flag is not None and flag.status is FlagStatus.NEW and flag.risk_score == 100
        assert flag.vehicle_mark == "AB12CDE" and flag.action_list_version_id == 1
        assert [r.code for r in flag.reasons] == ["action_list", "unread"]
        assert "exact match" in flag.reasons[0].text and "CP-2024-0001" in flag.reasons[0].text
        assert [(e.kind, e.to_status) for e in flag.events] == [("created", FlagStatus.NEW)]


def test_clean_passage_is_stored_without_a_flag(store: Engine, tmp_path: Path) -> None:
    _row, action, flag_id = run(store, passage("p1", plate("ZZ99ZZZ")), tmp_path)
    assert action is FlagAction.NONE and flag_id is None
    with session_scope(store) as s:
        assert s.scalar(select(func.count()).select_from(Flag)) == 0 and repo.count_passages(s) == 1


def test_threshold_decides(store: Engine, tmp_path: Path) -> None:
    soft = passage("p1", plate("ZZ99ZZZ"), body=BodyType.TILT)
    assert run(store, soft, tmp_path)[1] is FlagAction.CREATED  # 25 >= 20 by default
    strict = FlagRules(threshold=30)
    assert (
        run(
            store,
            replace(soft, passage_id="p2", first_seen_ts_ms=T0 + 999 * MIN, last_seen_ts_ms=T0 + 999 * MIN),
            tmp_path,
            strict,
        )[1]
        is FlagAction.NONE
    )


def test_same_vehicle_again_updates_the_open_flag(store: Engine, tmp_path: Path) -> None:
    first = passage("p1", plate("AB12CDE"), at_ms=T0)
    _r1, a1, flag_id = run(store, first, tmp_path)
    with session_scope(store) as s:
        version = s.scalar(select(Flag.version).where(Flag.id == flag_id)) or 0
    again = passage("p2", plate("AB12CDE"), plate("WGM1034", PlateRole.REAR), at_ms=T0 + 12 * MIN, lane="L3")
    _r2, a2, flag_id2 = run(store, again, tmp_path)
    assert (a1, a2) == (FlagAction.CREATED, FlagAction.UPDATED) and flag_id2 == flag_id
    with session_scope(store) as s:
        assert s.scalar(select(func.count()).select_from(Flag)) == 1
        assert flag_id is not None
        flag = repo.get_flag(s, flag_id)
        assert (
            flag is not None
            and flag.n_passages == 2
            and [p.passage_uid for p in flag.passages] == ["p1", "p2"]
        )
        assert flag.lane_id == "L3" and flag.last_seen_ts_ms == again.last_seen_ts_ms
        assert flag.risk_score == 100  # exact hit 80 + repeat 20
        texts = [r.text for r in flag.reasons]
        assert any(t.startswith("Same vehicle AB12CDE seen 12 minutes earlier in lane L1") for t in texts)
        assert [e.kind for e in flag.events] == ["created", "passage_added"]
        assert flag.events[1].detail["score_before"] == 80
        assert flag.version == version + 1  # the risk changed: a client's older version is stale


def test_after_the_window_or_once_disposed_a_new_flag_is_made(store: Engine, tmp_path: Path) -> None:
    _r, _a, first = run(store, passage("p1", plate("AB12CDE"), at_ms=T0), tmp_path)
    _r, action, second = run(store, passage("p2", plate("AB12CDE"), at_ms=T0 + 31 * MIN), tmp_path)
    assert action is FlagAction.CREATED and second != first
    with session_scope(store) as s:
        flag = s.get(Flag, second)
        assert flag is not None
        flag.status = FlagStatus.DISPOSED
    _r, action, third = run(store, passage("p3", plate("AB12CDE"), at_ms=T0 + 40 * MIN), tmp_path)
    assert action is FlagAction.CREATED and third not in (first, second)


def test_repeat_alone_flags_an_unlisted_vehicle(store: Engine, tmp_path: Path) -> None:
    assert run(store, passage("p1", plate("ZZ99ZZZ"), at_ms=T0), tmp_path)[1] is FlagAction.NONE
    _r, action, flag_id = run(store, passage("p2", plate("ZZ99ZZZ"), at_ms=T0 + 5 * MIN), tmp_path)
    assert action is FlagAction.CREATED
    with session_scope(store) as s:
        flag = repo.get_flag(s, flag_id or 0)
        assert flag is not None and [r.code for r in flag.reasons] == ["repeat"] and flag.risk_score == 20


def test_duplicate_passage_and_rollback_leave_no_files(store: Engine, tmp_path: Path) -> None:
    p = passage("p1", plate("AB12CDE"))
    run(store, p, tmp_path)
    files_before = sorted(tmp_path.rglob("*.jpg"))
    assert len(files_before) == 2  # body + front plate
    with pytest.raises(DuplicatePassage):
        run(store, p, tmp_path)
    with pytest.raises(RuntimeError), session_scope(store) as s:
        process_passage(s, passage("p2", plate("ZZ99ZZZ")), build_matcher(s), FlagRules(), data_dir=tmp_path)
        assert len(sorted(tmp_path.rglob("*.jpg"))) == 4
        raise RuntimeError("the caller fails before commit")
    assert sorted(tmp_path.rglob("*.jpg")) == files_before
    with session_scope(store) as s:
        assert repo.count_passages(s) == 1


def test_flag_settings_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from api.settings import Settings

    monkeypatch.setenv("HGV_LANE_FLAGS__MAX_EDIT_DISTANCE", "3")
    with pytest.raises(ValidationError, match="max_edit_distance"):
        Settings()
    monkeypatch.setenv("HGV_LANE_FLAGS__MAX_EDIT_DISTANCE", "0")
    monkeypatch.setenv("HGV_LANE_FLAGS__REPEAT_WINDOW_MIN", "10")
    s = Settings()
    assert s.flags.max_edit_distance == 0 and s.flags.repeat_window_min == 10


def _import(engine: Engine, csv_text: str) -> None:
    with session_scope(engine) as s:
        import_action_list(s, csv_text.encode(), source_name="new.csv")


def _rematch(engine: Engine, now_ms: int) -> list[tuple[int, FlagAction, int, int]]:
    with session_scope(engine) as s:
        return [
            (c.flag_id, c.action, c.score_before, c.score_after)
            for c in rematch(s, build_matcher(s), FlagRules(), now_ms=now_ms)
        ]


def test_a_new_list_version_reaches_the_open_flags(store: Engine, tmp_path: Path) -> None:
    """A mark put on the list after its lorry was flagged for an unsure read raises the open
    flag's risk; taken off again (penalty paid), its reason goes. Flags had kept the reasons of
    the version they were made under (an officer saw "no action-list match" for a listed lorry)."""
    unsure = passage("p1", plate("LY8666", conf=0.5, status=ReadStatus.LOW_CONFIDENCE))
    _row, action, flag_id = run(store, unsure, tmp_path)
    assert action is FlagAction.CREATED and flag_id is not None
    with session_scope(store) as s:
        version = s.scalar(select(Flag.version).where(Flag.id == flag_id)) or 0
    assert _rematch(store, T0 + MIN) == []  # the same list: nothing changes
    _import(store, LIST + "LY8G66,vehicle,Haulier Y,CP-2024-0999,4000,2024-05-01,\n")
    assert _rematch(store, T0 + 2 * MIN) == [(flag_id, FlagAction.UPDATED, 20, 90)]
    with session_scope(store) as s:
        flag = repo.get_flag(s, flag_id)
        assert flag is not None and flag.risk_score == 90 and flag.version == version + 1
        assert [r.code for r in flag.reasons] == ["low_confidence", "action_list"]
        assert "LY8G66" in flag.reasons[1].text and "CP-2024-0999" in flag.reasons[1].text
        assert flag.action_list_version_id == 2
        event = flag.events[-1]
        assert event.kind == "actionlist_rematched" and event.detail["score_after"] == 90
        assert event.detail["action_list_version"] == 2 and len(event.detail["added"]) == 1
    assert _rematch(store, T0 + 3 * MIN) == []
    _import(store, LIST)  # paid: off the list again
    assert _rematch(store, T0 + 4 * MIN) == [(flag_id, FlagAction.UPDATED, 90, 20)]
    with session_scope(store) as s:
        flag = repo.get_flag(s, flag_id)
        assert flag is not None and [r.code for r in flag.reasons] == ["low_confidence"]
        assert flag.events[-1].detail["removed"] and flag.action_list_version_id is None


def test_a_closed_flag_keeps_the_reasons_it_was_decided_on(store: Engine, tmp_path: Path) -> None:
    _row, _a, flag_id = run(store, passage("p1", plate("AB12CDE")), tmp_path)
    with session_scope(store) as s:
        flag = repo.get_flag(s, flag_id or 0)
        assert flag is not None
        flag.status = FlagStatus.DISPOSED
    _import(
        store, "mark,kind,haulier,penalty_ref,amount_gbp,date,notes\nWGM1034,trailer,X,CP-1,1,2024-03-01,\n"
    )
    assert _rematch(store, T0 + MIN) == []
    with session_scope(store) as s:
        flag = repo.get_flag(s, flag_id or 0)
        assert (
            flag is not None and flag.risk_score == 80 and [r.code for r in flag.reasons] == ["action_list"]
        )


def test_a_recent_passage_that_hits_a_new_version_becomes_a_flag(store: Engine, tmp_path: Path) -> None:
    """A lorry that passed a few minutes before its mark was listed may still be in the port;
    one that passed longer ago than the repeat window is left alone."""
    old = passage("p-old", plate("ZZ99ZZZ"), at_ms=T0 - 60 * MIN)
    recent = passage("p-new", plate("YY11YYY", PlateRole.REAR, candidates=("YY11YYY", "YY11YYV")), at_ms=T0)
    assert run(store, old, tmp_path)[1] is FlagAction.NONE
    row_id, action, _ = run(store, recent, tmp_path)
    assert action is FlagAction.NONE
    _import(store, LIST + "ZZ99ZZZ,vehicle,Z,CP-9,10,2024-05-01,\nYY11YYV,trailer,Y,CP-8,10,2024-05-01,\n")
    changed = _rematch(store, T0 + 5 * MIN)
    assert [(a, before, after) for _id, a, before, after in changed] == [(FlagAction.CREATED, 0, 80)]
    with session_scope(store) as s:
        row = s.get(PassageRow, row_id)
        assert row is not None and row.flag is not None and row.flag.id == changed[0][0]
        assert row.flag.vehicle_mark == "YY11YYY" and row.flag.status is FlagStatus.NEW
        assert "reader's candidate 2" in row.flag.reasons[0].text
        assert row.flag.events[0].detail["after_passage"] is True
        assert repo.passage_by_uid(s, "p-old").flag_id is None  # type: ignore[union-attr]
    assert _rematch(store, T0 + 6 * MIN) == []
