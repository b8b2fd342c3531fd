from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from vision.trailer.classifier import TrailerClassifier
from vision.types import BodyType


def write_left_right_classifier(path: Path, size: int = 8) -> Path:
    """A tiny classify model with classes ``tilt, box``: softmax of 10 x (mean of the left half,
    mean of the right half) of the input's first channel, so a crop bright on its left is a
    tilt and its mirror image a box."""
    half = size // 2
    inits = [
        numpy_helper.from_array(np.array(v, np.int64), n)
        for n, v in {
            "s0": [0, 0],
            "e_left": [1, half],
            "e_right": [1, size],
            "s_right": [0, half],
            "axes": [1, 3],
        }.items()
    ] + [numpy_helper.from_array(np.array(10.0, np.float32), "ten")]
    nodes = [
        helper.make_node("Slice", ["images", "s0", "e_left", "axes"], ["left"]),
        helper.make_node("Slice", ["images", "s_right", "e_right", "axes"], ["right"]),
        helper.make_node("ReduceMean", ["left"], ["lm"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("ReduceMean", ["right"], ["rm"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["lm", "one"], ["l1"]),
        helper.make_node("Unsqueeze", ["rm", "one"], ["r1"]),
        helper.make_node("Concat", ["l1", "r1"], ["both"], axis=1),
        helper.make_node("Mul", ["both", "ten"], ["scaled"]),
        helper.make_node("Softmax", ["scaled"], ["output0"], axis=1),
    ]
    inits.append(numpy_helper.from_array(np.array([1], np.int64), "one"))
    graph = helper.make_graph(
        nodes,
        "left-right",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 2])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in {
        "names": str({0: "tilt", 1: "box"}),
        "imgsz": str([size, size]),
        "task": "classify",
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def left_right(tmp_path: Path) -> Path:
    return write_left_right_classifier(tmp_path / "lr.onnx")


def test_mirror_averages_a_crop_and_its_mirror_image(left_right: Path) -> None:
    crop = np.zeros((16, 16, 3), np.uint8)
    crop[:, :8, 2] = 255  # bright left half in the red channel: the model's first (RGB) channel
    plain = TrailerClassifier(left_right, "cpu", mirror=False).classify(crop)
    assert plain.body_type is BodyType.TILT and plain.confidence > 0.99
    both = TrailerClassifier(left_right, "cpu").classify(crop)  # mirror is the default
    probs = dict(both.probabilities)
    assert probs[BodyType.TILT] == pytest.approx(0.5, abs=1e-4)
    assert probs[BodyType.BOX] == pytest.approx(0.5, abs=1e-4)
    assert both.confidence == pytest.approx(0.5, abs=1e-4)
