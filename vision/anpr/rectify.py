"""Plate-crop rectification before reading. Pure functions (OpenCV + NumPy).

Given a plate crop ``(H, W, 3)`` uint8 BGR, :func:`rectify` finds the plate's characters
as connected components of a locally thresholded image (dark-on-light and light-on-dark
both tried), groups them into text lines of similar character height, and:

- **deskews**: rotates the crop so the main line's character centres lie on a horizontal
  line (the slant of the characters' baseline is the plate's own edge direction, and it
  is found even when the plate border is cut off or hidden; a line that level grouping cuts
  into pieces is grouped along slopes, :func:`_sloped_groups`). When no line of 4 or more
  characters is found as the crop stands (a plate turned 15-25 degrees falls apart: its
  characters' boxes overlap), the turn that makes the text pixels fall most sharply into
  rows (:func:`_profile_score`) is tried, and the lines are found in the crop so turned. A
  deskew measured on a short line after which fewer lines are found, the longest no longer
  than before, is not applied (:func:`_loses_a_line`);
- **drops the EU blue band**: components inside a saturated blue strip at the left (starting
  up to :data:`BAND_START_MAX` into a loosely cut crop) are ignored (the band's country letters
  would otherwise be read as part of the mark);
- **trims the border** and livery text: each line is cropped to its characters (with a
  margin of :data:`LINE_PAD_X` character heights), so plate frames, state names, slogans and
  dealer text are not read. A character the component analysis missed (touching the plate's
  edge, the band or its neighbour) is kept: the line's span grows over ink next to it
  (:func:`_grow_span`) and stops at a plate edge (ink well above and below the characters);
  where the plate's frame hugs the characters, so that a character touching it passes for the
  edge, the line's box grown with no such stop is kept beside it (:attr:`TextLine.hugged_box`);
  a component enclosing other components is a frame, not a character (:func:`_drop_frames`);
- **detects two-line plates**: a second line whose characters are nearly as tall as the
  main line's, above or below it, makes the plate two-line in a crop at most
  :data:`TWO_LINE_MAX_ASPECT` times as wide as high; lines come top then bottom. On a
  squarish crop where only one short line was found in its top or bottom part, an inked band
  of the same height on the other side is taken as the second line (:func:`_other_line`: a
  small or blurred trailer mark's other line is often one blob). On a squarish crop, a
  character joined to the one under it (the lines nearly touch) is split at the thin link
  (:func:`_split_stacked`). A squarish crop, not deskewed, where no line or a line of fewer
  than 3 characters was found is looked at again for characters down to
  :data:`SQUARE_MIN_CHAR_HEIGHT` of its height (a loosely cut two-line plate's), taken when that
  finds two lines, one of 3 characters or more, with more characters (:func:`_shorter_look`).

The result, :class:`Rectified`, carries the 2x3 affine ``matrix`` from crop pixels to
rectified pixels and each line's box in rectified pixels, so a box can be mapped back to
the crop with :func:`invert_affine`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from vision.anpr.line_input import grey_percentiles, plate_grey
from vision.preprocess import turn_in_place
from vision.types import ImageBGR

ANALYSIS_HEIGHT_PX = 100
"""Crops are analysed at this height (the line boxes are mapped back to full resolution)."""

LINE_PAD_X = 0.6
"""Margin left and right of a line's characters, in character heights (small: the span has
already grown over missed characters, and a wider margin takes in plate edges read as 1/I)."""

GROW_GAP_CH = 0.8
"""Widest gap (in character heights) a line's span grows across to ink the components missed."""

GROW_MAX_CH = 3.0
"""Furthest (in character heights) a line's span grows on each side beyond its components."""

BORDER_REACH_CH = 0.3
"""How far above and below a line (character heights) a column's ink must reach for the column
to be a plate's edge (:func:`_grow_span`), and the rows checked for a frame hugging the line
(:func:`_frame_hugs`)."""

HUGGED_FRAME = 0.9
"""Share of a line's columns with ink just above *and* just below it (:data:`BORDER_REACH_CH`)
from which the plate's frame is taken to hug the characters (:attr:`TextLine.hugged_box`)."""

HUGGED_MIN_GROWTH_CH = 0.6
"""A line grown through a hugging frame is read only when it grew this much (character heights)
at one end or the other: a character's width (thinner growth is the frame's own edge, and the
extra reading cost 1.5 ms a plate at the median when any growth counted)."""

SQUARE_ASPECT = 2.2
"""A crop at most this many times as wide as high (blue band excluded) may hold a two-line plate."""

TWO_LINE_MAX_ASPECT = 2.6
"""A crop at most this many times as wide as high (blue band excluded) may show a second line of
character components (:func:`_find_lines`). A two-line plate squashed by a steep camera and cut
with the lane's wider margins stays under it (a UK trailer mark, 1.37:1, at 0.7 of its height
with 12 % margins each side: 2.4:1); a single line turned 9 degrees in a crop 3:1 (``VOB320``)
or under a hatched edge at 2.67:1 (``LSF6893``) does not. Looser than :data:`SQUARE_ASPECT`,
which gates the weaker evidence of :func:`_other_line`."""

SAME_BACKGROUND_GREY = 40
"""Largest difference (grey levels) between two lines' plate backgrounds on one plate."""

OTHER_BG_PCT = 80
"""A line's plate background, for :func:`_other_line`: this percentile of its band's pixels that
are not ink (the plate's white; a median falls on blur or shadow grey between close characters:
a lane crop's ``RWF`` over ``7543A`` had 171 under ``7543A`` against 225 around ``RWF``)."""

