"""Stored passages with their plates, reader candidates and evidence-crop links."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
    plates: list[PlatePublic]
