"""The YOLO detector (plates, vehicles, trailer bodies) on ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vision.postprocess import decode_yolo_detect
from vision.preprocess import letterbox
from vision.runtime import ModelLoadError, OnnxModel, Providers
from vision.types import DetectionSet, ImageBGR


class YoloDetector:
    """A YOLOv8-style detector exported to ONNX by the project's own training command.

    Class names and input size come from the model's metadata; ``detect`` takes a BGR
    uint8 frame of any size and returns boxes in that frame's pixels. ``shrink_by_area``:
    frames bigger than the input are shrunk by averaging areas, as the model's training images
    were (the plate detector's tiles; :func:`vision.preprocess.letterbox`).
    """

    def __init__(
        self,
        path: str | Path,
        providers: Providers = "auto",
        *,
        conf_threshold: float = 0.25,
        iou_threshold: float = 0.5,
        intra_op_threads: int | None = None,
        shrink_by_area: bool = False,
    ) -> None:
        self.model = OnnxModel(path, providers, intra_op_threads=intra_op_threads)
        self.name = self.model.path.stem
        if self.model.info.task not in (None, "detect"):
            raise ModelLoadError(f"{path}: task is {self.model.info.task!r}, expected 'detect'")
        if not self.model.info.class_names or self.model.info.imgsz is None:
            raise ModelLoadError(f"{path}: metadata lacks class names or input size")
        self.class_names = self.model.info.class_names
        self.input_hw = self.model.info.imgsz
        shape = self.model.sample_output_shapes()[0]  # the warm-up's: no second run
        expected = 4 + len(self.class_names)
        if len(shape) != 3 or shape[0] != 1 or shape[1] != expected:
            raise ModelLoadError(
                f"{path}: output shape {shape} is not (1, {expected}, anchors) for the "
                f"{len(self.class_names)} class names in its metadata ({', '.join(self.class_names)}): "
                "not a YOLOv8 detect export, or its metadata names other classes"
            )
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        self.shrink_by_area = shrink_by_area

    def detect(self, image: ImageBGR) -> DetectionSet:
        """Detections in ``image`` (H, W, 3) uint8 BGR, highest confidence first."""
        tensor, lb = letterbox(image, self.input_hw, shrink_by_area=self.shrink_by_area)
        (output,) = self.model.run(tensor)[:1]
        return decode_yolo_detect(
            output.astype(np.float32),
            lb,
            self.class_names,
            conf_threshold=self.conf_threshold,
            iou_threshold=self.iou_threshold,
        )
