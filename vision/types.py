"""Typed objects that cross module boundaries in the lane pipeline.

Everything downstream of a model sees these, never a raw model output or an untyped
dict. Images are ``numpy`` arrays of shape ``(H, W, 3)``, dtype ``uint8``, **BGR**
channel order (OpenCV's), unless a docstring says otherwise. Coordinates are pixels
in the frame the object came from; times are integer milliseconds since the Unix
epoch (``*_ts_ms``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

ImageBGR = npt.NDArray[np.uint8]
"""An image of shape (H, W, 3), dtype uint8, BGR channel order."""


@dataclass(frozen=True, slots=True)
class BBox:
    """An axis-aligned box in pixels, ``x1 <= x2`` and ``y1 <= y2`` (x right, y down)."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        if not (self.x1 <= self.x2 and self.y1 <= self.y2):
            raise ValueError(f"degenerate box: {self}")

    @classmethod
    def from_xywh(cls, x: float, y: float, width_px: float, height_px: float) -> BBox:
        """Build from the top-left corner and a size in pixels."""
        return cls(x, y, x + width_px, y + height_px)

    @property
    def width_px(self) -> float:
        return self.x2 - self.x1

    @property
    def height_px(self) -> float:
        return self.y2 - self.y1

    @property
    def area_px(self) -> float:
        return self.width_px * self.height_px

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    def intersection_px(self, other: BBox) -> float:
        """Area (px²) this box shares with ``other``."""
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        return ix * iy

    def iou(self, other: BBox) -> float:
        """Intersection over union with ``other``, in [0, 1]."""
        inter = self.intersection_px(other)
        union = self.area_px + other.area_px - inter
        return inter / union if union > 0 else 0.0

    def inside_fraction(self, other: BBox) -> float:
        """How much of this box lies inside ``other``, in [0, 1] (0 for an empty box)."""
        return self.intersection_px(other) / self.area_px if self.area_px > 0 else 0.0

    def clip(self, width_px: int, height_px: int) -> BBox:
        """The box clipped to an image of the given size."""
        return BBox(
            min(max(self.x1, 0.0), float(width_px)),
            min(max(self.y1, 0.0), float(height_px)),
            min(max(self.x2, 0.0), float(width_px)),
            min(max(self.y2, 0.0), float(height_px)),
        )

    def as_int(self) -> tuple[int, int, int, int]:
        """``(x1, y1, x2, y2)`` rounded outwards to whole pixels, for slicing."""
        return (int(np.floor(self.x1)), int(np.floor(self.y1)), int(np.ceil(self.x2)), int(np.ceil(self.y2)))


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One image from a lane camera.

    ``image`` is (H, W, 3) uint8 BGR. ``index`` counts frames from the source's start.
    """

    lane_id: str
    camera_id: str
    ts_ms: int
    image: ImageBGR
    index: int = 0

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            got = f"shape {self.image.shape} dtype {self.image.dtype}"
            raise ValueError(f"frame image must be (H, W, 3) uint8 BGR, got {got}")

    @property
    def width_px(self) -> int:
        return int(self.image.shape[1])

    @property
    def height_px(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected object: a box, its class and the detector's confidence in [0, 1]."""

    box: BBox
    class_id: int
    class_name: str
    confidence: float


@dataclass(frozen=True, slots=True)
class DetectionSet:
    """All detections of one frame, in the detector's order (highest confidence first)."""

    detections: tuple[Detection, ...] = ()
    image_width_px: int = 0
    image_height_px: int = 0

    def __len__(self) -> int:
        return len(self.detections)

    def __iter__(self) -> Iterator[Detection]:
        return iter(self.detections)

    def of_class(self, class_name: str) -> DetectionSet:
        """Only the detections of one class."""
        return DetectionSet(
            tuple(d for d in self.detections if d.class_name == class_name),
            self.image_width_px,
            self.image_height_px,
        )


class PlateRole(enum.StrEnum):
    """Where on the lorry a plate was seen."""

    FRONT = "front"  # tractor's front plate
    REAR = "rear"  # rear plate of the trailer (or of a rigid)
    TRAILER_MARK = "trailer_mark"  # a UK trailer's own two-line DVLA mark
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PlateCandidate:
    """One reading of a plate.

    ``text`` is normalised (upper case A-Z and 0-9, no spaces). ``char_confidences``
    has one value in [0, 1] per character of ``text``. ``format_name`` is the grammar
    the text fits (e.g. ``"UK current"``), ``None`` when it fits none.
    """

    text: str
    confidence: float
    char_confidences: tuple[float, ...] = ()
    country: str | None = None
    format_name: str | None = None

    @property
    def format_valid(self) -> bool:
        return self.format_name is not None


