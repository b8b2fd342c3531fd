"""Where a plate's text lies in a loosely cut crop.

A crop cut with a margin around a plate (a detector's box grown at both ends, a crop someone
cut by hand, the synthetic test sets' 8-25 % margins) holds scene round the plate: the vehicle's
paint and lamps, a pole, the plate's holder, a state name over a US plate. Rectification
(:func:`vision.anpr.rectify.rectify`) groups character-like blobs into lines; with the scene
round them it picks up blobs of the scene, measures a slope from them or misses the EU band,
which it looks for near the crop's left edge. The same plates cut tight are read right much
more often (on s910's 563 legible plates cut with 2-6 % margins instead of 8-25 %: 0.965 ->
0.981; nineteenth session, ``docs/anpr-log.md``).

:func:`text_box` finds the plate's text as the band of the crop where vertical edges are
densest: characters are rows of strokes, each with two vertical edges, where the scene round a
plate has fewer, longer ones. The horizontal gradient (the strongest of the three colour
channels, so that black on a red plate counts) is averaged over a box about 0.4 of the
height wide and 0.06 high, and the energy blobs above a threshold are grouped: the tall
blob with the most energy, then every blob on the same rows (the rest of its line) or stacked above
or below it (a two-line plate's other line). The crop is analysed 50 px high (about 0.15 ms).
:func:`text_crop` cuts the crop to that box with a margin when the cut is clearly narrower than
the crop; the reader reads such a cut again when its first reading was not sure
(:attr:`vision.anpr.reader.ReaderOptions.locate_unsure`).
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.types import ImageBGR

ANALYSIS_HEIGHT_PX = 50
"""Crops are analysed scaled to this height."""

ENERGY_BOX_H = 0.12
"""The gradient is averaged over a box ``3 k`` wide and ``k / 2`` high (odd), ``k`` this share of
the analysis height rounded down to an odd number: 21 x 3 px at 50 px high, 0.42 and 0.06 of
the height. Wide enough to join a line's strokes, low enough to keep lines apart."""

ENERGY_PERCENTILE = 60.0
ENERGY_OF_MAX = 0.35
"""A pixel is text-like when its averaged gradient is at least the crop's :data:`ENERGY_PERCENTILE`
percentile and :data:`ENERGY_OF_MAX` of its maximum."""

MAX_BLOBS = 40
"""At most this many blobs (the most energetic) are grouped: a noisy crop makes hundreds, and
grouping them costs milliseconds. The crops of the sets in ``docs/anpr-log.md`` have at most 31."""

MIN_BLOB_HEIGHT = 0.12
"""Blobs less tall than this share of the crop's height are left out (edges, scratches, a US
plate's state name), once pieces of one blob are put together (:data:`PIECE_GAP`)."""

PIECE_GAP = 0.05
"""Two blobs each less tall than :data:`MIN_BLOB_HEIGHT` (but at least half as tall as it),
one over the other (half the narrower's width in common) and at most this share of the crop's
height apart, are one: a single character on a short top line (``B`` over ``RH16``) has no
vertical edges in its middle bar and its strokes make two blobs, each 6-7 % of the height tall."""

SAME_ROWS = 0.5
"""A blob is on the text's rows when they overlap by this share of the lower one's height."""

STACKED_GAP = 0.3
"""A blob over or under the text (half its width or more within the text's columns) joins it
across a gap of at most this share of the text's height."""

CUT_MARGIN_X = 0.04
CUT_MARGIN_X_OF_H = 0.15
"""The cut's margin at each end: :data:`CUT_MARGIN_X` of the text's width plus
:data:`CUT_MARGIN_X_OF_H` of its height (a character's half-width at a line's end whose strokes
were not dense enough)."""

CUT_MARGIN_Y = 0.25
"""The cut's margin above and below: this share of the text's height."""

Box = tuple[int, int, int, int]
"""``(x1, y1, x2, y2)`` in pixels, end-exclusive."""


