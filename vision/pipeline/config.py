"""Per-lane configuration of the pipeline: frozen dataclasses the service's settings build.

Coordinates of a region of interest are *normalised* to the frame (x right, y down, each
in [0, 1]) so one configuration serves any camera resolution. Times are milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from vision.anpr.detector import PLATE_MARGIN_X, PLATE_WIDER_MARGIN_X
from vision.anpr.vote import VoteRule
from vision.pipeline.roi import roi_problem
from vision.trailer.consensus import ConsensusRule

CameraView = Literal["front", "rear", "side", "high_side"]
"""What a lane camera faces: ``front`` sees tractors' front plates (vehicles approach), ``rear``
sees trailers' rear plates and UK trailer marks (vehicles drive away), ``side`` / ``high_side``
sees the trailer's body broadside (level with it / from above; no plates are read)."""

CAMERA_VIEWS: tuple[CameraView, ...] = ("front", "rear", "side", "high_side")
"""Every :data:`CameraView`."""

PLATE_VIEWS: tuple[CameraView, ...] = ("front", "rear")
"""Views whose camera reads plates."""


@dataclass(frozen=True, slots=True)
class RegionOfInterest:
    """The part of the frame that belongs to the lane: a polygon in normalised coordinates.

    An empty polygon is the whole frame. A detection belongs to the lane when its anchor
    point (bottom centre for vehicles, centre for plates) is inside the polygon.
    """

    polygon: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        problem = roi_problem(self.polygon)
        if problem is not None:
            raise ValueError(problem)

    @property
    def whole_frame(self) -> bool:
        return not self.polygon

    def polygon_px(self, width_px: int, height_px: int) -> np.ndarray:
        """The polygon in pixels, ``(N, 2)`` float32 (the frame's corners for the whole frame)."""
        pts = self.polygon or ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
        return np.array([(x * width_px, y * height_px) for x, y in pts], np.float32)

    def bounds_px(self, width_px: int, height_px: int) -> tuple[int, int, int, int]:
        """The polygon's bounding rectangle ``(x1, y1, x2, y2)`` in whole pixels, inside the frame."""
        poly = self.polygon_px(width_px, height_px)
        x1, y1 = np.floor(poly.min(axis=0)).astype(int)
        x2, y2 = np.ceil(poly.max(axis=0)).astype(int)
        return max(0, int(x1)), max(0, int(y1)), min(width_px, int(x2)), min(height_px, int(y2))

    def contains(self, x_px: float, y_px: float, width_px: int, height_px: int) -> bool:
        """Whether pixel point ``(x_px, y_px)`` of a ``width_px`` x ``height_px`` frame is inside."""
        if self.whole_frame:
            return 0.0 <= x_px <= width_px and 0.0 <= y_px <= height_px
        poly = self.polygon_px(width_px, height_px)
        return cv2.pointPolygonTest(poly.reshape(-1, 1, 2), (float(x_px), float(y_px)), False) >= 0


@dataclass(frozen=True, slots=True)
class MotionGateConfig:
    """Skip frames where nothing moves inside the region of interest.

    Frames are compared with the previous one at ``width_px`` wide greyscale (blurred);
    a pixel changed when it differs by more than ``pixel_threshold`` grey levels; a frame
    has motion when at least ``min_changed_fraction`` of the region's pixels changed. A
    frame is processed anyway at least every ``heartbeat_ms`` (so tracks that left the
    frame still close) and while any vehicle is tracked.
    """

    enabled: bool = False
    width_px: int = 160
    pixel_threshold: int = 16
    min_changed_fraction: float = 0.002
    heartbeat_ms: int = 1000

    def __post_init__(self) -> None:
        if self.width_px < 16 or not (0 < self.pixel_threshold < 256):
            raise ValueError(f"invalid motion gate {self}")
        if not (0.0 <= self.min_changed_fraction <= 1.0) or self.heartbeat_ms < 0:
            raise ValueError(f"invalid motion gate {self}")


