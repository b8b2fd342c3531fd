"""Lane status and health, and what a pushed frame produced."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

LANE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""What a lane id may be: letters, digits, '_', '.', '-'; at most 64 characters."""


class LaneStatus(enum.StrEnum):
    """A lane's condition as the officers' strip shows it."""

    OK = "ok"  # frames arrive and the pipeline keeps up
    DEGRADED = "degraded"  # frames arrive but are dropped, slow or unreadable
    DOWN = "down"  # no frames for a while, or the pipeline stopped
    UNKNOWN = "unknown"  # registered, nothing heard yet


class LaneHealth(BaseModel):
    """One lane's health. The pipeline fills it through :class:`api.events.LaneRegistry`;
    the frames endpoint counts pushed frames into it."""

    model_config = ConfigDict(frozen=True)

    lane_id: str
    name: str = ""
    status: LaneStatus = LaneStatus.UNKNOWN
    message: str = Field(
        "", description="What is wrong (or what runs), in words, e.g. 'replay of ground truth'."
    )
    source: str = Field("", description="Where frames come from: 'push', a camera URL, a file, 'replay'.")
    fps: float | None = Field(None, ge=0, description="Frames per second processed recently.")
    frames_received: int = Field(0, ge=0)
    frames_dropped: int = Field(0, ge=0, description="Frames dropped because the lane's queue was full.")
    last_frame_ts_ms: int | None = None
    last_passage_ts_ms: int | None = None
    passages: int = Field(0, ge=0, description="Passages recorded since the service started.")
    reconnects: int = Field(0, ge=0, description="Times the lane's stream was opened again after a failure.")
    frames_gated: int = Field(
        0, ge=0, description="Frames the motion gate skipped (nothing moved in the region of interest)."
    )
    plate_height_px_p50: float | None = Field(
        None,
        ge=0,
        description="Median height (px, per line of characters: a two-line plate counts half) of the last "
        "50 plates of passages at their largest, read or too small to read (the smallest of a lane's "
        "cameras that see plates): under about 21 px the characters are under the 15 px plate readers "
        "are installed for, and the message says so.",
    )
    updated_ts_ms: int = 0


class FrameAccepted(BaseModel):
    """A pushed frame that was decoded and handed to the lane's frame sink."""

    lane_id: str
    camera_id: str
    ts_ms: int
    width_px: int
    height_px: int
    bytes: int
    queued: bool = Field(description="False when the sink's queue was full and the oldest frame was dropped.")
    frames_dropped: int = Field(description="Frames this lane has dropped so far.")
