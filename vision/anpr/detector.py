"""The plate detector interface.

A detector finds plate boxes in a full scene. ``vision.detector.YoloDetector`` (a YOLO
model exported to ONNX into ``models/``) fits this Protocol; ``hgv-lane eval plates`` uses
the file named by the ``models.plate_detector`` setting. Until it exists, evaluation reads the true plate box
of each scene and reports detection recall as unknown, never as 1.0.
"""

from __future__ import annotations

from typing import Protocol

from vision.types import DetectionSet, ImageBGR

PLATE_CLASS = "plate"
"""Class name a plate detector's boxes carry."""


class PlateDetector(Protocol):
    """Finds plates in a scene ``(H, W, 3)`` uint8 BGR; boxes in that image's pixels,
    highest confidence first, class name :data:`PLATE_CLASS`."""

    name: str

    def detect(self, image: ImageBGR) -> DetectionSet: ...
