"""``hgv-lane dataset lane-bodies``: rendered lane clips to the trailer classifier's body crops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import main
from vision.pipeline.truth import load_clip_truth
from vision.synth.clip import random_lane_clip_spec, render_lane_clip

VEHICLE_DETECTOR = Path(__file__).resolve().parents[2] / "models" / "vehicle_detector.onnx"


def test_lane_bodies_cuts_the_detectors_boxes_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = random_lane_clip_spec(7903, n_vehicles=2, seconds=6.0, fps=2.0, size=(640, 360))
    render_lane_clip(spec, tmp_path / "clips" / "lane-7903", video=False, frames=True)
    argv = ["dataset", "lane-bodies", str(tmp_path / "clips"), "--val-fraction", "0", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "labelled")]) == 0
    labelled = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (
        main(
            [
                *argv,
                "--out",
                str(tmp_path / "det"),
                "--boxes",
                "detector",
                "--detector",
                str(VEHICLE_DETECTOR),
            ]
        )
        == 0
    )
    det = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    meta = json.loads((tmp_path / "det" / "lane_bodies.json").read_text())
    assert meta["boxes"] == "detector" and meta["min_iou"] == 0.3
    n_det, n_labelled = (sum(c["train"].values()) for c in (det["crops"], labelled["crops"]))
    assert n_labelled > 0 and n_det > 0  # the shipped detector finds rendered bodies
    files = list((tmp_path / "det" / "train").rglob("*.jpg"))
    assert len(files) == n_det and all(f.stem.rsplit("_", 1)[1].startswith("d") for f in files)
    truth = load_clip_truth(next((tmp_path / "clips" / "lane-7903").rglob("truth.json")))
    classes = {v.vehicle_id: v.body_type.value for v in truth.vehicles}
    for f in files:  # <lane>_<view>_<frame>_v<id>_d<k>: each crop in its vehicle's class folder
        assert f.parent.name == classes[int(f.stem.rsplit("_", 2)[1][1:])]


def test_lane_bodies_refuses_a_missing_detector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = random_lane_clip_spec(7904, n_vehicles=1, seconds=2.0, fps=2.0, size=(320, 180))
    render_lane_clip(spec, tmp_path / "clips" / "lane-7904", video=False, frames=True)
    argv = ["dataset", "lane-bodies", str(tmp_path / "clips"), "--out", str(tmp_path / "x"), "--quiet"]
    assert main([*argv, "--boxes", "detector", "--detector", str(tmp_path / "none.onnx")]) == 2
    assert "model file not found" in capsys.readouterr().err
    assert main([*argv, "--detector", str(VEHICLE_DETECTOR)]) == 2  # labelled boxes: no detector
    assert "--boxes detector" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
