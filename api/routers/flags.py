"""``/v1/flags``: the officers' queue (list, detail, live stream) and the workflow actions.

Every route needs an officer, supervisor or admin. Views of a flag's detail and every action
are written to the audit log with the officer, the time, the client address and user agent.
Transitions are checked by :mod:`api.workflow` and applied with a conditional UPDATE, so two
officers claiming the same flag at once get one 200 and one 409. The officer working a flag may
also confirm or correct the trailer body type of its passages (a label for the model team,
:mod:`api.feedback`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from sqlalchemy.orm import Session
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.app import AppState
from api.auth import (
    OFFICER_ROLES,
    Client,
    ClientInfo,
    DbDep,
    OfficerUser,
    Principal,
    StateDep,
    audit,
    now_ms,
    still_admitted,
)
from api.db import repository as repo
from api.db.models import BodyFeedback, Flag, FlagStatus
from api.db.session import session_scope
from api.feedback import FeedbackError, record_body_feedback, resolve_body_feedback
from api.flags import correction_hit_reasons, replace_hit_reasons
from api.routers.convert import flag_detail, flag_summary, mark_filter
from api.schemas.flags import (
    BodyTypeRequest,
    ClaimRequest,
    DirectRequest,
    DisposeRequest,
    FlagDetail,
    FlagEventMessage,
    FlagList,
    RejectRequest,
    ReleaseRequest,
    TransitionBase,
    VerifyRequest,
)
from api.workflow import (
    Action,
    Actor,
    Disposition,
    FlagState,
    InvalidDetails,
    NotPermitted,
    TransitionRefused,
    check,
    check_body_feedback,
    check_disposition,
    check_rejection,
)
from vision.anpr.lookalike import normalise

router = APIRouter(tags=["flags"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such flag"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The workflow does not allow this now (the reason says why)"}
}


@router.get("/flags", response_model=FlagList, summary="The flag queue, highest risk first")
def list_flags(
    user: OfficerUser,
    db: DbDep,
    client: Client,
    status_: Annotated[list[FlagStatus] | None, Query(alias="status")] = None,
    include_disposed: bool = False,
    lane: Annotated[str | None, Query(max_length=64)] = None,
    mark: Annotated[str | None, Query(max_length=32)] = None,
    min_risk: Annotated[int | None, Query(ge=0, le=100)] = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FlagList:
    """Flags filtered by status (default: every status but ``disposed`` unless ``include_disposed``),
    lane, mark, minimum risk or your own claims. ``last_event_id`` is where the live stream
    (``GET /v1/flags/stream?after=...``) should continue from. A search by mark is audited
    (``flag.search``), as a passage search is; the queue's own listing is not."""
    statuses = status_ or [s for s in FlagStatus if include_disposed or s is not FlagStatus.DISPOSED]
    last = repo.last_event_id(db)
    norm = mark_filter(mark)
    if norm is not None:
        audit(db, user, "flag.search", client, {"mark": norm})
        db.commit()
    flags = repo.search_flags(
        db,
        statuses=statuses,
        lane_id=lane,
        mark=norm,
        min_risk=min_risk,
        claimed_by=user.name if mine else None,
        limit=limit,
        offset=offset,
    )
    return FlagList(items=[flag_summary(f) for f in flags], last_event_id=last)


def _events_after(state: AppState, after: int, limit: int) -> list[FlagEventMessage]:
    with session_scope(state.engine) as session:
        events = repo.events_after(session, after, limit)
        flags = repo.flags_by_ids(session, sorted({e.flag_id for e in events}))
        return [
            FlagEventMessage(
                event_id=e.id, kind=e.kind, ts_ms=e.ts_ms, actor=e.actor, flag=flag_summary(flags[e.flag_id])
            )
            for e in events
            if e.flag_id in flags
        ]


def _open_stream(state: AppState, user: Principal, client: ClientInfo, after: int | None) -> int:
    """Audit the stream's opening (``flag.stream``: once per connection, not per event) and
    return the store's latest flag-event id."""
    with session_scope(state.engine) as session:
        audit(session, user, "flag.stream", client, {"after": after})
        return repo.last_event_id(session)


