"""Trailer body-type classifier: a YOLO classification model on ONNX Runtime."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from vision.postprocess import softmax
from vision.preprocess import squash_square, to_tensor
from vision.runtime import ModelLoadError, OnnxModel, Providers
from vision.types import BodyType, ImageBGR, TrailerVerdict

TEMPERATURE_KEY = "temperature"
"""ONNX metadata key of the calibration temperature written at export (1.0 when absent)."""


class TrailerClassifier:
    """Names the body type of a trailer (or vehicle) crop.

    Crops are squashed to the model's square input (:func:`vision.preprocess.squash_square`),
    as the training set was. The model's class names must be :class:`vision.types.BodyType`
    values (folder names of the training set). Probabilities are temperature-calibrated
    with the temperature stored in the model's metadata by the export command.

    ``mirror`` (on by default): a crop is classified as it is and mirrored left to right, and
    the two calibrated probability vectors are averaged (two runs, about 3 ms each). A lane
    camera sees a trailer obliquely from one side, its mirror image is the same body from the
    other; averaging the two took held-out lane body crops from 0.801 to 0.856 (front view),
    0.911 to 0.935 (rear) and 0.980 to 0.986 (side) (``bench/bench_lane_bodies.py``,
    ``models/trailer_classifier.md``).
    """

    def __init__(
        self,
        path: str | Path,
        providers: Providers = "auto",
        *,
        intra_op_threads: int | None = None,
        mirror: bool = True,
    ):
        self.model = OnnxModel(path, providers, intra_op_threads=intra_op_threads)
        if self.model.info.task not in (None, "classify"):
            raise ModelLoadError(f"{path}: task is {self.model.info.task!r}, expected 'classify'")
        try:
            self.classes = tuple(BodyType(n) for n in self.model.info.class_names)
        except ValueError as e:
            raise ModelLoadError(
                f"{path}: class names {self.model.info.class_names} are not body types"
            ) from e
        if not self.classes or self.model.info.imgsz is None:
            raise ModelLoadError(f"{path}: metadata lacks class names or input size")
        self.size_px = self.model.info.imgsz[0]
        raw_t = self.model.info.metadata.get(TEMPERATURE_KEY, "1.0")
        self.temperature = float(raw_t)
        if not math.isfinite(self.temperature) or self.temperature <= 0:
            raise ModelLoadError(f"{path}: bad calibration temperature {raw_t!r}")
        self.mirror = mirror

    def classify(self, crop: ImageBGR) -> TrailerVerdict:
        """Body type of one crop (H, W, 3) uint8 BGR (with ``mirror``: of it and its mirror image),
        with every class's probability."""
        square = squash_square(crop, self.size_px)
        p = self._probabilities(square)
        if self.mirror:
            p = (p + self._probabilities(np.ascontiguousarray(square[:, ::-1]))) / 2.0
        best = int(p.argmax())
        probabilities = tuple((c, float(v)) for c, v in zip(self.classes, p, strict=True))
        return TrailerVerdict(self.classes[best], float(p[best]), probabilities=probabilities)

    def _probabilities(self, square: ImageBGR) -> np.ndarray:
        """Calibrated class probabilities, shape (n_classes,), of one model-sized square crop."""
        (probs,) = self.model.run(to_tensor(square))[:1]
        logits = np.log(np.clip(probs.astype(np.float32), 1e-9, 1.0))
        out: np.ndarray = softmax(logits, self.temperature)[0]
        return out
