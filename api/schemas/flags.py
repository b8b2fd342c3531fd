"""The officers' flag queue: summaries, details, workflow requests and live events."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.db.models import FlagStatus, Outcome
from api.schemas.passages import PassagePublic
from api.workflow import Action, DetectionMethod
from vision.types import BodyType


class ReasonPublic(BaseModel):
    code: str
    points: int
    text: str
    passage_id: int | None
    details: dict[str, Any]


class FlagSummary(BaseModel):
    """A flag as the queue shows it."""

    id: int
    status: FlagStatus
    risk_score: int
    vehicle_mark: str
    corrected_mark: str | None
    lane_id: str
    first_seen_ts_ms: int
    last_seen_ts_ms: int
    n_passages: int
    claimed_by: str | None
    version: int
    outcome: Outcome | None
    updated_ts_ms: int
    reasons: list[ReasonPublic]


class FlagList(BaseModel):
    """Flags, highest risk first; ``last_event_id`` is where a live stream should start."""

    items: list[FlagSummary]
    last_event_id: int


class EventPublic(BaseModel):
    id: int
    ts_ms: int
    actor: str
    kind: str
    from_status: FlagStatus | None
    to_status: FlagStatus | None
    passage_id: int | None
    detail: dict[str, Any]


class MatchedEntry(BaseModel):
    """An action-list entry behind a flag, and how the read matched it."""

    mark: str
    kind: str
    haulier: str
    penalty_ref: str
    amount_gbp: str
    match_type: str
    candidate: str
    candidate_rank: int
    plate_role: str | None
    how: str
    source: str = Field(description="'read' (the machine's) or 'officer_correction'.")


class FlagDetail(FlagSummary):
    """A flag with its evidence, matches, history and what the caller may do next."""

    read_mark: str | None
    entrants_found: int | None
    detection_methods: list[str]
    disposed_ts_ms: int | None
    action_list_version_id: int | None
    matches: list[MatchedEntry]
    passages: list[PassagePublic]
    events: list[EventPublic]
    allowed_actions: list[Action]
    body_feedback_allowed: bool = Field(
        False,
        description="Whether you may confirm or correct the body type of its passages now "
        "(POST /v1/flags/{id}/passages/{passage_id}/body-type).",
    )


class TransitionBase(BaseModel):
    """``version``: the flag version the officer saw; when given and the flag moved on since, 409."""

    version: int | None = Field(None, ge=1)


class ClaimRequest(TransitionBase):
    pass


class ReleaseRequest(TransitionBase):
    note: str = Field("", max_length=1000)


class VerifyRequest(TransitionBase):
    note: str = Field("", max_length=1000)


class RejectRequest(TransitionBase):
    """The read is wrong: why, and (optionally) the mark as the officer reads it on the evidence."""

    reason: str = Field(min_length=1, max_length=1000)
    corrected_mark: str | None = Field(None, max_length=32)
    plate_position: int | None = Field(
        None, ge=0, description="Which plate of the latest passage was misread (default: the flag's mark)."
    )


class DirectRequest(TransitionBase):
    note: str = Field("", max_length=1000)


class DisposeRequest(TransitionBase):
    """How it ended."""

    outcome: Outcome
    entrants_found: int = Field(0, ge=0, le=500)
    detection_methods: list[DetectionMethod] = Field(default_factory=list, max_length=10)
    note: str = Field("", max_length=2000)


class BodyTypeRequest(TransitionBase):
    """Confirm the machine's trailer body type of a passage, or correct it.

    ``confirm``: the machine is right (``body_type``, if sent, must be the machine's).
    ``correct``: it is ``body_type`` (required; not ``unknown``); the same type as the machine's
    is recorded as a confirmation.
    """

    action: Literal["confirm", "correct"]
    body_type: BodyType | None = None
    note: str = Field("", max_length=1000)


class FlagEventMessage(BaseModel):
    """One live-queue event (SSE ``data``); the SSE ``id`` is ``event_id``. ``flag`` is the flag
    as it is now (not as it was at the event)."""

    event_id: int
    kind: str
    ts_ms: int
    actor: str
    flag: FlagSummary
