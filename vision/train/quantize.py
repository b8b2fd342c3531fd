"""Static int8 quantisation of an exported YOLOv8 detector (ONNX Runtime, QDQ format).

On these 2 CPU cores the plate detector at 384x640 is the most expensive model of a frame; int8
convolutions run it in about two thirds of the float time (``bench/bench_models.py``).

- **Weights** int8 per output channel, **activations** uint8 with ranges from calibration
  images run through the float model (the 99.999th percentile, so one hot pixel does not
  stretch a range), letterboxed exactly as :class:`vision.detector.YoloDetector` does.
- **The head's decoding stays float**: the last convolution of each box and class branch and
  everything after it in the head (DFL, sigmoid, the concatenation of box coordinates in
  pixels with class scores in 0-1). One int8 scale cannot hold both 0-640 and 0-1: quantised,
  every score rounds to 0 and the detector finds nothing.
- The float model's metadata (class names, input size, task) is copied, with a
  ``quantization`` entry saying how it was made.

Check the result with ``hgv-lane evaluate OUT --data D --against SRC`` (mAP of both).
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from vision.preprocess import letterbox
from vision.runtime import OnnxModel
from vision.train.datasets import load_image

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
QUANT_KEY = "quantization"
"""Metadata key of a quantised model: how it was quantised (JSON)."""


@dataclass(frozen=True, slots=True)
class QuantReport:
    """What :func:`quantize_detector` did; sizes in bytes."""

    out: Path
    calibration_images: int
    float_nodes: int
    bytes_before: int
    bytes_after: int


def calibration_images(sources: Sequence[Path], n: int, seed: int = 0) -> list[Path]:
    """``n`` image files drawn (seeded) from ``sources``: folders (searched recursively) or
    image files. Raises ``FileNotFoundError`` when a source is missing or none holds an image."""
    files: list[Path] = []
    for src in sources:
        if src.is_dir():
            files += sorted(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        elif src.is_file() and src.suffix.lower() in IMAGE_SUFFIXES:
            files.append(src)
        else:
            raise FileNotFoundError(f"{src}: no such image or folder")
    if not files:
        raise FileNotFoundError(f"no images under {', '.join(map(str, sources))}")
    random.Random(seed).shuffle(files)
    return files[:n]


def head_float_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes kept float: in the last module of an ultralytics detect graph
    (``/model.N/...``, N the highest), each branch's last convolution (``cv2.k.2``, ``cv3.k.2``)
    and every node that is not in a branch (the decoding). Raises ``ValueError`` for a graph
    that is not an ultralytics YOLOv8 detector."""
    names = [n.name for n in model.graph.node]
    modules = [int(n.split("/")[1].split(".")[1]) for n in names if n.startswith("/model.")]
    if not modules:
        raise ValueError("not an ultralytics YOLO graph (no /model.N/ nodes)")
    head = f"/model.{max(modules)}/"
    out = []
    for n in names:
        if not n.startswith(head):
            continue
        branch = n[len(head) :].split("/")[0]  # e.g. cv2.0, cv3.2, dfl, Concat_1
        last_conv = branch.startswith(("cv2.", "cv3.")) and f"/{branch}.2/" in n
        if last_conv or not branch.startswith(("cv2.", "cv3.")):
            out.append(n)
    if not any("dfl" in n for n in out):
        raise ValueError(f"no DFL decoding in {head}: not a YOLOv8 detect head")
    return out


class _Letterboxed:
    """Calibration feed: each image letterboxed to the model input (an ORT CalibrationDataReader)."""

    def __init__(self, files: Sequence[Path], input_name: str, input_hw: tuple[int, int]) -> None:
        self._files: Iterator[Path] = iter(files)
        self.input_name, self.input_hw = input_name, input_hw

    def get_next(self) -> dict[str, np.ndarray] | None:
        f = next(self._files, None)
        if f is None:
            return None
        tensor, _ = letterbox(load_image(f), self.input_hw)
        return {self.input_name: tensor}


def quantize_detector(src: Path, out: Path, images: Sequence[Path]) -> QuantReport:
    """Write the int8 version of detector ``src`` (ONNX, fixed input) to ``out``, calibrated
    on ``images`` (module docstring). Raises ``ValueError`` when ``src`` is not a YOLOv8
    detector with a fixed input size or ``images`` is empty."""
    from onnxruntime.quantization import (  # noqa: PLC0415 - only this command needs it
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process  # noqa: PLC0415

    info = OnnxModel(src, "cpu", warmup=False).info
    if info.task != "detect" or info.imgsz is None:
        raise ValueError(f"{src}: task {info.task!r}, input size {info.imgsz}: expected a detector")
    if not images:
        raise ValueError("no calibration images")
    float_model = onnx.load(str(src))
    input_hw = (int(info.imgsz[0]), int(info.imgsz[-1]))

    class Feed(_Letterboxed, CalibrationDataReader):
        pass

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        keep_float = head_float_nodes(onnx.load(str(pre)))
        quantize_static(
            str(pre),
            str(out),
            Feed(images, info.input_name, input_hw),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile,
            nodes_to_exclude=keep_float,
        )
    quant = onnx.load(str(out))
    del quant.metadata_props[:]
    quant.metadata_props.extend(float_model.metadata_props)
    entry = quant.metadata_props.add()
    entry.key = QUANT_KEY
    entry.value = json.dumps(
        {
            "format": "int8 QDQ, weights per channel, activations uint8 (percentile 99.999)",
            "calibration_images": len(images),
            "float_nodes": len(keep_float),
            "float_model_sha256": info.sha256,
        }
    )
    onnx.save(quant, str(out))
    log.info("quantised %s -> %s (%d calibration images)", src, out, len(images))
    return QuantReport(out, len(images), len(keep_float), src.stat().st_size, out.stat().st_size)
