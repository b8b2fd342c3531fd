"""``bench/bench_lane_detect.py``: the plate detector's recall on lane-camera frames."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from api.settings import PROJECT_ROOT
from tests.conftest import load_bench
from vision.types import BBox


def test_each_detection_covers_at_most_one_plate_best_overlap_first() -> None:
    matched = load_bench("bench_lane_detect").matched
    plates = [BBox(0, 0, 40, 10), BBox(100, 0, 140, 10)]
    # one detection between both plates' halves, one on the first plate, one on nothing
    found = [BBox(2, 0, 42, 10), BBox(0, 0, 30, 10), BBox(300, 300, 340, 310)]
    assert matched(plates, found, 0.3) == ([True, False], 2)
    assert matched(plates, [], 0.3) == ([False, False], 0)
    assert matched(plates, [BBox(100, 0, 110, 10)], 0.3) == ([False, False], 1)  # IoU 0.25


def test_fixture_clip_plates_are_counted_by_height_and_role(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not (PROJECT_ROOT / "models" / "plate_detector.onnx").is_file():
        pytest.skip("no shipped plate detector")
    shutil.copytree(PROJECT_ROOT / "fixtures" / "synth" / "clip", tmp_path / "clip")
    assert (
        load_bench("bench_lane_detect").main(["--clips-under", str(tmp_path), "--every", "4", "--json"]) == 0
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["clips"] == 1 and result["frames"] > 0 and result["plates"] > 0
    assert sum(b["n"] for b in result["by_height_px"].values()) == result["plates"]
    assert sum(r["n"] for r in result["by_role"].values()) == result["plates"]
    assert 0.5 < result["recall"] <= 1.0  # the shipped detector finds the fixture's plates
