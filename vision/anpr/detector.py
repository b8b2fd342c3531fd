"""The plate detector interface, and second looks for still photographs.

A detector finds plate boxes in a full scene. ``vision.detector.YoloDetector`` (a YOLO
model exported to ONNX into ``models/``) fits this Protocol; ``hgv-lane eval plates`` uses
the file named by the ``models.plate_detector`` setting, wrapped in :class:`StillPlateDetector`.
Until it exists, evaluation reads the true plate box of each scene and reports detection
recall as unknown, never as 1.0.
"""

from __future__ import annotations

import math
from typing import Protocol

import cv2
import numpy as np

from vision.preprocess import PAD_VALUE, turn_in_place
from vision.types import BBox, Detection, DetectionSet, ImageBGR

PLATE_CLASS = "plate"
"""Class name a plate detector's boxes carry."""

PLATE_MARGIN_X = 0.06
"""A plate is read from its detector box grown by this fraction of its width at each end: the
detector's boxes are tight at the ends, and a first or last character cut in half is dropped
(``JB22GR`` for ``JB22GRD``; the lane's ``ReadPolicy.plate_margin_x`` and ``eval plates``)."""

PLATE_WIDER_MARGIN_X = 0.12
"""A plate whose read at :data:`PLATE_MARGIN_X` is not sure is read again from its box grown by
this fraction of its width at each end, and the two reads are averaged
(:func:`vision.anpr.reader.read_box`): the box may be shifted and cut a character off one end.
0.12 (seventeenth session, ``docs/anpr-log.md``); 0.2 read fewer lane plates."""

TILE_FRACTION = 0.6
"""Width and height of each second-look tile, as a fraction of the photograph's: 2 x 2 tiles
overlapping by 20 % (a plate narrower than a fifth of the photograph is whole in one), unless
that is more than :data:`TILE_MAX_INPUTS` times the model's input."""

TILE_MAX_INPUTS = 2.0
"""Tiles bigger than this many times the model's input (each side) get a finer grid of tiles
that big beside them, as a 1280x720 lane frame is to the plate detector: a 12-megapixel
photograph (4000x3000) is also cut into 4 x 5 tiles of 1280x768, beside 2 x 2 of 2400x1800
where a 120-px plate is shrunk to 32 px (held-out scenes re-framed to 4000 px wide, plate at
3 % of the width: recall 0.79 with the 2 x 2 tiles alone, 0.98 with both)."""

TILE_MIN_OVERLAP = 0.2
"""Neighbouring tiles overlap by at least this fraction of a tile."""

SAME_PLATE_IOU = 0.5
"""Boxes of the second look overlapping a more confident one this much (IoU) are one plate."""

SAME_PLATE_INSIDE = 0.8
"""Boxes of the second look whose overlap is this much of the smaller one are one plate."""

ZOOM_OUT = (2.0, 3.0)
"""The second look also shows the whole photograph this many times smaller than the first did,
centred on a grey input: a close-up plate (40 % of the photograph's width: 205 px in the
model's input for a 1280x960 photograph, 256 for a 1280x720 one) is bigger than nearly all the
detector was trained on (real held-out scenes re-framed
that way: recall 0.46 whole, 0.95 with these looks; ``docs/anpr-log.md``)."""

CROP_LOOK_WIDTH_PX = 96.0
"""A crop cut round a plate is shown to the model this wide (pixels of its input), centred on a
grey input (:meth:`StillPlateDetector.in_crop`): its plate is then 60-90 px wide, as most plates
of the detector's training tiles are. Shown 64 px wide, one synthetic crop in four was found by
nothing; 160 px wide, one in seven; 96 px, one in 20-40 (s915, s916: 600 crops each, cut with an
8-25 % margin)."""

BIG_PLATE_INPUT_PX = 128.0
"""A plate box found wider than this in the model's input (pixels) is checked with the
zoomed-out looks: wider than nine in ten plates of the detector's training tiles (90th
percentile 131 px), it is often only a piece of the plate (``PVX0095`` at 60 % of the
photograph's width: its right three quarters at 0.46, the whole plate at 0.84 zoomed out)."""

TURN_LOOKS = (15.0, -15.0)
"""Last, when no other look found a plate: the photograph turned this many degrees each way. The
detector was trained on level plates; turned 20 degrees, about half the held-out scenes' plates
were found (``bench/bench_plate_scale.py --angle 20``), and a turned look finds some more."""

TILE_EDGE_PX = 2.0
"""A tile's box this close to a tile edge inside the photograph is a plate cut by the tile: the
overlapping tile holds it whole (a plate wider than the overlap is big enough for the first look)."""


