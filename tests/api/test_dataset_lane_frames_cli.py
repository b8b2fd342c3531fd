"""``hgv-lane dataset lane-frames``: rendered lane clips to the vehicle detector's YOLO set."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from api.cli import main
from vision.synth.clip import random_lane_clip_spec, render_lane_clip


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