@dataclass(frozen=True, slots=True)
class PlateRead:
    """The reading of one plate crop: candidates best first (possibly none)."""

    box: BBox
    candidates: tuple[PlateCandidate, ...]
    engine: str
    two_line: bool = False
    ms: float = 0.0

    @property
    def best(self) -> PlateCandidate | None:
        return self.candidates[0] if self.candidates else None


class Side(enum.StrEnum):
    """How easy a trailer is to enter: soft-sided, hard-sided or neither."""

    SOFT = "soft"
    HARD = "hard"
    OTHER = "other"
    UNKNOWN = "unknown"


class BodyType(enum.StrEnum):
    """Trailer or vehicle body type, as the classifier names it."""

    CURTAINSIDER = "curtainsider"
    TILT = "tilt"
    BOX = "box"
    REEFER = "reefer"
    CONTAINER = "container"
    TANKER = "tanker"
    FLATBED = "flatbed"
    TIPPER = "tipper"
    CAR_TRANSPORTER = "car_transporter"
    TRACTOR_ONLY = "tractor_only"
    OTHER = "other"
    UNKNOWN = "unknown"

    @property
    def side(self) -> Side:
        """The risk side this body type belongs to."""
        return _SIDE_OF[self]


_SIDE_OF: dict[BodyType, Side] = {
    BodyType.CURTAINSIDER: Side.SOFT,
    BodyType.TILT: Side.SOFT,
    BodyType.BOX: Side.HARD,
    BodyType.REEFER: Side.HARD,
    BodyType.CONTAINER: Side.HARD,
    BodyType.TANKER: Side.HARD,
    BodyType.FLATBED: Side.OTHER,
    BodyType.TIPPER: Side.OTHER,
    BodyType.CAR_TRANSPORTER: Side.OTHER,
    BodyType.TRACTOR_ONLY: Side.OTHER,
    BodyType.OTHER: Side.OTHER,
    BodyType.UNKNOWN: Side.UNKNOWN,
}


@dataclass(frozen=True, slots=True)
class TrailerVerdict:
    """The body type of one look (one crop) or the consensus of a passage.

    ``confidence`` is the calibrated probability of ``body_type`` in [0, 1];
    ``n_looks`` is 1 for a single crop and the number of looks for a consensus;
    ``probabilities``: a look's calibrated probability of every class of its model (model
    order), or a consensus's mean probabilities over its looks (most probable first); empty
    when only the best is known.
    """

    body_type: BodyType
    confidence: float
    n_looks: int = 1
    probabilities: tuple[tuple[BodyType, float], ...] = ()

    @property
    def side(self) -> Side:
        return self.body_type.side

    @property
    def soft_probability(self) -> float:
        """How probable (0-1) a soft-sided body (curtainsider or tilt) is: the sum of the soft
        types' probabilities, or ``confidence`` when only a soft best type is known."""
        if not self.probabilities:
            return self.confidence if self.side is Side.SOFT else 0.0
        return min(1.0, sum(p for t, p in self.probabilities if t.side is Side.SOFT))


class ReadStatus(enum.StrEnum):
    """How far a plate's text can be trusted."""

    COMMITTED = "committed"  # stable consensus across frames
    LOW_CONFIDENCE = "low_confidence"  # read, but not stable or not confident
    UNREAD = "unread"  # seen, not read


@dataclass(frozen=True, slots=True)
class PassagePlate:
    """One plate of a passage after voting across the frames of its track.

    ``crop_jpeg`` is the best evidence crop, JPEG-encoded (empty when none).
    ``first_seen_ts_ms`` / ``last_seen_ts_ms``: the first and last frame times (ms) at which the
    camera saw the plate (the tracks whose reads were voted), ``None`` when not known.
    """

    role: PlateRole
    text: str
    confidence: float
    status: ReadStatus
    candidates: tuple[PlateCandidate, ...] = ()
    country: str | None = None
    format_valid: bool = False
    n_looks: int = 0
    crop_jpeg: bytes = b""
    first_seen_ts_ms: int | None = None
    last_seen_ts_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Passage:
    """One lorry (or other vehicle) passing through a lane, assembled from its track."""

    passage_id: str
    lane_id: str
    first_seen_ts_ms: int
    last_seen_ts_ms: int
    plates: tuple[PassagePlate, ...]
    body: TrailerVerdict
    direction: str = "unknown"
    body_crop_jpeg: bytes = b""
    camera_ids: tuple[str, ...] = field(default_factory=tuple)

    @property
    def read_quality(self) -> float:
        """Share of this passage's plates whose read is committed, in [0, 1] (0 with no plates)."""
        if not self.plates:
            return 0.0
        return sum(p.status is ReadStatus.COMMITTED for p in self.plates) / len(self.plates)

    def marks(self) -> Sequence[str]:
        """The texts of the plates that were read (committed or low-confidence)."""
        return [p.text for p in self.plates if p.status is not ReadStatus.UNREAD and p.text]
