"""``bench/bench_lane_plates.py`` on the bundled fixture clip, with the shipped models."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from api.settings import PROJECT_ROOT


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_lane_plates", PROJECT_ROOT / "bench" / "bench_lane_plates.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_height_bands() -> None:
    band = _bench().height_band
    assert [band(h) for h in (9, 16, 23, 24, 39, 40, 120)] == [
        "8-15",
        "16-23",
        "16-23",
        "24-31",
        "32-39",
        "40+",
        "40+",
    ]


def test_fixture_clip_crops_are_read_scored_and_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not (PROJECT_ROOT / "models" / "plate_detector.onnx").is_file():
        pytest.skip("no shipped plate detector")
    assert (
        _bench().main(["--fixture", "--every", "2", "--engine", "crnn", "--out", str(tmp_path), "--json"])
        == 0
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["n"] > 0 and 0.0 <= result["exact_match"] <= 1.0
    assert sum(b["n"] for b in result["by_height_px"].values()) == result["n"]
    with (tmp_path / "manifest.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == result["n"] and all((tmp_path / r["image_path"]).is_file() for r in rows)
