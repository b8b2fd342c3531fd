"""``hgv-lane models``: a model the lanes cannot load as its role never gets into the registry
or into use (it had: a classifier of hard/soft/other classes was registered and, forced,
promoted; the lanes then failed to start)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from api.cli import main
from api.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _settings(tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HGV_LANE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HGV_LANE_MODELS__DIR", str(tiny_model.parent))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_model_of_another_role_is_not_added(tiny_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "add", str(tiny_model), "--role", "trailer_classifier"]) == 1
    err = capsys.readouterr().err
    assert "cannot be used as trailer_classifier" in err and "expected 'classify'" in err
    assert get_settings().model_registry().versions("trailer_classifier")[-1].version == "shipped"
    assert main(["models", "add", str(tiny_model), "--role", "plate_detector"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["version"] == "v1"


def test_promote_refuses_a_version_the_lanes_cannot_load_even_forced(
    tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = get_settings().model_registry()
    bad = registry.add("trailer_classifier", tiny_model)  # behind the CLI's back
    argv = ["models", "promote", "trailer_classifier", bad.version, "--force", "--reason", "try"]
    assert main(argv) == 1
    assert "cannot be used as trailer_classifier" in capsys.readouterr().err
    assert registry.current("trailer_classifier").version == "shipped"


def test_forcing_a_promotion_needs_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    registry = get_settings().model_registry()
    good = registry.add("trailer_classifier", ROOT / "models" / "trailer_classifier.onnx")
    assert main(["models", "promote", "trailer_classifier", good.version, "--force"]) == 2
    assert "--force needs --reason" in capsys.readouterr().err
    assert main(["models", "promote", "trailer_classifier", good.version, "--force", "--reason", "x"]) == 0
    assert registry.current("trailer_classifier").version == good.version


def test_a_retrained_plate_reader_is_added_compared_promoted_swapped_in_and_rolled_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader's own recogniser is a registry role like the detectors (it had no way into the
    service but overwriting models/plate_reader.onnx): a candidate is compared on a plate
    manifest by exact match, promoted, swapped into running lanes, and rolled back."""
    from vision.pipeline.factory import DetectorLoaders, ModelFiles, load_models
    from vision.pipeline.reload import ModelWatcher

    models = tmp_path / "models"
    shutil.copy(ROOT / "models" / "plate_reader.onnx", models / "plate_reader.onnx")
    monkeypatch.setenv("HGV_LANE_READER__ENGINE", "crnn")
    get_settings.cache_clear()
    settings = get_settings()
    registry = settings.model_registry()
    shared = load_models(
        ModelFiles(
            models / "tiny.onnx",
            models / "tiny.onnx",
            models / "none.onnx",
            reader=models / "plate_reader.onnx",
        ),
        reader_engine="crnn",
        work_dir=tmp_path / "data",
        require_classifier=False,
    )
    watcher = ModelWatcher(registry)
    shared.watch(watcher, DetectorLoaders())
    assert shared.reader_slot is not None and shared.reader.engine.name == "crnn"

    assert main(["models", "add", str(ROOT / "models" / "plate_reader.onnx")]) == 0  # its role from its task
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {
        "role": "plate_reader",
        "version": "v1",
        "onnx": str(registry.get("plate_reader", "v1").onnx),
    }
    manifest = ROOT / "fixtures" / "synth" / "plates" / "manifest.csv"
    assert main(["models", "promote", "plate_reader", "v1", "--reference", str(manifest)]) == 0
    said = capsys.readouterr()
    assert "exact_match" in said.out and "plate_reader: v1 is in use" in said.out
    assert "read as crnn in the reader engine crnn (reader.engine)" in said.out
    assert json.loads(said.out.strip().splitlines()[-1])["reader_engine"] == "crnn"
    assert watcher.check() == ["plate_reader"] and shared.reader_slot.version == "v1"
    # the lanes read with the version swapped in
    crop = cv2.imread(str(manifest.parent / "crops" / "plate_0001_1.jpg"))
    assert crop is not None and shared.reader.read(crop) is not None
    assert main(["models", "rollback", "plate_reader"]) == 0
    assert watcher.check() == ["plate_reader"] and shared.reader_slot.version == "shipped"
