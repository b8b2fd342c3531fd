"""Stored passages with their plates, reader candidates and evidence-crop links."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.db.models import BodyFeedback
from vision.types import BodyType, Side


class CandidatePublic(BaseModel):
    rank: int
    text: str
    confidence: float
    country: str | None
    format_name: str | None


class PlatePublic(BaseModel):
    position: int
    role: str
    text: str
    confidence: float
    status: str
    country: str | None
    format_valid: bool
    n_looks: int
    crop_url: str | None = Field(description="The plate's evidence crop (image/jpeg; every view is audited).")
    candidates: list[CandidatePublic]


class BodyFeedbackPublic(BaseModel):
    """An officer's word on the passage's trailer body type (a label for the model team)."""

    kind: BodyFeedback = Field(description="'confirmed' (the machine is right) or 'corrected'.")
    body_type: BodyType = Field(description="The body type the officer confirmed or gave.")
    side: Side = Field(description="Its side: soft, hard or other.")
    by: str
    ts_ms: int


class PassagePublic(BaseModel):
    id: int
    passage_uid: str
    lane_id: str
    first_seen_ts_ms: int
    last_seen_ts_ms: int
    direction: str
    body_type: str
    body_side: str
    body_confidence: float
    read_quality: float
    camera_ids: list[str]
    flag_id: int | None
    body_crop_url: str | None
    body_feedback: BodyFeedbackPublic | None = Field(
        None, description="The officer's confirmation or correction of the body type, if any."
    )
    plates: list[PlatePublic]