@router.get(
    "/flags/stream",
    summary="Live queue (Server-Sent Events)",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_flags(
    user: OfficerUser,
    state: StateDep,
    request: Request,
    client: Client,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="Continue after this event id")
    ] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """New and changed flags as they happen: SSE events named ``flag`` whose ``id`` is the flag
    event's id and whose ``data`` is a :class:`FlagEventMessage` (JSON). A browser that reconnects
    sends ``Last-Event-ID`` and gets every event it missed (replayed from the store); without it
    the stream starts after ``after`` or, without that, with the next event. When more than
    ``live.replay_max`` events were missed, or the client names an event the store never had
    (a store restored from a backup), a ``reset`` event tells the client to reload the list and
    the stream goes on from the newest event. The log-in is checked again every
    ``live.auth_recheck_s``: once it no longer holds, an ``ended`` event says why and the stream
    stops. Opening a stream is audited (``flag.stream``)."""
    live = state.settings.live
    start: int | None = None
    if last_event_id and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
    elif after is not None:
        start = after
    latest = await asyncio.to_thread(_open_stream, state, user, client, start)
    reset = False
    if start is None:
        start = latest
    elif start > latest or latest - start > live.replay_max:  # from another store, or too far back
        start, reset = latest, True
    batch = 200

    async def events() -> AsyncIterator[ServerSentEvent]:
        last = start
        if reset:
            yield ServerSentEvent(data=json.dumps({"last_event_id": last}), event="reset", id=str(last))
        yield ServerSentEvent(data=json.dumps({"user": user.name, "after": last}), event="hello")
        checked = time.monotonic()
        async with state.hub.subscribe() as sub:
            while True:
                if time.monotonic() - checked >= live.auth_recheck_s:
                    checked = time.monotonic()
                    why = await asyncio.to_thread(still_admitted, request, state, OFFICER_ROLES)
                    if why is not None:  # logged out, expired, revoked, disabled: no more events
                        yield ServerSentEvent(data=json.dumps({"reason": why}), event="ended")
                        return
                messages = await asyncio.to_thread(_events_after, state, last, batch)
                for m in messages:
                    yield ServerSentEvent(data=m.model_dump_json(), event="flag", id=str(m.event_id))
                    last = max(last, m.event_id)
                if len(messages) == batch:
                    continue
                if await request.is_disconnected():
                    return
                await sub.wait(live.poll_s)

    return EventSourceResponse(events(), ping=live.ping_s, headers={"Cache-Control": "no-store"})


def _load(db: Session, flag_id: int) -> Flag:
    flag = repo.get_flag_detail(db, flag_id)
    if flag is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no flag {flag_id}")
    return flag


def _actor(user: Principal) -> Actor:
    return Actor(user.name, user.role)


@router.get("/flags/{flag_id}", response_model=FlagDetail, responses=NOT_FOUND, summary="One flag in full")
def get_flag(flag_id: int, user: OfficerUser, db: DbDep, client: Client) -> FlagDetail:
    """The flag with its reasons, the action-list entries it matched and how, its passages with
    plates, candidates and evidence links, its history, and the actions you may take now.
    Audited (``flag.view``)."""
    flag = _load(db, flag_id)
    audit(db, user, "flag.view", client, {"flag": flag_id, "mark": flag.vehicle_mark})
    db.commit()
    return flag_detail(flag, _actor(user))


def _check_version(flag: Flag, body: TransitionBase) -> None:
    """409 when the client sent the flag version it saw and the flag moved on since."""
    if body.version is not None and body.version != flag.version:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"the flag changed since you loaded it (your version {body.version}, now {flag.version}: "
            f"{flag.status}{', claimed by ' + flag.claimed_by if flag.claimed_by else ''}); reload it",
        )


