from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from tests.conftest import write_tiny_detector
from vision.detector import YoloDetector
from vision.runtime import ModelLoadError


def test_a_detect_export_loads_and_detects_nothing_below_its_threshold(tiny_model: Path) -> None:
    detector = YoloDetector(tiny_model)
    assert detector.class_names == ("plate", "vehicle", "body") and detector.input_hw == (32, 32)
    assert len(detector.detect(np.zeros((48, 64, 3), np.uint8)).detections) == 0


def test_an_output_that_does_not_fit_its_class_names_is_refused_at_load(tmp_path: Path) -> None:
    # three classes in the graph, one in the metadata: every frame would have failed in decoding
    model = onnx.load(
        str(write_tiny_detector(tmp_path / "three.onnx", {0: "plate", 1: "vehicle", 2: "body"}))
    )
    next(p for p in model.metadata_props if p.key == "names").value = str({0: "plate"})
    onnx.save(model, str(tmp_path / "relabelled.onnx"))
    with pytest.raises(
        ModelLoadError, match=r"relabelled\.onnx: output shape \(1, 7, 4\) is not \(1, 5, anchors\)"
    ):
        YoloDetector(tmp_path / "relabelled.onnx")
