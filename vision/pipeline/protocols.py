"""The capabilities the lane pipeline is built from. Tests pass fakes; :mod:`vision.pipeline.factory`
builds the real ones (ONNX models in ``models/`` and the plate reader)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from vision.anpr.reader import PlateReader
from vision.types import DetectionSet, Frame, ImageBGR, Passage, TrailerVerdict

__all__ = [
    "BodyClassifier",
    "EventSink",
    "FrameSource",
    "LaneModels",
    "PlateDetector",
    "PlateReader",
    "VehicleDetector",
]

VEHICLE_CLASS = "vehicle"
"""Class name of a whole vehicle (amodal box) from the vehicle detector."""
BODY_CLASS = "body"
"""Class name of the part a body-type classifier reads (semi-trailer, rigid body, ...)."""
PLATE_CLASS = "plate"
"""Class name of a plate from the plate detector."""


class PlateDetector(Protocol):
    """Finds plates (class :data:`PLATE_CLASS`) in a frame; boxes in the frame's pixels, highest
    confidence first. (The real one, :class:`vision.pipeline.factory.FrameDetector`, runs a
    :class:`vision.detector.YoloDetector` on the lane's region of interest.)"""

    def detect(self, frame: Frame) -> DetectionSet: ...


class VehicleDetector(Protocol):
    """Finds vehicles (:data:`VEHICLE_CLASS`, whole-vehicle boxes) and their bodies
    (:data:`BODY_CLASS`) in a frame; boxes in the frame's pixels."""

    def detect(self, frame: Frame) -> DetectionSet: ...


class BodyClassifier(Protocol):
    """Names the body type of one body crop ``(H, W, 3)`` uint8 BGR."""

    def classify_body(self, crop: ImageBGR) -> TrailerVerdict: ...


class FrameSource(Protocol):
    """Where frames come from. ``frames()`` yields :class:`vision.types.Frame` until the source
    ends (a file) or :meth:`close` is called (a stream, pushed frames).

    ``live`` sources (cameras, streams, pushed frames) must never be waited for: the lane
    worker drops their oldest frames when it falls behind. Files and folders are not live:
    the worker takes every frame.
    """

    name: str
    live: bool

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


class EventSink(Protocol):
    """Where finished passages go: the store in the service, a JSONL file in batch runs, a
    message bus later. ``emit`` is called from the lane worker's thread, once per passage."""

    def emit(self, passage: Passage) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LaneModels:
    """The models one lane uses. ``body_classifier`` may be ``None`` (body type then stays
    unknown); models may be shared between lanes only if they are thread-safe (ONNX Runtime
    sessions are)."""

    vehicle_detector: VehicleDetector
    plate_detector: PlateDetector
    plate_reader: PlateReader
    body_classifier: BodyClassifier | None = None