def text_box(crop: ImageBGR) -> Box | None:
    """The box of the plate's text in ``crop`` ``(H, W, 3)`` uint8 BGR, in its pixels (within the
    crop); ``None`` when no text-like band was found. See the module doc. The grouping joins any
    blob on the text's rows, however far along them: scene beside a plate (a grille at the same
    height) widens the box, and the cut is then less tight, not wrong."""
    h, w = crop.shape[:2]
    if h < 2 or w < 2:
        return None
    scale = ANALYSIS_HEIGHT_PX / float(h)
    width = max(8, round(w * scale))
    small = cv2.resize(crop, (width, ANALYSIS_HEIGHT_PX), interpolation=cv2.INTER_AREA)
    # the strongest channel's |gradient|, as max(max, -min) over the channels with cv2: the same
    # values as np.abs(...).max(axis=2), several times faster
    b, g, r = cv2.split(cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3))
    gx = cv2.max(cv2.max(cv2.max(b, g), r), -cv2.min(cv2.min(b, g), r))
    k = max(3, int(ENERGY_BOX_H * ANALYSIS_HEIGHT_PX)) | 1
    energy = np.asarray(cv2.blur(gx, (3 * k, k // 2 | 1)), np.float32)
    top = float(energy.max())
    if top <= 0.0:
        return None
    on = energy >= max(float(np.percentile(energy, ENERGY_PERCENTILE)), ENERGY_OF_MAX * top)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(on.astype(np.uint8), connectivity=4)
    mass = np.bincount(labels.ravel(), weights=energy.ravel(), minlength=n)
    tall = MIN_BLOB_HEIGHT * ANALYSIS_HEIGHT_PX
    found = [
        (float(mass[i]), int(x), int(y), int(x + bw), int(y + bh))
        for i, (x, y, bw, bh, _) in enumerate(stats)
        if i > 0 and bh >= tall / 2
    ]
    found = sorted(found, reverse=True)[:MAX_BLOBS]
    pieces = _join_pieces([b for b in found if b[4] - b[2] < tall])
    blobs = [b for b in found if b[4] - b[2] >= tall] + [b for b in pieces if b[4] - b[2] >= tall]
    if not blobs:
        return None
    _, x1, y1, x2, y2 = max(blobs)
    grown = True
    while grown:
        grown = False
        for _, bx1, by1, bx2, by2 in blobs:
            if bx1 >= x1 and bx2 <= x2 and by1 >= y1 and by2 <= y2:
                continue
            text, blob = (x1, y1, x2, y2), (bx1, by1, bx2, by2)
            same_rows = -_row_gap(text, blob) >= SAME_ROWS * min(y2 - y1, by2 - by1)
            under_or_over = _common_columns(text, blob) >= 0.5 * (bx2 - bx1) and _row_gap(
                text, blob
            ) <= STACKED_GAP * (y2 - y1)
            if same_rows or under_or_over:
                x1, y1, x2, y2 = min(x1, bx1), min(y1, by1), max(x2, bx2), max(y2, by2)
                grown = True
    return (
        min(w, int(x1 / scale)),
        min(h, int(y1 / scale)),
        min(w, int(np.ceil(x2 / scale))),
        min(h, int(np.ceil(y2 / scale))),
    )


def _join_pieces(pieces: list[tuple[float, int, int, int, int]]) -> list[tuple[float, int, int, int, int]]:
    """``(energy, x1, y1, x2, y2)`` blobs with those one over the other and at most
    :data:`PIECE_GAP` apart joined (energies summed)."""
    gap = PIECE_GAP * ANALYSIS_HEIGHT_PX
    out = list(pieces)
    joined = True
    while joined:
        joined = False
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                ea, ax1, ay1, ax2, ay2 = out[i]
                eb, bx1, by1, bx2, by2 = out[j]
                a, b = (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2)
                if _common_columns(a, b) >= 0.5 * min(ax2 - ax1, bx2 - bx1) and _row_gap(a, b) <= gap:
                    out[i] = (ea + eb, min(ax1, bx1), min(ay1, by1), max(ax2, bx2), max(ay2, by2))
                    del out[j]
                    joined = True
                    break
            if joined:
                break
    return out


def _common_columns(a: Box, b: Box) -> int:
    """How many columns boxes ``a`` and ``b`` share (negative: how far apart they are)."""
    return min(a[2], b[2]) - max(a[0], b[0])


def _row_gap(a: Box, b: Box) -> int:
    """How many rows lie between boxes ``a`` and ``b`` (negative: how many they share)."""
    return max(a[1], b[1]) - min(a[3], b[3])


def text_crop(crop: ImageBGR, narrower_than: float) -> ImageBGR | None:
    """``crop`` cut to its text (:func:`text_box`) with a margin (:data:`CUT_MARGIN_X`,
    :data:`CUT_MARGIN_Y`), when that cut is less than ``narrower_than`` of the crop's width; else
    ``None`` (a tight crop, or no text found). A view of ``crop``, at least 8 px each way."""
    h, w = crop.shape[:2]
    box = text_box(crop)
    if box is None:
        return None
    x1, y1, x2, y2 = box
    mx = CUT_MARGIN_X * (x2 - x1) + CUT_MARGIN_X_OF_H * (y2 - y1)
    my = CUT_MARGIN_Y * (y2 - y1)
    cx1, cy1 = max(0, int(x1 - mx)), max(0, int(y1 - my))
    cx2, cy2 = min(w, int(x2 + mx + 1)), min(h, int(y2 + my + 1))
    if cx2 - cx1 >= narrower_than * w or cx2 - cx1 < 8 or cy2 - cy1 < 8:
        return None
    return crop[cy1:cy2, cx1:cx2]