@dataclass(frozen=True, slots=True)
class TrackingConfig:
    """Tracking and passage rules.

    - ``detect_interval_ms``: run the detectors on a frame at most this often (0: every
      frame); frames in between are counted and shown with the last tracks but not
      detected. At 25 fps, 80 ms means every second frame. While a readable plate in view
      has had fewer than ``ReadPolicy.first_reads`` reads, every frame is detected.
    - ``close_after_ms``: a vehicle not seen for this long has left: its passage closes.
      A new track that starts where a lost one is predicted to be, within this time,
      continues it (no duplicate passage when the tracker loses a lorry briefly).
    - ``min_hits``: detections a vehicle track needs before it counts as a passage.
    - ``min_track_ms``: a vehicle track seen for less than this (first to last sighting) with
      no plate read on it that fits a plate grammar is noise, not a passage: a lorry in a lane
      is in view for seconds, while a detector that loses a passing trailer and picks up a
      piece of it (its top, its tail at the frame edge) makes short tracks of a few frames.
    - ``vehicle_min_confidence`` / ``plate_min_confidence``: detections below are ignored.
    """

    detect_interval_ms: int = 0
    close_after_ms: int = 1500
    min_hits: int = 3
    min_track_ms: int = 500
    vehicle_min_confidence: float = 0.3
    plate_min_confidence: float = 0.3
    track_activation_confidence: float = 0.5

    def __post_init__(self) -> None:
        if (
            self.detect_interval_ms < 0
            or self.close_after_ms < 1
            or self.min_hits < 1
            or self.min_track_ms < 0
        ):
            raise ValueError(f"invalid tracking config {self}")


@dataclass(frozen=True, slots=True)
class ReadPolicy:
    """Which plate and body crops are worth a model call (the expensive part of a frame).

    Plates: a crop shorter than ``min_plate_height_px`` is never read. A plate track's first
    ``first_reads`` crops are read; after that a crop is read only when it is at least
    ``bigger_by`` times taller than the tallest read so far (an approaching plate is read as
    it grows, and the reads go to its best views), or, while the track's vote is not
    committed, once every ``reread_interval_ms`` (a lorry standing at the booth). A track
    keeps at most ``max_reads_per_plate`` reads: past that a clearly bigger crop replaces
    the read of the smallest one.

    Bodies: a crop is classified when both sides are at least ``min_body_side_px``, at most
    once every ``body_look_interval_ms``; a track keeps at most ``max_body_looks`` looks: past
    that a crop ``bigger_by`` times bigger (geometric mean side) than the biggest look so far
    replaces the smallest look (a lorry coming towards a front camera is classified as it
    grows: a far body's first looks are the least sure). Body crops are cut with ``body_margin``
    (a fraction of the box's size) around the box; plate crops with ``plate_margin_x`` of the
    box's width left and right and none above and below: the plate detector's boxes of lane
    plates are tight at the ends, and a first or last character cut in half was dropped
    (``JB22GR`` for ``JB22GRD``, a valid Dutch plate; ``docs/pipeline.md``). A read that is
    not sure is read again from the box grown by ``plate_wider_margin_x`` and the two are
    averaged (:func:`vision.anpr.reader.read_box`; 0 turns it off).
    """

    min_plate_height_px: float = 12.0
    max_reads_per_plate: int = 8
    first_reads: int = 3
    bigger_by: float = 1.15
    reread_interval_ms: int = 500
    min_body_side_px: int = 48
    max_body_looks: int = 8
    body_look_interval_ms: int = 150
    plate_margin_x: float = PLATE_MARGIN_X
    plate_wider_margin_x: float = PLATE_WIDER_MARGIN_X
    body_margin: float = 0.05
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        if (
            self.max_reads_per_plate < 1
            or self.max_body_looks < 0
            or not (1 <= self.jpeg_quality <= 100)
            or not (0.0 <= self.plate_margin_x <= 0.5)
            or not (0.0 <= self.plate_wider_margin_x <= 0.5)
        ):
            raise ValueError(f"invalid read policy {self}")


@dataclass(frozen=True, slots=True)
class LaneConfig:
    """Everything one lane's pipeline needs to know that is not a model."""

    lane_id: str
    camera_id: str = "cam1"
    view: CameraView = "front"
    roi: RegionOfInterest = field(default_factory=RegionOfInterest)
    motion_gate: MotionGateConfig = field(default_factory=MotionGateConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    reads: ReadPolicy = field(default_factory=ReadPolicy)
    vote_rule: VoteRule = field(default_factory=VoteRule)
    consensus_rule: ConsensusRule = field(default_factory=ConsensusRule)

    def __post_init__(self) -> None:
        if not self.lane_id or not self.camera_id:
            raise ValueError("lane_id and camera_id must not be empty")
        if self.view not in CAMERA_VIEWS:
            raise ValueError(f"view must be one of {CAMERA_VIEWS}, got {self.view!r}")

    @property
    def reads_plates(self) -> bool:
        """Whether this camera's plates are detected and read (front and rear views)."""
        return self.view in PLATE_VIEWS
