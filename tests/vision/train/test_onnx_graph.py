"""The DFL rewrite gives the same numbers with the softmax on the last axis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from vision.train.onnx_graph import dfl_softmax_last_axis

MODELS = Path(__file__).resolve().parents[3] / "models"


def dfl_head(anchors: int = 10, bins: int = 16) -> onnx.ModelProto:
    """The DFL block as ultralytics exports it: (1, 64, A) -> (1, 4, A) box distances."""
    shape_in = numpy_helper.from_array(np.array([1, 4, bins, anchors], np.int64), "shape_in")
    shape_out = numpy_helper.from_array(np.array([1, 4, anchors], np.int64), "shape_out")
    weight = numpy_helper.from_array(np.arange(bins, dtype=np.float32).reshape(1, bins, 1, 1), "w")
    nodes = [
        helper.make_node("Reshape", ["x", "shape_in"], ["r"], name="/dfl/Reshape"),
        helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3], name="/dfl/Transpose"),
        helper.make_node("Softmax", ["t"], ["s"], axis=1, name="/dfl/Softmax"),
        helper.make_node("Conv", ["s", "w"], ["c"], kernel_shape=[1, 1], name="/dfl/conv/Conv"),
        helper.make_node("Reshape", ["c", "shape_out"], ["y"], name="/dfl/Reshape_1"),
    ]
    graph = helper.make_graph(
        nodes,
        "dfl",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4 * bins, anchors])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, anchors])],
        initializer=[shape_in, shape_out, weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return onnx.shape_inference.infer_shapes(model)  # value_info as an export records it


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {sess.get_inputs()[0].name: x})[0])


def test_rewrite_keeps_the_numbers_and_moves_the_softmax_to_the_last_axis() -> None:
    model = dfl_head()
    x = np.random.default_rng(0).normal(0, 3, (1, 64, 10)).astype(np.float32)
    before = run(model, x)
    assert dfl_softmax_last_axis(model)
    softmax = next(n for n in model.graph.node if n.op_type == "Softmax")
    assert helper.get_attribute_value(softmax.attribute[0]) == 3
    assert "Conv" not in {n.op_type for n in model.graph.node}
    np.testing.assert_allclose(run(model, x), before, rtol=0, atol=1e-5)
    assert not dfl_softmax_last_axis(model)  # nothing left to rewrite


def test_a_graph_without_the_block_is_left_alone() -> None:
    model = dfl_head()
    next(n for n in model.graph.node if n.op_type == "Softmax").attribute[0].i = 2  # another axis
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    assert not dfl_softmax_last_axis(model)
    assert model == copy


@pytest.mark.parametrize("name", ["plate_detector.onnx", "vehicle_detector.onnx"])
def test_shipped_detectors_are_rewritten_already(name: str) -> None:
    """The shipped detectors were exported (or rewritten) with the DFL softmax on the last axis."""
    model = onnx.load(str(MODELS / name))
    assert not dfl_softmax_last_axis(model)
    assert any(i.name == "dfl_bin_weights" for i in model.graph.initializer)
