"""``hgv-lane models``: a model the lanes cannot load as its role never gets into the registry
or into use (it had: a classifier of hard/soft/other classes was registered and, forced,
promoted; the lanes then failed to start)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

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