OTHER_BRIGHTER_GREY = 70
"""How much brighter (grey levels) the other line's background of :func:`_other_line` may be than
the found line's (darker: :data:`SAME_BACKGROUND_GREY`). Blur greys the white between a line's
close, bold characters, so the found line's background reads darker than the blob's above it: a
lane crop's PL ``BP`` over ``5559W`` (42 px high, 7 degrees turned) had 127 under ``5559W``
against 191 round ``BP`` (bench lane set 5281, read ``5559W`` 1.00 sure until then); blur
never makes it brighter."""

OTHER_INK_COLUMNS = 0.35
"""The other line of :func:`_other_line` has ink in at least this share of the found line's
columns: a PL square plate's 2 characters over 5 (``ZY`` over ``1517R``) fill about 0.4 of them
(0.5 until the twentieth session missed them)."""

HALVES_OVERLAP = 0.06
"""How far past the middle (fraction of the height) each half of :meth:`Rectified.halves` reaches."""

GROUP_SLOPES = (0.0, *(math.tan(math.radians(a)) for a in (-15, -10, -5, 5, 10, 15)))
"""Slopes (dy/dx) along which character centres are grouped into lines; level comes first."""

SLOPE_SEARCH_BELOW = 4
"""Tilted groupings are tried only when the best level line has fewer characters than this, or
fewer than :data:`SLOPE_SEARCH_SHARE` of the components."""

SLOPE_SEARCH_SHARE = 0.6
"""Tilted groupings are also tried when the best level line holds less than this share of the
character-like components: a plate turned 10 degrees groups level into pieces of 3-4 characters
(``XW198LK``: ``8``, ``L``, ``K`` and the department's ``88`` out of 10 components; along
-15 degrees, the first slope tried, 7, and deskewed by their slope, all 9). See
:func:`_sloped_groups` for when the search ends."""

SLOPE_SHARE_GAIN = 2
"""A level line of :data:`SLOPE_SEARCH_BELOW` or more characters gives way to a sloped one only
when that is this many characters longer (one more is as likely a raindrop or screw joining a
wrong slope: ``NRT827``, 4 level, 5 along -5 degrees, deskewed the wrong way and read ``RT827``)."""

TURN_CANDIDATES = (-25.0, -20.0, -15.0, -10.0, -5.0, 5.0, 10.0, 15.0, 20.0, 25.0)
"""Turns (degrees) tried on a crop whose main line is short (:data:`SLOPE_SEARCH_BELOW`): a plate
turned by 15-25 degrees falls apart into short lines, because each character's box overlaps
its neighbours' and tilted grouping cannot join them."""

TURN_MIN_GAIN = 1.1
"""A turn is taken when it makes the ink's row profile this much sharper than as the crop stands
(:func:`_profile_score`); a blurred or two-line plate is sharpest level and is left alone."""

MIN_CHAR_HEIGHT = 0.2
"""Shortest character component, as a fraction of the analysed crop's height."""

SQUARE_MIN_CHAR_HEIGHT = 0.16
"""The same in a second look at a crop that may hold a two-line plate (:func:`_squarish`) where
the first found no line or a line of fewer than 3 characters: each line's characters are about
a third of such a plate's height, and a crop cut loosely (margins up to a quarter) shows them
at 0.16-0.2 of its height once the analysis's erosion has taken its pixel off each side (``KN``
/ ``181K``: no line found at 0.2; ``FYF`` / ``91940``: two of the bottom line's five
characters). Used only when it finds two lines with more characters (:func:`_shorter_look`)."""

STACKED_HALF = (0.35, 0.65)
"""A component is two stacked characters (a two-line plate's lines touching) when at least two
others are this share of its height (:func:`_split_stacked`)..."""

STACKED_WAIST = 0.6
"""... and its thinnest row in the middle 30-70 % of its height holds at most this share of its
widest row's ink."""

TURNED_MIN_CHAR_HEIGHT = 0.1
"""The same after a turn search chose a turn of :data:`STEEP_TURN_DEG` or more: a plate turned
20 degrees fills far less of the height of the box around it, and its characters with it (a
4.7:1 plate: 2.5 times less). Lower after smaller turns, it took blurred lane plates' specks for
characters."""

STEEP_TURN_DEG = 15.0
"""Turns from which :data:`TURNED_MIN_CHAR_HEIGHT` applies."""

TURN_MAX_DEG = 30.0
"""Largest deskew after a turn search (the turn plus the residual slope of its main line)."""

BAND_START_MAX = 0.2
"""The EU blue band starts within this share of the crop's width (:func:`blue_band_width`). A crop
cut with a margin around a square plate (PL or D two-line) has its band 12-16 % in; at 0.08
the band's letters were taken for characters and spoilt the line grouping."""

BAND_AT_EDGE = 0.08
"""A blue run starting this far into the crop or further is a band only when what is left of it
is not the plate's background (:func:`_outside_plate`): a US plate's blue first character
(``469BWW``) is blue, as tall, and as far in."""

Box = tuple[int, int, int, int]
"""``(x1, y1, x2, y2)`` in pixels, end-exclusive."""


@dataclass(frozen=True, slots=True)
class TextLine:
    """One line of plate characters.

    ``box`` is the line's crop (characters plus margin) and ``char_boxes`` the characters,
    both in pixels of :attr:`Rectified.image`.
    """

    box: Box
    char_boxes: tuple[Box, ...]
    hugged_box: Box | None = None
    """When the plate's frame hugs the characters (a blurred night plate's), every character
    touching it passes for the plate's edge and stops the line's growth (:func:`_grow_span`):
    the line's box grown with no such stop, when that is wider than :attr:`box`; else ``None``."""

    @property
    def char_height_px(self) -> float:
        return _median([b[3] - b[1] for b in self.char_boxes]) if self.char_boxes else 0.0


