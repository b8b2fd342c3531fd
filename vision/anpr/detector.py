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

TILE_FRACTION = 0.6
"""Width and height of each second-look tile, as a fraction of the photograph's: 2 x 2 tiles
overlapping by 20 % (a plate narrower than a fifth of the photograph is whole in one)."""

SAME_PLATE_IOU = 0.5
"""Boxes of the second look overlapping a more confident one this much (IoU) are one plate."""

SAME_PLATE_INSIDE = 0.8
"""A second-look box lying this much inside a more confident one is a piece of it (a plate cut
by a tile's edge)."""


class PlateDetector(Protocol):
    """Finds plates in a scene ``(H, W, 3)`` uint8 BGR; boxes in that image's pixels,
    highest confidence first, class name :data:`PLATE_CLASS`."""

    name: str

    def detect(self, image: ImageBGR) -> DetectionSet: ...


class SizedDetector(PlateDetector, Protocol):
    """A plate detector that says its model's input size ``(height, width)`` in pixels."""

    input_hw: tuple[int, int]


class StillPlateDetector:
    """Plates in a still photograph: ``inner`` on the whole image and, when it finds no plate
    there and the photograph is bigger than the model's input, a second look on 2 x 2
    overlapping tiles (:data:`TILE_FRACTION`), each shrunk :data:`TILE_FRACTION` times less.

    Why: the model sees a 1280x720 photograph at half size, so a plate 60 px wide is 30 px
    there, near the smallest it was trained on (a van's plate across a car park, found at 0.02;
    at 0.34 in a tile). Tile boxes are mapped back to the photograph and merged (one box per
    plate: :data:`SAME_PLATE_IOU`, :data:`SAME_PLATE_INSIDE`). Four more model runs, only on
    photographs where the first look found nothing. Not for lane frames: a lorry's plate
    grows as it comes, and the frame rate leaves no time for five runs.
    """

    def __init__(self, inner: SizedDetector) -> None:
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
                    moved = BBox(b.x1 + x0, b.y1 + y0, b.x2 + x0, b.y2 + y0)
                    pieces.append(Detection(moved, d.class_id, d.class_name, d.confidence))
        return DetectionSet(tuple(merge_boxes(pieces)), w, h)


def merge_boxes(detections: list[Detection]) -> list[Detection]:
    """One detection per object, most confident first: of boxes of one class that overlap
    (:data:`SAME_PLATE_IOU`) or lie inside a kept one (:data:`SAME_PLATE_INSIDE`), the most
    confident is kept."""
    kept: list[Detection] = []
    for d in sorted(detections, key=lambda d: -d.confidence):
        if not any(
            k.class_name == d.class_name
            and (k.box.iou(d.box) >= SAME_PLATE_IOU or d.box.inside_fraction(k.box) >= SAME_PLATE_INSIDE)
            for k in kept
        ):
            kept.append(d)
    return kept