def _raced(fresh: Flag, was: FlagStatus) -> HTTPException:
    """The 409 of an action whose conditional update found the flag changed since it was read:
    another officer moved it on, or (its status the same) a new passage of the lorry or another
    word on it changed its version."""
    who = f", claimed by {fresh.claimed_by}" if fresh.claimed_by else ""
    if FlagStatus(fresh.status) is was:
        return HTTPException(
            status.HTTP_409_CONFLICT,
            f"the flag changed meanwhile (a new passage of the lorry, or another officer's word on it): "
            f"it is {fresh.status}{who}; reload it",
        )
    return HTTPException(
        status.HTTP_409_CONFLICT, f"another officer acted first: the flag is now {fresh.status}{who}"
    )


def _checked(flag: Flag, action: Action, body: TransitionBase, user: Principal) -> FlagStatus:
    """The status ``action`` by ``user`` takes ``flag`` to: 409 when ``body`` names another
    version or the flag's state refuses it (a closed flag, someone else's claim), 403 for a role
    that may not act; checked before an action's own details."""
    _check_version(flag, body)
    try:
        return check(FlagState(FlagStatus(flag.status), flag.claimed_by), action, _actor(user))
    except NotPermitted as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, exc.reason) from exc
    except TransitionRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.reason) from exc


def _transition(
    db: Session,
    state: AppState,
    user: Principal,
    client: Client,
    flag_id: int,
    action: Action,
    body: TransitionBase,
    values: dict[str, Any],
    detail: dict[str, Any],
    after: Any = None,
) -> FlagDetail:
    """Check and apply one workflow action; 404 / 403 / 409 with the reason."""
    flag = _load(db, flag_id)
    target = _checked(flag, action, body, user)
    return _apply(db, state, user, client, flag, target, action, values, detail, after)


def _apply(
    db: Session,
    state: AppState,
    user: Principal,
    client: Client,
    flag: Flag,
    target: FlagStatus,
    action: Action,
    values: dict[str, Any],
    detail: dict[str, Any],
    after: Any = None,
) -> FlagDetail:
    """Apply ``action`` to ``flag``, loaded and :func:`_checked` to lead to ``target``: the
    conditional update (409 when the flag changed meanwhile), its event, audit and notification."""
    flag_id = flag.id
    from_status = FlagStatus(flag.status)
    now = now_ms()
    ok = repo.apply_transition(
        db,
        flag.id,
        from_status=from_status,
        version=flag.version,
        values={"status": target, "updated_ts_ms": now, **values},
    )
    if not ok:
        db.rollback()
        raise _raced(_load(db, flag_id), from_status)
    db.refresh(flag)
    if after is not None:
        detail = {**detail, **after(flag)}
    repo.add_flag_event(
        db,
        flag_id=flag.id,
        ts_ms=now,
        actor=user.name,
        kind=action.value,
        from_status=from_status,
        to_status=target,
        detail=detail,
    )
    audit(
        db,
        user,
        f"flag.{action.value}",
        client,
        {"flag": flag.id, "from": from_status, "to": target, **detail},
    )
    db.commit()
    state.hub.notify()
    db.expire_all()
    return flag_detail(_load(db, flag_id), _actor(user))


@router.post(
    "/flags/{flag_id}/claim",
    response_model=FlagDetail,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Take a flag",
)
def claim(
    flag_id: int,
    user: OfficerUser,
    db: DbDep,
    state: StateDep,
    client: Client,
    body: ClaimRequest | None = None,
) -> FlagDetail:
    """``new`` -> ``claimed`` by you. If another officer claimed it first: 409."""
    return _transition(
        db,
        state,
        user,
        client,
        flag_id,
        Action.CLAIM,
        body or ClaimRequest(),
        {"claimed_by": user.name, "claimed_ts_ms": now_ms()},
        {},
    )


@router.post(
    "/flags/{flag_id}/release",
    response_model=FlagDetail,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Give a claimed flag back to the queue",
)
def release(
    flag_id: int, body: ReleaseRequest, user: OfficerUser, db: DbDep, state: StateDep, client: Client
) -> FlagDetail:
    """``claimed`` -> ``new`` (the claiming officer, or a supervisor)."""
    return _transition(
        db,
        state,
        user,
        client,
        flag_id,
        Action.RELEASE,
        body,
        {"claimed_by": None, "claimed_ts_ms": None},
        {"note": body.note} if body.note else {},
    )