@dataclass(frozen=True, slots=True, eq=False)
class Rectified:
    """A deskewed crop and its text lines, top first.

    ``image`` is ``(H, W, 3)`` uint8 BGR, same size as the input crop. ``matrix`` is the
    2x3 float64 affine transform from input-crop pixels to ``image`` pixels.
    ``angle_deg`` is the rotation applied (counter-clockwise positive, OpenCV's
    convention). ``band_width_px`` is the width of the EU blue band found at the left
    (0 when none). ``lines`` is empty when no characters were found: read the whole image.
    """

    image: ImageBGR
    matrix: npt.NDArray[np.float64]
    angle_deg: float
    band_width_px: int
    lines: tuple[TextLine, ...]

    @property
    def two_line(self) -> bool:
        return len(self.lines) == 2

    def halves(self, max_aspect: float, overlap: float = HALVES_OVERLAP) -> list[ImageBGR]:
        """The top and bottom halves of :attr:`image` (blue band left out, each ``overlap`` of the
        height past the middle) when it is at most ``max_aspect`` times as wide as high and at
        least 4 px high, else none: the lines of a two-line plate whose lines were not found."""
        h, w = self.image.shape[:2]
        if h < 4 or w - self.band_width_px > max_aspect * h:
            return []
        cut, extra = h // 2, round(overlap * h)
        body = self.image[:, self.band_width_px :]
        return [body[: cut + extra], body[max(0, cut - extra) :]]

    def wide_line_images(self, min_cover: float, grow: float = 0.0) -> list[ImageBGR]:
        """Each line's rows across the whole width right of the blue band, when the lines cover
        less than ``min_cover`` of that width; else none. The rows are grown by ``grow`` of the
        line box's height up and down (not past the image, nor past the middle of the gap to the
        other line of a two-line plate; never less than the line's own rows): characters beyond
        the line found, on a plate still a little tilted, sit higher or lower than its rows
        (``SC23LDD``'s ``LDD``, cut by the rows of ``SC23``, read ``1LDD``)."""
        if not self.lines:
            return []
        h, w = self.image.shape[:2]
        x1 = min(ln.box[0] for ln in self.lines)
        x2 = max(ln.box[2] for ln in self.lines)
        if x2 - x1 >= min_cover * max(1, w - self.band_width_px):
            return []
        rows: list[tuple[int, int]] = []
        for i, ln in enumerate(self.lines):
            _, y1, _, y2 = ln.box
            extra = round(grow * (y2 - y1))
            top = (self.lines[i - 1].box[3] + y1) // 2 if i > 0 else 0
            bottom = (y2 + self.lines[i + 1].box[1] + 1) // 2 if i + 1 < len(self.lines) else h
            rows.append((min(y1, max(top, y1 - extra)), max(y2, min(bottom, y2 + extra))))
        return [self.image[y1:y2, self.band_width_px :] for y1, y2 in rows]

    def hugged_line_images(self) -> list[ImageBGR]:
        """The crop of each line, grown through a hugging frame where one was
        (:attr:`TextLine.hugged_box`); none when no line has such a box."""
        if not any(ln.hugged_box for ln in self.lines):
            return []
        boxes = [ln.hugged_box or ln.box for ln in self.lines]
        return [self.image[y1:y2, x1:x2] for (x1, y1, x2, y2) in boxes]

    def line_images(self) -> list[ImageBGR]:
        """The crop of each line (top first); the whole image when no line was found."""
        if not self.lines:
            return [self.image]
        return [self.image[y1:y2, x1:x2] for (x1, y1, x2, y2) in (ln.box for ln in self.lines)]


