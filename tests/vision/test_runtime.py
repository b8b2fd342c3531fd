from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tests.conftest import TINY_ANCHORS
from vision.runtime import SPIN_KEY, ModelLoadError, OnnxModel, parse_class_names, resolve_providers


def test_loads_metadata_and_runs(tiny_model: Path) -> None:
    model = OnnxModel(tiny_model, "cpu")
    assert model.info.class_names == ("plate", "vehicle", "body")
    assert model.info.imgsz == (32, 32)
    assert model.info.task == "detect"
    assert model.info.input_name == "images"
    assert model.info.output_names == ("output0",)
    assert model.info.providers == ("CPUExecutionProvider",)
    assert len(model.info.sha256) == 64
    assert model.warmup_ms is not None
    x = np.zeros((1, 3, 32, 32), np.float32)
    x[0, 1] = 0.5
    (out,) = model.run(x)
    assert out.shape == (1, 4 + 3, TINY_ANCHORS)
    np.testing.assert_allclose(out.reshape(-1)[:4], [0.0, 0.5, 0.0, 0.0], atol=1e-6)


def test_threads_do_not_spin_unless_asked(tiny_model: Path) -> None:
    """Several sessions share 2 cores in a lane: spinning pool threads would take them."""
    quiet = OnnxModel(tiny_model, "cpu", warmup=False).session.get_session_options()
    assert quiet.get_session_config_entry(SPIN_KEY) == "0"
    spinning = OnnxModel(tiny_model, "cpu", warmup=False, spin=True).session.get_session_options()
    with pytest.raises(RuntimeError):  # not set: ONNX Runtime's default (spin)
        spinning.get_session_config_entry(SPIN_KEY)


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.onnx"
    with pytest.raises(ModelLoadError, match=r"not found: .*nope\.onnx"):
        OnnxModel(missing)


def test_truncated_file_is_named(tiny_model: Path, tmp_path: Path) -> None:
    data = tiny_model.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match=r"cut\.onnx"):
        OnnxModel(cut)


def test_not_onnx_and_empty_are_named(tmp_path: Path) -> None:
    text = tmp_path / "weights.onnx"
    text.write_text("this is not a model\n" * 20)
    with pytest.raises(ModelLoadError, match=r"weights\.onnx"):
        OnnxModel(text)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"empty: .*empty\.onnx"):
        OnnxModel(empty)


def test_provider_choice() -> None:
    assert resolve_providers("cpu") == ["CPUExecutionProvider"]
    auto = resolve_providers("auto")
    assert auto[-1] == "CPUExecutionProvider"
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert auto[0] in ("TensorrtExecutionProvider", "CUDAExecutionProvider")
    else:
        assert auto == ["CPUExecutionProvider"]
        with pytest.raises(ModelLoadError, match="cuda"):
            resolve_providers("cuda")


def test_parse_class_names() -> None:
    assert parse_class_names("{0: 'plate', 2: 'body', 1: 'vehicle'}") == ("plate", "vehicle", "body")
    assert parse_class_names("['hard', 'soft']") == ("hard", "soft")
    assert parse_class_names(None) == ()
    with pytest.raises(ModelLoadError):
        parse_class_names("not python")
