"""``bench/bench_lane_plates.py`` on the bundled fixture clip, with the shipped models."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from types import ModuleType

import cv2
import pytest

from api.settings import PROJECT_ROOT
from tests.conftest import load_bench


def _bench() -> ModuleType:
    return load_bench("bench_lane_plates")


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


def test_clip_folders_of_frames_read_like_the_video(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clip stored as a ``frames/`` folder (what ``synth lane`` writes) gives the same crops as
    its video; ``--min-height`` leaves out the short ones; clip folders are found under a root."""
    if not (PROJECT_ROOT / "models" / "plate_detector.onnx").is_file():
        pytest.skip("no shipped plate detector")
    bench = _bench()
    fixture = PROJECT_ROOT / "fixtures" / "synth" / "clip"
    clip = tmp_path / "root" / "lane-1" / "front"
    (clip / "frames").mkdir(parents=True)
    shutil.copy(fixture / "truth.json", clip / "truth.json")
    for i, frame in enumerate(bench.clip_frames(fixture)):
        cv2.imwrite(str(clip / "frames" / f"{i:06d}.png"), frame)  # lossless: the same pixels
    assert bench.clip_folders(tmp_path / "root") == [clip]
    args = ["--every", "4", "--engine", "crnn", "--json"]

    def result(*extra: str) -> dict[str, object]:
        assert bench.main([*args, *extra]) == 0
        return dict(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))

    video = result("--fixture")
    frames = result("--clips-under", str(tmp_path / "root"), "--out", str(tmp_path / "out"))
    assert frames["clips"] == ["lane-1-front"]
    assert {k: frames[k] for k in ("n", "exact_match", "by_height_px")} == {
        k: video[k] for k in ("n", "exact_match", "by_height_px")
    }
    assert all(p.name.startswith("lane-1-front_") for p in (tmp_path / "out").glob("*.png"))
    assert result("--fixture", "--min-height", "10000")["n"] == 0
    assert bench.main([*args, "--clips-under", str(tmp_path / "out")]) == 1  # no clip folders there
    assert "no clip folders" in capsys.readouterr().err
