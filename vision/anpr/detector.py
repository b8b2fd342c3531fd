"""The plate detector interface, and a second look for still photographs.

A detector finds plate boxes in a full scene. ``vision.detector.YoloDetector`` (a YOLO
model exported to ONNX into ``models/``) fits this Protocol; ``hgv-lane eval plates`` uses
the file named by the ``models.plate_detector`` setting, wrapped in :class:`StillPlateDetector`.
Until it exists, evaluation reads the true plate box of each scene and reports detection
recall as unknown, never as 1.0.
"""

from __future__ import annotations

from typing import Protocol

from vision.types import BBox, Detection, DetectionSet, ImageBGR

PLATE_CLASS = "plate"
"""Class name a plate detector's boxes carry."""

PLATE_MARGIN_X = 0.06
"""A plate is read from its detector box grown by this fraction of its width at each end: the
detector's boxes are tight at the ends, and a first or last character cut in half is dropped
(``JB22GR`` for ``JB22GRD``; the lane's ``ReadPolicy.plate_margin_x`` and ``eval plates``)."""

TILE_FRACTION = 0.6
"""Width and height of each second-look tile, as a fraction of the photograph's: 2 x 2 tiles
overlapping by 20 % (a plate narrower than a fifth of the photograph is whole in one)."""

SAME_PLATE_IOU = 0.5
"""Boxes of the second look overlapping a more confident one this much (IoU) are one plate."""

SAME_PLATE_INSIDE = 0.8
"""Boxes of the second look whose overlap is this much of the smaller one are one plate."""

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
    """Plates in a still photograph: ``inner`` on the whole image and, when it finds no plate
    there and the photograph is bigger than the model's input, a second look on 2 x 2
    overlapping tiles (:data:`TILE_FRACTION`), where a plate is seen 1 / TILE_FRACTION (1.67)
    times bigger.

    Why: the model sees a 1280x720 photograph at half size, so a plate 60 px wide is 30 px
    there, near the smallest it was trained on (a van's plate across a car park, found at 0.02;
    at 0.34 in a tile). Tile boxes cut by a tile's inner edge are dropped (:data:`TILE_EDGE_PX`);
    the rest are mapped back to the photograph and merged (one box per plate:
    :func:`merge_boxes`). Four more model runs, only on photographs where the first look found
    nothing. Used by ``hgv-lane eval plates`` on scene rows; not on lane frames: a lorry's
    plate grows as it comes, and the frame rate leaves no time for five runs.
    """

    def __init__(self, inner: _SizedDetector) -> None:
        self.inner = inner
        self.name = inner.name

    def detect(self, image: ImageBGR) -> DetectionSet:
        """Detections in ``image`` (H, W, 3) uint8 BGR, highest confidence first."""
        found = self.inner.detect(image)
        h, w = image.shape[:2]
        in_h, in_w = self.inner.input_hw
        if len(found.of_class(PLATE_CLASS)) or (h <= in_h and w <= in_w):
            return found
        th, tw = max(1, round(TILE_FRACTION * h)), max(1, round(TILE_FRACTION * w))
        pieces: list[Detection] = list(found)
        for y0 in dict.fromkeys((0, h - th)):
            for x0 in dict.fromkeys((0, w - tw)):
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
        return DetectionSet(tuple(merge_boxes(pieces)), w, h)


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
