"""Static int8 quantisation of the shipped plate detector (``vision/train/quantize.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from vision.detector import YoloDetector
from vision.runtime import OnnxModel
from vision.train.datasets import load_image
from vision.train.quantize import QUANT_KEY, calibration_images, head_float_nodes, quantize_detector

ROOT = Path(__file__).resolve().parents[3]
PLATES = ROOT / "models" / "plate_detector.onnx"
SCENES = ROOT / "fixtures" / "synth" / "scenes"


@pytest.mark.slow
def test_the_int8_detector_finds_what_the_float_one_finds(tmp_path: Path) -> None:
    images = calibration_images([SCENES], 6)
    report = quantize_detector(PLATES, tmp_path / "q.onnx", images)
    assert report.bytes_after < 0.5 * report.bytes_before and report.calibration_images == 6
    q, f = OnnxModel(tmp_path / "q.onnx", "cpu").info, OnnxModel(PLATES, "cpu").info
    assert (q.class_names, q.imgsz, q.task) == (f.class_names, f.imgsz, f.task)
    assert json.loads(q.metadata[QUANT_KEY])["float_model_sha256"] == f.sha256
    # quantising the head's decoding too rounds every score to 0: this would find nothing
    float_det, int8_det = YoloDetector(PLATES), YoloDetector(tmp_path / "q.onnx")
    n_float = n_matched = 0
    for path in sorted(SCENES.glob("*.jpg")):
        image = load_image(path)
        want = float_det.detect(image).detections
        got = int8_det.detect(image).detections
        n_float += len(want)
        n_matched += sum(any(d.box.iou(g.box) >= 0.7 for g in got) for d in want)
    assert n_float > 0 and n_matched >= 0.9 * n_float


def test_only_a_yolo_detect_head_is_accepted(tmp_path: Path) -> None:
    graph = onnx.load(str(PLATES))
    kept = head_float_nodes(graph)
    assert any("dfl" in n for n in kept) and any(n.endswith("cv2.0.2/Conv") for n in kept)
    assert not any("cv2.0.0" in n or "cv2.0.1" in n for n in kept)  # the branches' first convs: int8
    with pytest.raises(ValueError, match="expected a detector"):
        quantize_detector(ROOT / "models" / "trailer_classifier.onnx", tmp_path / "x.onnx", [])
    with pytest.raises(FileNotFoundError):
        calibration_images([tmp_path / "nowhere"], 4)
