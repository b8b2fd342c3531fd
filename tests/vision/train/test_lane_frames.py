"""Rendered lane clips to the vehicle detector's YOLO set (``vision/train/lane_frames.py``)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from vision.pipeline.testing import write_clip_truth
from vision.pipeline.truth import load_clip_truth
from vision.synth.clip import random_lane_clip_spec, render_lane_clip
from vision.train.datasets import read_yolo_labels, split_of
from vision.train.evaluate import read_yolo_split
from vision.train.lane_frames import clip_box, find_clips, plate_frames, write_lane_frames, write_merged
from vision.types import BBox, BodyType


@pytest.fixture(scope="module")
def lanes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tiny rendered lane sets (front, side, rear; 2 lorries, 8 s at 2 fps, 320x180)."""
    root = tmp_path_factory.mktemp("clips")
    for seed in (7900, 7901):
        spec = random_lane_clip_spec(seed, n_vehicles=2, seconds=8.0, fps=2.0, size=(320, 180))
        render_lane_clip(spec, root / f"lane-{seed}", video=False, frames=True)
    return root


def _truth(folder: Path, objects: list[dict[str, object]], n_frames: int = 1) -> Path:
    """A hand-made clip (640x360, black frames): one box lorry, ``objects`` in frame 0, later frames empty."""
    (folder / "frames").mkdir(parents=True)
    for i in range(n_frames):
        assert cv2.imwrite(str(folder / "frames" / f"{i:06d}.jpg"), np.zeros((360, 640, 3), np.uint8))
    return write_clip_truth(folder, [BodyType.BOX], [objects, *([] for _ in range(n_frames - 1))])


def test_every_labelled_box_of_the_kept_frames_is_written(lanes: Path, tmp_path: Path) -> None:
    out = tmp_path / "set"
    counts = write_lane_frames([lanes], out, every=2, val_fraction=0.5, empty_every=1)
    n_boxes = 0
    for clip in find_clips([lanes]):
        truth = load_clip_truth(clip.folder / "truth.json")
        for i in range(0, truth.n_frames, 2):
            split = split_of(clip.group, 0.5)
            label = out / "labels" / split / f"{clip.name}_{i:06d}.txt"
            got = read_yolo_labels(label, truth.width_px, truth.height_px)
            want = [(0, o.box) for o in truth.frames[i]] + [
                (1, o.body_box) for o in truth.frames[i] if o.body_box is not None
            ]
            assert sorted(c for c, _ in got) == sorted(c for c, _ in want)
            for (c, b), (c2, b2) in zip(sorted(got, key=str), sorted(want, key=str), strict=True):
                assert c == c2
                assert b.iou(b2) > 0.99
            n_boxes += len(want)
    assert sum(counts.boxes.values()) == n_boxes > 0
    # 2 lanes x 3 cameras x 16 frames, every 2nd
    assert counts.images["train"] + counts.images["val"] == 2 * 3 * 16 // 2
    spec = yaml.safe_load((out / "data.yaml").read_text())
    assert spec["names"] == {0: "vehicle", 1: "body"}
    assert "path" not in spec


def test_split_is_by_lane_set_not_by_frame_or_camera(lanes: Path, tmp_path: Path) -> None:
    out = tmp_path / "set"
    write_lane_frames([lanes], out, every=1, val_fraction=0.5)
    side_of: dict[str, set[str]] = {}
    for split in ("train", "val"):
        for p in (out / "images" / split).glob("*.jpg"):
            side_of.setdefault(p.name.split("_")[0], set()).add(split)
    assert set(side_of) == {"lane-7900", "lane-7901"}
    for lane, sides in side_of.items():
        assert sides == {split_of(lane, 0.5)}
    meta = json.loads((out / "lane_frames.json").read_text())
    assert meta["val_groups"] == sorted(k for k in side_of if split_of(k, 0.5) == "val")


def test_a_box_mostly_outside_the_frame_is_dropped_and_one_half_in_is_clipped(tmp_path: Path) -> None:
    clip = _truth(
        tmp_path / "clips" / "c1",
        [
            # 70 % inside (x from -60 to 140): kept, clipped to x1 = 0
            {"vehicle_id": 1, "box": [-60, 100, 140, 300], "body_box": [-60, 100, 100, 250], "plates": []},
            # 25 % inside: dropped (its body box too)
            {"vehicle_id": 2, "box": [590, 100, 790, 300], "body_box": [600, 100, 780, 250], "plates": []},
            # a 10 px sliver: dropped
            {"vehicle_id": 3, "box": [300, 340, 400, 350], "body_box": None, "plates": []},
        ],
    )
    out = tmp_path / "set"
    counts = write_lane_frames([clip.parent], out, every=1, val_fraction=0.0)
    got = read_yolo_labels(out / "labels" / "train" / "c1_000000.txt", 640, 360)
    assert [c for c, _ in got] == [0, 1]
    assert got[0][1].x1 == pytest.approx(0.0, abs=0.01)
    assert got[0][1].x2 == pytest.approx(140.0, abs=0.01)
    assert counts.dropped_boxes == 3
    assert clip_box(BBox(-60, 0, 140, 100), 640, 360, min_in_frame=0.8, min_side_px=16) is None


