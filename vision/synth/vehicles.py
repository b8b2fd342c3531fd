"""Vehicle models: parts (boxes with painted faces), plate mounts and lamps.

A vehicle is described by a :class:`VehicleSpec` (what it is, where it stands, what
its plates say) and turned into a :class:`VehicleModel`: a handful of axis-aligned
parts in the vehicle's own frame (x forward with the front at x = 0 and the rest at
negative x, y to the left, z up, metres). Each part paints the faces a camera can see
onto metric :class:`~vision.synth.canvas.Canvas` textures on demand. Fine details
(fold positions, wheel rims, dirt) come from ``detail_seed`` so a vehicle looks the same
in every frame of a clip.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

import cv2
import numpy as np

from .canvas import Canvas, Colour, mix, shade
from .livery import CONTAINER_PAINTS, PAINTS, Livery
from .plates import PlateSpec
from .taxonomy import BodyType

FaceName = Literal["front", "rear", "left", "right", "top"]
Group = Literal["tractor", "body"]

BLACK: Final = (22, 22, 22)
TYRE: Final = (28, 28, 30)
DARK: Final = (45, 45, 48)
STEEL: Final = (120, 120, 125)
ALU: Final = (185, 185, 182)
CHROME: Final = (205, 205, 200)
GLASS: Final = (70, 55, 45)
RED_L: Final = (30, 30, 210)
AMBER: Final = (0, 140, 250)
WHITE: Final = (245, 245, 245)
ORANGE: Final = (0, 120, 245)
YELLOW: Final = (0, 200, 245)


@dataclass(frozen=True)
class VehicleSpec:
    """One vehicle in a scene.

    ``x_front_m``/``y_centre_m``: world position of the front bumper centre (metres);
    ``yaw_deg``: heading relative to the lane (+X). ``plates`` are in mount order
    (front, rear, trailer mark where present). ``variant`` picks a sub-type (load,
    container size, roof...). ``detail_seed`` fixes every random detail of the textures.
    """

    vehicle_id: int
    body_type: BodyType
    country: str
    x_front_m: float
    y_centre_m: float
    yaw_deg: float
    cab_colour: Colour
    livery: Livery
    plates: tuple[PlateSpec, ...]
    variant: int
    detail_seed: int


@dataclass(frozen=True)
class Geometry:
    """Dimensions derived from a spec (metres)."""

    length: float
    width: float
    cab_len: float
    cab_h: float
    deflector_h: float
    trailer_x1: float  # local x of the trailer / body front
    trailer_len: float
    body_h: float
    deck: float
    axles: tuple[float, ...]  # trailer/body axle distances from the body front
    tractor_axles: tuple[float, ...]  # distances from the vehicle front


def geometry(body_type: BodyType, variant: int, detail_seed: int) -> Geometry:
    """Deterministic dimensions of a vehicle (same inputs, same numbers)."""
    r = np.random.default_rng([detail_seed, 7])
    if body_type == "car":
        ln = float(r.uniform(4.1, 4.8))
        return Geometry(
            ln, 1.8, 0.0, 1.45, 0.0, 0.0, ln, float(r.uniform(1.4, 1.55)), 0.3, (0.8, ln - 0.75), ()
        )
    if body_type == "van":
        ln = float(r.uniform(5.2, 6.4))
        return Geometry(
            ln, 2.0, 0.0, 2.5, 0.0, 0.0, ln, float(r.uniform(2.3, 2.7)), 0.5, (0.95, ln - 1.1), ()
        )
    cab_len = float(r.uniform(2.15, 2.4))
    high = r.random() < 0.5
    cab_h = float(r.uniform(3.55, 3.9) if high else r.uniform(3.0, 3.25))
    tractor_axles = (1.35, 4.25) if r.random() < 0.6 else (1.35, 4.05, 5.4)
    if body_type == "tractor_only":
        ln = tractor_axles[-1] + 1.3
        return Geometry(ln, 2.5, cab_len, cab_h, 0.0, 0.0, ln, cab_h, 1.15, (), tractor_axles)
    if body_type == "rigid_box":
        blen = float(r.uniform(5.8, 7.6))
        x1 = -(cab_len + 0.12)
        bh = float(r.uniform(3.5, 3.95))
        axles: tuple[float, ...] = (blen - 2.1,) if r.random() < 0.6 else (blen - 2.6, blen - 1.3)
        return Geometry(
            cab_len + 0.12 + blen, 2.5, cab_len, min(cab_h, bh - 0.1), 0.0, x1, blen, bh, 1.1, axles, (1.35,)
        )
    deflector = 0.0
    tlen = 13.6
    bh = float(r.uniform(3.95, 4.05))
    deck = 1.3
    if body_type == "container":
        tlen = 12.19 if variant % 2 == 0 else 13.72
        bh = 1.3 + (2.59 if variant // 2 % 2 == 0 else 2.9)
    elif body_type == "tanker":
        tlen, bh = float(r.uniform(11.0, 12.5)), float(r.uniform(3.45, 3.7))
    elif body_type == "tipper":
        tlen, bh = float(r.uniform(9.5, 10.8)), float(r.uniform(3.1, 3.5))
    elif body_type == "flatbed":
        deck = 1.45 if variant % 5 != 4 else 0.95
        bh = deck + (0.1 if variant % 5 == 0 else float(r.uniform(1.1, 2.2)))
    elif body_type == "car_transporter":
        tlen, bh = float(r.uniform(13.0, 14.5)), 4.0
    if not high and bh > cab_h + 0.5 and body_type in ("curtainsider", "tilt", "box", "reefer", "container"):
        deflector = min(bh - 0.1, cab_h + float(r.uniform(0.5, 0.8))) - cab_h
    gap = float(r.uniform(0.55, 0.9)) + (0.5 if body_type == "reefer" else 0.0)
    x1 = -(cab_len + gap)
    n_ax = 3 if r.random() < 0.8 else 2
    last = tlen - float(r.uniform(1.2, 1.6)) if body_type != "car_transporter" else tlen - 1.2
    axles = tuple(last - 1.31 * k for k in range(n_ax))[::-1]
    return Geometry(
        cab_len + gap + tlen, 2.55, cab_len, cab_h, deflector, x1, tlen, bh, deck, axles, tractor_axles
    )


Painter = Callable[[FaceName, Canvas, np.random.Generator], None]


@dataclass(frozen=True)
class Part:
    """An axis-aligned box of the vehicle in local metres with its face painter.

    ``front_margin``: extra width each side of the front face (mirrors stick out).
    """

    name: str
    group: Group
    x0: float
    x1: float
    half_w: float
    z0: float
    z1: float
    faces: tuple[FaceName, ...]
    painter: Painter
    front_margin: float = 0.0

    def face_size(self, face: FaceName) -> tuple[float, float]:
        """(width, height) of a face texture in metres."""
        if face in ("front", "rear"):
            return 2 * self.half_w + (2 * self.front_margin if face == "front" else 0.0), self.z1 - self.z0
        if face == "top":
            return 2 * self.half_w, self.x1 - self.x0
        return self.x1 - self.x0, self.z1 - self.z0

    def corners(self, face: FaceName) -> np.ndarray:
        """Local corners (4, 3) TL, TR, BR, BL as seen from outside."""
        x0, x1, z0, z1 = self.x0, self.x1, self.z0, self.z1
        hw = self.half_w
        if face == "front":
            m = hw + self.front_margin
            c = [(x1, -m, z1), (x1, m, z1), (x1, m, z0), (x1, -m, z0)]
        elif face == "rear":
            c = [(x0, hw, z1), (x0, -hw, z1), (x0, -hw, z0), (x0, hw, z0)]
        elif face == "left":
            c = [(x1, hw, z1), (x0, hw, z1), (x0, hw, z0), (x1, hw, z0)]
        elif face == "right":
            c = [(x0, -hw, z1), (x1, -hw, z1), (x1, -hw, z0), (x0, -hw, z0)]
        else:
            c = [(x1, hw, z1), (x1, -hw, z1), (x0, -hw, z1), (x0, hw, z1)]
        return np.array(c, np.float64)

    def paint(self, face: FaceName, ppm: float, rng: np.random.Generator) -> np.ndarray:
        """BGRA texture (H, W, 4) uint8 of ``face`` at ``ppm`` pixels per metre."""
        w, h = self.face_size(face)
        c = Canvas(w, h, ppm, mirror=(face == "right"))
        self.painter(face, c, rng)
        return c.img


@dataclass(frozen=True)
class PlateMount:
    """Where plate ``plate_index`` of the spec sits: on ``face`` of ``part``, centred at
    (``u_m``, ``v_m``) in that face's canvas metres (u as seen from outside, v up)."""

    plate_index: int
    part: str
    face: FaceName
    u_m: float
    v_m: float
    roll_deg: float


