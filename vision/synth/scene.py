"""Scene specifications (what to render) and ground truth (what was rendered).

Everything here is a frozen dataclass. Pixel boxes are ``(x0, y0, x1, y1)`` floats in
continuous image coordinates: (0, 0) is the top-left corner of the top-left pixel and a
box ``0..W`` spans the whole width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .camera import CameraSpec
from .canvas import Colour
from .plates import PlateRole
from .taxonomy import BodyType, Side
from .vehicles import VehicleSpec

View = Literal["front", "rear", "side", "high_side"]
VIEWS: tuple[View, ...] = ("front", "rear", "side", "high_side")
Lighting = Literal["day", "dusk", "night_ir"]
OccluderKind = Literal["pole", "person", "barrier", "cone"]


@dataclass(frozen=True)
class BackgroundSpec:
    """The lane's surroundings (world metres)."""

    asphalt: Colour
    lane_w_m: float
    island_w_m: float
    booth_x_m: float | None
    booth_side: int  # +1 left (+Y) or -1 right (-Y)
    canopy_h_m: float | None
    column_x_m: tuple[float, ...]
    backdrop: int  # 0 port buildings, 1 container stacks, 2 fence and trees, 3 wall
    stop_line_x_m: float | None
    seed: int
    style_seed: int  # 0..31: picks the look of walls, asphalt, columns, booth (textures shared across scenes)


@dataclass(frozen=True)
class OccluderSpec:
    """Something standing between camera and vehicle: at world (x, y) on the ground."""

    kind: OccluderKind
    x_m: float
    y_m: float
    size_m: float  # pole diameter, person height, barrier length, cone height


@dataclass(frozen=True)
class ConditionSpec:
    """Lighting, weather and camera degradations.

    ``motion_blur_px``/``defocus_sigma_px``/``noise_sigma`` of 0 disable that effect;
    ``jpeg_quality`` 0 means no JPEG round trip inside the renderer.
    """

    lighting: Lighting
    rain: bool
    glare: bool
    motion_blur_px: float
    motion_angle_deg: float
    defocus_sigma_px: float
    noise_sigma: float
    jpeg_quality: int
    exposure: float
    sun_azimuth_deg: float

    @property
    def streak_px(self) -> int:
        """Length (px) of the motion-blur kernel :func:`effects.apply_blur` applies: odd, 0 for
        none (under 1.5 px)."""
        return round(self.motion_blur_px) | 1 if self.motion_blur_px >= 1.5 else 0

    @property
    def defocus_px(self) -> float:
        """Sigma (px) of the Gaussian defocus :func:`effects.apply_blur` applies, 0 for none
        (under 0.5 px)."""
        return self.defocus_sigma_px if self.defocus_sigma_px >= 0.5 else 0.0

    def tags(self) -> tuple[str, ...]:
        """Short names of the active conditions, e.g. ``("night_ir", "rain", "blur")``."""
        t: list[str] = [self.lighting]
        if self.rain:
            t.append("rain")
        if self.glare:
            t.append("glare")
        if self.motion_blur_px >= 2:
            t.append("motion")
        if self.defocus_sigma_px >= 1:
            t.append("defocus")
        if self.noise_sigma >= 6:
            t.append("noise")
        if 0 < self.jpeg_quality < 50:
            t.append("jpeg")
        return tuple(t)


@dataclass(frozen=True)
class SceneSpec:
    """Everything that determines one rendered image (together with ``seed``)."""

    seed: int
    view: View
    camera: CameraSpec
    vehicles: tuple[VehicleSpec, ...]
    occluders: tuple[OccluderSpec, ...]
    background: BackgroundSpec
    condition: ConditionSpec


