"""Building the real pipeline capabilities: the ONNX detectors on the lane's region of
interest, the trailer classifier and the plate reader.

Model files (:class:`ModelFiles`; the shipped ones in ``models/``, or the versions in use in
the model registry): the vehicle detector (classes ``vehicle``, ``body``), the plate detector
(class ``plate``) and the trailer classifier (body types). A missing or broken model raises
:class:`vision.runtime.ModelLoadError` naming the file. The models sit in
:class:`vision.pipeline.reload.ModelSlot` so a promoted version can be swapped in while the
lanes run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vision.anpr.engines import CharSlot, CrnnRecogniser
from vision.anpr.reader import PipelineReader
from vision.detector import YoloDetector
from vision.pipeline.config import RegionOfInterest
from vision.pipeline.protocols import LaneModels
from vision.pipeline.reload import ModelSlot, ModelWatcher
from vision.runtime import ModelLoadError, Providers
from vision.trailer.classifier import TrailerClassifier
from vision.types import BBox, Detection, DetectionSet, Frame, ImageBGR, TrailerVerdict


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """The ONNX files of the models a lane runs, with their registry versions: the three
    detectors' and classifier's, and the plate reader's own recogniser (engine ``crnn``)."""

    vehicle: Path
    plate: Path
    classifier: Path
    versions: tuple[str, str, str] = ("shipped", "shipped", "shipped")
    reader: Path | None = None  # the crnn engine's model (None: the models folder's)
    reader_version: str = "shipped"

    @classmethod
    def shipped(cls, models_dir: Path) -> ModelFiles:
        """The shipped file names in ``models_dir``."""
        return cls(
            models_dir / "vehicle_detector.onnx",
            models_dir / "plate_detector.onnx",
            models_dir / "trailer_classifier.onnx",
        )


class FrameDetector:
    """The :class:`vision.detector.YoloDetector` in ``slot`` run on the bounding rectangle of a
    region of interest (the whole frame when the region is empty); boxes come back in frame
    pixels. Several lanes may share one detector (ONNX Runtime sessions are thread-safe)."""

    def __init__(self, slot: ModelSlot[YoloDetector], roi: RegionOfInterest | None = None) -> None:
        self.slot = slot
        self.roi = roi or RegionOfInterest()

    def detect(self, frame: Frame) -> DetectionSet:
        detector = self.slot.model
        if self.roi.whole_frame:
            return detector.detect(frame.image)
        x1, y1, x2, y2 = self.roi.bounds_px(frame.width_px, frame.height_px)
        found = detector.detect(frame.image[y1:y2, x1:x2])
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
    """The :class:`vision.trailer.classifier.TrailerClassifier` in ``slot`` as a pipeline body
    classifier."""

    def __init__(self, slot: ModelSlot[TrailerClassifier]) -> None:
        self.slot = slot

    def classify_body(self, crop: ImageBGR) -> TrailerVerdict:
        return self.slot.model.classify(crop)


@dataclass(frozen=True, slots=True)
class SharedModels:
    """Models loaded once and shared by every lane (each lane wraps the detectors with its own
    region of interest); each in a slot a :class:`ModelWatcher` can swap."""

    vehicle: ModelSlot[YoloDetector]
    plate: ModelSlot[YoloDetector]
    classifier: ModelSlot[TrailerClassifier] | None
    reader: PipelineReader
    reader_slot: ModelSlot[CrnnRecogniser] | None = None

    def for_lane(self, roi: RegionOfInterest) -> LaneModels:
        """The capabilities of one lane with region ``roi``."""
        return LaneModels(
            vehicle_detector=FrameDetector(self.vehicle, roi),
            plate_detector=FrameDetector(self.plate, roi),
            plate_reader=self.reader,
            body_classifier=TrailerBodyClassifier(self.classifier) if self.classifier is not None else None,
        )

    def watch(self, watcher: ModelWatcher, load: DetectorLoaders) -> None:
        """Have ``watcher`` swap promoted versions into these slots (``load`` builds each role's
        model from a file, with the same options as the first load)."""
        watcher.watch("vehicle_detector", self.vehicle, load.vehicle)
        watcher.watch("plate_detector", self.plate, load.plate)
        if self.classifier is not None:
            watcher.watch("trailer_classifier", self.classifier, load.classifier)
        if self.reader_slot is not None:
            watcher.watch("plate_reader", self.reader_slot, load.reader)


class SlotEngine:
    """The recognition engine in ``slot``, read on every call: the reader's own recogniser
    swapped for a promoted version between two reads, as the detectors are."""

    def __init__(self, slot: ModelSlot[CrnnRecogniser]) -> None:
        self.slot = slot
        self.name = slot.model.name  # "crnn" whatever the version

    def recognise(self, lines: Sequence[ImageBGR]) -> list[tuple[CharSlot, ...]]:
        """The lines read by the recogniser in use (see ``RecognitionEngine``)."""
        return self.slot.model.recognise(lines)


