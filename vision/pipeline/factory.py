"""Building the real pipeline capabilities from ``models/``: the ONNX detectors on the lane's
region of interest, the trailer classifier and the plate reader.

Model files (``models/``): ``vehicle_detector.onnx`` (classes ``vehicle``, ``body``),
``plate_detector.onnx`` (class ``plate``), ``trailer_classifier.onnx`` (body types). A
missing or broken model raises :class:`vision.runtime.ModelLoadError` naming the file.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from vision.anpr.reader import PlateReader
from vision.detector import YoloDetector
from vision.pipeline.config import RegionOfInterest
from vision.pipeline.protocols import LaneModels
from vision.runtime import ModelLoadError, Providers
from vision.trailer.classifier import TrailerClassifier
from vision.types import BBox, Detection, DetectionSet, Frame, ImageBGR, TrailerVerdict

VEHICLE_MODEL = "vehicle_detector.onnx"
PLATE_MODEL = "plate_detector.onnx"
CLASSIFIER_MODEL = "trailer_classifier.onnx"


class FrameDetector:
    """A :class:`vision.detector.YoloDetector` run on the bounding rectangle of a region of
    interest (the whole frame when the region is empty); boxes come back in frame pixels.
    Several lanes may share one detector (ONNX Runtime sessions are thread-safe)."""

    def __init__(self, detector: YoloDetector, roi: RegionOfInterest | None = None) -> None:
        self.detector = detector
        self.roi = roi or RegionOfInterest()

    def detect(self, frame: Frame) -> DetectionSet:
        if self.roi.whole_frame:
            return self.detector.detect(frame.image)
        x1, y1, x2, y2 = self.roi.bounds_px(frame.width_px, frame.height_px)
        found = self.detector.detect(frame.image[y1:y2, x1:x2])
        return DetectionSet(
            tuple(
                Detection(
                    BBox(d.box.x1 + x1, d.box.y1 + y1, d.box.x2 + x1, d.box.y2 + y1),
                    d.class_id,
                    d.class_name,
                    d.confidence,
                )
                for d in found
            ),
            frame.width_px,
            frame.height_px,
        )


class TrailerBodyClassifier:
    """:class:`vision.trailer.classifier.TrailerClassifier` as a pipeline body classifier."""

    def __init__(self, classifier: TrailerClassifier) -> None:
        self.classifier = classifier

    def classify_body(self, crop: ImageBGR) -> TrailerVerdict:
        return self.classifier.classify(crop).verdict


@dataclass(frozen=True, slots=True)
class SharedModels:
    """Models loaded once and shared by every lane (each lane wraps the detectors with its own
    region of interest)."""

    vehicle: YoloDetector
    plate: YoloDetector
    classifier: TrailerClassifier | None
    reader: PlateReader

    def for_lane(self, roi: RegionOfInterest) -> LaneModels:
        """The capabilities of one lane with region ``roi``."""
        return LaneModels(
            vehicle_detector=FrameDetector(self.vehicle, roi),
            plate_detector=FrameDetector(self.plate, roi),
            plate_reader=self.reader,
            body_classifier=TrailerBodyClassifier(self.classifier) if self.classifier is not None else None,
        )


_lock = threading.Lock()


def load_detectors(
    models_dir: Path,
    *,
    providers: Providers = "auto",
    intra_op_threads: int | None = None,
    require_classifier: bool = True,
    vehicle_conf: float = 0.25,
    plate_conf: float = 0.25,
) -> tuple[YoloDetector, YoloDetector, TrailerClassifier | None]:
    """Load the vehicle and plate detectors and the trailer classifier from ``models_dir``.

    Raises :class:`ModelLoadError` when a detector is missing, or the classifier is missing
    and ``require_classifier``; otherwise a missing classifier gives ``None``.
    """
    with _lock:
        vehicle = YoloDetector(
            models_dir / VEHICLE_MODEL,
            providers,
            conf_threshold=vehicle_conf,
            intra_op_threads=intra_op_threads,
        )
        if not {"vehicle", "body"} <= set(vehicle.class_names):
            raise ModelLoadError(
                f"{vehicle.model.path}: classes {vehicle.class_names}, expected vehicle, body"
            )
        plate = YoloDetector(
            models_dir / PLATE_MODEL, providers, conf_threshold=plate_conf, intra_op_threads=intra_op_threads
        )
        if "plate" not in plate.class_names:
            raise ModelLoadError(f"{plate.model.path}: classes {plate.class_names}, expected plate")
        cls_path = models_dir / CLASSIFIER_MODEL
        classifier: TrailerClassifier | None = None
        if cls_path.is_file() or require_classifier:
            classifier = TrailerClassifier(cls_path, providers, intra_op_threads=intra_op_threads)
    return vehicle, plate, classifier


def load_models(
    models_dir: Path,
    *,
    reader_engine: str = "rapidocr",
    work_dir: Path,
    providers: Providers = "auto",
    intra_op_threads: int | None = None,
    require_classifier: bool = True,
) -> SharedModels:
    """Every model a lane needs, loaded once from ``models_dir`` (the reader from its engine)."""
    from vision.anpr.reader import build_reader  # noqa: PLC0415 - loads an OCR engine

    vehicle, plate, classifier = load_detectors(
        models_dir,
        providers=providers,
        intra_op_threads=intra_op_threads,
        require_classifier=require_classifier,
    )
    reader = build_reader(reader_engine, work_dir=work_dir, providers=providers, intra_op_threads=1)
    return SharedModels(vehicle, plate, classifier, reader)
