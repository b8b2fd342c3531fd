"""Shared fixtures: small hand-made models and settings pointing at temporary folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from api.settings import ModelSettings, Settings


def write_tiny_detector(path: Path, names: dict[int, str], imgsz: int = 32) -> Path:
    """A real (tiny) ONNX model with ultralytics-style metadata.

    Input ``images`` (1, 3, imgsz, imgsz) float32; output ``output0`` (1, 3) = per-channel
    mean of the input (GlobalAveragePool then Flatten), so results can be checked.
    """
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, imgsz, imgsz])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3])
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny", [inp], [out], initializer=[numpy_helper.from_array(np.zeros(1, np.float32), "unused")]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in {"names": str(names), "imgsz": str([imgsz, imgsz]), "task": "detect"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    """Path of a tiny valid ONNX model with class names ``plate, vehicle, body``."""
    return write_tiny_detector(tmp_path / "models" / "tiny.onnx", {0: "plate", 1: "vehicle", 2: "body"})


@pytest.fixture
def settings(tmp_path: Path, tiny_model: Path) -> Settings:
    """Settings with the data dir and models dir in ``tmp_path``."""
    return Settings(data_dir=tmp_path / "data", models=ModelSettings(dir=tiny_model.parent))