@router.post(
    "/flags/{flag_id}/verify",
    response_model=FlagDetail,
    responses={**NOT_FOUND, **CONFLICT},
    summary="The read matches the evidence",
)
def verify(
    flag_id: int, body: VerifyRequest, user: OfficerUser, db: DbDep, state: StateDep, client: Client
) -> FlagDetail:
    """``claimed`` -> ``read_verified``."""
    return _transition(
        db,
        state,
        user,
        client,
        flag_id,
        Action.VERIFY_READ,
        body,
        {},
        {"note": body.note} if body.note else {},
    )


def _rematch(state: AppState, db: Session, corrected: str, position: int | None) -> Any:
    """A step after the rejection: match the corrected mark against the action list and replace
    the flag's action-list reasons (those came from the wrong read); recompute the risk."""
    recorder = state.passage_recorder()
    matcher, rules = recorder.matcher, recorder.rules

    def step(flag: Flag) -> dict[str, Any]:
        latest, index, reasons = correction_hit_reasons(flag, corrected, position, matcher, rules)
        before = replace_hit_reasons(flag, [(latest.id if latest is not None else None, r) for r in reasons])
        if reasons and matcher.version_id is not None:
            flag.action_list_version_id = matcher.version_id
        db.flush()
        return {
            "corrected_mark": corrected,
            "plate_position": index,
            "passage": latest.passage_uid if latest is not None else None,
            "score_before": before,
            "score_after": flag.risk_score,
            "matches": [r.details["mark"] for r in reasons],
            "action_list_version": matcher.version_id,
        }

    return step


@router.post(
    "/flags/{flag_id}/reject",
    response_model=FlagDetail,
    responses={
        **NOT_FOUND,
        **CONFLICT,
        422: {"description": "No reason, or a corrected mark that is not plate-like"},
    },
    summary="The read is wrong (optionally with the corrected mark)",
)
def reject(
    flag_id: int, body: RejectRequest, user: OfficerUser, db: DbDep, state: StateDep, client: Client
) -> FlagDetail:
    """``claimed`` -> ``read_rejected``. With ``corrected_mark`` the flag's mark becomes the
    officer's reading and it is matched against the action list again: the action-list reasons
    are replaced by those of the corrected mark and the risk is recomputed."""
    flag = _load(db, flag_id)
    target = _checked(flag, Action.REJECT_READ, body, user)  # no such flag, closed, someone else's claim
    try:
        reason, corrected_raw = check_rejection(body.reason, body.corrected_mark)
    except InvalidDetails as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.reason) from exc
    corrected = normalise(corrected_raw) if corrected_raw else None
    if corrected_raw is not None and not (corrected and 2 <= len(corrected) <= 10):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"corrected mark {corrected_raw!r} is not plate-like (2 to 10 letters and digits)",
        )
    values: dict[str, Any] = {}
    if corrected:
        values = {"read_mark": flag.vehicle_mark, "corrected_mark": corrected, "vehicle_mark": corrected}
    return _apply(
        db,
        state,
        user,
        client,
        flag,
        target,
        Action.REJECT_READ,
        values,
        {"reason": reason, "read_mark": flag.vehicle_mark},
        after=_rematch(state, db, corrected, body.plate_position) if corrected else None,
    )


@router.post(
    "/flags/{flag_id}/direct",
    response_model=FlagDetail,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Direct the lorry to search",
)
def direct(
    flag_id: int, body: DirectRequest, user: OfficerUser, db: DbDep, state: StateDep, client: Client
) -> FlagDetail:
    """``read_verified`` or ``read_rejected`` -> ``directed_to_search``."""
    return _transition(
        db,
        state,
        user,
        client,
        flag_id,
        Action.DIRECT_TO_SEARCH,
        body,
        {},
        {"note": body.note} if body.note else {},
    )