@dataclass(frozen=True)
class Lamp:
    """A lamp in local metres: ``kind`` is head, tail or marker; used for night glow."""

    x: float
    y: float
    z: float
    kind: Literal["head", "tail", "marker"]


@dataclass(frozen=True)
class VehicleModel:
    """Parts, plate mounts and lamps of one vehicle."""

    spec: VehicleSpec
    geo: Geometry
    parts: tuple[Part, ...]
    mounts: tuple[PlateMount, ...]
    lamps: tuple[Lamp, ...]


# ---------------------------------------------------------------------------------------
# shared drawing helpers (side canvases: u = distance from the part front, v = height)


def wheel(c: Canvas, u: float, r: float, rim: Colour, rng: np.random.Generator, *, twin: bool = True) -> None:
    """A tyre touching the ground at ``u`` with radius ``r``."""
    c.circle(u, r, r, TYRE)
    c.circle(u, r, r * 0.93, (38, 38, 40), t_m=r * 0.05)
    c.circle(u, r, r * 0.62, rim)
    c.circle(u, r, r * 0.62, shade(rim, 0.7), t_m=r * 0.05)
    if twin:
        c.circle(u, r, r * 0.45, shade(rim, 0.8))
    c.circle(u, r, r * 0.22, shade(rim, 0.55))
    for k in range(8 if twin else 5):
        a = 2 * math.pi * k / (8 if twin else 5) + float(rng.uniform(0, 0.5))
        c.circle(u + math.cos(a) * r * 0.33, r + math.sin(a) * r * 0.33, r * 0.045, shade(rim, 0.5))


def running_gear(
    c: Canvas,
    g: Geometry,
    rng: np.random.Generator,
    *,
    floor: float,
    skirt: bool = True,
    legs: bool = True,
    tape: bool = True,
    skeletal: bool = False,
) -> None:
    """Chassis rail, landing legs, side guards, wheels, mudguards and marker lamps of a semi-trailer."""
    L = c.width_m
    rim = ALU if rng.random() < 0.5 else (150, 150, 150)
    if skeletal:
        c.rect(0.0, floor - 0.32, L, floor - 0.02, DARK)
        for k in range(int(L / 1.6)):
            c.rect(k * 1.6, floor - 0.32, k * 1.6 + 0.1, floor, BLACK)
    else:
        c.rect(0.0, floor - 0.22, L, floor, DARK)
    if legs:
        u = 2.4
        c.rect(u, 0.25, u + 0.12, floor - 0.2, STEEL)
        c.rect(u - 0.15, 0.2, u + 0.27, 0.28, DARK)
        c.rect(u + 0.12, 0.7, u + 0.32, 0.85, STEEL)
    a_first, a_last = g.axles[0], g.axles[-1]
    if skirt and a_first > 4.0:
        for v in (0.55, 0.85):
            c.rect(3.0 if legs else 0.8, v, a_first - 0.75, v + 0.1, ALU if rng.random() < 0.7 else DARK)
    for a in g.axles:
        wheel(c, a, 0.5, rim, rng)
    c.rect(a_first - 0.62, 1.02, a_last + 0.62, 1.1, BLACK)
    c.rect(a_first - 0.62, 0.95, a_first - 0.57, 1.1, BLACK)
    c.rect(a_last + 0.57, 0.2, a_last + 0.62, 1.1, BLACK)
    if tape:
        for k in range(int(L / 0.5)):
            col = (20, 30, 200) if (k % 2 == 0) else WHITE
            c.rect(k * 0.5 + 0.05, floor - 0.14, k * 0.5 + 0.45, floor - 0.09, col)
    for k in range(int(L / 3.0) + 1):
        c.rect(0.4 + k * 3.0, floor - 0.3, 0.46 + k * 3.0, floor - 0.25, AMBER)