_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class DetectorLoaders:
    """Builds each model from an ONNX file with fixed options; raises :class:`ModelLoadError`."""

    providers: Providers = "auto"
    intra_op_threads: int | None = None
    vehicle_conf: float = 0.25
    plate_conf: float = 0.25

    def vehicle(self, path: Path) -> YoloDetector:
        """The vehicle/body detector in ``path`` (must have classes ``vehicle`` and ``body``)."""
        d = YoloDetector(
            path, self.providers, conf_threshold=self.vehicle_conf, intra_op_threads=self.intra_op_threads
        )
        if not {"vehicle", "body"} <= set(d.class_names):
            raise ModelLoadError(f"{d.model.path}: classes {d.class_names}, expected vehicle, body")
        return d

    def plate(self, path: Path) -> YoloDetector:
        """The plate detector in ``path`` (must have class ``plate``)."""
        d = YoloDetector(
            path,
            self.providers,
            conf_threshold=self.plate_conf,
            intra_op_threads=self.intra_op_threads,
            shrink_by_area=True,
        )
        if "plate" not in d.class_names:
            raise ModelLoadError(f"{d.model.path}: classes {d.class_names}, expected plate")
        return d

    def classifier(self, path: Path) -> TrailerClassifier:
        """The trailer classifier in ``path`` (its classes must be body types)."""
        return TrailerClassifier(path, self.providers, intra_op_threads=self.intra_op_threads)

    def reader(self, path: Path) -> CrnnRecogniser:
        """The plate reader's recogniser in ``path`` (a CTC line model; one thread per read)."""
        return CrnnRecogniser(path, self.providers, intra_op_threads=1)

    def for_role(self, role: str) -> Callable[[Path], object]:
        """The loader of a registry role (``vehicle_detector``, ``plate_detector``,
        ``trailer_classifier``, ``plate_reader``); raises ``KeyError`` for another."""
        return {
            "vehicle_detector": self.vehicle,
            "plate_detector": self.plate,
            "trailer_classifier": self.classifier,
            "plate_reader": self.reader,
        }[role]


def check_for_role(role: str, path: Path, providers: Providers = "cpu") -> None:
    """Load ``path`` as the lanes load a model of ``role`` (its task and classes included);
    raises :class:`ModelLoadError` saying why it cannot serve as one. For registering,
    promoting and ``doctor``: a model the lanes cannot load must not be put in use."""
    try:
        DetectorLoaders(providers).for_role(role)(path)
    except ModelLoadError as e:
        raise ModelLoadError(f"cannot be used as {role}: {e}") from e


def load_detectors(
    files: ModelFiles,
    *,
    providers: Providers = "auto",
    intra_op_threads: int | None = None,
    require_classifier: bool = True,
) -> tuple[ModelSlot[YoloDetector], ModelSlot[YoloDetector], ModelSlot[TrailerClassifier] | None]:
    """Load the vehicle and plate detectors and the trailer classifier, each in a slot.

    Raises :class:`ModelLoadError` when a detector is missing, or the classifier is missing
    and ``require_classifier``; otherwise a missing classifier gives ``None``.
    """
    load = DetectorLoaders(providers, intra_op_threads)
    v_version, p_version, c_version = files.versions
    with _lock:
        vehicle = ModelSlot(load.vehicle(files.vehicle), v_version, files.vehicle)
        plate = ModelSlot(load.plate(files.plate), p_version, files.plate)
        classifier: ModelSlot[TrailerClassifier] | None = None
        if files.classifier.is_file() or require_classifier:
            classifier = ModelSlot(load.classifier(files.classifier), c_version, files.classifier)
    return vehicle, plate, classifier


def load_models(
    files: ModelFiles,
    *,
    reader_engine: str = "crnn+rapidocr",
    work_dir: Path,
    providers: Providers = "auto",
    intra_op_threads: int | None = None,
    require_classifier: bool = True,
    models_dir: Path | None = None,
) -> SharedModels:
    """Every model a lane needs, loaded once from ``files`` (the reader from its engine, whose
    own model, if it has one, is in ``models_dir``)."""
    from vision.anpr.reader import build_reader  # noqa: PLC0415 - loads an OCR engine

    vehicle, plate, classifier = load_detectors(
        files,
        providers=providers,
        intra_op_threads=intra_op_threads,
        require_classifier=require_classifier,
    )
    reader = build_reader(
        reader_engine,
        work_dir=work_dir,
        providers=providers,
        intra_op_threads=1,
        models_dir=models_dir,
        crnn_model=files.reader,
    )
    reader_slot: ModelSlot[CrnnRecogniser] | None = None
    if isinstance(reader.engine, CrnnRecogniser):  # the project's recogniser: swappable in place
        reader_slot = ModelSlot(reader.engine, files.reader_version, files.reader)
        reader.engine = SlotEngine(reader_slot)
    return SharedModels(vehicle, plate, classifier, reader, reader_slot)
