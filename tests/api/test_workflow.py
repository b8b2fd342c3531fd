"""The flag workflow state machine (pure) and the conditional UPDATE that settles races (store)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from api.db import repository as repo
from api.db.models import FlagStatus, Outcome, UserRole
from api.db.session import session_factory, session_scope
from api.workflow import (
    TRANSITIONS,
    Action,
    Actor,
    DetectionMethod,
    Disposition,
    FlagState,
    InvalidDetails,
    NotPermitted,
    TransitionRefused,
    actions_for,
    allowed_actions,
    check,
    check_body_feedback,
    check_disposition,
    check_rejection,
    may_give_body_feedback,
)

S = FlagStatus
ALICE = Actor("alice", UserRole.OFFICER)
BOB = Actor("bob", UserRole.OFFICER)
SUP = Actor("sue", UserRole.SUPERVISOR)


def test_the_table_is_the_documented_workflow() -> None:
    assert TRANSITIONS[(S.NEW, Action.CLAIM)] is S.CLAIMED
    assert TRANSITIONS[(S.CLAIMED, Action.VERIFY_READ)] is S.READ_VERIFIED
    assert TRANSITIONS[(S.CLAIMED, Action.REJECT_READ)] is S.READ_REJECTED
    assert TRANSITIONS[(S.READ_VERIFIED, Action.DIRECT_TO_SEARCH)] is S.DIRECTED_TO_SEARCH
    assert TRANSITIONS[(S.DIRECTED_TO_SEARCH, Action.DISPOSE)] is S.DISPOSED
    assert allowed_actions(S.DISPOSED) == ()
    # every status is reachable from new, and disposed from every status but disposed
    reachable, frontier = {S.NEW}, [S.NEW]
    while frontier:
        s = frontier.pop()
        for (src, _a), dst in TRANSITIONS.items():
            if src is s and dst not in reachable:
                reachable.add(dst)
                frontier.append(dst)
    assert reachable == set(S)


def test_claim_then_only_the_claimer_or_a_supervisor_acts() -> None:
    assert check(FlagState(S.NEW), Action.CLAIM, ALICE) is S.CLAIMED
    claimed = FlagState(S.CLAIMED, "alice")
    assert check(claimed, Action.VERIFY_READ, ALICE) is S.READ_VERIFIED
    with pytest.raises(TransitionRefused, match="claimed by alice"):
        check(claimed, Action.VERIFY_READ, BOB)
    assert check(claimed, Action.RELEASE, SUP) is S.NEW
    assert actions_for(claimed, BOB) == ()
    assert actions_for(claimed, ALICE) == (Action.RELEASE, Action.VERIFY_READ, Action.REJECT_READ)


def test_refusals_say_why() -> None:
    with pytest.raises(TransitionRefused, match="cannot verify read a flag that is new; possible: claim"):
        check(FlagState(S.NEW), Action.VERIFY_READ, ALICE)
    with pytest.raises(TransitionRefused, match="it is closed"):
        check(FlagState(S.DISPOSED, "alice"), Action.CLAIM, ALICE)
    with pytest.raises(NotPermitted, match="camera"):
        check(FlagState(S.NEW), Action.CLAIM, Actor("cam", UserRole.CAMERA))


@pytest.mark.parametrize(
    ("status", "d", "error"),
    [
        (S.READ_VERIFIED, Disposition(Outcome.NO_FIND, methods=(DetectionMethod.DOG,)), TransitionRefused),
        (
            S.DIRECTED_TO_SEARCH,
            Disposition(Outcome.ENTRANTS_FOUND, 0, (DetectionMethod.DOG,)),
            InvalidDetails,
        ),
        (S.DIRECTED_TO_SEARCH, Disposition(Outcome.NO_FIND), InvalidDetails),
        (S.DIRECTED_TO_SEARCH, Disposition(Outcome.NO_FIND, 2, (DetectionMethod.DOG,)), InvalidDetails),
        (S.READ_VERIFIED, Disposition(Outcome.NOT_STOPPED, note=" "), InvalidDetails),
        (S.READ_VERIFIED, Disposition(Outcome.NOT_STOPPED, 0, (DetectionMethod.DOG,), "x"), InvalidDetails),
    ],
)
def test_bad_dispositions(status: FlagStatus, d: Disposition, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_disposition(status, d)


def test_good_dispositions_are_normalised() -> None:
    d = check_disposition(
        S.DIRECTED_TO_SEARCH,
        Disposition(
            Outcome.ENTRANTS_FOUND,
            3,
            (DetectionMethod.DOG, DetectionMethod.DOG, DetectionMethod.SCANNER),
            " x ",
        ),
    )
    assert d.methods == (DetectionMethod.DOG, DetectionMethod.SCANNER) and d.note == "x"
    assert (
        check_disposition(S.READ_REJECTED, Disposition(Outcome.NOT_STOPPED, note="waved")).outcome
        is Outcome.NOT_STOPPED
    )
    assert check_rejection(" misread ", "  ") == ("misread", None)
    with pytest.raises(InvalidDetails):
        check_rejection(" ", "AB12CDE")


def test_body_feedback_needs_the_claim_in_any_later_status() -> None:
    camera = Actor("cam", UserRole.CAMERA)
    with pytest.raises(NotPermitted):
        check_body_feedback(FlagState(S.CLAIMED, "alice"), camera)
    with pytest.raises(TransitionRefused, match="claim the flag"):
        check_body_feedback(FlagState(S.NEW), ALICE)
    for status in (S.CLAIMED, S.READ_VERIFIED, S.READ_REJECTED, S.DIRECTED_TO_SEARCH, S.DISPOSED):
        state = FlagState(status, "alice")
        check_body_feedback(state, ALICE)
        check_body_feedback(state, SUP)
        assert may_give_body_feedback(state, ALICE) and not may_give_body_feedback(state, BOB)
        with pytest.raises(TransitionRefused, match="claimed by alice"):
            check_body_feedback(state, BOB)


def _flag(engine: Engine) -> int:
    from api.db.models import Flag

    with session_scope(engine) as s:
        flag = Flag(
            status=S.NEW,
            risk_score=50,
            vehicle_mark="AB12CDE",
            lane_id="L1",
            first_seen_ts_ms=1,
            last_seen_ts_ms=2,
            n_passages=1,
            created_ts_ms=1,
            updated_ts_ms=1,
        )
        s.add(flag)
        s.flush()
        return flag.id


def test_conditional_update_lets_exactly_one_racer_win(engine: Engine) -> None:
    """Both officers read the flag as new (version 1) before either writes: one UPDATE wins."""
    flag_id = _flag(engine)
    make = session_factory(engine)
    with make() as a, make() as b:
        fa, fb = repo.get_flag(a, flag_id), repo.get_flag(b, flag_id)
        assert fa is not None and fb is not None and fa.version == fb.version == 1
        a.rollback()  # end the read transactions (as separate requests would)
        b.rollback()
        won = repo.apply_transition(
            a, flag_id, from_status=S.NEW, version=1, values={"status": S.CLAIMED, "claimed_by": "alice"}
        )
        a.commit()
        lost = repo.apply_transition(
            b, flag_id, from_status=S.NEW, version=1, values={"status": S.CLAIMED, "claimed_by": "bob"}
        )
        b.commit()
    assert won and not lost
    with session_scope(engine) as s:
        flag = repo.get_flag(s, flag_id)
        assert flag is not None and flag.claimed_by == "alice" and flag.version == 2