def test_frames_without_a_vehicle_are_thinned(tmp_path: Path) -> None:
    box = {"vehicle_id": 1, "box": [100, 100, 300, 300], "body_box": None, "plates": []}
    clip = _truth(tmp_path / "clips" / "c1", [box], n_frames=7)
    counts = write_lane_frames([clip.parent], tmp_path / "set", every=1, val_fraction=0.0, empty_every=3)
    # frame 0 labelled; empty frames 1..6: the 1st and 4th kept
    names = sorted(p.stem for p in (tmp_path / "set" / "images" / "train").glob("*.jpg"))
    assert names == ["c1_000000", "c1_000001", "c1_000004"]
    assert counts.skipped_empty == 4
    assert counts.empty_images["train"] == 2


def test_merged_yaml_adds_a_sample_of_the_old_set_and_all_its_val(lanes: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    for split, n in (("train", 6), ("val", 2)):
        for i in range(n):
            (old / "images" / split).mkdir(parents=True, exist_ok=True)
            (old / "labels" / split).mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(old / "images" / split / f"s{i}.jpg"), np.zeros((64, 64, 3), np.uint8))
            (old / "labels" / split / f"s{i}.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (old / "data.yaml").write_text("train: images/train\nval: images/val\nnames:\n  0: vehicle\n  1: body\n")
    out = tmp_path / "set"
    counts = write_lane_frames([lanes], out, every=4, val_fraction=0.5)
    merged = write_merged(out, old / "data.yaml", sample=4, seed=1)
    assert merged == {
        "train": counts.images["train"] + 4,
        "val": counts.images["val"] + 2,
        "other_train": 4,
        "other_val": 2,
    }
    names, items, unreadable = read_yolo_split(out / "merged.yaml", "val")
    assert names == {0: "vehicle", 1: "body"} and not unreadable
    assert len(items) == merged["val"]
    assert sum(1 for it in items if it.path.parent == (old / "images" / "val").resolve()) == 2
    (old / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [plate]\n")
    with pytest.raises(ValueError, match="classes"):
        write_merged(out, old)


def test_refuses_an_existing_set_and_a_folder_without_clips(lanes: Path, tmp_path: Path) -> None:
    out = tmp_path / "set"
    write_lane_frames([lanes], out, every=8)
    with pytest.raises(FileExistsError):
        write_lane_frames([lanes], out, every=8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"truth\.json"):
        write_lane_frames([tmp_path / "empty"], tmp_path / "set2")
    with pytest.raises(ValueError, match="every"):
        write_lane_frames([lanes], tmp_path / "set3", every=0)


def test_a_clip_without_frames_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    box = {"vehicle_id": 1, "box": [100, 60, 400, 300], "body_box": [120, 80, 380, 280], "plates": []}
    _truth(tmp_path / "clips" / "a", [box])
    _truth(tmp_path / "clips" / "b", [box])
    shutil.rmtree(tmp_path / "clips" / "b" / "frames")  # clip b, after a: refused up front
    with pytest.raises(ValueError, match="no frames/ folder"):
        write_lane_frames([tmp_path / "clips"], tmp_path / "set")
    assert not (tmp_path / "set").exists()


def _plated(folder: Path, view: str, n_frames: int) -> Path:
    """A hand-made clip: a lorry in every frame, its plate labelled in odd frames only."""
    (folder / "frames").mkdir(parents=True)
    objects: list[list[dict[str, object]]] = []
    for i in range(n_frames):
        assert cv2.imwrite(str(folder / "frames" / f"{i:06d}.jpg"), np.zeros((360, 640, 3), np.uint8))
        plates = [{"role": "front", "text": "AB12CDE", "box": [300, 300, 360, 315]}] if i % 2 else []
        objects.append([{"vehicle_id": 1, "box": [200, 100, 500, 340], "body_box": None, "plates": plates}])
    return write_clip_truth(folder, [BodyType.BOX], objects, view=view)


def test_plate_frames_are_the_front_and_rear_frames_that_show_a_plate(tmp_path: Path) -> None:
    for view in ("front", "side", "rear"):
        _plated(tmp_path / "lane-1" / view, view, 6)
    (tmp_path / "lane-1" / "lane.json").write_text("{}")
    got = plate_frames([tmp_path], every=1)
    assert [f.name for f in got] == [f"lane-1_{v}_{i:06d}" for v in ("front", "rear") for i in (1, 3, 5)]
    assert {f.group for f in got} == {"lane-1"}  # one lane set: one side of the split
    assert all(f.plates == (BBox(300, 300, 360, 315),) and f.image.is_file() for f in got)
    assert [f.name for f in plate_frames([tmp_path], every=3)] == [
        "lane-1_front_000003",
        "lane-1_rear_000003",
    ]
    with pytest.raises(ValueError, match="every"):
        plate_frames([tmp_path], every=0)


def test_plate_frames_whose_image_is_missing_are_skipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _plated(tmp_path / "lane-1" / "front", "front", 6)
    (tmp_path / "lane-1" / "lane.json").write_text("{}")
    (tmp_path / "lane-1" / "front" / "frames" / "000003.jpg").unlink()
    (tmp_path / "lane-1" / "front" / "frames" / "000004.jpg").unlink()  # shows no plate: not counted
    with caplog.at_level(logging.WARNING, logger="vision.train.lane_frames"):
        got = plate_frames([tmp_path], every=1)
    assert [f.name for f in got] == ["lane-1_front_000001", "lane-1_front_000005"]
    assert "1 frame(s) with a labelled plate have no image" in caplog.text
