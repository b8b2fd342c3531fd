"""Swapping promoted models into running lanes: ModelWatcher with a real registry."""

from __future__ import annotations

import time
from pathlib import Path

from vision.pipeline.reload import ModelSlot, ModelWatcher
from vision.registry import ModelRegistry


def _setup(tmp_path: Path) -> tuple[ModelRegistry, Path]:
    shipped = tmp_path / "models"
    shipped.mkdir()
    (shipped / "plate_detector.onnx").write_text("shipped")
    exports = tmp_path / "exports"
    exports.mkdir()
    return ModelRegistry(tmp_path / "registry", shipped), exports


def _load(path: Path) -> str:
    text = path.read_text()
    if text == "broken":
        raise ValueError(f"{path}: not a model")
    return text


def test_a_promotion_swaps_the_model_and_a_rollback_swaps_it_back(tmp_path: Path) -> None:
    reg, exports = _setup(tmp_path)
    (exports / "new.onnx").write_text("new")
    slot = ModelSlot(_load(reg.current("plate_detector").onnx))
    watcher = ModelWatcher(reg)
    watcher.watch("plate_detector", slot, _load)
    assert watcher.check() == [] and slot.model == "shipped"
    v = reg.add("plate_detector", exports / "new.onnx")
    assert watcher.check() == []  # added is not in use
    reg.promote("plate_detector", v.version)
    assert watcher.check() == ["plate_detector"]
    assert (slot.model, slot.version) == ("new", "v1")
    reg.rollback("plate_detector")
    assert watcher.check() == ["plate_detector"] and slot.model == "shipped"
    assert watcher.reloads == 2
    assert [(u.role, u.version, u.error) for u in watcher.in_use()] == [("plate_detector", "shipped", "")]


def test_a_version_that_does_not_load_leaves_the_lanes_on_the_old_model(tmp_path: Path) -> None:
    reg, exports = _setup(tmp_path)
    (exports / "bad.onnx").write_text("broken")
    slot = ModelSlot("shipped")
    watcher = ModelWatcher(reg)
    watcher.watch("plate_detector", slot, _load)
    reg.promote("plate_detector", reg.add("plate_detector", exports / "bad.onnx").version)
    assert watcher.check() == [] and slot.model == "shipped"
    (u,) = watcher.in_use()
    assert u.version == "shipped" and "v1" in u.error and "not a model" in u.error
    assert watcher.check() == []  # not retried until the version in use changes again


def test_the_thread_polls(tmp_path: Path) -> None:
    reg, exports = _setup(tmp_path)
    (exports / "new.onnx").write_text("new")
    slot = ModelSlot("shipped")
    watcher = ModelWatcher(reg, poll_s=0.05)
    watcher.watch("plate_detector", slot, _load)
    watcher.start()
    try:
        reg.promote("plate_detector", reg.add("plate_detector", exports / "new.onnx").version)
        deadline = time.monotonic() + 5
        while slot.model != "new" and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        watcher.stop()
    assert slot.model == "new"
