"""Store rows to public schemas (one place, so every route shows the same shapes), and a
query's mark to the store's form."""

from __future__ import annotations

from fastapi import HTTPException, status

from api.db.models import Flag, FlagEvent, FlagReason, FlagStatus, PassageRow
from api.schemas.flags import EventPublic, FlagDetail, FlagSummary, MatchedEntry, ReasonPublic
from api.schemas.passages import BodyFeedbackPublic, CandidatePublic, PassagePublic, PlatePublic
from api.workflow import Actor, FlagState, actions_for, may_give_body_feedback
from vision.anpr.lookalike import normalise
from vision.types import BodyType


def mark_filter(mark: str | None) -> str | None:
    """A ``mark=`` query as the store keeps marks (:func:`normalise`: upper case, letters and
    digits only), ``None`` when not given; 422 for one with no letter or digit (``%%`` or ``-``
    would otherwise filter nothing and list every row)."""
    if mark is None or not mark.strip():
        return None
    norm = normalise(mark)
    if not norm:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"mark {mark!r} has no letters or digits to search by"
        )
    return norm


def reason_public(r: FlagReason) -> ReasonPublic:
    return ReasonPublic(
        code=r.code, points=r.points, text=r.text, passage_id=r.passage_id, details=r.details or {}
    )


def flag_summary(flag: Flag) -> FlagSummary:
    return FlagSummary(
        id=flag.id,
        status=FlagStatus(flag.status),
        risk_score=flag.risk_score,
        vehicle_mark=flag.vehicle_mark,
        corrected_mark=flag.corrected_mark,
        lane_id=flag.lane_id,
        first_seen_ts_ms=flag.first_seen_ts_ms,
        last_seen_ts_ms=flag.last_seen_ts_ms,
        n_passages=flag.n_passages,
        claimed_by=flag.claimed_by,
        version=flag.version,
        outcome=flag.outcome,
        updated_ts_ms=flag.updated_ts_ms,
        reasons=sorted((reason_public(r) for r in flag.reasons), key=lambda r: -r.points),
    )


def body_feedback_public(row: PassageRow) -> BodyFeedbackPublic | None:
    """The officer's word on the passage's body type, or ``None`` when there is none."""
    if row.body_feedback is None or not row.body_type_officer or row.body_feedback_ts_ms is None:
        return None
    body_type = BodyType(row.body_type_officer)
    return BodyFeedbackPublic(
        kind=row.body_feedback,
        body_type=body_type,
        side=body_type.side,
        by=row.body_feedback_by or "",
        ts_ms=row.body_feedback_ts_ms,
    )


def passage_public(row: PassageRow) -> PassagePublic:
    base = f"/v1/passages/{row.id}"
    return PassagePublic(
        id=row.id,
        passage_uid=row.passage_uid,
        lane_id=row.lane_id,
        first_seen_ts_ms=row.first_seen_ts_ms,
        last_seen_ts_ms=row.last_seen_ts_ms,
        direction=row.direction,
        body_type=row.body_type,
        body_side=row.body_side,
        body_confidence=row.body_confidence,
        read_quality=row.read_quality,
        camera_ids=list(row.camera_ids or []),
        flag_id=row.flag_id,
        body_crop_url=f"{base}/crops/body" if row.body_crop_path else None,
        body_feedback=body_feedback_public(row),
        plates=[
            PlatePublic(
                position=p.position,
                role=p.role,
                text=p.text,
                confidence=p.confidence,
                status=p.status,
                country=p.country,
                format_valid=p.format_valid,
                n_looks=p.n_looks,
                crop_url=f"{base}/crops/plate/{p.position}" if p.crop_path else None,
                candidates=[
                    CandidatePublic(
                        rank=c.rank,
                        text=c.text,
                        confidence=c.confidence,
                        country=c.country,
                        format_name=c.format_name,
                    )
                    for c in p.candidates
                ],
            )
            for p in row.plates
        ],
    )


def event_public(e: FlagEvent) -> EventPublic:
    return EventPublic(
        id=e.id,
        ts_ms=e.ts_ms,
        actor=e.actor,
        kind=e.kind,
        from_status=e.from_status,
        to_status=e.to_status,
        passage_id=e.passage_id,
        detail=e.detail or {},
    )


def matched_entries(flag: Flag) -> list[MatchedEntry]:
    """The action-list entries behind the flag's hit reasons (strongest first, each mark once)."""
    out: dict[str, MatchedEntry] = {}
    for r in sorted(flag.reasons, key=lambda r: -r.points):
        d = r.details or {}
        if r.code != "action_list" or "mark" not in d or d["mark"] in out:
            continue
        out[d["mark"]] = MatchedEntry(
            mark=str(d["mark"]),
            kind=str(d.get("kind", "")),
            haulier=str(d.get("haulier", "")),
            penalty_ref=str(d.get("penalty_ref", "")),
            amount_gbp=str(d.get("amount_gbp", "")),
            match_type=str(d.get("match_type", "")),
            candidate=str(d.get("candidate", "")),
            candidate_rank=int(d.get("candidate_rank", 0)),
            plate_role=d.get("plate_role"),
            how=r.text,
            source=str(d.get("source", "read")),
        )
    return list(out.values())


def flag_detail(flag: Flag, actor: Actor) -> FlagDetail:
    summary = flag_summary(flag)
    state = FlagState(FlagStatus(flag.status), flag.claimed_by)
    return FlagDetail(
        **summary.model_dump(),
        read_mark=flag.read_mark,
        entrants_found=flag.entrants_found,
        detection_methods=list(flag.detection_methods or []),
        disposed_ts_ms=flag.disposed_ts_ms,
        action_list_version_id=flag.action_list_version_id,
        matches=matched_entries(flag),
        passages=[passage_public(p) for p in sorted(flag.passages, key=lambda p: -p.last_seen_ts_ms)],
        events=[event_public(e) for e in flag.events],
        allowed_actions=list(actions_for(state, actor)),
        body_feedback_allowed=may_give_body_feedback(state, actor),
    )
