"""``hgv-lane dataset lane-frames``: rendered lane clips to the vehicle detector's YOLO set."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from api.cli import main
from vision.pipeline.testing import write_clip_truth
from vision.synth.clip import random_lane_clip_spec, render_lane_clip
from vision.types import BodyType


def _old_set(root: Path) -> Path:
    for split, n in (("train", 5), ("val", 2)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(n):
            assert cv2.imwrite(str(root / "images" / split / f"s{i}.jpg"), np.zeros((32, 32, 3), np.uint8))
            (root / "labels" / split / f"s{i}.txt").write_text("1 0.5 0.5 0.5 0.5\n")
    (root / "data.yaml").write_text("train: images/train\nval: images/val\nnames:\n  0: vehicle\n  1: body\n")
    return root


def test_lane_frames_writes_a_set_and_a_merged_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = random_lane_clip_spec(7902, n_vehicles=2, seconds=6.0, fps=2.0, size=(320, 180))
    render_lane_clip(spec, tmp_path / "clips" / "lane-7902", video=False, frames=True)
    old = _old_set(tmp_path / "old")
    out = tmp_path / "set"
    argv = ["dataset", "lane-frames", str(tmp_path / "clips"), "--out", str(out), "--every", "3"]
    assert main([*argv, "--merge", str(old), "--merge-sample", "3", "--empty-every", "1", "--quiet"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    n_images = printed["images"]["train"] + printed["images"]["val"]
    assert n_images == 3 * 12 // 3  # 3 cameras x 12 frames, every 3rd, empty frames all kept
    assert printed["clips"]["train"] + printed["clips"]["val"] == 3
    assert printed["merged"]["other_train"] == 3 and printed["merged"]["other_val"] == 2
    merged = yaml.safe_load((out / "merged.yaml").read_text())
    assert merged["names"] == {0: "vehicle", 1: "body"}
    train_list = (out / merged["train"]).read_text().splitlines()
    assert len(train_list) == printed["images"]["train"] + 3
    assert sum(1 for p in train_list if Path(p).parent == (old / "images" / "train").resolve()) == 3
    # a second run into the same folder is refused, nothing changed
    assert main([*argv, "--quiet"]) == 2
    assert "exists" in capsys.readouterr().err
    assert (
        main(["dataset", "lane-frames", str(tmp_path / "nothing"), "--out", str(tmp_path / "x"), "--quiet"])
        == 2
    )


def test_plate_tiles_takes_lane_clips_split_by_lane_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for seed in range(4):
        lane = tmp_path / "clips" / f"lane-{seed}"
        for view in ("front", "rear"):
            (lane / view / "frames").mkdir(parents=True)
            assert cv2.imwrite(str(lane / view / "frames" / "000000.jpg"), np.zeros((360, 640, 3), np.uint8))
            plate = {"role": view, "text": "AB12CDE", "box": [300, 300, 360, 316]}
            obj = {"vehicle_id": 1, "box": [200, 100, 500, 340], "body_box": None, "plates": [plate]}
            write_clip_truth(lane / view, [BodyType.BOX], [[obj]], view=view)
        (lane / "lane.json").write_text("{}")
    out = tmp_path / "tiles"
    argv = [
        "dataset",
        "plate-tiles",
        "--out",
        str(out),
        "--clips",
        str(tmp_path / "clips"),
        "--val-fraction",
        "0.5",
    ]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["lane_frames"] == 8
    assert printed["tiles"]["train"] + printed["tiles"]["val"] == 8 * 2  # a tile at the plate + a negative
    sides = {lane: {p.parent.name for p in out.glob(f"images/*/lane-{lane}_*.jpg")} for lane in range(4)}
    assert all(len(s) == 1 for s in sides.values())  # both cameras of a lane set on one side
    label = next(out.glob("labels/*/lane-0_front_000000_0.txt")).read_text().split()
    assert (
        label[0] == "0" and abs(float(label[3]) * 320 - 60) < 1.5
    )  # the plate: a 640-px frame is at the work scale
    assert (
        main(["dataset", "plate-tiles", "--out", str(tmp_path / "t2"), "--clips", str(tmp_path / "nope")])
        == 2
    )