def invert_affine(matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The inverse of a 2x3 affine transform (rectified pixels -> crop pixels)."""
    return np.asarray(cv2.invertAffineTransform(matrix), np.float64)


def blue_band_width(image: ImageBGR, *, max_fraction: float = 0.2) -> int:
    """Width in pixels of an EU blue band at the left edge of a plate crop, 0 if none.

    A column belongs to the band when at least 40% of its pixels are saturated blue
    (HSV hue 95-130 on OpenCV's 0-180 scale, saturation >= 90, value >= 50). The band is
    the run of such columns starting within the first :data:`BAND_START_MAX` of the width and at most
    ``max_fraction`` of the width wide.
    """
    w = image.shape[1]
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    blue = (hsv[:, :, 0] >= 95) & (hsv[:, :, 0] <= 130) & (hsv[:, :, 1] >= 90) & (hsv[:, :, 2] >= 50)
    cols = blue.mean(axis=0) >= 0.4
    limit = max(1, int(w * max_fraction))
    start_limit = max(1, int(w * BAND_START_MAX))
    first = next((x for x in range(min(start_limit, w)) if cols[x]), None)
    if first is None:
        return 0
    x = first
    while x < w and cols[x]:
        x += 1
    run = x - first
    if run < max(2, int(w * 0.03)) or x > limit + first:
        return 0
    if first >= int(w * BAND_AT_EDGE) and not _outside_plate(image, first, x):
        return 0
    return int(x)


def _outside_plate(image: ImageBGR, x1: int, x2: int) -> bool:
    """Whether the strip left of columns ``[x1, x2)`` of ``image`` (as wide as they are, or what
    there is of it) differs from the strip right of them by more than
    :data:`SAME_BACKGROUND_GREY` (median grey): the scene round a plate, not the plate's own
    background round a blue character."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    run = x2 - x1
    left = grey[:, max(0, x1 - run) : x1]
    right = grey[:, x2 : x2 + run]
    if left.size == 0 or right.size == 0:
        return True
    return abs(float(np.median(left)) - float(np.median(right))) > SAME_BACKGROUND_GREY


def _median(values: Sequence[float]) -> float:
    """``float(np.median(values))`` of a short list (character heights, centres), without NumPy's
    overhead of some 15 us a call: the line grouping takes thousands per plate. The two middle
    values of an even count are averaged as NumPy does, ``(a + b) / 2``. For Python numbers
    without NaN (NumPy's median of a NaN is NaN; sorting here is not)."""
    s = sorted(values)
    n = len(s)
    if n == 0:
        raise ValueError("median of no values")
    mid = n // 2
    return float(s[mid]) if n % 2 else (s[mid - 1] + s[mid]) / 2.0


def _ink(gray: npt.NDArray[np.uint8], dark_text: bool) -> npt.NDArray[np.uint8]:
    """Locally thresholded text pixels (255) of one polarity, in ``gray``'s pixels."""
    block = max(3, (gray.shape[0] // 3) | 1)
    mode = cv2.THRESH_BINARY_INV if dark_text else cv2.THRESH_BINARY
    c = 7 if dark_text else -7
    return np.asarray(cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, mode, block, c), np.uint8)


def _char_components(
    ink: npt.NDArray[np.uint8], x_min: int, min_height: float = MIN_CHAR_HEIGHT
) -> list[Box]:
    """Character-like connected components of a thresholded image ``ink`` (see :func:`_ink`), at
    least ``min_height`` of its height tall."""
    h = ink.shape[0]
    # thin links (screws, frame text, underlines touching a character) break under erosion
    binary = cv2.erode(ink, np.ones((3, 3), np.uint8), iterations=1)
    n, label_image, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    labels = np.asarray(label_image, np.int32)  # int32 already: no copy
    kept: dict[Box, int] = {}
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        box = (x, y, x + bw, y + bh)
        if x >= x_min and _char_like(box, area, h, min_height):
            kept[box] = i
    boxes = _split_stacked(kept, labels, h, min_height) if _squarish(ink.shape[1], x_min, h) else list(kept)
    return _drop_frames(boxes)


def _squarish(width: float, band: float, height: float, limit: float = SQUARE_ASPECT) -> bool:
    """Whether a crop ``width`` wide with a blue band ``band`` wide and ``height`` high is at most
    ``limit`` times as wide as high, the band left out (by default :data:`SQUARE_ASPECT`, a
    two-line plate's proportions)."""
    return width - band <= limit * height


def _char_like(box: Box, area: int, h: int, min_height: float) -> bool:
    """Whether a component's box (``area`` its pixel count) has a character's height (from
    ``min_height`` to 0.95 of the image's ``h``), proportions and fill."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    if bh < min_height * h or bh > 0.95 * h:
        return False
    if bw > 1.3 * bh or bh > 12 * bw:
        return False
    return 0.12 <= area / float(bw * bh) <= 0.95


def _split_stacked(
    kept: dict[Box, int], labels: npt.NDArray[np.int32], h: int, min_height: float
) -> list[Box]:
    """Boxes of ``kept`` components (box -> its label in ``labels``, the connected components'
    label image), with two characters of a two-line plate that touch, one over the other, split
    into two.

    On a small square plate the lines nearly touch, and a character can join the one under it
    (`T` over `1` in `TN` / `515N`): that component is twice the others' height, so neither
    line is found whole. It is split (:func:`_split_at_waist`) when at least two other
    components are :data:`STACKED_HALF` of its height and over twice as many as those taller
    than that (a line's characters as tall as it), and the parts fit two lines
    (:func:`_split_fits`). ``h``: the analysed image's height. Only squarish crops are split
    (:func:`_char_components`)."""
    boxes = list(kept)
    out: list[Box] = []
    for box, label in kept.items():
        bh = box[3] - box[1]
        others = [b for b in boxes if b != box]
        halves = [b for b in others if STACKED_HALF[0] * bh <= b[3] - b[1] <= STACKED_HALF[1] * bh]
        as_tall = sum(b[3] - b[1] > STACKED_HALF[1] * bh for b in others)
        parts = None
        if len(halves) >= 2 and len(halves) > 2 * as_tall:
            parts = _split_at_waist(box, labels[box[1] : box[3], box[0] : box[2]] == label)
        if parts is not None and _split_fits(parts, halves, h, min_height):
            out.extend(part for part, _ in parts)
        else:
            out.append(box)
    return out


def _split_fits(parts: list[tuple[Box, int]], halves: list[Box], h: int, min_height: float) -> bool:
    """Whether two parts (box, pixel count) of a split component are characters of two lines:
    character-like, of like height (0.7-1.3), each in line with one of ``halves``
    (:func:`_in_line`)."""
    (top, _), (bottom, _) = parts
    th, bh = top[3] - top[1], bottom[3] - bottom[1]
    if not 0.7 * bh <= th <= 1.3 * bh:
        return False
    for part, area in parts:
        cy, ph = (part[1] + part[3]) / 2.0, part[3] - part[1]
        if not _char_like(part, area, h, min_height) or not any(
            _in_line(cy, ph, (b[1] + b[3]) / 2.0, b[3] - b[1]) for b in halves
        ):
            return False
    return True


def _split_at_waist(box: Box, mask: npt.NDArray[np.bool_]) -> list[tuple[Box, int]] | None:
    """The two parts (box, pixel count) of a component ``mask`` (its box's pixels) above and
    below its thinnest row in the middle 30-70 % of its height and the rows round it holding
    at most twice as much ink plus one pixel (the link), if that row holds at most
    :data:`STACKED_WAIST` of the widest row's ink; None otherwise."""
    rows = mask.sum(axis=1)
    bh = len(rows)
    lo, hi = int(0.3 * bh), math.ceil(0.7 * bh)
    if hi <= lo or rows.max() == 0:
        return None
    cut = lo + int(np.argmin(rows[lo:hi]))
    if rows[cut] > STACKED_WAIST * rows.max():
        return None
    # the link between the two characters: the thin rows round the thinnest
    thin = 2 * rows[cut] + 1
    y1, y2 = cut, cut + 1
    while y1 > 0 and rows[y1 - 1] <= thin:
        y1 -= 1
    while y2 < bh and rows[y2] <= thin:
        y2 += 1
    parts: list[tuple[Box, int]] = []
    for y0, piece in ((0, mask[:y1]), (y2, mask[y2:])):
        ys = np.flatnonzero(piece.any(axis=1))
        xs = np.flatnonzero(piece.any(axis=0))
        if ys.size == 0:
            return None
        parts.append(
            (
                (
                    box[0] + int(xs[0]),
                    box[1] + y0 + int(ys[0]),
                    box[0] + int(xs[-1]) + 1,
                    box[1] + y0 + int(ys[-1]) + 1,
                ),
                int(piece.sum()),
            )
        )
    return parts


def _drop_frames(boxes: list[Box]) -> list[Box]:
    """Without the components that enclose two or more others' centres: a plate's frame or a
    sticker's outline is not a character (on a small two-line plate it is the tallest
    component and would otherwise be taken for the main line)."""

    def encloses(outer: Box, inner: Box) -> bool:
        cx, cy = (inner[0] + inner[2]) / 2.0, (inner[1] + inner[3]) / 2.0
        return inner != outer and outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]

    return [b for b in boxes if sum(encloses(b, q) for q in boxes) < 2]


def _group_lines(boxes: list[Box], slope: float = 0.0) -> list[list[Box]]:
    """Group character boxes into lines: similar height, centres on one line of ``slope``
    (dy/dx; 0: horizontal, the centres' heights compared after ``y - slope * x``)."""
    groups: list[list[Box]] = []

    def level(q: Box) -> float:
        return (q[1] + q[3]) / 2.0 - slope * (q[0] + q[2]) / 2.0

    for b in sorted(boxes, key=lambda b: -(b[3] - b[1])):
        bh = b[3] - b[1]
        cy = level(b)
        for g in groups:
            gh = _median([q[3] - q[1] for q in g])
            gcy = _median([level(q) for q in g])
            overlaps = any(not (b[2] <= q[0] or q[2] <= b[0]) for q in g)
            if _in_line(cy, bh, gcy, gh) and not overlaps:
                g.append(b)
                break
        else:
            groups.append([b])
    return [sorted(g) for g in groups]


def _in_line(cy: float, height: float, line_cy: float, line_h: float) -> bool:
    """Whether a character box centred at height ``cy`` and ``height`` tall belongs to a line
    centred at ``line_cy`` whose characters are ``line_h`` tall: centres within 0.35 of
    ``line_h``, heights 0.7-1.3 of it."""
    return abs(cy - line_cy) < 0.35 * line_h and 0.7 * line_h <= height <= 1.3 * line_h


def _sloped_groups(components: list[Box]) -> list[list[Box]]:
    """Lines of at least 2 characters, grouped level, or along a slope of :data:`GROUP_SLOPES`
    (a tilted plate's line falls apart when grouped level), searched in that order:

    - a level line of fewer than :data:`SLOPE_SEARCH_BELOW` characters: a sloped line longer than
      the best so far wins, and the search ends once the best has that many;
    - a level line of that many or more, but under :data:`SLOPE_SEARCH_SHARE` of the components: a
      sloped line wins only when :data:`SLOPE_SHARE_GAIN` characters longer than the level one
      (and longer than the best so far), and the search ends once the best holds that share;
    - otherwise the level line, with no search.

    Level is kept on a tie. A level line of 4 or more gives the skew angle itself."""
    best: list[list[Box]] = []
    best_n = 0
    level_n = 0  # a level line long enough on its own gives way only to one 2 characters longer
    share = SLOPE_SEARCH_SHARE * len(components)
    for slope in GROUP_SLOPES:
        if slope != 0.0 and best_n >= SLOPE_SEARCH_BELOW and (level_n == 0 or best_n >= share):
            break
        groups = [g for g in _group_lines(components, slope) if len(g) >= 2]
        if not groups:
            continue
        groups.sort(key=_line_score, reverse=True)
        n = len(groups[0])
        if slope == 0.0:
            best, best_n = groups, n
            level_n = n if n >= SLOPE_SEARCH_BELOW else 0
        elif n > best_n and n >= level_n + SLOPE_SHARE_GAIN:
            best, best_n = groups, n
    return best


def _line_score(group: list[Box]) -> float:
    heights = [b[3] - b[1] for b in group]
    return len(group) * _median(heights)


def _find_lines(
    gray: npt.NDArray[np.uint8], x_min: int, min_height: float = MIN_CHAR_HEIGHT
) -> tuple[list[list[Box]], list[Box], npt.NDArray[np.uint8]]:
    """The main character line and, for a two-line plate in a crop at most
    :data:`TWO_LINE_MAX_ASPECT` times as wide as high (the band ``x_min`` left out), the other
    one (top first), every character-like component (at least ``min_height`` of the height tall)
    of the polarity they were found in, and that polarity's thresholded image (:func:`_ink`)."""
    best: list[list[Box]] = []
    best_components: list[Box] = []
    best_ink = np.zeros_like(gray)
    best_score = 0.0
    for dark in (True, False):
        ink = _ink(gray, dark)
        components = _char_components(ink, x_min, min_height)
        groups = _sloped_groups(components)
        if not groups:
            continue
        main = groups[0]
        score = _line_score(main)
        lines = [main]
        main_h = _median([b[3] - b[1] for b in main])
        # a sliver on the left or right edge (the plate's border, grouped with the line) is no
        # character: its length must not stretch the line over the other line (a trailer mark's
        # bottom line was lost so, A7976572 read A797)
        inner = _off_the_edges(main, x_min, gray.shape[1])
        main_y1 = min(b[1] for b in inner)
        main_y2 = max(b[3] for b in inner)
        main_x1 = min(b[0] for b in main)
        main_x2 = max(b[2] for b in main)
        # a second line only where the crop can hold a two-line plate: in a wider crop a "line"
        # under or over the main one is a tilted line's other end or the plate's hatched edge
        # (``VOB320`` read ``VOB320KY``, ``LSF6893`` read ``2R2DLSF6893``)
        for g in groups[1:] if _squarish(gray.shape[1], x_min, gray.shape[0], TWO_LINE_MAX_ASPECT) else ():
            gh = _median([b[3] - b[1] for b in g])
            g_inner = _off_the_edges(g, x_min, gray.shape[1])
            gy1 = min(b[1] for b in g_inner)
            gy2 = max(b[3] for b in g_inner)
            gx1 = min(b[0] for b in g)
            gx2 = max(b[2] for b in g)
            separate = gy2 <= main_y1 + 0.15 * main_h or gy1 >= main_y2 - 0.15 * main_h
            x_overlap = min(gx2, main_x2) - max(gx1, main_x1)
            if gh >= 0.75 * main_h and separate and x_overlap > 0.5 * min(gx2 - gx1, main_x2 - main_x1):
                lines.append(g)
                score += _line_score(g)
                break
        if score > best_score:
            best, best_score, best_components, best_ink = lines, score, components, ink
    return sorted(best, key=lambda g: min(b[1] for b in g)), best_components, best_ink


def _off_the_edges(line: list[Box], x_min: int, width: int) -> list[Box]:
    """The members of ``line`` that touch neither the left edge (the band's, ``x_min``) nor the
    right edge of an image ``width`` wide; all of them when every one does."""
    return [b for b in line if b[0] > x_min and b[2] < width] or line


def _skew_angle_deg(line: list[Box]) -> float:
    """Slope of the line through the characters' centres, in degrees (y down)."""
    if len(line) < 3:
        return 0.0
    xs = np.array([(b[0] + b[2]) / 2.0 for b in line])
    ys = np.array([(b[1] + b[3]) / 2.0 for b in line])
    if np.ptp(xs) <= 0:
        return 0.0
    slope = float(np.polyfit(xs, ys, 1)[0])
    return math.degrees(math.atan(slope))


def _reach(y1: int, y2: int, ch: float) -> tuple[int, int]:
    """The rows ``[y1, y2)`` of a line with :data:`BORDER_REACH_CH` character heights ``ch`` more
    above and below (may fall outside the image)."""
    return y1 - round(BORDER_REACH_CH * ch), y2 + round(BORDER_REACH_CH * ch)


def _frame_hugs(ink: npt.NDArray[np.uint8], y1: int, y2: int, x1: int, x2: int, ch: float) -> bool:
    """Whether ink lies just above *and* just below (0.3 character heights) at least
    :data:`HUGGED_FRAME` of a line's columns ``[x1, x2)``: the plate's frame hugs its characters."""
    e1, e2 = _reach(y1, y2, ch)
    if e1 < 0 or e2 > ink.shape[0] or x2 <= x1 or e1 >= y1 or e2 <= y2:
        return False
    on = ink > 0
    above = float(on[e1:y1, x1:x2].any(axis=0).mean())
    below = float(on[y2:e2, x1:x2].any(axis=0).mean())
    return min(above, below) >= HUGGED_FRAME


def _grow_span(
    ink: npt.NDArray[np.uint8],
    y1: int,
    y2: int,
    x1: int,
    x2: int,
    ch: float,
    x_min: int,
    *,
    borders: bool = True,
) -> tuple[int, int]:
    """Widen a line's character span ``[x1, x2)`` over ink the component analysis missed.

    A character touching the plate's edge, the EU band or its neighbour is not a component of
    its own, and the line would start or end without it. Columns of the line's band
    ``[y1, y2)`` holding ink (10% of the band or more) extend the span across gaps of at most
    :data:`GROW_GAP_CH` character heights, up to :data:`GROW_MAX_CH` on each side, never left
    of ``x_min`` (the blue band). A *border* column (ink without a break from 0.3 character
    heights above the band to 0.3 below it: a plate's edge or frame) stops the growth, unless
    ``borders`` is false.
    """
    h, w = ink.shape
    on = ink > 0
    col = on[y1:y2].mean(axis=0) if y2 > y1 else np.zeros(w)
    # a border column is ink from well above the characters to well below them without a
    # break (a character's stem ends at the band, with plate background above and below it)
    e1, e2 = _reach(y1, y2, ch)
    border = on[e1:e2].mean(axis=0) >= 0.85 if borders and e1 >= 0 and e2 <= h else np.zeros(w, bool)
    inked = col >= 0.1
    gap_max = GROW_GAP_CH * ch
    reach = GROW_MAX_CH * ch

    def grow(start: int, step: int, limit: int) -> int:
        edge, gap, x = start, 0, start + step
        while (x >= limit if step < 0 else x < limit) and abs(x - start) <= reach:
            if border[x]:
                break
            if inked[x]:
                edge, gap = x, 0
            else:
                gap += 1
                if gap > gap_max:
                    break
            x += step
        return edge

    return grow(x1, -1, max(0, x_min)), grow(x2 - 1, 1, w) + 1


def _other_line(
    gray: npt.NDArray[np.uint8], ink: npt.NDArray[np.uint8], line: list[Box], box: Box, scale: float, h: int
) -> TextLine | None:
    """The second line of a squarish plate where only one line's characters were found.

    On a small or blurred two-line plate (a UK trailer mark, a PL or D square plate) the other
    line's characters often merge into one blob and are no components. When the found line
    (at most 5 characters: a square plate's line is short) sits in the top or bottom part of
    the crop, the band of the same height next to it, on the other side, is the other line if
    ink covers :data:`OTHER_INK_COLUMNS` of its width, rows of ink span 60% of a character
    height, and its background (the :data:`OTHER_BG_PCT` percentile of the pixels that are not
    ink) is the main line's, no more than :data:`SAME_BACKGROUND_GREY` grey levels darker and
    :data:`OTHER_BRIGHTER_GREY` brighter (not the scene round a small plate in a loose crop).
    ``line`` is in analysis pixels (:data:`ANALYSIS_HEIGHT_PX` high), ``box`` its line box in
    crop pixels; the result is in crop pixels, without character boxes.
    """
    ah = ink.shape[0]
    ch = _median([b[3] - b[1] for b in line])
    y_lo = min(b[1] for b in line)
    y_hi = max(b[3] for b in line)
    centre = (y_lo + y_hi) / 2.0
    gap = 0.12 * ch
    if centre < 0.42 * ah:
        y1, y2 = round(y_hi + gap), round(y_hi + gap + ch)
    elif centre > 0.58 * ah:
        y1, y2 = round(y_lo - gap - ch), round(y_lo - gap)
    else:
        return None
    if y1 < 0 or y2 > ah:
        return None
    x1, x2 = round(box[0] * scale), round(box[2] * scale)
    region = ink[y1:y2, x1:x2] > 0
    if region.size == 0:
        return None
    cols = float((region.mean(axis=0) >= 0.1).mean())
    rows = int((region.mean(axis=1) >= 0.08).sum())
    if cols < OTHER_INK_COLUMNS or rows < 0.6 * ch:
        return None
    main_band = (slice(y_lo, y_hi), slice(x1, x2))
    main_bg = gray[main_band][ink[main_band] == 0]
    other_bg = gray[y1:y2, x1:x2][~region]
    if main_bg.size == 0 or other_bg.size == 0:
        return None
    (main_white,) = grey_percentiles(main_bg, (OTHER_BG_PCT,))
    (other_white,) = grey_percentiles(other_bg, (OTHER_BG_PCT,))
    if not -SAME_BACKGROUND_GREY <= other_white - main_white <= OTHER_BRIGHTER_GREY:
        return None
    pad_y = 0.18 * ch
    out = (box[0], max(0, int((y1 - pad_y) / scale)), box[2], min(h, math.ceil((y2 + pad_y) / scale)))
    return TextLine(out, ())


def _line_box(
    line: list[Box],
    others: list[Box],
    ink: npt.NDArray[np.uint8],
    x_min: int,
    scale: float,
    w: int,
    h: int,
) -> tuple[Box, tuple[Box, ...], Box | None]:
    """A line's box (characters, grown over missed ink, plus margins), its characters' boxes, in
    crop pixels, and the box grown through a hugging frame (:attr:`TextLine.hugged_box`)."""
    ch = _median([b[3] - b[1] for b in line])
    y_lo = min(b[1] for b in line)
    y_hi = max(b[3] for b in line)
    # characters the grouping missed (a different size, touching an emblem) but in the same band
    same_band = [
        b
        for b in others
        if y_lo - 0.3 * ch <= (b[1] + b[3]) / 2.0 <= y_hi + 0.3 * ch and b[3] - b[1] >= 0.5 * ch
    ]
    xs = [*line, *same_band]
    cx1, cx2 = min(b[0] for b in xs), max(b[2] for b in xs)
    gx1, gx2 = _grow_span(ink, y_lo, y_hi, cx1, cx2, ch, x_min)
    pad_y = 0.18 * ch
    pad_x = LINE_PAD_X * ch

    def to_crop(sx1: int, sx2: int) -> Box:
        return (
            max(0, int((sx1 - pad_x) / scale)),
            max(0, int((y_lo - pad_y) / scale)),
            min(w, math.ceil((sx2 + pad_x) / scale)),
            min(h, math.ceil((y_hi + pad_y) / scale)),
        )

    box = to_crop(gx1, gx2)
    hugged = None
    if _frame_hugs(ink, y_lo, y_hi, cx1, cx2, ch):
        hx1, hx2 = _grow_span(ink, y_lo, y_hi, cx1, cx2, ch, x_min, borders=False)
        grown = to_crop(hx1, hx2)
        if max(gx1 - hx1, hx2 - gx2) >= HUGGED_MIN_GROWTH_CH * ch and grown[2] - grown[0] > box[2] - box[0]:
            hugged = grown
    chars = tuple(
        (int(b[0] / scale), int(b[1] / scale), math.ceil(b[2] / scale), math.ceil(b[3] / scale)) for b in line
    )
    return box, chars, hugged


def _loses_a_line(level: list[list[Box]], turned: list[list[Box]]) -> bool:
    """Whether a deskew broke a line: its slope was measured on a short line (fewer than
    :data:`SLOPE_SEARCH_BELOW` characters), and the turned crop shows fewer lines than the crop
    as it stood and no longer a longest line (a two-line plate's slope measured on three
    characters of one line was 3.5 degrees off, and turned by it the plate showed one short
    line, ``CU2430G``). A plate turned in the box around it, which the level analysis splits
    into two lines (its tilted line and a state name above it, or pieces of the line), shows
    one longer line once deskewed, or its slope was measured on a long line: that is kept."""
    if not turned:
        return True
    if not level or len(turned) >= len(level):
        return False
    longest = max(len(g) for g in level)
    return longest < SLOPE_SEARCH_BELOW and max(len(g) for g in turned) <= longest


def _shorter_look(
    gray: npt.NDArray[np.uint8], band: int, lines: list[list[Box]]
) -> tuple[list[list[Box]], list[Box], npt.NDArray[np.uint8]] | None:
    """The lines of the crop as it stands (``gray``, the analysis image's plate grey) looked for
    again with characters down to :data:`SQUARE_MIN_CHAR_HEIGHT`, when the crop is squarish and
    ``lines`` (found as usual) are none or hold a line of fewer than 3 characters: returned when
    they are two lines (what it looks for is a two-line plate's; one line more found whole than
    the other, ``2368W`` of ``WW`` / ``2368W``, would drop the other), the longer of at least 3
    characters, with more characters than ``lines``; else None."""
    if (lines and min(len(g) for g in lines) >= 3) or not _squarish(gray.shape[1], band, gray.shape[0]):
        return None
    again = _find_lines(gray, band, SQUARE_MIN_CHAR_HEIGHT)
    if len(again[0]) != 2 or max(len(g) for g in again[0]) < 3:  # a two-line plate's lines: one
        return None  # of 3 characters or more (the loops of big 8s, ``8862``, are not)
    return again if sum(map(len, again[0])) > sum(map(len, lines)) else None


def _min_height(turn: float) -> float:
    """Shortest character (fraction of the crop's height) to look for after a turn of ``turn``
    degrees (:data:`TURNED_MIN_CHAR_HEIGHT` from :data:`STEEP_TURN_DEG`)."""
    return TURNED_MIN_CHAR_HEIGHT if abs(turn) >= STEEP_TURN_DEG else MIN_CHAR_HEIGHT


def _profile_score(ink: npt.NDArray[np.uint8], angle: float) -> float:
    """How sharply the text pixels ``ink`` turned ``angle`` degrees fall into rows: the variance
    of the row sums (high when text lines are level; the classic projection-profile deskew)."""
    h, w = ink.shape
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    rows = cv2.warpAffine(ink, m, (w, h)).sum(axis=1, dtype=np.float64) / 255.0
    return float(np.var(rows))


def _search_turn(
    small: ImageBGR, gray: npt.NDArray[np.uint8], band: int
) -> tuple[float, list[list[Box]]] | None:
    """The turn of :data:`TURN_CANDIDATES` that makes either polarity's ink fall most sharply
    into rows, when that is :data:`TURN_MIN_GAIN` times sharper than level, with the lines found
    in ``small`` (the analysis image; ``gray`` its plate grey) so turned; else None."""
    best_turn, best_gain = 0.0, 0.0
    for dark in (True, False):
        ink = _ink(gray, dark)
        level = _profile_score(ink, 0.0)
        if level <= 0.0:
            continue
        for turn in TURN_CANDIDATES:
            gain = _profile_score(ink, turn) / level
            if gain > best_gain:
                best_turn, best_gain = turn, gain
    if best_gain < TURN_MIN_GAIN:
        return None
    found, _, _ = _find_lines(plate_grey(turn_in_place(small, best_turn)[0]), band, _min_height(best_turn))
    return (best_turn, found) if found else None


def rectify(crop: ImageBGR, *, max_angle_deg: float = 20.0, min_angle_deg: float = 1.0) -> Rectified:
    """Deskew a plate crop ``(H, W, 3)`` uint8 BGR, drop its blue band and find its text lines.

    Rotations smaller than ``min_angle_deg`` are not applied; larger than ``max_angle_deg``
    are taken as a mis-grouping and ignored, except after a turn search (:func:`_search_turn`),
    where up to :data:`TURN_MAX_DEG` is applied. When the lines cannot be found again in the
    crop so rotated, or fewer of them with the longest no longer after a slope measured on a
    short line (a two-line plate's slope measured on a few characters of one line can be off
    enough to lose the other line: :func:`_loses_a_line`), the slope of the line found as it
    stood is tried next; failing that, the crop is left as it was. See the module docstring.
    """
    h, w = crop.shape[:2]
    scale = ANALYSIS_HEIGHT_PX / float(h)
    small: ImageBGR = np.asarray(
        cv2.resize(crop, (max(8, round(w * scale)), ANALYSIS_HEIGHT_PX), interpolation=cv2.INTER_AREA),
        np.uint8,
    )
    band = blue_band_width(small)
    gray = plate_grey(small)
    lines, components, ink = _find_lines(gray, band)
    matrix = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], np.float64)
    image = crop
    # deskews to try, first that works: after a turn search its turn plus the slope left; the
    # slope of the line found as the crop stands
    tries: list[tuple[float, float, float]] = []
    if not lines or len(max(lines, key=len)) < SLOPE_SEARCH_BELOW:
        searched = _search_turn(small, gray, band)
        if searched is not None:
            turn, turned_lines = searched
            tries.append(
                (turn + _skew_angle_deg(max(turned_lines, key=len)), TURN_MAX_DEG, _min_height(turn))
            )
    if lines:
        tries.append((_skew_angle_deg(max(lines, key=len)), max_angle_deg, MIN_CHAR_HEIGHT))
    angle = 0.0
    for tried, limit, min_height in tries:
        if not min_angle_deg <= abs(tried) <= limit:
            continue
        turned_gray = plate_grey(turn_in_place(small, tried)[0])
        rotated, rotated_components, rotated_ink = _find_lines(turned_gray, band, min_height)
        if rotated and not _loses_a_line(lines, rotated):
            angle = tried
            image, matrix = turn_in_place(crop, angle)
            lines, components, ink, gray = rotated, rotated_components, rotated_ink, turned_gray
            break
    shorter = None if angle else _shorter_look(gray, band, lines)  # a turned crop's lines are kept
    if shorter is not None:  # characters under a fifth of the height: a loosely cut two-line plate
        lines, components, ink = shorter
    text_lines = []
    for line in lines:
        box, chars, hugged = _line_box(line, components, ink, band, scale, w, h)
        text_lines.append(TextLine(box, chars, hugged))
    if len(text_lines) == 1 and len(lines[0]) <= 5 and _squarish(w, band / scale, h):
        other = _other_line(gray, ink, lines[0], text_lines[0].box, scale, h)
        if other is not None:
            text_lines = sorted([*text_lines, other], key=lambda ln: ln.box[1])
    return Rectified(
        image=np.ascontiguousarray(image),
        matrix=matrix,
        angle_deg=angle,
        band_width_px=int(band / scale),
        lines=tuple(text_lines),
    )