@dataclass(frozen=True)
class Box:
    """Axis-aligned pixel box (x0, y0, x1, y1), continuous coordinates."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return max(0.0, self.x1 - self.x0)

    @property
    def height(self) -> float:
        return max(0.0, self.y1 - self.y0)

    @property
    def area(self) -> float:
        return self.width * self.height

    def clip(self, width_px: int, height_px: int) -> Box:
        """This box cut to the image ``0..width_px`` x ``0..height_px``."""
        return Box(
            min(max(self.x0, 0.0), width_px),
            min(max(self.y0, 0.0), height_px),
            min(max(self.x1, 0.0), width_px),
            min(max(self.y1, 0.0), height_px),
        )

    def contains(self, other: Box, tol: float = 0.5) -> bool:
        """True if ``other`` lies inside this box (with ``tol`` pixels of slack)."""
        return (
            other.x0 >= self.x0 - tol
            and other.y0 >= self.y0 - tol
            and other.x1 <= self.x1 + tol
            and other.y1 <= self.y1 + tol
        )

    def as_int(self) -> tuple[int, int, int, int]:
        """Rounded integer pixel slice bounds (x0, y0, x1, y1)."""
        return round(self.x0), round(self.y0), round(self.x1), round(self.y1)

    @staticmethod
    def of_points(pts: np.ndarray) -> Box:
        """Bounding box of points (N, 2)."""
        return Box(
            float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())
        )


Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class PlateTruth:
    """A plate as rendered.

    ``quad``: image corners TL, TR, BR, BL (px) of the whole plate; ``box``: its bounding
    box clipped to the image; ``text_quad``/``text_box``: the same for the character
    cells. ``visible_fraction``: share of the plate's pixels not hidden by anything
    drawn in front; ``in_frame_fraction``: share of its box inside the image.
    ``labelled`` applies the label rule (see README).
    """

    vehicle_id: int
    text: str
    lines: tuple[str, ...]
    country: str
    grammar: str
    role: PlateRole
    two_line: bool
    quad: Quad
    box: Box
    text_quad: Quad
    text_box: Box
    visible_fraction: float
    in_frame_fraction: float
    facing: bool
    labelled: bool
    min_char_visible: float = 1.0


LEGIBLE_DEFOCUS = 0.15
"""Defocus sigma, as a share of the character height, at which a plate stops being legible.
The strokes of a plate character are about 0.3 of its height apart (centre to centre: the
bars of an E, 32.5 of 79 mm, the uprights of an H); two lines blend once the blur's sigma
passes half their separation (Sparrow's limit), and B/8, D/0 and the like can no longer be
told apart by anyone."""

LEGIBLE_MOTION = 0.5
"""Motion streak length, as a share of the character height, at which a plate stops being
legible: a box blur wipes out detail at its own length, and the uprights of a character are
about 0.46 of its height apart (36 of 79 mm)."""

LEGIBLE_CHAR_VISIBLE = 0.75
"""Least share of every character cell that must show (not hidden, not out of frame)."""

SPEC_CHAR_PX = 15.0
"""Character height (px) below which a plate is smaller than plate readers are installed for:
vendors' installation requirements ask for characters at least 15 px high (AxxonSoft's ANPR,
with strokes of 2 px; 16 px for Auto-Intellect), single-line plates at least 130-170 px wide
(Milestone) or 30 px high (ABUS). Such a plate may still be legible; it is tagged
``small_chars`` so that figures can be given for plates within those requirements too."""


def char_height_px(p: PlateTruth) -> float:
    """Height (px) of one line of characters: the character cells' quad's mean side edge
    over the number of lines (for two lines this includes a share of the line gap)."""
    q = np.asarray(p.text_quad, np.float64)
    edge = (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2.0
    return float(edge) / max(1, len(p.lines))


def blur_severity(p: PlateTruth, c: ConditionSpec) -> float:
    """How far the blur of ``c`` (as :func:`effects.apply_blur` applies it) is past what
    plate ``p``'s characters survive: ``hypot(defocus / (LEGIBLE_DEFOCUS * h), streak /
    (LEGIBLE_MOTION * h))`` for character height ``h`` (px); above 1 nobody can read it."""
    h = char_height_px(p)
    if h <= 0:
        return float("inf")
    return float(np.hypot(c.defocus_px / (LEGIBLE_DEFOCUS * h), c.streak_px / (LEGIBLE_MOTION * h)))


def illegible_reasons(p: PlateTruth, c: ConditionSpec) -> tuple[str, ...]:
    """Why nobody could read plate ``p`` under condition ``c``: ``"illegible"`` when
    :func:`blur_severity` passes 1, ``"char_hidden"`` when some character shows less than
    :data:`LEGIBLE_CHAR_VISIBLE` of its cell. Empty when legible."""
    out = []
    if blur_severity(p, c) > 1.0:
        out.append("illegible")
    if p.min_char_visible < LEGIBLE_CHAR_VISIBLE:
        out.append("char_hidden")
    return tuple(out)


@dataclass(frozen=True)
class VehicleTruth:
    """A vehicle as rendered: whole-vehicle box and ``body`` box (px, clipped to the image).

    ``body_visible_fraction``: the share of the body's drawn pixels that other vehicles and
    objects leave showing (the label rule); ``body_shown_fraction``: the share of the body as
    drawn alone that shows, its own cab counted as hiding it too (a front camera sees a trailer
    behind its cab only above and beside it).
    """

    vehicle_id: int
    body_type: BodyType
    side: Side
    crop_class: str
    country: str
    box: Box
    body_box: Box
    visible_fraction: float
    body_visible_fraction: float
    body_shown_fraction: float
    in_frame_fraction: float
    body_in_frame_fraction: float
    body_side_visible: bool
    labelled: bool
    body_labelled: bool


@dataclass(frozen=True, eq=False)
class Scene:
    """A rendered image and its ground truth.

    ``image``: BGR uint8 array (H, W, 3). ``vehicles``/``plates``: every vehicle and
    plate in the scene, labelled or not (see ``labelled`` flags).
    """

    image: np.ndarray
    spec: SceneSpec
    vehicles: tuple[VehicleTruth, ...]
    plates: tuple[PlateTruth, ...]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])

    def detections(self) -> tuple[tuple[int, Box], ...]:
        """Labelled boxes as (class id, box): 0 plate, 1 vehicle, 2 body."""
        out: list[tuple[int, Box]] = [(0, p.box) for p in self.plates if p.labelled]
        out += [(1, v.box) for v in self.vehicles if v.labelled]
        out += [(2, v.body_box) for v in self.vehicles if v.body_labelled]
        return tuple(out)

    def yolo_lines(self) -> tuple[str, ...]:
        """YOLO label lines ``cls cx cy w h`` (normalised, 6 decimals)."""
        w, h = self.size
        lines = []
        for cls, b in self.detections():
            lines.append(
                f"{cls} {(b.x0 + b.x1) / 2 / w:.6f} {(b.y0 + b.y1) / 2 / h:.6f} {b.width / w:.6f} "
                f"{b.height / h:.6f}"
            )
        return tuple(lines)

    def caption(self) -> str:
        """One-line human summary: main body type, plates, view, conditions."""
        main = self.vehicles[0].body_type if self.vehicles else "-"
        texts = " ".join(
            p.text for p in self.plates if p.labelled and p.vehicle_id == self.spec.vehicles[0].vehicle_id
        )
        return f"{main} | {texts or '-'} | {self.spec.view} | {'+'.join(self.spec.condition.tags())}"