class PlateDetector(Protocol):
    """Finds plates in a scene ``(H, W, 3)`` uint8 BGR; boxes in that image's pixels,
    highest confidence first, class name :data:`PLATE_CLASS`."""

    name: str

    def detect(self, image: ImageBGR) -> DetectionSet: ...


class _SizedDetector(PlateDetector, Protocol):
    """A plate detector that says its model's input size ``(height, width)`` in pixels."""

    input_hw: tuple[int, int]


class StillPlateDetector:
    """Plates in a still photograph: ``inner`` on the whole image, then second looks for
    plates too small or too big for the model at that scale, merged.

    - **Tiles**, when the whole look found no plate and the photograph is bigger than the
      model's input: 2 x 2 overlapping tiles (:data:`TILE_FRACTION`), where a plate is seen
      1 / TILE_FRACTION (1.67) times bigger, and on a big photograph a finer grid too
      (:data:`TILE_MAX_INPUTS`). The model sees a 1280x720 photograph at half size,
      so a plate 60 px wide is 30 px there, near the smallest it was trained on (a van's plate
      across a car park, found at 0.02; at 0.34 in a tile). Tile boxes cut by a tile's inner
      edge are dropped (:data:`TILE_EDGE_PX`).
    - **Zoomed out** (:data:`ZOOM_OUT`), when the whole look found no plate or one wider than
      :data:`BIG_PLATE_INPUT_PX` in the model's input: the photograph 2 and 3 times smaller
      than the first look showed it, on a grey input, for close-ups whose plate is bigger than
      the detector knows (it finds nothing, or a piece).

    - **Turned** (:data:`TURN_LOOKS`), when no other look found a plate: the photograph turned
      15 degrees each way, for plates turned more than the detector was trained on.

    Boxes are mapped back to the photograph and merged (one box per plate, the surest:
    :func:`merge_boxes`). At most 8 more model runs on a 1280x720 photograph (28 on a
    4000x3000 one), only on such photographs. Used by ``hgv-lane eval plates`` on scene rows;
    not on lane frames: a lorry's plate grows as it comes, and the frame rate leaves no time
    for more runs.
    """

    def __init__(self, inner: _SizedDetector) -> None:
        self.inner = inner
        self.name = inner.name

    def detect(self, image: ImageBGR) -> DetectionSet:
        """Detections in ``image`` (H, W, 3) uint8 BGR, highest confidence first."""
        found = self.inner.detect(image)
        plates = found.of_class(PLATE_CLASS)
        h, w = image.shape[:2]
        if len(plates):
            in_h, in_w = self.inner.input_hw
            seen = max(d.box.width_px for d in plates) * min(in_h / h, in_w / w)
            if seen <= BIG_PLATE_INPUT_PX:
                return found
            return DetectionSet(tuple(merge_boxes([*found, *self._zoomed_out(image)])), w, h)
        pieces = [*found, *self._tiles(image), *self._zoomed_out(image)]
        if not any(d.class_name == PLATE_CLASS for d in pieces):
            pieces += self._turned(image)
        return DetectionSet(tuple(merge_boxes(pieces)), w, h)

    def _turned(self, image: ImageBGR) -> list[Detection]:
        """Boxes found in the whole image turned by each of :data:`TURN_LOOKS` (about its
        centre, edges replicated), mapped back as the box around the turned-back box."""
        h, w = image.shape[:2]
        pieces: list[Detection] = []
        for angle in TURN_LOOKS:
            turned, m = turn_in_place(image, angle)
            back = cv2.invertAffineTransform(m)
            for d in self.inner.detect(turned):
                b = d.box
                corners = np.array(
                    [[b.x1, b.y1, 1.0], [b.x2, b.y1, 1.0], [b.x1, b.y2, 1.0], [b.x2, b.y2, 1.0]]
                )
                pts = corners @ back.T
                x1, y1 = max(0.0, float(pts[:, 0].min())), max(0.0, float(pts[:, 1].min()))
                x2, y2 = min(float(w), float(pts[:, 0].max())), min(float(h), float(pts[:, 1].max()))
                if x2 > x1 and y2 > y1:
                    pieces.append(Detection(BBox(x1, y1, x2, y2), d.class_id, d.class_name, d.confidence))
        return pieces

    def _tiles(self, image: ImageBGR) -> list[Detection]:
        """Boxes found in 2 x 2 overlapping tiles and, when those are more than
        :data:`TILE_MAX_INPUTS` times the model's input, in a finer grid of tiles that big too;
        in ``image``'s pixels. None when the image fits the model's input."""
        h, w = image.shape[:2]
        in_h, in_w = self.inner.input_hw
        if h <= in_h and w <= in_w:
            return []
        coarse = (max(1, round(TILE_FRACTION * h)), max(1, round(TILE_FRACTION * w)))
        fine = (min(coarse[0], round(TILE_MAX_INPUTS * in_h)), min(coarse[1], round(TILE_MAX_INPUTS * in_w)))
        pieces: list[Detection] = []
        for th, tw in dict.fromkeys((coarse, fine)):
            for y0 in tile_starts(h, th):
                for x0 in tile_starts(w, tw):
                    for d in self.inner.detect(image[y0 : y0 + th, x0 : x0 + tw]):
                        b = d.box
                        if (
                            (x0 > 0 and b.x1 <= TILE_EDGE_PX)
                            or (x0 + tw < w and b.x2 >= tw - TILE_EDGE_PX)
                            or (y0 > 0 and b.y1 <= TILE_EDGE_PX)
                            or (y0 + th < h and b.y2 >= th - TILE_EDGE_PX)
                        ):
                            continue
                        moved = BBox(b.x1 + x0, b.y1 + y0, b.x2 + x0, b.y2 + y0)
                        pieces.append(Detection(moved, d.class_id, d.class_name, d.confidence))
        return pieces

    def in_crop(self, crop: ImageBGR) -> BBox | None:
        """The plate's box (pixels of ``crop``, (H, W, 3) uint8 BGR) in a crop cut round it,
        loosely or not: the crop shown :data:`CROP_LOOK_WIDTH_PX` wide (less if it would not fit
        the input's height) on a grey input; the surest plate box, or None when none is found."""
        h, w = crop.shape[:2]
        in_h, _ = self.inner.input_hw
        found = self._on_grey(crop, min(CROP_LOOK_WIDTH_PX / w, in_h / h))
        plates = [d for d in found if d.class_name == PLATE_CLASS]
        return max(plates, key=lambda d: d.confidence).box if plates else None

    def _zoomed_out(self, image: ImageBGR) -> list[Detection]:
        """Boxes found with the whole image shrunk (by area) :data:`ZOOM_OUT` times more than
        the model's input would, centred on a grey input of the model's size; in ``image``'s
        pixels."""
        h, w = image.shape[:2]
        in_h, in_w = self.inner.input_hw
        return [d for k in ZOOM_OUT for d in self._on_grey(image, min(in_h / h, in_w / w) / k)]

    def _on_grey(self, image: ImageBGR, scale: float) -> list[Detection]:
        """Boxes found with ``image`` resized by ``scale`` (at most to the model's input) and
        centred on a grey input of the model's size; in ``image``'s pixels."""
        h, w = image.shape[:2]
        in_h, in_w = self.inner.input_hw
        nw, nh = min(in_w, max(1, round(w * scale))), min(in_h, max(1, round(h * scale)))
        left, top = (in_w - nw) // 2, (in_h - nh) // 2
        canvas = np.full((in_h, in_w, 3), PAD_VALUE, np.uint8)
        shrink = nw < w
        canvas[top : top + nh, left : left + nw] = cv2.resize(
            image, (nw, nh), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        )
        sx, sy = w / nw, h / nh
        pieces: list[Detection] = []
        for d in self.inner.detect(canvas):
            b = d.box
            x1, x2 = max(0.0, (b.x1 - left) * sx), min(float(w), (b.x2 - left) * sx)
            y1, y2 = max(0.0, (b.y1 - top) * sy), min(float(h), (b.y2 - top) * sy)
            if x2 > x1 and y2 > y1:
                pieces.append(Detection(BBox(x1, y1, x2, y2), d.class_id, d.class_name, d.confidence))
        return pieces


