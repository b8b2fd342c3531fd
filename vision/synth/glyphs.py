"""Our own stroke typeface for number plates (A-Z, 0-9, hyphen).

Modelled on the proportions of the UK mandatory plate typeface: a character is 79 mm
high and 50 mm wide with a 14 mm stroke; characters are 11 mm apart and groups 33 mm.
Each glyph is a set of centre-line polylines in a 36 x 65 mm box; drawing them with a
14 mm round-capped stroke fills the 50 x 79 mm character cell. The outlines were drawn
for this project (no font file is used), so they are under the project's licence.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Final

import cv2
import numpy as np

CHAR_H_MM: Final = 79.0
CHAR_W_MM: Final = 50.0
STROKE_MM: Final = 14.0
CHAR_GAP_MM: Final = 11.0
GROUP_GAP_MM: Final = 33.0
_HALF: Final = STROKE_MM / 2.0  # centre-line box is inset by half a stroke

Poly = tuple[tuple[float, float], ...]


def _arc(
    cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 10
) -> list[tuple[float, float]]:
    """Points on an elliptical arc; angles in degrees, 0 = right, 90 = down (y grows down)."""
    out = []
    for i in range(n + 1):
        a = math.radians(a0 + (a1 - a0) * i / n)
        out.append((cx + rx * math.cos(a), cy + ry * math.sin(a)))
    return out


def _p(*pts: tuple[float, float]) -> list[tuple[float, float]]:
    return list(pts)


def _stadium(x0: float, x1: float, y0: float = 0.0, y1: float = 65.0) -> list[tuple[float, float]]:
    r = (x1 - x0) / 2.0
    cx = (x0 + x1) / 2.0
    return _arc(cx, y0 + r, r, r, 180, 360) + _arc(cx, y1 - r, r, r, 0, 180) + [(x0, y0 + r)]


def _build() -> dict[str, tuple[Poly, ...]]:
    g: dict[str, list[list[tuple[float, float]]]] = {
        "A": [_p((0, 65), (14, 4), (22, 4), (36, 65)), _p((6, 44), (30, 44))],
        "B": [
            _p((0, 30), (0, 0), (18, 0)) + _arc(18, 15, 15, 15, 270, 450)[1:] + [(0, 30)],
            _p((0, 30), (19, 30)) + _arc(19, 47.5, 17, 17.5, 270, 450)[1:] + [(0, 65), (0, 30)],
        ],
        "C": [_arc(18, 18, 18, 18, 330, 180) + _arc(18, 47, 18, 18, 180, 30)],
        "D": [
            _p((0, 0), (14, 0))
            + _arc(14, 22, 22, 22, 270, 360)
            + _arc(14, 43, 22, 22, 0, 90)
            + [(0, 65), (0, 0)]
        ],
        "E": [_p((36, 0), (0, 0), (0, 65), (36, 65)), _p((0, 32), (28, 32))],
        "F": [_p((36, 0), (0, 0), (0, 65)), _p((0, 32), (28, 32))],
        "G": [_arc(18, 18, 18, 18, 330, 180) + _arc(18, 47, 18, 18, 180, 0) + [(36, 36), (20, 36)]],
        "H": [_p((0, 0), (0, 65)), _p((36, 0), (36, 65)), _p((0, 32), (36, 32))],
        "I": [_p((18, 0), (18, 65))],
        "J": [_p((36, 0), (36, 47)) + _arc(18, 47, 18, 18, 0, 165)],
        "K": [_p((0, 0), (0, 65)), _p((35, 0), (0, 40)), _p((11, 27), (36, 65))],
        "L": [_p((0, 0), (0, 65), (36, 65))],
        "M": [_p((0, 65), (0, 0), (18, 38), (36, 0), (36, 65))],
        "N": [_p((0, 65), (0, 0), (36, 65), (36, 0))],
        "O": [_stadium(0, 36)],
        "P": [_p((0, 65), (0, 0), (18, 0)) + _arc(18, 17, 18, 17, 270, 450)[1:] + [(0, 34)]],
        "Q": [_stadium(0, 36), _p((19, 44), (35, 64))],
        "R": [
            _p((0, 65), (0, 0), (18, 0)) + _arc(18, 17, 18, 17, 270, 450)[1:] + [(0, 34)],
            _p((14, 34), (36, 65)),
        ],
        "S": [_arc(18, 17, 18, 17, 340, 90) + _arc(18, 49, 18, 16, 270, 520)],
        "T": [_p((0, 0), (36, 0)), _p((18, 0), (18, 65))],
        "U": [_p((0, 0), (0, 47)) + _arc(18, 47, 18, 18, 180, 0) + [(36, 0)]],
        "V": [_p((0, 0), (16, 65), (20, 65), (36, 0))],
        "W": [_p((0, 0), (7, 65), (18, 22), (29, 65), (36, 0))],
        "X": [_p((0, 0), (36, 65)), _p((36, 0), (0, 65))],
        "Y": [_p((0, 0), (18, 32)), _p((36, 0), (18, 32), (18, 65))],
        "Z": [_p((0, 0), (36, 0), (0, 65), (36, 65))],
        "0": [_stadium(2, 34)],
        "1": [_p((6, 13), (20, 0), (20, 65))],
        "2": [[*_arc(18, 18, 18, 18, 190, 360), (34, 30), (0, 65), (36, 65)]],
        "3": [_p((2, 0), (34, 0), (15, 27)) + _arc(17, 46, 19, 19, 270, 510)],
        "4": [_p((26, 65), (26, 0), (0, 44), (36, 44))],
        "5": [_p((34, 0), (4, 0), (2, 31)) + _arc(17, 45, 19, 20, 225, 510)],
        "6": [[*_arc(18, 18, 18, 18, 330, 180), (0, 46)], _arc(18, 46, 18, 19, 0, 360)],
        "7": [_p((0, 0), (36, 0), (12, 65))],
        "8": [_arc(18, 15.5, 15, 15.5, 0, 360), _arc(18, 47, 18, 18, 0, 360)],
        "9": [_arc(18, 19, 18, 19, 0, 360), _p((36, 19), (36, 47)) + _arc(18, 47, 18, 18, 0, 150)],
        "-": [_p((6, 32), (30, 32))],
    }
    return {k: tuple(tuple(pt for pt in line) for line in v) for k, v in g.items()}


GLYPHS: Final[dict[str, tuple[Poly, ...]]] = _build()
SUPPORTED: Final[frozenset[str]] = frozenset(GLYPHS)


def char_advance_mm(ch: str) -> float:
    """Width of a character cell on the plate (mm), before the inter-character gap."""
    if ch == "-":
        return 36.0
    return CHAR_W_MM


def text_width_mm(text: str) -> float:
    """Width of a line of plate text in mm at full size; a space stands for a group gap."""
    w = 0.0
    for _, x, adv in _advances(text, 0.0, 1.0):
        w = x + adv
    return w


def _advances(text: str, x_mm: float, sx: float) -> Iterator[tuple[str, float, float]]:
    """``(character, left edge mm, advance mm)`` of each character of one line starting at
    ``x_mm``, squeezed by ``sx`` (spaces take no cell; they widen the gap)."""
    x = x_mm
    prev: str | None = None
    for ch in text:
        if ch == " ":
            prev = " "
            continue
        if prev is not None:
            x += (GROUP_GAP_MM if prev == " " else CHAR_GAP_MM) * sx
        adv = char_advance_mm(ch) * sx
        yield ch, x, adv
        x += adv
        prev = ch


def char_cells_mm(
    text: str, x_mm: float, y_mm: float, *, height_mm: float = CHAR_H_MM, width_scale: float = 1.0
) -> list[tuple[float, float, float, float]]:
    """Cells ``(x0, y0, x1, y1)`` in plate mm of the characters of one line laid out as
    :func:`draw_text` draws them (spaces take no cell)."""
    sx = height_mm / CHAR_H_MM * width_scale
    return [(x, y_mm, x + adv, y_mm + height_mm) for _, x, adv in _advances(text, x_mm, sx)]


def draw_text(
    img: np.ndarray,
    text: str,
    x_mm: float,
    y_mm: float,
    px_per_mm: float,
    colour: tuple[int, ...],
    *,
    height_mm: float = CHAR_H_MM,
    width_scale: float = 1.0,
    stroke_scale: float = 1.0,
) -> tuple[float, float, float, float]:
    """Draw one line of plate text onto ``img`` (uint8, any channel count) in place.

    ``(x_mm, y_mm)`` is the top-left of the line's first character cell in plate mm; the
    characters are ``height_mm`` tall (79 mm by default) and ``width_scale`` squeezes
    them horizontally. Returns the inked extent ``(x0, y0, x1, y1)`` in mm.
    """
    s = height_mm / CHAR_H_MM
    sx = s * width_scale
    stroke_px = max(1, round(STROKE_MM * s * stroke_scale * px_per_mm))
    shift = 3
    mul = float(1 << shift)
    ext = [math.inf, math.inf, -math.inf, -math.inf]
    for ch, x, adv in _advances(text, x_mm, sx):
        lines = GLYPHS.get(ch)
        if lines is None:
            raise ValueError(f"no glyph for {ch!r}")
        # centre-line box is 36 wide; centre it in the advance
        ox = x + adv / 2.0 - 18.0 * sx
        oy = y_mm + _HALF * s
        pts = [
            np.array(
                [[(ox + px * sx) * px_per_mm * mul, (oy + py * s) * px_per_mm * mul] for px, py in line],
                np.int32,
            )
            for line in lines
        ]
        cv2.polylines(img, pts, False, colour, stroke_px, cv2.LINE_AA, shift)
        ext[0] = min(ext[0], x + adv / 2.0 - 25.0 * sx)
        ext[2] = max(ext[2], x + adv / 2.0 + 25.0 * sx)
    ext[1] = y_mm
    ext[3] = y_mm + height_mm
    return (ext[0], ext[1], ext[2], ext[3])
