"""Image-level conditions: lighting (day, dusk, night IR), rain, glare, blur, noise, JPEG.

All functions take and return BGR uint8 images (H, W, 3) and never modify their input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from .scene import ConditionSpec


@dataclass(frozen=True, eq=False)
class EffectInputs:
    """Per-pixel facts the effects need, computed on demand from the group buffer.

    ``idbuf``: uint16 (H, W) group of each pixel; ``plate_groups``: bool per group id,
    true for plates; ``ground_group``/``sky_group``: the ids of road and backdrop.
    ``lamps``: (N, 3) float rows of (x_px, y_px, radius_px) for lit lamps facing the
    camera; ``lamp_red``: (N,) bool, tail lamp (red) or not.
    """

    idbuf: np.ndarray
    plate_groups: np.ndarray
    ground_group: int
    sky_group: int
    lamps: np.ndarray
    lamp_red: np.ndarray

    def plate_mask(self) -> np.ndarray:
        """uint8 (H, W): 1 where a pixel shows a plate, else 0."""
        table = self.plate_groups.astype(np.uint8)
        if len(table) <= 256:  # group ids fit in a byte: a table look-up instead of a gather
            return cv2.LUT(self.idbuf.astype(np.uint8), np.pad(table, (0, 256 - len(table))))
        return table[self.idbuf]

    def ground_mask(self) -> np.ndarray:
        """uint8 (H, W): 1 where a pixel shows the road surface, else 0."""
        return (self.idbuf == self.ground_group).view(np.uint8)

    def sky_mask(self) -> np.ndarray:
        """uint8 (H, W): 1 where a pixel shows the backdrop (sky, far buildings), else 0."""
        return (self.idbuf == self.sky_group).view(np.uint8)


class NoiseBank:
    """Pre-drawn unit sensor noise (int16, x16) from a fixed seed; windows of it are added to frames.

    Pure function of its size, so sharing one across renders never changes an image.
    """

    SCALE = 16.0

    def __init__(self, height: int = 1080 + 64, width: int = 1920 + 64) -> None:
        r = np.random.default_rng(20240521)
        luma = r.standard_normal((height, width), dtype=np.float32)
        chroma = r.standard_normal((height // 2, width // 2, 3), dtype=np.float32)
        colour = np.asarray(cv2.resize(chroma, (width, height), interpolation=cv2.INTER_NEAREST), np.float32)
        # round((luma + 0.4 chroma) x SCALE), computed in place (no 100 MB of temporaries)
        colour *= np.float32(0.4)
        colour += np.asarray(cv2.merge([luma, luma, luma]), np.float32)
        colour *= np.float32(self.SCALE)
        self.colour = np.rint(colour, out=colour).astype(np.int16)
        luma16 = np.rint(luma * self.SCALE).astype(np.int16)
        self.grey = cv2.merge([luma16, luma16, luma16])
        self.height, self.width = height, width

    @staticmethod
    @cache
    def shared() -> NoiseBank:
        """One default-size bank per process (about 30 MB, 0.1 s to draw), made on first use."""
        return NoiseBank()


_GLOW_SCALE = 4  # lamp halos are blurred at a quarter of the frame's resolution


def _glow(img: np.ndarray, lamps: np.ndarray, red: np.ndarray, strength: float, grey: bool) -> np.ndarray:
    """Lamp discs plus a soft halo added to ``img``, computed only in the region they reach."""
    h, w = img.shape[:2]
    discs = [
        (int(x), int(y), max(2, int(r)), (60, 60, 255) if (is_red and not grey) else (255, 250, 240))
        for (x, y, r), is_red in zip(lamps, red, strict=False)
        if -4 * r < x < w + 4 * r and -4 * r < y < h + 4 * r
    ]
    if not discs:
        return img
    s = _GLOW_SCALE
    sigma = max(0.7, max(1.0, float(lamps[:, 2].max()) * 4 / 3.0) / s)  # at the small scale
    if w % s or h % s:  # the small grid must tile the frame for a region to match it
        x0, y0, x1, y1 = 0, 0, w, h
    else:
        # the discs, plus the blur kernel's reach (OpenCV sizes float kernels to 4 sigma)
        # and the upsampling's, on the small grid
        pad = s * (math.ceil(4 * sigma) + 3)
        x0 = max(0, (min(x - r for x, _, r, _ in discs) - pad) // s * s)
        y0 = max(0, (min(y - r for _, y, r, _ in discs) - pad) // s * s)
        x1 = min(w, -(-(max(x + r for x, _, r, _ in discs) + 1 + pad) // s) * s)
        y1 = min(h, -(-(max(y + r for _, y, r, _ in discs) + 1 + pad) // s) * s)
    layer = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
    for x, y, r, col in discs:
        cv2.circle(layer, (x - x0, y - y0), r, col, -1, cv2.LINE_AA)
    small = cv2.resize(layer, ((x1 - x0) // s, (y1 - y0) // s), interpolation=cv2.INTER_AREA)
    halo = cv2.resize(cv2.GaussianBlur(small, (0, 0), sigmaX=sigma), (x1 - x0, y1 - y0))
    glow = cv2.addWeighted(layer, 0.9 * strength, halo, 2.2 * strength, 0.0)
    out = img.copy()
    out[y0:y1, x0:x1] = cv2.add(img[y0:y1, x0:x1], glow, dtype=cv2.CV_8U)
    return out


def apply_lighting(
    img: np.ndarray, fx: EffectInputs, c: ConditionSpec, rng: np.random.Generator
) -> np.ndarray:
    """Day exposure, dusk tint with lamp glow, or night infrared (grey, bright plates)."""
    h, w = img.shape[:2]
    # per-channel gain and offset, rounded and saturated (cv2.transform: a few times faster
    # than a look-up table with one table per channel)
    if c.lighting == "day":
        off = rng.uniform(-6, 6, 3)
        return cv2.transform(img, np.hstack([np.eye(3) * c.exposure, off[:, None]]))
    if c.lighting == "dusk":
        gain = (
            0.68
            * c.exposure
            * (np.array([1.05, 0.95, 0.9]) if rng.random() < 0.5 else np.array([0.85, 0.95, 1.1]))
        )
        out = cv2.transform(img, np.diag(gain))
        return _glow(out, fx.lamps, fx.lamp_red, 0.8, grey=False)
    # night, infrared illuminator: greyscale, light falls off away from the beam centre
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    sw, sh = max(2, w // 8), max(2, h // 8)
    cx, cy = sw * float(rng.uniform(0.35, 0.65)), sh * float(rng.uniform(0.4, 0.7))
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    r2 = ((xx - cx) / (0.7 * sw)) ** 2 + ((yy - cy) / (0.8 * sh)) ** 2
    beam_s = (0.22 + 0.75 * np.exp(-r2 * 1.2) * c.exposure).astype(np.float32)
    beam = cv2.resize(beam_s, (w, h), interpolation=cv2.INTER_LINEAR)
    cv2.copyTo(beam * np.float32(0.25), fx.sky_mask(), beam)
    out = cv2.multiply(grey, beam, dtype=cv2.CV_8U)
    plate_mask = fx.plate_mask()
    if cv2.countNonZero(plate_mask):
        b, g, r = cv2.split(img)
        refl = cv2.max(cv2.max(b, g), r)
        lut = np.clip((np.arange(256, dtype=np.float32) - 30.0) * 1.9 + 20.0, 0, 255).astype(np.uint8)
        cv2.copyTo(cv2.LUT(refl, lut), plate_mask, out)
    bgr = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    return _glow(bgr, fx.lamps, fx.lamp_red, 1.0, grey=True)


def apply_rain(img: np.ndarray, fx: EffectInputs, rng: np.random.Generator) -> np.ndarray:
    """Wet road (darker, smeared reflections) and falling-rain streaks."""
    h, w = img.shape[:2]
    smear = cv2.blur(img, (3, 41))
    wet = cv2.addWeighted(img, 0.7, smear, 0.3, 0.0)
    f = cv2.convertScaleAbs(img, alpha=0.92)
    cv2.copyTo(wet, fx.ground_mask(), f)
    n = int(w * h / 900)
    ang = math.radians(float(rng.uniform(-20, 20)))
    ln = float(rng.uniform(8, 25)) * h / 720
    xs = rng.uniform(0, w, n)
    ys = rng.uniform(0, h, n)
    dx, dy = math.sin(ang) * ln, math.cos(ang) * ln
    segs = np.stack([np.stack([xs, ys], 1), np.stack([xs + dx, ys + dy], 1)], 1)
    layer = np.zeros((h, w), np.uint8)
    cv2.polylines(layer, list(np.round(segs * 4).astype(np.int32)), False, 60, 1, cv2.LINE_AA, 2)
    streaks = cv2.merge([layer, layer, layer])
    return cv2.add(f, streaks)


def apply_glare(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A bright flare (sun or floodlight) with a few ghost blobs along the line through the centre."""
    h, w = img.shape[:2]
    layer = np.zeros((h, w, 3), np.float32)
    sx, sy = float(rng.uniform(0, w)), float(rng.uniform(0, h * 0.45))
    r = float(rng.uniform(0.05, 0.12)) * w
    cv2.circle(layer, (int(sx), int(sy)), int(r), (255, 250, 240), -1, cv2.LINE_AA)
    cx, cy = w / 2, h / 2
    for t in rng.uniform(0.4, 1.8, 4):
        gx, gy = sx + (cx - sx) * t * 1.2, sy + (cy - sy) * t * 1.2
        rr = int(float(rng.uniform(0.01, 0.04)) * w)
        col = tuple(float(v) for v in rng.uniform(60, 160, 3))
        cv2.circle(layer, (int(gx), int(gy)), max(2, rr), col, -1, cv2.LINE_AA)
    small = cv2.resize(layer, (w // 8, h // 8), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=max(1.0, r * 0.6 / 8))
    flare = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.addWeighted(img, 0.9, flare, 1.6, 18.0, dtype=cv2.CV_8U)


def apply_blur(img: np.ndarray, c: ConditionSpec) -> np.ndarray:
    """Linear motion blur then Gaussian defocus, as configured."""
    out = img
    if n := c.streak_px:
        k = np.zeros((n, n), np.float32)
        a = math.radians(c.motion_angle_deg)
        cx = n // 2
        cv2.line(
            k,
            (int(cx - math.cos(a) * cx), int(cx - math.sin(a) * cx)),
            (int(cx + math.cos(a) * cx), int(cx + math.sin(a) * cx)),
            1.0,
            1,
            cv2.LINE_AA,
        )
        k /= max(1e-6, float(k.sum()))
        out = cv2.filter2D(out, -1, k)
    if c.defocus_px:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=c.defocus_px)
    return out


def apply_noise(
    img: np.ndarray, sigma: float, rng: np.random.Generator, *, grey: bool, bank: NoiseBank | None = None
) -> np.ndarray:
    """Additive Gaussian sensor noise (monochrome for IR frames), from ``bank`` when given."""
    if sigma <= 0:
        return img
    h, w = img.shape[:2]
    if bank is not None and h + 8 <= bank.height and w + 8 <= bank.width:
        oy = int(rng.integers(0, bank.height - h + 1))
        ox = int(rng.integers(0, bank.width - w + 1))
        src = bank.grey if grey else bank.colour
        return cv2.addWeighted(
            img, 1.0, src[oy : oy + h, ox : ox + w], sigma / NoiseBank.SCALE, 0.0, dtype=cv2.CV_8U
        )
    hh, hw = (h + 1) // 2, (w + 1) // 2
    n = (rng.standard_normal((hh, hw), dtype=np.float32) * np.float32(sigma)).astype(np.int16)
    full = cv2.resize(n, (w, h), interpolation=cv2.INTER_NEAREST)
    if grey:
        full = cv2.merge([full, full, full])
    else:
        chroma = rng.standard_normal((hh // 2 + 1, hw // 2 + 1, 3), dtype=np.float32) * np.float32(
            sigma * 0.4
        )
        full = cv2.add(
            cv2.merge([full, full, full]),
            cv2.resize(chroma.astype(np.int16), (w, h), interpolation=cv2.INTER_NEAREST),
        )
    return cv2.add(img, full, dtype=cv2.CV_8U)


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG at ``quality`` (1..100); 0 returns the input."""
    if quality <= 0:
        return img
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if out is None:
        raise RuntimeError("JPEG decoding failed")
    return out


def apply_all(
    img: np.ndarray,
    fx: EffectInputs,
    c: ConditionSpec,
    rng: np.random.Generator,
    bank: NoiseBank | None = None,
) -> np.ndarray:
    """Every configured condition in a fixed order: lighting, rain, glare, blur, noise, JPEG."""
    out = apply_lighting(img, fx, c, rng)
    if c.rain:
        out = apply_rain(out, fx, rng)
    if c.glare and c.lighting != "night_ir":
        out = apply_glare(out, rng)
    out = apply_blur(out, c)
    out = apply_noise(out, c.noise_sigma, rng, grey=c.lighting == "night_ir", bank=bank)
    return jpeg_roundtrip(out, c.jpeg_quality)
