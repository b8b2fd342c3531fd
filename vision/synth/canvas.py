"""A metric drawing surface for face textures.

A :class:`Canvas` is a BGRA uint8 texture of a flat face ``width_m`` x ``height_m``
drawn at ``ppm`` pixels per metre. Drawing calls take metres with ``u`` from the face's
left edge (or, with ``mirror=True``, from its right edge, so a side profile can be
drawn "from the front of the vehicle" on either side) and ``v`` up from its bottom
edge. Text is never mirrored. Alpha 0 means "no surface here" (see-through).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Colour = tuple[int, int, int]

_SHIFT = 3
_MUL = float(1 << _SHIFT)


def shade(c: Colour, f: float) -> Colour:
    """Colour ``c`` scaled by ``f`` (clipped to 0..255)."""
    return (min(255, max(0, int(c[0] * f))), min(255, max(0, int(c[1] * f))), min(255, max(0, int(c[2] * f))))


def mix(a: Colour, b: Colour, t: float) -> Colour:
    """Linear mix of two colours, ``t`` = weight of ``b``."""
    return (int(a[0] * (1 - t) + b[0] * t), int(a[1] * (1 - t) + b[1] * t), int(a[2] * (1 - t) + b[2] * t))


def scale_bgra(img: np.ndarray, f: float) -> np.ndarray:
    """A copy of BGRA ``img`` with colour (not alpha) multiplied by ``f`` (saturating)."""
    ramp = np.clip(np.arange(256, dtype=np.float32) * f + 0.5, 0, 255).astype(np.uint8)
    # one table for all four channels, then alpha copied back: OpenCV's look-up with a
    # table per channel is much slower than with a single one
    out = cv2.LUT(img, ramp)
    cv2.mixChannels([img], [out], [3, 3])
    return out


def _packed(c: Colour, a: int) -> np.uint32:
    """A BGRA colour as one 32-bit value for a :func:`_pixels32` view."""
    return np.array([*c, a], np.uint8).view(np.uint32)[0]


def _pixels32(img: np.ndarray) -> np.ndarray:
    """A (H, W) uint32 view of a C-contiguous BGRA uint8 image: one element per pixel.

    Filling through this view writes whole pixels in one pass; numpy is slow at
    broadcasting a 4-tuple over an (H, W, 4) region (its inner loop is 4 bytes long).
    """
    return img.view(np.uint32)[..., 0]


class Canvas:
    """Texture of one flat face, drawn in metres (see module doc)."""

    def __init__(self, width_m: float, height_m: float, ppm: float, *, mirror: bool = False) -> None:
        self.width_m = float(width_m)
        self.height_m = float(height_m)
        self.ppm = float(ppm)
        self.mirror = mirror
        self.w = max(2, round(width_m * ppm))
        self.h = max(2, round(height_m * ppm))
        self.img: np.ndarray = np.zeros((self.h, self.w, 4), np.uint8)

    # -- coordinate helpers -------------------------------------------------------------
    def x(self, u: float) -> float:
        """Pixel x (float) of metric ``u``."""
        return (self.width_m - u) * self.ppm if self.mirror else u * self.ppm

    def y(self, v: float) -> float:
        """Pixel y (float) of metric height ``v``."""
        return (self.height_m - v) * self.ppm

    def px(self, m: float) -> int:
        """A length in metres as a whole number of pixels (at least 1)."""
        return max(1, round(m * self.ppm))

    def _pts(self, pts: Sequence[tuple[float, float]]) -> np.ndarray:
        return np.array([[self.x(u) * _MUL, self.y(v) * _MUL] for u, v in pts], np.int32)

    def _slice(self, u0: float, v0: float, u1: float, v1: float) -> tuple[slice, slice]:
        p = self.ppm
        if self.mirror:
            xa, xb = (self.width_m - u1) * p, (self.width_m - u0) * p
        else:
            xa, xb = u0 * p, u1 * p
        if xa > xb:
            xa, xb = xb, xa
        ya, yb = (self.height_m - v1) * p, (self.height_m - v0) * p
        if ya > yb:
            ya, yb = yb, ya
        x0, x1 = max(0, int(xa + 0.5)), min(self.w, int(xb + 0.5))
        y0, y1 = max(0, int(ya + 0.5)), min(self.h, int(yb + 0.5))
        return slice(y0, max(y0, y1)), slice(x0, max(x0, x1))

    # -- primitives ---------------------------------------------------------------------
    def rect(self, u0: float, v0: float, u1: float, v1: float, c: Colour, a: int = 255) -> None:
        """Filled axis-aligned rectangle between metric corners."""
        ys, xs = self._slice(u0, v0, u1, v1)
        _pixels32(self.img)[ys, xs] = _packed(c, a)

    def frame(self, u0: float, v0: float, u1: float, v1: float, c: Colour, t_m: float) -> None:
        """Rectangle outline of thickness ``t_m`` (drawn inside the rectangle)."""
        self.rect(u0, v0, u1, v0 + t_m, c)
        self.rect(u0, v1 - t_m, u1, v1, c)
        self.rect(u0, v0, u0 + t_m, v1, c)
        self.rect(u1 - t_m, v0, u1, v1, c)

    def poly(self, pts: Sequence[tuple[float, float]], c: Colour, a: int = 255) -> None:
        """Filled polygon with anti-aliased edges."""
        cv2.fillPoly(self.img, [self._pts(pts)], (*c, a), cv2.LINE_AA, _SHIFT)

    def line(
        self, pts: Sequence[tuple[float, float]], c: Colour, t_m: float, *, closed: bool = False
    ) -> None:
        """Polyline of thickness ``t_m``."""
        cv2.polylines(self.img, [self._pts(pts)], closed, (*c, 255), self.px(t_m), cv2.LINE_AA, _SHIFT)

    def circle(
        self, u: float, v: float, r_m: float, c: Colour, *, t_m: float | None = None, a: int = 255
    ) -> None:
        """Filled circle (or ring of thickness ``t_m``)."""
        th = -1 if t_m is None else self.px(t_m)
        cv2.circle(
            self.img,
            (int(self.x(u) * _MUL), int(self.y(v) * _MUL)),
            int(r_m * self.ppm * _MUL),
            (*c, a),
            th,
            cv2.LINE_AA,
            _SHIFT,
        )

    def ellipse(
        self,
        u: float,
        v: float,
        ru: float,
        rv: float,
        c: Colour,
        *,
        a0: float = 0,
        a1: float = 360,
        t_m: float | None = None,
    ) -> None:
        """Filled ellipse / arc. Angles in degrees as cv2 (0 = +x, clockwise on screen)."""
        th = -1 if t_m is None else self.px(t_m)
        cv2.ellipse(
            self.img,
            (int(self.x(u) * _MUL), int(self.y(v) * _MUL)),
            (int(ru * self.ppm * _MUL), int(rv * self.ppm * _MUL)),
            0,
            a0,
            a1,
            (*c, 255),
            th,
            cv2.LINE_AA,
            _SHIFT,
        )

    def text(
        self,
        s: str,
        u: float,
        v: float,
        height_m: float,
        c: Colour,
        *,
        font: int = cv2.FONT_HERSHEY_DUPLEX,
        weight: float = 0.12,
        max_width_m: float | None = None,
        anchor: str = "left",
    ) -> tuple[float, float]:
        """Hershey text with its baseline at height ``v``; cap height ~``height_m``.

        ``anchor`` is ``left``, ``centre`` or ``right`` relative to ``u`` (as seen, i.e.
        after mirroring). Returns the drawn width and height in metres.
        """
        scale = height_m * self.ppm / 22.0
        th = max(1, round(scale * 22.0 * weight))
        (tw, thh), _ = cv2.getTextSize(s, font, scale, th)
        if max_width_m is not None and tw > max_width_m * self.ppm:
            f = max_width_m * self.ppm / tw
            scale *= f
            th = max(1, round(th * f))
            (tw, thh), _ = cv2.getTextSize(s, font, scale, th)
        xp = self.x(u)
        if anchor == "centre":
            xp -= tw / 2
        elif anchor == "right":
            xp -= tw
        cv2.putText(self.img, s, (round(xp), round(self.y(v))), font, scale, (*c, 255), th, cv2.LINE_AA)
        return tw / self.ppm, thh / self.ppm

    def vgrad(self, u0: float, v0: float, u1: float, v1: float, top: Colour, bottom: Colour) -> None:
        """Vertical colour gradient filling a rectangle."""
        ys, xs = self._slice(u0, v0, u1, v1)
        n = ys.stop - ys.start
        if n <= 0 or xs.stop <= xs.start:
            return
        t = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None]
        col = np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t
        rows = np.empty((n, 4), np.uint8)
        rows[:, :3] = col.astype(np.uint8)
        rows[:, 3] = 255
        _pixels32(self.img)[ys, xs] = rows.view(np.uint32)  # (n, 1): one colour per row

    def column_shade(self, u0: float, v0: float, u1: float, v1: float, profile: np.ndarray) -> None:
        """Multiply a rectangle's colour by a per-column ``profile`` (float, resampled to width)."""
        ys, xs = self._slice(u0, v0, u1, v1)
        n = xs.stop - xs.start
        if n <= 0 or ys.stop <= ys.start:
            return
        p = np.interp(np.linspace(0, len(profile) - 1, n), np.arange(len(profile)), profile).astype(
            np.float32
        )
        p4 = np.ones((n, 4), np.float32)
        p4[:, :3] = p[:, None]  # alpha is multiplied by 1
        self._scale_region(ys, xs, p4.reshape(1, -1))

    def row_shade(self, u0: float, v0: float, u1: float, v1: float, profile: np.ndarray) -> None:
        """Multiply a rectangle's colour by a per-row ``profile`` (top row first)."""
        ys, xs = self._slice(u0, v0, u1, v1)
        n = ys.stop - ys.start
        if n <= 0 or xs.stop <= xs.start:
            return
        p = np.interp(np.linspace(0, len(profile) - 1, n), np.arange(len(profile)), profile).astype(
            np.float32
        )
        self._scale_region(ys, xs, p[:, None], keep_alpha=True)

    def _scale_region(self, ys: slice, xs: slice, factor: np.ndarray, *, keep_alpha: bool = False) -> None:
        """Multiply a region, seen as (rows, 4 * cols) float32, by ``factor`` (broadcast to
        that shape), saturating and truncating to uint8; ``keep_alpha`` restores alpha."""
        region = self.img[ys, xs]
        h, w = region.shape[:2]
        f = region.reshape(h, w * 4).astype(np.float32)
        f *= factor
        np.clip(f, 0, 255, out=f)
        out = f.astype(np.uint8).reshape(h, w, 4)
        if keep_alpha:
            out[..., 3] = region[..., 3]
        region[...] = out

    def noise(self, rng: np.random.Generator, amount: float) -> None:
        """Add texture noise (grime, paint variation); amounts under 0.025 are invisible
        after projection, sensor noise and JPEG, so they are skipped."""
        if amount < 0.025:
            return
        small = 1.0 + rng.normal(0.0, amount, (max(2, self.h // 8), max(2, self.w // 8))).astype(np.float32)
        f4 = cv2.merge([small, small, small, np.ones_like(small)])
        field = cv2.resize(f4, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        self.img = cv2.multiply(self.img, field, dtype=cv2.CV_8U)

    def brightness(self, f: float) -> None:
        """Scale the colour of the whole texture (lighting of the face)."""
        if abs(f - 1.0) > 1e-3:
            self.img = scale_bgra(self.img, f)
