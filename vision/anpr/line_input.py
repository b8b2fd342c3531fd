"""Input of the project's own CTC recogniser (engine ``crnn``): one text line to a fixed-size
grey tensor. Pure functions (OpenCV + NumPy), shared by the engine at run time and by the
training code (:mod:`vision.train.recogniser`), so both see exactly the same pixels.

A line ``(h, w, 3)`` uint8 BGR (a line of :func:`vision.anpr.rectify.rectify`) becomes:

1. :func:`line_grey`: grey (:func:`plate_grey`: the luminance, or a red plate's red channel),
   resized to ``height_px`` keeping its aspect ratio, then
   *squashed* to ``width_px`` when wider (a plate line is 6-10 heights wide, the input 4),
   or right-padded with the line's median grey when narrower. Returns the
   ``(height_px, width_px)`` uint8 image and the width in pixels the line occupies, which
   says how many CTC frames carry the line (:func:`valid_frames`).
2. :func:`normalise` (batch): per-image contrast stretch between the 2nd and 98th
   percentiles (night IR, dusk and faded plates all span the same range), mapped to
   [-1, 1]; returns ``(N, 1, height_px, width_px)`` float32, the ONNX model's input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from vision.types import ImageBGR

LINE_HEIGHT_PX = 32
"""Height of the recogniser's input."""

LINE_WIDTH_PX = 128
"""Width of the recogniser's input."""

FRAME_STRIDE_PX = 4
"""Input pixels per CTC frame (the network pools the width by 4: 128 px give 32 frames)."""

MIN_CONTRAST = 24.0
"""Smallest grey range stretched to the full scale (a blank or flat line is not amplified into noise)."""

GREY_RANGE_PERCENTILES = (2.0, 98.0)
"""An image's grey range runs between these percentiles of its pixels (the few darkest and
brightest, noise and glare, are left out): what :func:`normalise` stretches and what
:func:`plate_grey` compares."""

GreyArray = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]


CHANNEL_WIDER = 1.5
"""A colour channel stands in for the luminance as a plate's grey when its grey range is at
least this many times the luminance's."""


def grey_percentiles(grey: npt.NDArray[np.uint8], qs: Sequence[float]) -> list[float]:
    """``np.percentile(grey, qs)`` (linear interpolation) of a uint8 image, bit for bit, from its
    256-bin histogram: about ten times faster than sorting on a plate line's few thousand pixels,
    where the reader calls it several times per line (``tests/vision/anpr/test_line_input.py``
    checks equality on random and real images). Raises ``ValueError`` on an empty image or a
    percentile outside [0, 100]."""
    flat = grey.ravel()
    if flat.size == 0:
        raise ValueError("percentiles of an empty image")
    cum = np.cumsum(np.bincount(flat, minlength=256))
    n = int(cum[-1])
    out = []
    for q in qs:
        if not 0.0 <= q <= 100.0:
            raise ValueError(f"percentile {q} outside [0, 100]")
        virtual = (n - 1) * (q / 100.0)
        below = math.floor(virtual)
        t = virtual - below
        # the value at sorted index k is the first grey whose cumulative count exceeds k
        a = float(np.searchsorted(cum, below, side="right"))
        b = float(np.searchsorted(cum, min(below + 1, n - 1), side="right"))
        out.append(b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t)  # numpy's _lerp
    return out


def _spread(grey: npt.NDArray[np.uint8]) -> float:
    lo, hi = grey_percentiles(grey, GREY_RANGE_PERCENTILES)
    return hi - lo


def plate_grey(bgr: ImageBGR) -> GreyArray:
    """A plate crop or line ``(h, w, 3)`` uint8 BGR as ``(h, w)`` uint8 grey: the luminance, or
    the colour channel with the widest grey range (2nd to 98th percentile) when that range is at
    least :data:`CHANNEL_WIDER` times the luminance's.

    Black characters on a red plate (a Spanish trailer's) are only 30-40 grey levels darker
    than their plate in luminance, about as much as a dusk camera's noise; in the red channel
    the plate is bright and the gap is two to three times wider. On white plates every channel
    spans about as much as the luminance, on yellow ones the red channel 1.3-1.4 times: they
    keep the luminance. The margin is thin for single lines of a yellow plate (up to 1.57 on
    the synthetic test set), so two lines of one plate can get different greys; the shipped
    recogniser was trained that way."""
    lum = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), np.uint8)
    spreads = [_spread(bgr[:, :, c]) for c in range(3)]
    best = int(np.argmax(spreads))
    if spreads[best] >= CHANNEL_WIDER * max(_spread(lum), 1.0):
        return np.ascontiguousarray(bgr[:, :, best])
    return lum


def line_grey(
    line_bgr: ImageBGR, height_px: int = LINE_HEIGHT_PX, width_px: int = LINE_WIDTH_PX
) -> tuple[GreyArray, int]:
    """One line ``(h, w, 3)`` uint8 BGR (or ``(h, w)`` grey) as ``(height_px, width_px)`` uint8
    grey, and the width in pixels the line occupies (the rest is padding). See the module doc."""
    grey = line_bgr if line_bgr.ndim == 2 else plate_grey(line_bgr)
    h, w = grey.shape[:2]
    target_w = max(1, min(width_px, math.ceil(height_px * w / max(1, h))))
    interp = cv2.INTER_AREA if h > height_px else cv2.INTER_LINEAR
    resized = cv2.resize(grey, (target_w, height_px), interpolation=interp)
    if target_w == width_px:
        return np.ascontiguousarray(resized, np.uint8), width_px
    out = np.full((height_px, width_px), int(np.median(resized)), np.uint8)
    out[:, :target_w] = resized
    return out, target_w


def normalise(greys: Sequence[GreyArray] | GreyArray) -> FloatArray:
    """Grey lines ``(N, H, W)`` uint8 to the model input ``(N, 1, H, W)`` float32 in [-1, 1]:
    each image stretched between its 2nd and 98th grey percentiles (a range of at least
    :data:`MIN_CONTRAST` grey levels)."""
    batch = np.asarray(greys, np.float32)
    if batch.ndim != 3:
        raise ValueError(f"expected (N, H, W) grey lines, got shape {batch.shape}")
    flat = batch.reshape(batch.shape[0], -1)
    lo, hi = np.percentile(flat, GREY_RANGE_PERCENTILES, axis=1)
    mid = (lo + hi) / 2.0
    half = np.maximum(hi - lo, MIN_CONTRAST) / 2.0
    scaled = (batch - mid[:, None, None]) / half[:, None, None]
    return np.clip(scaled, -1.0, 1.0, out=scaled)[:, None, :, :].astype(np.float32)


def valid_frames(valid_width_px: int, n_frames: int, stride_px: int = FRAME_STRIDE_PX) -> int:
    """How many of a line's ``n_frames`` CTC frames cover its ``valid_width_px`` (one frame of
    slack for the receptive field); at least 1."""
    return max(1, min(n_frames, math.ceil(valid_width_px / stride_px) + 1))


def line_batch(
    lines: Sequence[ImageBGR], height_px: int = LINE_HEIGHT_PX, width_px: int = LINE_WIDTH_PX
) -> tuple[FloatArray, list[int]]:
    """Lines to the model input ``(N, 1, height_px, width_px)`` float32 and each line's valid width."""
    greys: list[GreyArray] = []
    widths: list[int] = []
    for ln in lines:
        g, w = line_grey(ln, height_px, width_px)
        greys.append(g)
        widths.append(w)
    if not greys:
        return np.zeros((0, 1, height_px, width_px), np.float32), []
    return normalise(greys), widths