@router.post(
    "/flags/{flag_id}/dispose",
    response_model=FlagDetail,
    responses={**NOT_FOUND, **CONFLICT, 422: {"description": "Outcome details that do not fit"}},
    summary="Record the outcome and close the flag",
)
def dispose(
    flag_id: int, body: DisposeRequest, user: OfficerUser, db: DbDep, state: StateDep, client: Client
) -> FlagDetail:
    """-> ``disposed`` with the outcome: after a search ``no_find``, ``entrants_found`` (how many),
    ``security_breach`` (no entrants) or ``not_stopped``; without one only ``not_stopped`` (say why
    in ``note``). Searches name their detection methods."""
    flag = _load(db, flag_id)
    target = _checked(flag, Action.DISPOSE, body, user)  # a closed flag is closed, whatever the details say
    try:
        d = check_disposition(
            FlagStatus(flag.status),
            Disposition(body.outcome, body.entrants_found, tuple(body.detection_methods), body.note),
        )
    except TransitionRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.reason) from exc
    except InvalidDetails as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.reason) from exc
    now = now_ms()
    return _apply(
        db,
        state,
        user,
        client,
        flag,
        target,
        Action.DISPOSE,
        {
            "outcome": d.outcome,
            "entrants_found": d.entrants_found if d.outcome.value == "entrants_found" else None,
            "detection_methods": [m.value for m in d.methods],
            "disposed_ts_ms": now,
        },
        {
            "outcome": d.outcome.value,
            "entrants_found": d.entrants_found,
            "detection_methods": [m.value for m in d.methods],
            "note": d.note,
        },
    )


@router.post(
    "/flags/{flag_id}/passages/{passage_id}/body-type",
    response_model=FlagDetail,
    responses={
        404: {"description": "No such flag, or the passage is not one of its passages"},
        **CONFLICT,
        422: {"description": "A correction without a body type, or a confirmation that does not fit"},
    },
    summary="Confirm or correct the trailer body type of one of the flag's passages",
)
def body_type(
    flag_id: int,
    passage_id: int,
    body: BodyTypeRequest,
    user: OfficerUser,
    db: DbDep,
    state: StateDep,
    client: Client,
) -> FlagDetail:
    """``confirm``: the machine's body type is right; ``correct``: the trailer is ``body_type``
    (its side, hard/soft/other, follows). A label for the model team (exported by ``hgv-lane
    dataset export-feedback``); the flag's status and risk stay as they are. Allowed from the claim
    on (also after disposal) for the claiming officer or a supervisor; a later word replaces an
    earlier one. Bumps the flag's ``version``; recorded as a flag event (``confirm_body`` or
    ``correct_body``, on the live queue) and in the audit log."""
    flag = _load(db, flag_id)
    passage = next((p for p in flag.passages if p.id == passage_id), None)
    if passage is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"passage {passage_id} is not a passage of flag {flag_id}"
        )
    _check_version(flag, body)
    current = FlagStatus(flag.status)
    try:
        check_body_feedback(FlagState(current, flag.claimed_by), _actor(user))
        kind, chosen = resolve_body_feedback(passage.body_type, body.action, body.body_type)
    except NotPermitted as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, exc.reason) from exc
    except TransitionRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.reason) from exc
    except FeedbackError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    now = now_ms()
    # the same conditional UPDATE as a transition (status unchanged): a claim released or taken
    # over meanwhile makes this a 409 instead of a label by someone no longer on the flag
    if not repo.apply_transition(
        db,
        flag.id,
        from_status=current,
        version=flag.version,
        values={"status": current, "updated_ts_ms": now},
    ):
        db.rollback()
        raise _raced(_load(db, flag_id), current)
    detail = record_body_feedback(passage, kind, chosen, user.name, now)
    if body.note.strip():
        detail["note"] = body.note.strip()
    event_kind = "confirm_body" if kind is BodyFeedback.CONFIRMED else "correct_body"
    repo.add_flag_event(
        db,
        flag_id=flag.id,
        ts_ms=now,
        actor=user.name,
        kind=event_kind,
        from_status=None,
        to_status=None,
        passage_id=passage.id,
        detail=detail,
    )
    audit(db, user, f"flag.{event_kind}", client, {"flag": flag.id, **detail})
    db.commit()
    state.hub.notify()
    db.expire_all()
    return flag_detail(_load(db, flag_id), _actor(user))
