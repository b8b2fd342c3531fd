"""export_onnx: a file that fails its check never replaces the model that was there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import vision.train.yolo as yolo


class FakeYolo:
    """Stands in for ultralytics.YOLO: 'exports' a one-node ONNX file (y = x)."""

    task = "classify"

    def __init__(self, weights: str, *args: Any, **kwargs: Any) -> None:
        self.folder = Path(weights).parent

    def export(self, **kwargs: Any) -> str:
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])
        graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
        path = self.folder / "exported.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
        return str(path)


def test_a_failed_check_leaves_the_old_model_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ultralytics

    monkeypatch.setattr(ultralytics, "YOLO", FakeYolo)
    monkeypatch.setattr(yolo, "configure_ultralytics", lambda data_dir: None)
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"weights")
    out = tmp_path / "models" / "m.onnx"
    out.parent.mkdir()
    out.write_bytes(b"the shipped model")

    def disagree(*args: Any) -> None:
        raise RuntimeError("ONNX export disagrees with torch")

    monkeypatch.setattr(yolo, "_check_export", disagree)
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(RuntimeError, match="disagrees"):
        yolo.export_onnx(weights, out, imgsz=8, data_dir=tmp_path, check_images=[image])
    assert out.read_bytes() == b"the shipped model"
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.onnx"]
    # a passing check moves the new file into place
    monkeypatch.setattr(yolo, "_check_export", lambda *args: None)
    assert yolo.export_onnx(weights, out, imgsz=8, data_dir=tmp_path, check_images=[image]) == out
    assert onnx.load(str(out)).graph.node[0].op_type == "Identity"
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.onnx"]


class FakeTrainer:
    """What the progress line reads of ultralytics' trainer (``epoch`` counts from 0)."""

    def __init__(self, epoch: int, epochs: int) -> None:
        self.epoch, self.epochs = epoch, epochs
        self.tloss = None
        self.metrics = {"metrics/mAP50(B)": 0.5, "val/box_loss": 1.0}
        self.train_time_start = None

    def label_loss_items(self, loss: Any, prefix: str) -> dict[str, float]:
        return {f"{prefix}/box_loss": 1.25}


def test_progress_lines_count_epochs_then_name_the_final_validation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One line per epoch trained, then one for the validation of best.pt that ultralytics runs
    after the last through the same hook: not ``epoch 2/1``, nor ``epoch 5/10`` after an early
    stop at epoch 3."""
    for epochs, stopped_after in ((1, 1), (10, 3)):
        progress = yolo._Progress()
        for epoch in range(stopped_after):
            progress.epoch_trained(FakeTrainer(epoch, epochs))
            progress.fit_epoch_end(FakeTrainer(epoch, epochs))
        progress.fit_epoch_end(FakeTrainer(stopped_after + 1, epochs))  # the final validation
        lines = capsys.readouterr().err.splitlines()
        steps = [f"epoch {e + 1}/{epochs}" for e in range(stopped_after)] + ["best.pt"]
        assert [ln.split("  ")[0] for ln in lines] == steps
        assert "box_loss 1.2500" in lines[0] and "mAP50 0.5000" in lines[0]