def tile_starts(total: int, tile: int) -> list[int]:
    """Start offsets (px) of tiles ``tile`` long covering ``total``, first at 0, last at
    ``total - tile``, evenly spaced with at least :data:`TILE_MIN_OVERLAP` of a tile shared by
    neighbours."""
    if tile >= total:
        return [0]
    n = math.ceil((total - tile) / (tile * (1.0 - TILE_MIN_OVERLAP))) + 1
    return [round(i * (total - tile) / (n - 1)) for i in range(n)]


def merge_boxes(detections: list[Detection]) -> list[Detection]:
    """One detection per object, most confident first: of boxes of one class that overlap
    (IoU :data:`SAME_PLATE_IOU`, or :data:`SAME_PLATE_INSIDE` of the smaller box), the most
    confident is kept."""

    def same(a: BBox, b: BBox) -> bool:
        smaller = min(a.area_px, b.area_px)
        return a.iou(b) >= SAME_PLATE_IOU or (
            smaller > 0 and a.intersection_px(b) >= SAME_PLATE_INSIDE * smaller
        )

    kept: list[Detection] = []
    for d in sorted(detections, key=lambda d: -d.confidence):
        if not any(k.class_name == d.class_name and same(k.box, d.box) for k in kept):
            kept.append(d)
    return kept