def smooth_noise(rng: np.random.Generator, n: int, scale: int) -> np.ndarray:
    """1-D smooth noise in about [-1, 1] with features ``scale`` samples wide."""
    pts = rng.uniform(-1.0, 1.0, max(2, n // max(1, scale) + 2))
    return np.interp(np.linspace(0, len(pts) - 1, n), np.arange(len(pts)), pts)


def lettering(
    c: Canvas,
    lv: Livery,
    u0: float,
    u1: float,
    v0: float,
    v1: float,
    rng: np.random.Generator,
    *,
    big: bool = True,
) -> None:
    """Company name, phone number and web address inside the rectangle (side canvases)."""
    if lv.style == 4:
        return
    w = u1 - u0
    h = v1 - v0
    if lv.style == 1:
        c.rect(u0, v0 + h * 0.12, u1, v0 + h * 0.2, lv.accent)
    elif lv.style == 2:
        pts = [
            (u0 + w * t, v0 + h * (0.1 + 0.25 * math.sin(t * math.pi * 0.9)) + h * 0.06 * k)
            for k in (0, 1)
            for t in (np.linspace(0, 1, 12) if k == 0 else np.linspace(1, 0, 12))
        ]
        c.poly(pts, lv.accent)
    elif lv.style == 3:
        c.rect(u0, v0, u0 + w * 0.42, v1, lv.accent)
    name_h = min(h * 0.26, 0.75) if big else min(h * 0.2, 0.45)
    font = cv2.FONT_HERSHEY_TRIPLEX if rng.random() < 0.3 else cv2.FONT_HERSHEY_DUPLEX
    col = (
        lv.text if lv.style != 3 else mix(lv.accent, (255, 255, 255), 0.9) if sum(lv.accent) < 380 else BLACK
    )
    uc = u0 + w * (0.21 if lv.style == 3 else 0.5)
    maxw = w * (0.4 if lv.style == 3 else 0.9)
    words = lv.company
    c.text(words, uc, v0 + h * 0.58, name_h, col, font=font, weight=0.14, max_width_m=maxw, anchor="centre")
    c.text(
        lv.phone,
        uc,
        v0 + h * 0.36,
        name_h * 0.42,
        lv.text if lv.style != 3 else col,
        weight=0.12,
        max_width_m=maxw,
        anchor="centre",
    )
    if rng.random() < 0.6:
        c.text(
            lv.web,
            u0 + w * 0.5 if lv.style != 3 else uc,
            v0 + h * 0.26,
            name_h * 0.3,
            lv.text if lv.style != 3 else col,
            weight=0.1,
            max_width_m=maxw,
            anchor="centre",
        )


def car_profile(
    c: Canvas,
    u0: float,
    v0: float,
    length: float,
    height: float,
    colour: Colour,
    rng: np.random.Generator,
    *,
    van: bool = False,
) -> None:
    """Side silhouette of a car (or van), front at ``u0`` (front-based u), standing at height ``v0``."""
    L, H = length, height
    if van:
        shape = [
            (0.0, 0.18),
            (0.0, 0.42),
            (0.06, 0.55),
            (0.2, 0.66),
            (0.26, 0.98),
            (0.3, 1.0),
            (1.0, 1.0),
            (1.0, 0.18),
        ]
    else:
        shape = [
            (0.0, 0.2),
            (0.0, 0.45),
            (0.04, 0.55),
            (0.27, 0.62),
            (0.42, 0.97),
            (0.76, 0.96),
            (0.93, 0.66),
            (1.0, 0.6),
            (1.0, 0.2),
        ]
    c.poly([(u0 + a * L, v0 + b * H) for a, b in shape], colour)
    if van:
        c.poly(
            [
                (u0 + L * a, v0 + H * b)
                for a, b in [(0.08, 0.6), (0.2, 0.69), (0.25, 0.92), (0.3, 0.92), (0.3, 0.6)]
            ],
            GLASS,
        )
        c.frame(u0 + L * 0.32, v0 + H * 0.2, u0 + L * 0.62, v0 + H * 0.93, shade(colour, 0.7), 0.02)
    else:
        c.poly(
            [(u0 + L * a, v0 + H * b) for a, b in [(0.3, 0.62), (0.43, 0.92), (0.56, 0.92), (0.56, 0.62)]],
            GLASS,
        )
        c.poly(
            [(u0 + L * a, v0 + H * b) for a, b in [(0.59, 0.62), (0.59, 0.92), (0.74, 0.91), (0.87, 0.64)]],
            GLASS,
        )
    r = H * (0.22 if not van else 0.15)
    for a in (0.17, 0.8) if not van else (0.16, 0.82):
        c.circle(u0 + a * L, v0 + r, r, TYRE)
        c.circle(u0 + a * L, v0 + r, r * 0.6, ALU)
        c.circle(u0 + a * L, v0 + r, r * 0.2, STEEL)
    c.rect(u0 + 0.0, v0 + H * 0.3, u0 + 0.03 * L, v0 + H * 0.4, (200, 220, 235))
    c.rect(u0 + 0.97 * L, v0 + H * 0.42, u0 + L, v0 + H * 0.52, RED_L)
    c.line([(u0 + L * 0.02, v0 + H * 0.35), (u0 + L * 0.98, v0 + H * 0.35)], shade(colour, 0.75), 0.015)


def _corrugate(
    c: Canvas, u0: float, v0: float, u1: float, v1: float, period: float, amp: float, vertical: bool = True
) -> None:
    n = 512
    span = (u1 - u0) if vertical else (v1 - v0)
    t = np.linspace(0, span / period, n)
    wave = np.clip(np.abs(((t % 1.0) - 0.5) * 4) - 0.6, -1, 1)  # trapezoid
    prof = 1.0 + amp * wave
    if vertical:
        c.column_shade(u0, v0, u1, v1, prof)
    else:
        c.row_shade(u0, v0, u1, v1, prof)


def rear_lights(c: Canvas, v: float, rng: np.random.Generator, *, inset: float = 0.05) -> None:
    """Rear lamp clusters and a bumper bar across a rear canvas."""
    W = c.width_m
    c.rect(0.25, v - 0.2, W - 0.25, v - 0.1, DARK)
    for u in (inset, W - inset - 0.42):
        c.rect(u, v - 0.05, u + 0.42, v + 0.12, BLACK)
        c.rect(u + 0.02, v - 0.03, u + 0.14, v + 0.1, RED_L)
        c.rect(u + 0.15, v - 0.03, u + 0.27, v + 0.1, AMBER if rng.random() < 0.5 else (220, 220, 230))
        c.rect(u + 0.28, v - 0.03, u + 0.4, v + 0.1, (40, 40, 170))


def marker_boards(c: Canvas, v: float, rng: np.random.Generator) -> None:
    """ECE-70 rear marker boards (red with yellow diagonal stripes)."""
    W = c.width_m
    for u in ((0.55, 0.55 + 0.5), (W - 1.05, W - 0.55)):
        c.rect(u[0], v, u[1], v + 0.14, (20, 20, 210))
        for k in range(6):
            s = u[0] + k * 0.1
            c.poly([(s, v), (s + 0.05, v), (s + 0.09, v + 0.14), (s + 0.04, v + 0.14)], YELLOW)


def rear_doors(
    c: Canvas, floor: float, top: float, colour: Colour, rng: np.random.Generator, *, container: bool = False
) -> None:
    """Two rear doors with lock bars, hinges and handles."""
    W = c.width_m
    c.rect(0.0, floor - 0.05, W, top, shade(colour, 0.85))
    c.rect(0.08, floor + 0.05, W - 0.08, top - 0.12, colour)
    if container:
        _corrugate(c, 0.1, floor + 0.08, W - 0.1, top - 0.15, 0.3, 0.12)
    c.rect(W / 2 - 0.015, floor + 0.05, W / 2 + 0.015, top - 0.12, shade(colour, 0.55))
    for uu in (0.35, W / 2 - 0.25, W / 2 + 0.25, W - 0.35):
        c.rect(uu - 0.025, floor + 0.06, uu + 0.025, top - 0.14, CHROME)
        c.rect(uu - 0.07, floor + 0.05, uu + 0.07, floor + 0.12, STEEL)
        c.rect(uu - 0.07, top - 0.2, uu + 0.07, top - 0.13, STEEL)
        c.rect(uu - 0.04, floor + 0.9, uu + 0.1, floor + 0.97, STEEL)
    for vv in (floor + 0.4, (floor + top) / 2, top - 0.5):
        c.rect(0.08, vv, 0.2, vv + 0.08, STEEL)
        c.rect(W - 0.2, vv, W - 0.08, vv + 0.08, STEEL)
    tape = (20, 20, 220) if rng.random() < 0.6 else YELLOW
    c.frame(0.02, floor - 0.05, W - 0.02, top - 0.02, tape, 0.05)


# ---------------------------------------------------------------------------------------
# tractor cab and chassis


def _paint_cab(spec: VehicleSpec, g: Geometry) -> Painter:
    col = spec.cab_colour
    def_h = g.deflector_h

    def paint(face: FaceName, c: Canvas, rng: np.random.Generator) -> None:
        W, H = c.width_m, c.height_m
        ch = g.cab_h
        if face in ("left", "right"):
            L = W
            c.poly(
                [
                    (0.12, ch - 0.05),
                    (0.0, 1.9),
                    (0.0, 0.35),
                    (L, 0.35),
                    (L, ch - 0.05),
                    (L - 0.05, ch),
                    (0.25, ch),
                ],
                col,
            )
            if def_h > 0:
                c.poly(
                    [(0.6, ch - 0.02), (L - 0.05, ch - 0.02), (L - 0.05, ch + def_h), (L - 0.6, ch + def_h)],
                    shade(col, 0.95),
                )
            c.poly([(0.2, ch - 0.3), (0.12, 2.05), (1.2, 2.05), (1.2, ch - 0.3)], GLASS)
            c.vgrad(0.3, 2.3, 1.15, ch - 0.35, (150, 130, 110), GLASS)
            c.frame(0.1, 0.95, 1.32, ch - 0.22, shade(col, 0.6), 0.02)
            c.rect(1.05, 1.55, 1.22, 1.6, DARK)
            c.rect(0.0, 0.35, 0.25, 0.85, DARK)
            c.rect(0.3, 0.3, 1.3, 1.0, shade(col, 0.35))
            for k in range(3):
                c.rect(0.45, 0.4 + k * 0.22, 1.2, 0.46 + k * 0.22, STEEL)
            c.rect(1.3, 0.35, L, 0.95, DARK)
            c.ellipse(g.tractor_axles[0], 0.5, 0.62, 0.62, BLACK, a0=180, a1=360)
            wheel(c, g.tractor_axles[0], 0.5, ALU if rng.random() < 0.6 else STEEL, rng, twin=False)
            if L - 1.4 > 0.5:
                c.rect(1.4, 1.1, L - 0.1, ch - 0.35, shade(col, 0.93))
                for k in range(6):
                    c.rect(1.55, 1.3 + k * 0.08, min(L - 0.2, 2.05), 1.34 + k * 0.08, shade(col, 0.5))
            c.rect(0.05, 1.1, 0.12, 1.25, AMBER)
            if rng.random() < 0.5 and spec.livery.style != 4:
                c.text(
                    spec.livery.company.split(" ")[0],
                    0.7 if L < 2.0 else 1.2,
                    ch - 0.65,
                    0.16,
                    shade(col, 0.45),
                    max_width_m=0.9,
                    anchor="centre",
                )
        elif face == "front":
            m = (W - g.width) / 2
            x0, x1 = m, W - m
            c.rect(x0, 0.3, x1, ch, col)
            c.rect(x0 + 0.02, ch - 0.2, x1 - 0.02, ch, shade(col, 0.9))
            if def_h > 0:
                c.poly(
                    [(x0 + 0.25, ch), (x1 - 0.25, ch), (x1 - 0.4, ch + def_h), (x0 + 0.4, ch + def_h)],
                    shade(col, 1.05),
                )
            c.vgrad(x0 + 0.1, 2.05, x1 - 0.1, ch - 0.32, (175, 155, 140), (60, 50, 45))
            c.line([(x0 + 0.55, 2.1), (x0 + 1.05, 2.55)], BLACK, 0.03)
            c.line([(x1 - 0.95, 2.1), (x1 - 0.45, 2.55)], BLACK, 0.03)
            c.rect(x0 + 0.1, ch - 0.32, x1 - 0.1, ch - 0.22, shade(col, 0.7))
            c.rect(x0 + 0.55, 1.0, x1 - 0.55, 1.92, BLACK)
            for k in range(6):
                c.rect(
                    x0 + 0.6,
                    1.06 + k * 0.15,
                    x1 - 0.6,
                    1.13 + k * 0.15,
                    CHROME if spec.variant % 3 == 0 else shade(col, 0.8),
                )
            c.rect(x0 + 0.15, 0.82, x0 + 0.55, 1.02, (220, 230, 235))
            c.rect(x1 - 0.55, 0.82, x1 - 0.15, 1.02, (220, 230, 235))
            c.rect(x0 + 0.16, 0.84, x0 + 0.25, 1.0, AMBER)
            c.rect(x1 - 0.25, 0.84, x1 - 0.16, 1.0, AMBER)
            c.rect(x0, 0.3, x1, 0.8, DARK if rng.random() < 0.6 else shade(col, 0.8))
            c.rect(x0, 0.0, x0 + 0.35, 0.5, TYRE)
            c.rect(x1 - 0.35, 0.0, x1, 0.5, TYRE)
            c.rect(x0 + 0.8, 0.1, x1 - 0.8, 0.3, BLACK)
            for s in (-1, 1):
                mx = x0 - 0.05 if s < 0 else x1 + 0.05
                arm0 = x0 if s < 0 else x1
                c.line([(arm0, 2.6), (mx, 2.75)], BLACK, 0.04)
                c.rect(mx - 0.12 if s < 0 else mx - 0.05, 2.0, mx + 0.05 if s < 0 else mx + 0.12, 2.7, BLACK)
                c.rect(
                    mx - 0.1 if s < 0 else mx - 0.03,
                    2.03,
                    mx + 0.03 if s < 0 else mx + 0.1,
                    2.67,
                    (95, 90, 85),
                )
            for k in range(4):
                c.rect(W / 2 - 0.5 + k * 0.3, ch - 0.08, W / 2 - 0.38 + k * 0.3, ch, AMBER)
            if rng.random() < 0.3:
                name = ("DAVE", "PIOTR", "ION", "MAREK", "TOMMY", "JAN")[int(rng.integers(6))]
                c.rect(W / 2 - 0.4, ch - 0.5, W / 2 + 0.4, ch - 0.36, (30, 30, 30))
                c.text(name, W / 2, ch - 0.48, 0.1, (0, 170, 255), anchor="centre", max_width_m=0.7)
        elif face == "rear":
            c.rect(0.0, 1.0, W, ch, shade(col, 0.9))
            c.rect(0.2, 1.0, W - 0.2, 1.2, DARK)
            if def_h > 0:
                c.rect(0.3, ch, W - 0.3, ch + def_h, shade(col, 0.8))
        elif face == "top":
            c.rect(0.0, 0.0, W, H, shade(col, 1.05))
            c.rect(0.3, H - 0.5, W - 0.3, H - 0.1, shade(col, 0.8))
        c.noise(rng, 0.02)

    return paint


def _paint_chassis(spec: VehicleSpec, g: Geometry, *, alone: bool) -> Painter:
    def paint(face: FaceName, c: Canvas, rng: np.random.Generator) -> None:
        W, H = c.width_m, c.height_m
        if face in ("left", "right"):
            c.rect(0.0, 0.75, W, 1.05, DARK)
            front = g.cab_len
            rim = ALU if rng.random() < 0.5 else STEEL
            a_rear = [a - front for a in g.tractor_axles[1:]]
            tank_end = a_rear[0] - 0.75
            if tank_end > 0.6:
                c.rect(0.05, 0.45, tank_end, 1.0, ALU)
                c.row_shade(0.05, 0.45, tank_end, 1.0, np.array([0.8, 1.1, 1.2, 1.0, 0.75]))
                c.rect(0.05, 0.45, tank_end, 0.5, STEEL)
            for a in a_rear:
                c.ellipse(a, 0.5, 0.62, 0.62, BLACK, a0=180, a1=360)
                wheel(c, a, 0.5, rim, rng)
            c.rect(a_rear[0] - 0.65, 1.05, a_rear[-1] + 0.65, 1.12, BLACK)
            c.rect(a_rear[-1] + 0.6, 0.35, a_rear[-1] + 0.66, 1.1, BLACK)
            if alone:
                c.rect(a_rear[0] - 0.7, 1.1, a_rear[0] + 0.7, 1.22, DARK)
            if rng.random() < 0.5:
                c.rect(0.05, 1.05, 0.15, 2.6, CHROME)
        elif face == "rear":
            c.rect(0.15, 0.55, W - 0.15, 1.05, DARK)
            c.rect(0.0, 0.0, 0.55, 1.05, TYRE)
            c.rect(W - 0.55, 0.0, W, 1.05, TYRE)
            c.rect(0.02, 0.15, 0.5, 0.7, BLACK)
            c.rect(W - 0.5, 0.15, W - 0.02, 0.7, BLACK)
            for u in (0.6, W - 1.0):
                c.rect(u, 0.7, u + 0.4, 0.86, BLACK)
                c.rect(u + 0.02, 0.72, u + 0.18, 0.84, RED_L)
                c.rect(u + 0.2, 0.72, u + 0.38, 0.84, AMBER)
            c.rect(0.9, 1.05, W - 0.9, 1.2, DARK)
        elif face == "top":
            c.rect(0.0, 0.0, W, H, DARK)
            c.rect(0.2, 0.2, W - 0.2, H - 0.2, (60, 60, 62))
            c.circle(W / 2, H * 0.45, 0.5, STEEL)
        c.noise(rng, 0.03)

    return paint


# ---------------------------------------------------------------------------------------
# trailer / body painters


def _trailer_side(spec: VehicleSpec, g: Geometry, c: Canvas, rng: np.random.Generator) -> None:
    bt = spec.body_type
    lv = spec.livery
    L = c.width_m
    floor = g.deck if bt not in ("rigid_box",) else 1.15
    top = g.body_h
    if bt in ("curtainsider", "box", "reefer", "tilt", "rigid_box"):
        if bt == "rigid_box":
            c.rect(0.0, 0.75, L, floor - 0.02, DARK)
            rim = ALU if rng.random() < 0.5 else STEEL
            for a in g.axles:
                c.ellipse(a, 0.5, 0.62, 0.62, BLACK, a0=180, a1=360)
                wheel(c, a, 0.5, rim, rng)
            c.rect(g.axles[0] - 0.62, 1.02, g.axles[-1] + 0.62, 1.1, BLACK)
            c.rect(0.4, 0.5, g.axles[0] - 0.7, 0.6, ALU)
        else:
            running_gear(c, g, rng, floor=floor)
        body_col = lv.base
        if bt == "curtainsider":
            c.rect(0.0, floor - 0.04, L, floor + 0.2, ALU if rng.random() < 0.6 else shade(body_col, 0.8))
            c.rect(0.0, top - 0.2, L, top, ALU if rng.random() < 0.5 else body_col)
            c.rect(0.0, floor + 0.2, 0.1, top - 0.2, DARK)
            c.rect(L - 0.1, floor + 0.2, L, top - 0.2, DARK)
            c.rect(0.1, floor + 0.2, L - 0.1, top - 0.2, body_col)
            lettering(c, lv, 0.4, L - 0.4, floor + 0.35, top - 0.3, rng)
            spacing = float(rng.uniform(0.5, 0.62))
            n = int(L * 60)
            s = np.linspace(0, L, n)
            folds = 0.10 * smooth_noise(rng, n, 14) + 0.06 * smooth_noise(rng, n, 5)
            bulge = 0.16 * np.sin(2 * np.pi * s / spacing - 0.6) ** 3
            prof = 1.0 + folds + bulge
            prof = prof[::-1] if c.mirror else prof
            c.column_shade(0.1, floor + 0.2, L - 0.1, top - 0.2, prof)
            c.row_shade(0.1, floor + 0.2, L - 0.1, top - 0.2, np.array([0.85, 1.0, 1.05, 1.02, 0.97, 0.9]))
            strap = (30, 30, 30) if rng.random() < 0.5 else shade(body_col, 0.5)
            for k in range(1, int(L / spacing)):
                u = k * spacing
                c.rect(u - 0.03, floor + 0.02, u + 0.03, top - 0.25, strap)
                c.rect(u - 0.055, floor + 0.08, u + 0.055, floor + 0.36, CHROME)
                c.rect(u - 0.04, floor + 0.12, u + 0.04, floor + 0.2, (60, 60, 60))
        elif bt == "tilt":
            tarp = body_col if rng.random() < 0.6 else PAINTS[int(rng.integers(len(PAINTS)))]
            c.rect(0.0, floor - 0.04, L, floor + 0.12, ALU)
            hoop = float(rng.uniform(1.1, 1.4))
            edge = []
            for k in range(int(L / 0.1) + 1):
                u = min(L, k * 0.1)
                sag = 0.07 * abs(math.sin(math.pi * u / hoop))
                edge.append((u, top - sag))
            c.poly([(0.0, floor + 0.12), *edge, (L, floor + 0.12)], tarp)
            lettering(c, lv, 0.5, L - 0.5, floor + 0.45, top - 0.35, rng)
            n = int(L * 40)
            laths = 1.0 + 0.08 * np.sin(np.linspace(0, (top - floor) / 0.42 * 2 * np.pi, 64))
            c.row_shade(0.0, floor + 0.12, L, top, laths)
            prof = 1.0 + 0.05 * smooth_noise(rng, n, 20)
            hp = np.linspace(0, L, n)
            prof += 0.07 * np.cos(2 * np.pi * hp / hoop) ** 8
            c.column_shade(0.0, floor + 0.12, L, top, prof[::-1] if c.mirror else prof)
            c.rect(0.0, floor + 0.12, 0.06, top - 0.05, shade(tarp, 0.7))
            c.rect(L - 0.06, floor + 0.12, L, top - 0.05, shade(tarp, 0.7))
            pts = []
            for k in range(int(L / 0.32)):
                u = 0.15 + k * 0.32
                c.circle(u, floor + 0.2, 0.028, (200, 200, 200))
                c.circle(u, floor + 0.2, 0.012, BLACK)
                pts.append((u, floor + 0.2))
                pts.append((u + 0.16, floor + 0.05))
            c.line(pts, (40, 40, 40) if rng.random() < 0.5 else (30, 90, 160), 0.018)
        else:
            panel = body_col if bt == "box" else mix(body_col, WHITE, 0.75)
            c.rect(0.0, floor - 0.04, L, top, panel)
            c.rect(0.0, floor - 0.04, L, floor + 0.14, ALU if bt == "box" else shade(panel, 0.85))
            c.rect(0.0, top - 0.14, L, top, ALU if bt == "box" else shade(panel, 0.9))
            c.rect(0.0, floor, 0.08, top, shade(panel, 0.8))
            c.rect(L - 0.08, floor, L, top, shade(panel, 0.8))
            if bt == "box" and rng.random() < 0.6:
                step = float(rng.uniform(1.0, 2.8))
                for k in range(1, int(L / step)):
                    c.rect(k * step - 0.01, floor + 0.14, k * step + 0.01, top - 0.14, shade(panel, 0.85))
            lettering(c, lv, 0.4, L - 0.4, floor + 0.3, top - 0.25, rng)
            c.row_shade(0.0, floor, L, top, np.array([1.04, 1.0, 0.98, 0.95]))
            if bt in ("reefer", "rigid_box") and rng.random() < 0.7 and bt == "reefer":
                c.rect(3.4, floor - 0.75, 4.6, floor - 0.1, DARK)
                c.rect(3.45, floor - 0.7, 4.55, floor - 0.15, (70, 70, 72))
                c.text("-25C", L - 1.2, top - 0.5, 0.22, (180, 60, 20), anchor="centre")
            if bt == "reefer":
                c.rect(0.0, top - 0.06, L, top, WHITE)
        c.noise(rng, 0.02)
    elif bt == "container":
        running_gear(c, g, rng, floor=floor, skirt=False, tape=False, skeletal=True)
        col = CONTAINER_PAINTS[spec.variant // 4 % len(CONTAINER_PAINTS)]
        cb = floor
        c.rect(0.0, cb, L, top, col)
        _corrugate(c, 0.15, cb + 0.12, L - 0.15, top - 0.12, 0.28, 0.16)
        c.rect(0.0, cb, L, cb + 0.12, shade(col, 0.7))
        c.rect(0.0, top - 0.1, L, top, shade(col, 0.8))
        c.rect(0.0, cb, 0.16, top, shade(col, 0.75))
        c.rect(L - 0.16, cb, L, top, shade(col, 0.75))
        for u in (0.0, L - 0.18):
            for v in (cb, top - 0.12):
                c.rect(u, v, u + 0.18, v + 0.12, (50, 50, 52))
                c.ellipse(u + 0.09, v + 0.06, 0.05, 0.025, BLACK)
        tc = WHITE if sum(col) < 500 else (40, 40, 40)
        name = lv.company.split(" ")[0] + (" LINE" if rng.random() < 0.5 else "")
        if rng.random() < 0.8:
            c.text(
                name,
                L / 2,
                cb + (top - cb) * 0.42,
                0.55,
                tc,
                weight=0.16,
                max_width_m=L * 0.6,
                anchor="centre",
            )
        code = "".join("ABCDEFGHJKLMNPRSTUVWXYZ"[int(i)] for i in rng.integers(0, 23, 3)) + "U"
        digits = "".join(str(int(d)) for d in rng.integers(0, 10, 7))
        c.text(f"{code} {digits[:6]} {digits[6]}", L - 0.3, top - 0.35, 0.12, tc, anchor="right", weight=0.12)
        c.text("45G1" if g.trailer_len > 13 else "42G1", L - 0.3, top - 0.55, 0.1, tc, anchor="right")
        c.noise(rng, 0.04)
    elif bt == "tanker":
        running_gear(c, g, rng, floor=1.25, skirt=False)
        stainless = spec.variant % 3 != 0
        col = (200, 200, 198) if stainless else lv.base
        vb, vt = 1.2, top - 0.12
        vm, rv = (vb + vt) / 2, (vt - vb) / 2
        c.rect(0.3, vb, L - 0.3, vt, col)
        c.ellipse(0.3, vm, 0.3, rv, col, a0=90, a1=270)
        c.ellipse(L - 0.3, vm, 0.3, rv, col, a0=-90, a1=90)
        prof = 0.62 + 0.55 * np.sin(np.linspace(0.15, math.pi - 0.15, 64)) ** 0.7
        if stainless:
            prof = prof + 0.25 * np.exp(-((np.linspace(0, 1, 64) - 0.28) ** 2) / 0.004)
        c.row_shade(0.0, vb - 0.01, L, vt + 0.01, prof)
        for k in range(1, int(L / 1.5)):
            c.rect(0.3 + k * 1.5 - 0.02, vb + 0.05, 0.3 + k * 1.5 + 0.02, vt - 0.05, shade(col, 0.8))
        c.rect(L * 0.15, vt - 0.02, L * 0.85, vt + 0.04, STEEL)
        for k in range(7):
            u = L * 0.15 + k * L * 0.7 / 6
            c.rect(u - 0.015, vt, u + 0.015, top, STEEL)
        c.rect(L * 0.15, top - 0.04, L * 0.85, top, STEEL)
        c.rect(L - 0.25, 0.6, L - 0.2, vt, STEEL)
        c.rect(4.0, 0.55, 5.6, 1.1, ALU)
        c.frame(4.0, 0.55, 5.6, 1.1, STEEL, 0.03)
        c.rect(1.0, 2.0, 1.4, 2.3, ORANGE)
        c.frame(1.0, 2.0, 1.4, 2.3, BLACK, 0.015)
        c.text("33", 1.2, 2.17, 0.08, BLACK, anchor="centre")
        c.text("1203", 1.2, 2.04, 0.08, BLACK, anchor="centre")
        if not stainless or rng.random() < 0.5:
            c.text(
                lv.company,
                L / 2,
                vm - 0.1,
                0.42,
                lv.text if not stainless else (60, 60, 60),
                max_width_m=L * 0.6,
                anchor="centre",
                weight=0.14,
            )
    elif bt == "flatbed":
        low = spec.variant % 5 == 4
        deck = g.deck
        rim = ALU if rng.random() < 0.5 else STEEL
        c.rect(0.0, deck - 0.22, L, deck, lv.accent if rng.random() < 0.5 else DARK)
        for k in range(int(L / 0.6)):
            c.rect(0.2 + k * 0.6, deck - 0.2, 0.26 + k * 0.6, deck - 0.04, BLACK)
        if low:
            c.rect(0.0, deck, 2.6, 1.5, DARK)
        else:
            c.rect(2.4, 0.25, 2.52, deck - 0.2, STEEL)
        for a in g.axles:
            wheel(c, a, 0.42 if low else 0.5, rim, rng)
        c.rect(0.0, deck, 0.1, deck + 1.4, DARK)
        for k in range(5):
            c.rect(0.0, deck + 0.1 + k * 0.28, 0.1, deck + 0.14 + k * 0.28, STEEL)
        load = spec.variant % 5
        x0 = 0.4 if not low else 3.0
        if load == 1:
            u = x0
            while u + 1.2 < L - 0.2:
                hgt = float(rng.uniform(0.9, min(1.7, g.body_h - deck - 0.15)))
                c.rect(u, deck, u + 1.2, deck + 0.14, (60, 110, 150))
                c.rect(u, deck + 0.14, u + 1.2, deck + 0.14 + hgt, (90, 140, 190))
                c.row_shade(
                    u, deck + 0.14, u + 1.2, deck + 0.14 + hgt, np.array([1.15, 1.0, 0.95, 1.05, 0.9])
                )
                c.rect(u + 0.55, deck + 0.14, u + 0.62, deck + 0.14 + hgt, ORANGE)
                u += 1.25
        elif load == 2:
            u = x0 + 0.7
            while u + 0.8 < L - 0.4:
                r = float(rng.uniform(0.55, 0.8))
                c.circle(u, deck + r, r, (150, 150, 155))
                for rr in np.linspace(r * 0.95, r * 0.35, 6):
                    c.circle(u, deck + r, float(rr), (120, 120, 125), t_m=0.012)
                c.circle(u, deck + r, r * 0.3, (40, 40, 40))
                c.rect(u - 0.02, deck, u + 0.02, deck + 2 * r, ORANGE)
                u += 2 * r + float(rng.uniform(0.4, 1.2))
        elif load == 3:
            hgt = g.body_h - deck
            c.rect(x0, deck, L - 0.3, deck + hgt, (120, 175, 210))
            for k in range(int(hgt / 0.11)):
                c.rect(x0, deck + k * 0.11, L - 0.3, deck + k * 0.11 + 0.015, (80, 130, 170))
            for k in range(1, 6):
                u = x0 + k * (L - 0.3 - x0) / 6
                c.rect(u - 0.02, deck, u + 0.02, deck + hgt, ORANGE)
        elif load == 4:
            u0 = x0 + 1.0
            c.rect(u0, deck, u0 + 3.6, deck + 0.75, (40, 40, 40))
            c.rect(u0 + 0.6, deck + 0.75, u0 + 3.4, deck + 1.5, (0, 170, 230))
            c.rect(u0 + 0.7, deck + 1.5, u0 + 1.7, deck + 2.4, (0, 170, 230))
            c.rect(u0 + 0.8, deck + 1.6, u0 + 1.6, deck + 2.3, GLASS)
            c.line(
                [(u0 + 2.0, deck + 1.4), (u0 - 0.6, deck + 2.2), (u0 - 0.9, deck + 0.9)], (0, 160, 220), 0.25
            )
    elif bt == "tipper":
        running_gear(c, g, rng, floor=1.35, skirt=False, legs=True)
        col = lv.base
        vb, vt = 1.4, top
        c.poly([(0.0, vb + 0.15), (0.0, vt), (L, vt), (L - 0.05, vb), (0.6, vb)], col)
        for k in range(1, int(L / 0.65)):
            u = k * 0.65
            c.rect(u - 0.03, vb + 0.05, u + 0.03, vt - 0.1, shade(col, 0.75))
        c.rect(0.0, vt - 0.16, L, vt, shade(col, 0.8))
        c.rect(L - 0.12, vb, L, vt, shade(col, 0.65))
        if rng.random() < 0.5:
            c.text(
                lv.company,
                L / 2,
                (vb + vt) / 2 - 0.1,
                0.35,
                lv.text,
                max_width_m=L * 0.6,
                anchor="centre",
                weight=0.14,
            )
        c.row_shade(0.0, vb, L, vt, np.array([1.05, 1.0, 0.92]))
        c.noise(rng, 0.05)
    elif bt == "car_transporter":
        rim = STEEL
        low_deck, up_deck = 0.95, 2.35
        c.rect(0.0, low_deck - 0.15, L, low_deck, DARK)
        c.rect(0.0, up_deck - 0.12, L, up_deck, lv.accent if sum(lv.accent) < 600 else STEEL)
        c.rect(0.0, top - 0.08, L, top, STEEL)
        for k in range(6):
            u = 0.05 + k * (L - 0.15) / 5
            c.rect(u, low_deck, u + 0.1, top, STEEL)
        for a in g.axles:
            wheel(c, a, 0.4, rim, rng)
        for deck_v, max_h in ((low_deck, up_deck - 0.15 - low_deck), (up_deck, top - up_deck - 0.1)):
            u = 0.25
            while u + 4.0 < L:
                ln = float(rng.uniform(3.7, 4.4))
                col = PAINTS[int(rng.integers(len(PAINTS)))]
                car_profile(c, u, deck_v, min(ln, L - u - 0.1), min(max_h, 1.4), col, rng)
                u += ln + float(rng.uniform(0.15, 0.4))
        c.text(lv.company, L / 2, up_deck - 0.1, 0.1, WHITE, max_width_m=L * 0.4, anchor="centre")


def _trailer_end(spec: VehicleSpec, g: Geometry, face: FaceName, c: Canvas, rng: np.random.Generator) -> None:
    """Front or rear face of a trailer / rigid body (u across, v up from ground)."""
    bt = spec.body_type
    W = c.width_m
    lv = spec.livery
    floor = g.deck if bt != "rigid_box" else 1.15
    top = g.body_h
    rear = face == "rear"
    if rear:
        c.rect(0.0, 0.0, 0.55, 1.0, TYRE)
        c.rect(W - 0.55, 0.0, W, 1.0, TYRE)
        c.rect(0.02, 0.1, 0.5, 0.7, BLACK)
        c.rect(W - 0.5, 0.1, W - 0.02, 0.7, BLACK)
    if bt in ("curtainsider", "box", "reefer", "tilt", "rigid_box"):
        col = (
            lv.base
            if bt in ("box", "rigid_box")
            else (mix(lv.base, WHITE, 0.75) if bt == "reefer" else shade(lv.base, 0.95))
        )
        c.rect(0.15, floor - 0.25, W - 0.15, floor, DARK)
        if rear:
            door = col if bt != "curtainsider" else (ALU if rng.random() < 0.5 else col)
            rear_doors(c, floor, top, door if bt != "tilt" else shade(door, 0.9), rng)
            if bt == "tilt":
                c.rect(0.0, top - 0.55, W, top, shade(col, 0.85))
                for k in range(8):
                    c.circle(0.15 + k * (W - 0.3) / 7, top - 0.48, 0.03, (200, 200, 200))
        else:
            c.rect(0.0, floor - 0.05, W, top, col)
            c.frame(0.0, floor - 0.05, W, top, shade(col, 0.75), 0.08)
            if bt == "curtainsider":
                c.column_shade(0.08, floor, W - 0.08, top - 0.1, 1.0 + 0.05 * smooth_noise(rng, 64, 6))
    elif bt == "container":
        col = CONTAINER_PAINTS[spec.variant // 4 % len(CONTAINER_PAINTS)]
        c.rect(0.1, floor - 0.3, W - 0.1, floor, DARK)
        if rear:
            rear_doors(c, floor, top, col, rng, container=True)
            c.rect(0.0, floor - 0.05, 0.12, top, shade(col, 0.7))
            c.rect(W - 0.12, floor - 0.05, W, top, shade(col, 0.7))
            tc = WHITE if sum(col) < 500 else (40, 40, 40)
            code = "".join("ABCDEFGHJKLMNPRSTUVWXYZ"[int(i)] for i in rng.integers(0, 23, 3)) + "U"
            c.text(
                f"{code} {''.join(str(int(d)) for d in rng.integers(0, 10, 7))}",
                W - 0.25,
                top - 0.35,
                0.1,
                tc,
                anchor="right",
            )
        else:
            c.rect(0.0, floor - 0.05, W, top, col)
            _corrugate(c, 0.15, floor + 0.1, W - 0.15, top - 0.1, 0.25, 0.12)
        for u in (0.0, W - 0.18):
            for v in (floor - 0.05, top - 0.12):
                c.rect(u, v, u + 0.18, v + 0.12, (50, 50, 52))
    elif bt == "tanker":
        stainless = spec.variant % 3 != 0
        col = (200, 200, 198) if stainless else lv.base
        vb, vt = 1.2, top - 0.12
        c.rect(0.6, 0.8, W - 0.6, 1.2, DARK)
        c.ellipse(W / 2, (vb + vt) / 2, W / 2 - 0.05, (vt - vb) / 2, col)
        for k, f in enumerate((0.95, 0.8, 0.6, 0.4)):
            c.ellipse(
                W / 2 - 0.1 * k,
                (vb + vt) / 2 + 0.1 * k,
                (W / 2 - 0.05) * f,
                (vt - vb) / 2 * f,
                shade(col, 0.8 + 0.1 * k),
            )
        if rear:
            c.rect(W / 2 - 0.25, 0.6, W / 2 - 0.2, vt + 0.1, STEEL)
            c.rect(W / 2 + 0.2, 0.6, W / 2 + 0.25, vt + 0.1, STEEL)
            for k in range(int((vt - 0.6) / 0.3)):
                c.rect(W / 2 - 0.25, 0.7 + k * 0.3, W / 2 + 0.25, 0.73 + k * 0.3, STEEL)
            c.rect(W / 2 + 0.4, 0.62, W / 2 + 0.8, 0.92, ORANGE)
            c.frame(W / 2 + 0.4, 0.62, W / 2 + 0.8, 0.92, BLACK, 0.015)
            c.rect(W / 2 + 0.4, 0.765, W / 2 + 0.8, 0.775, BLACK)
    elif bt == "flatbed":
        deck = g.deck
        c.rect(0.0, deck - 0.22, W, deck, DARK)
        load = spec.variant % 5
        if not rear:
            c.rect(0.05, deck, W - 0.05, deck + 1.4, (60, 60, 62), a=255)
            for k in range(8):
                c.rect(0.05, deck + k * 0.18, W - 0.05, deck + k * 0.18 + 0.04, STEEL)
        elif load == 1:
            c.rect(0.1, deck, W - 0.1, min(top, deck + 1.6), (90, 140, 190))
            c.rect(0.1, deck, W - 0.1, deck + 0.14, (60, 110, 150))
        elif load == 2:
            c.circle(W / 2, deck + 0.7, 0.7, (150, 150, 155))
            c.rect(W / 2 - 0.1, deck, W / 2 + 0.1, deck + 1.4, (130, 130, 135))
        elif load == 3:
            c.rect(0.1, deck, W - 0.1, top, (110, 165, 200))
            for i in range(int((W - 0.2) / 0.16)):
                for j in range(int((top - deck) / 0.11)):
                    c.rect(
                        0.12 + i * 0.16,
                        deck + j * 0.11 + 0.01,
                        0.26 + i * 0.16,
                        deck + j * 0.11 + 0.1,
                        (150, 200, 230),
                    )
        elif load == 4:
            c.rect(0.3, deck, W - 0.3, deck + 0.75, (40, 40, 40))
            c.rect(0.4, deck + 0.75, W - 0.4, min(top, deck + 2.2), (0, 170, 230))
    elif bt == "tipper":
        col = lv.base
        c.rect(0.15, 1.1, W - 0.15, 1.4, DARK)
        c.rect(0.0, 1.4, W, top, col)
        c.frame(0.0, 1.4, W, top, shade(col, 0.7), 0.1)
        if rear:
            c.rect(0.1, top - 0.25, W - 0.1, top - 0.15, shade(col, 0.6))
            for u in (0.4, W - 0.5):
                c.rect(u, 1.5, u + 0.1, top - 0.3, shade(col, 0.7))
        else:
            c.rect(W / 2 - 0.12, 1.1, W / 2 + 0.12, top + 0.0, CHROME)
            c.column_shade(W / 2 - 0.12, 1.1, W / 2 + 0.12, top, np.array([0.6, 1.0, 1.2, 0.9, 0.6]))
    elif bt == "car_transporter":
        c.rect(0.0, 0.8, W, 0.95, DARK)
        c.rect(0.0, 2.23, W, 2.35, STEEL)
        c.rect(0.0, 0.95, 0.1, top, STEEL)
        c.rect(W - 0.1, 0.95, W, top, STEEL)
        for v0 in (0.95, 2.35):
            colr = PAINTS[int(rng.integers(len(PAINTS)))]
            c.rect(0.35, v0 + 0.2, W - 0.35, v0 + 0.8, colr)
            c.poly(
                [(0.5, v0 + 0.8), (W - 0.5, v0 + 0.8), (W - 0.7, v0 + 1.25), (0.7, v0 + 1.25)],
                shade(colr, 0.9),
            )
            c.rect(0.8, v0 + 0.85, W - 0.8, v0 + 1.18, GLASS)
            if rear:
                c.rect(0.4, v0 + 0.55, 0.75, v0 + 0.68, RED_L)
                c.rect(W - 0.75, v0 + 0.55, W - 0.4, v0 + 0.68, RED_L)
            c.rect(0.35, v0, 0.6, v0 + 0.35, TYRE)
            c.rect(W - 0.6, v0, W - 0.35, v0 + 0.35, TYRE)
    if rear:
        rear_lights(c, 0.78, rng)
        if rng.random() < 0.6 and bt not in ("car_transporter",):
            marker_boards(c, 0.5, rng)
        if spec.country == "UK" and rng.random() < 0.4 and bt not in ("car_transporter",):
            v = min(top - 0.5, floor + 1.8)
            c.rect(W / 2 - 0.55, v, W / 2 + 0.55, v + 0.3, YELLOW)
            c.frame(W / 2 - 0.55, v, W / 2 + 0.55, v + 0.3, (20, 20, 200), 0.025)
            c.text("LONG VEHICLE", W / 2, v + 0.1, 0.1, BLACK, anchor="centre", max_width_m=1.0)
    c.noise(rng, 0.02)


def _trailer_top(spec: VehicleSpec, g: Geometry, c: Canvas, rng: np.random.Generator) -> None:
    bt = spec.body_type
    W, L = c.width_m, c.height_m
    if bt in ("curtainsider", "box", "reefer", "rigid_box"):
        c.rect(0.0, 0.0, W, L, (205, 208, 208) if bt != "reefer" else (235, 235, 235))
        if bt == "curtainsider":
            for k in range(int(L / 0.6)):
                c.rect(0.0, k * 0.6, W, k * 0.6 + 0.03, (160, 160, 160))
        c.frame(0.0, 0.0, W, L, ALU, 0.06)
    elif bt == "tilt":
        tarp = spec.livery.base
        c.rect(0.0, 0.0, W, L, shade(tarp, 0.95))
        c.row_shade(0.0, 0.0, W, L, 1.0 + 0.06 * np.cos(np.linspace(0, L / 1.25 * 2 * np.pi, 128)))
    elif bt == "container":
        col = CONTAINER_PAINTS[spec.variant // 4 % len(CONTAINER_PAINTS)]
        c.rect(0.0, 0.0, W, L, shade(col, 1.1))
        _corrugate(c, 0.1, 0.1, W - 0.1, L - 0.1, 0.3, 0.06, vertical=False)
        for u in (0.0, W - 0.18):
            for v in (0.0, L - 0.18):
                c.rect(u, v, u + 0.18, v + 0.18, (50, 50, 52))
    elif bt == "tanker":
        c.rect(0.0, 0.0, W, L, (200, 200, 198) if spec.variant % 3 != 0 else spec.livery.base)
        c.column_shade(0.0, 0.0, W, L, 0.65 + 0.5 * np.sin(np.linspace(0.2, math.pi - 0.2, 64)))
        c.rect(W / 2 - 0.3, L * 0.15, W / 2 + 0.3, L * 0.85, (150, 150, 150))
        for k in range(4):
            c.circle(W / 2, L * (0.2 + 0.2 * k), 0.25, (170, 170, 170))
            c.circle(W / 2, L * (0.2 + 0.2 * k), 0.25, DARK, t_m=0.03)
    elif bt == "tipper":
        col = spec.livery.base
        c.rect(0.0, 0.0, W, L, shade(col, 0.8))
        inner = (70, 90, 110) if rng.random() < 0.6 else (60, 60, 65)
        c.rect(0.12, 0.12, W - 0.12, L - 0.12, inner)
        c.noise(rng, 0.12)
    elif bt == "flatbed":
        c.rect(0.0, 0.0, W, L, (70, 95, 120))
        for k in range(int(W / 0.15)):
            c.rect(k * 0.15, 0.0, k * 0.15 + 0.01, L, (50, 70, 90))
    elif bt == "car_transporter":
        c.rect(0.0, 0.0, 0.12, L, STEEL)
        c.rect(W - 0.12, 0.0, W, L, STEEL)
        v = 0.3
        while v + 4.0 < L:
            colr = PAINTS[int(rng.integers(len(PAINTS)))]
            c.rect(0.4, v, W - 0.4, v + 4.0, colr)
            c.rect(0.5, v + 1.2, W - 0.5, v + 2.8, shade(colr, 0.85))
            c.rect(0.55, v + 2.5, W - 0.55, v + 3.0, GLASS)
            c.rect(0.55, v + 1.0, W - 0.55, v + 1.3, GLASS)
            v += 4.3


def _paint_trailer(spec: VehicleSpec, g: Geometry) -> Painter:
    def paint(face: FaceName, c: Canvas, rng: np.random.Generator) -> None:
        if face in ("left", "right"):
            _trailer_side(spec, g, c, rng)
        elif face == "top":
            _trailer_top(spec, g, c, rng)
        else:
            _trailer_end(spec, g, face, c, rng)

    return paint


def _paint_reefer_unit(spec: VehicleSpec) -> Painter:
    def paint(face: FaceName, c: Canvas, rng: np.random.Generator) -> None:
        W, H = c.width_m, c.height_m
        body = (230, 232, 232) if rng.random() < 0.7 else (60, 60, 62)
        c.rect(0.0, 0.0, W, H, body)
        if face == "front":
            c.rect(0.1, 0.1, W - 0.1, H * 0.55, DARK)
            for k in range(int((W - 0.2) / 0.05)):
                c.rect(0.12 + k * 0.05, 0.12, 0.14 + k * 0.05, H * 0.53, (80, 80, 82))
            c.circle(W * 0.3, H * 0.75, min(W, H) * 0.16, DARK)
            c.circle(W * 0.7, H * 0.75, min(W, H) * 0.16, DARK)
            c.rect(W * 0.4, H * 0.6, W * 0.6, H * 0.68, (40, 160, 40))
            c.text(
                "FRIGO", W / 2, H * 0.92, 0.12, (150, 60, 20) if sum(body) > 300 else WHITE, anchor="centre"
            )
        elif face in ("left", "right"):
            for k in range(5):
                c.rect(0.05, H * 0.2 + k * 0.2, W - 0.05, H * 0.2 + k * 0.2 + 0.05, DARK)
        c.frame(0.0, 0.0, W, H, shade(body, 0.7), 0.03)

    return paint


def _paint_small(spec: VehicleSpec, g: Geometry) -> Painter:
    van = spec.body_type == "van"
    col = spec.cab_colour

    def paint(face: FaceName, c: Canvas, rng: np.random.Generator) -> None:
        W, H = c.width_m, c.height_m
        h = g.body_h
        if face in ("left", "right"):
            car_profile(c, 0.0, 0.0, W, h, col, rng, van=van)
            if van and spec.livery.style != 4:
                c.text(
                    spec.livery.company,
                    W * 0.66,
                    h * 0.6,
                    0.22,
                    shade(col, 0.3) if sum(col) > 400 else WHITE,
                    max_width_m=W * 0.55,
                    anchor="centre",
                )
                c.text(
                    spec.livery.phone,
                    W * 0.66,
                    h * 0.45,
                    0.12,
                    shade(col, 0.3) if sum(col) > 400 else WHITE,
                    max_width_m=W * 0.55,
                    anchor="centre",
                )
        elif face in ("front", "rear"):
            front = face == "front"
            top_w = 0.15 if not van else 0.05
            body_top = h * (0.62 if not van else 0.66)
            c.poly([(0.02, 0.15), (W - 0.02, 0.15), (W - 0.02, body_top), (0.05, body_top)], col)
            c.poly(
                [(0.12, body_top), (W - 0.12, body_top), (W - top_w - 0.12, h), (top_w + 0.12, h)],
                shade(col, 0.95),
            )
            c.poly(
                [
                    (0.18, body_top + 0.03),
                    (W - 0.18, body_top + 0.03),
                    (W - top_w - 0.18, h - 0.06),
                    (top_w + 0.18, h - 0.06),
                ],
                GLASS,
            )
            if front:
                c.vgrad(0.2, body_top + 0.05, W - 0.2, h - 0.08, (170, 150, 135), GLASS)
                for u in (0.08, W - 0.45):
                    c.rect(u, body_top - 0.2, u + 0.37, body_top - 0.06, (225, 232, 238))
                c.rect(W / 2 - 0.45, 0.3, W / 2 + 0.45, body_top - 0.22, DARK)
            else:
                for u in (0.06, W - 0.3):
                    c.rect(u, body_top - 0.3, u + 0.24, body_top - 0.08, RED_L)
                if van:
                    c.rect(W / 2 - 0.01, 0.2, W / 2 + 0.01, h - 0.05, shade(col, 0.5))
            c.rect(0.0, 0.1, W, 0.3, DARK)
            c.rect(0.05, 0.0, 0.3, 0.15, TYRE)
            c.rect(W - 0.3, 0.0, W - 0.05, 0.15, TYRE)
        elif face == "top":
            c.rect(0.05, 0.05, W - 0.05, H - 0.05, shade(col, 1.05))
            if not van:
                c.rect(0.15, H * 0.55, W - 0.15, H * 0.7, GLASS)
                c.rect(0.15, H * 0.22, W - 0.15, H * 0.3, GLASS)
        c.noise(rng, 0.02)

    return paint


FLATBED_MARK_BELOW_DECK_M = 0.11
"""How far below a flatbed's deck (metres) its UK trailer mark's centre sits: on the middle of the
beam under the deck (painted 0.22 m deep; the mark is 0.21 m high), not in the air above the deck
or between the lamps and the beam."""


def build_model(spec: VehicleSpec) -> VehicleModel:
    """Parts, plate mounts and lamps of ``spec`` (local frame; see module doc)."""
    g = geometry(spec.body_type, spec.variant, spec.detail_seed)
    r = np.random.default_rng([spec.detail_seed, 11])
    bt = spec.body_type
    parts: list[Part] = []
    mounts: list[PlateMount] = []
    lamps: list[Lamp] = []
    hw = g.width / 2
    roll = lambda: float(r.normal(0.0, 1.2))  # noqa: E731
    if bt in ("car", "van"):
        parts.append(
            Part(
                "body",
                "body",
                -g.length,
                0.0,
                hw,
                0.0,
                g.body_h,
                ("front", "rear", "left", "right", "top"),
                _paint_small(spec, g),
            )
        )
        if len(spec.plates) > 0:
            mounts.append(PlateMount(0, "body", "front", hw, 0.42 if bt == "car" else 0.5, roll()))
        if len(spec.plates) > 1:
            mounts.append(PlateMount(1, "body", "rear", hw, 0.55 if bt == "car" else 0.62, roll()))
        lamps += [
            Lamp(0.0, hw - 0.25, g.body_h * 0.5, "head"),
            Lamp(0.0, -hw + 0.25, g.body_h * 0.5, "head"),
            Lamp(-g.length, hw - 0.2, g.body_h * 0.5, "tail"),
            Lamp(-g.length, -hw + 0.2, g.body_h * 0.5, "tail"),
        ]
        return VehicleModel(spec, g, tuple(parts), tuple(mounts), tuple(lamps))
    tractor_group: Group = "body" if bt == "tractor_only" else "tractor"
    cab_top = g.cab_h + g.deflector_h
    parts.append(
        Part(
            "cab",
            tractor_group,
            -g.cab_len,
            0.0,
            1.25,
            0.0,
            cab_top,
            ("front", "rear", "left", "right", "top"),
            _paint_cab(spec, g),
            front_margin=0.35,
        )
    )
    mounts.append(PlateMount(0, "cab", "front", 1.25 + 0.35, 0.55, roll()))
    lamps += [Lamp(0.0, 0.9, 0.92, "head"), Lamp(0.0, -0.9, 0.92, "head")]
    if bt == "rigid_box":
        parts.append(
            Part(
                "body",
                "body",
                g.trailer_x1 - g.trailer_len,
                g.trailer_x1,
                g.width / 2,
                0.0,
                g.body_h,
                ("front", "rear", "left", "right", "top"),
                _paint_trailer(spec, g),
            )
        )
        x_rear = g.trailer_x1 - g.trailer_len
    elif bt == "tractor_only":
        parts.append(
            Part(
                "chassis",
                tractor_group,
                -g.length,
                -g.cab_len,
                1.25,
                0.0,
                1.25,
                ("rear", "left", "right", "top"),
                _paint_chassis(spec, g, alone=True),
            )
        )
        x_rear = -g.length
    else:
        parts.append(
            Part(
                "chassis",
                tractor_group,
                -(g.cab_len + 4.0),
                -g.cab_len,
                1.25,
                0.0,
                1.25,
                ("left", "right"),
                _paint_chassis(spec, g, alone=False),
            )
        )
        faces: tuple[FaceName, ...] = ("front", "rear", "left", "right", "top")
        parts.append(
            Part(
                "trailer",
                "body",
                g.trailer_x1 - g.trailer_len,
                g.trailer_x1,
                g.width / 2,
                0.0,
                g.body_h,
                faces,
                _paint_trailer(spec, g),
            )
        )
        if bt == "reefer":
            parts.append(
                Part(
                    "unit",
                    "body",
                    g.trailer_x1,
                    g.trailer_x1 + 0.45,
                    0.95,
                    g.body_h - 2.0,
                    g.body_h - 0.15,
                    ("front", "left", "right", "top"),
                    _paint_reefer_unit(spec),
                )
            )
        x_rear = g.trailer_x1 - g.trailer_len
    rear_part = "chassis" if bt == "tractor_only" else ("body" if bt == "rigid_box" else "trailer")
    rear_w = 2.5 if bt == "tractor_only" else g.width
    if len(spec.plates) > 1:
        second = len(spec.plates) > 2
        if spec.plates[1].two_line:
            u = rear_w / 2 + (0.0 if not second else -0.45)
            v = 1.02 if bt != "tractor_only" else 0.62
        else:
            u = (
                rear_w / 2
                + float(r.choice([0.0, 0.0, -0.5, 0.5])) * (0 if second else 1)
                - (0.35 if second else 0)
            )
            v = 0.72 if bt == "tractor_only" else float(r.uniform(0.85, 1.0))
        mounts.append(PlateMount(1, rear_part, "rear", u, v, roll()))
    if len(spec.plates) > 2:
        if r.random() < 0.5:
            u, v = rear_w / 2 + 0.5, 1.05
        else:
            u, v = rear_w - 0.45, float(r.uniform(2.0, 2.6))
        if bt == "flatbed":
            # a flatbed's rear is open but for its lamps, bar and the beam under its deck: a mark
            # higher up hung in the air over an empty deck (bench lane set 5322), one lower in the
            # air between lamps and beam; it goes on the beam
            v = g.deck - FLATBED_MARK_BELOW_DECK_M
        mounts.append(PlateMount(2, rear_part, "rear", u, v, roll()))
    lamps += [Lamp(x_rear, g.width / 2 - 0.2, 0.85, "tail"), Lamp(x_rear, -g.width / 2 + 0.2, 0.85, "tail")]
    return VehicleModel(spec, g, tuple(parts), tuple(mounts), tuple(lamps))


def random_cab_colour(rng: np.random.Generator) -> Colour:
    """A typical tractor-cab paint colour (BGR)."""
    return PAINTS[int(rng.integers(len(PAINTS)))]
