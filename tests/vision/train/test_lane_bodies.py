"""Rendered lane clips to the trailer classifier's body crops (``vision/train/lane_bodies.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.pipeline.config import ReadPolicy
from vision.pipeline.testing import write_clip_truth
from vision.pipeline.truth import load_clip_truth
from vision.preprocess import crop
from vision.synth.clip import random_lane_clip_spec, render_lane_clip
from vision.train.datasets import load_image, split_of
from vision.train.lane_bodies import hidden_share, write_lane_bodies
from vision.train.lane_frames import find_clips
from vision.types import BBox, BodyType, Detection, DetectionSet


def _clip(folder: Path, bodies: list[list[float] | None], crop_class: str = "curtainsider") -> Path:
    """A hand-made front clip (640x360, 1 frame): vehicle ``i + 1`` has body box ``bodies[i]``;
    the frame is a gradient (blue = x, green = y), so a crop's pixels tell where it was cut."""
    (folder / "frames").mkdir(parents=True)
    ys, xs = np.mgrid[0:360, 0:640]
    frame = np.stack([xs * 255 // 639, ys * 255 // 359, np.full_like(xs, 128)], axis=-1).astype(np.uint8)
    assert cv2.imwrite(str(folder / "frames" / "000000.png"), frame)
    objects: list[dict[str, object]] = [
        {"vehicle_id": i + 1, "box": [0, 0, 640, 360], "body_box": b, "plates": []}
        for i, b in enumerate(bodies)
    ]
    return write_clip_truth(folder, [BodyType(crop_class)] * len(bodies), [objects])


def test_a_body_is_cut_as_the_lane_pipeline_cuts_it_into_its_class_folder(tmp_path: Path) -> None:
    clip = _clip(tmp_path / "clips" / "c1", [[100, 50, 400, 250], None], crop_class="tilt")
    counts = write_lane_bodies([tmp_path / "clips"], tmp_path / "out", val_fraction=0.0)
    files = sorted((tmp_path / "out").rglob("*.jpg"))
    assert [f.relative_to(tmp_path / "out").as_posix() for f in files] == ["train/tilt/c1_000000_v1.jpg"]
    frame = load_image(clip / "frames" / "000000.png")
    want = crop(frame, BBox(100, 50, 400, 250), ReadPolicy().body_margin)
    got = load_image(files[0])
    assert got.shape == want.shape == (220, 330, 3)
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 2  # the same pixels, up to JPEG
    assert counts.crops["train"]["tilt"] == 1 and counts.by_view["front"] == 1
    meta = json.loads((tmp_path / "out" / "lane_bodies.json").read_text())
    assert meta["crops"]["train"] == {"tilt": 1} and meta["margin"] == ReadPolicy().body_margin


def test_bodies_too_small_for_the_pipeline_or_mostly_out_of_frame_are_skipped(tmp_path: Path) -> None:
    _clip(tmp_path / "clips" / "c1", [[10, 10, 200, 40], [600, 10, 900, 200], [10, 100, 200, 300]])
    counts = write_lane_bodies([tmp_path / "clips"], tmp_path / "out", val_fraction=0.0)
    # 30 px high: under min_body_side_px (48); 40 of 300 px wide in frame: under min_in_frame
    assert counts.skipped_small == 1
    assert [f.name for f in (tmp_path / "out").rglob("*.jpg")] == ["c1_000000_v3.jpg"]


def test_all_cameras_of_a_lane_set_land_on_one_side(tmp_path: Path) -> None:
    for seed in (7900, 7901, 7902):
        spec = random_lane_clip_spec(seed, n_vehicles=2, seconds=8.0, fps=2.0, size=(320, 180))
        render_lane_clip(spec, tmp_path / "clips" / f"lane-{seed}", video=False, frames=True)
    counts = write_lane_bodies([tmp_path / "clips"], tmp_path / "out", val_fraction=0.5, min_side_px=8)
    n = 0
    for clip in find_clips([tmp_path / "clips"]):
        truth = load_clip_truth(clip.folder / "truth.json")
        side = split_of(clip.group, 0.5)
        mine = list((tmp_path / "out").rglob(f"{clip.name}_*.jpg"))
        assert all(f.parent.parent.name == side for f in mine)
        classes = {v.vehicle_id: v.body_type.value for v in truth.vehicles}
        assert all(f.parent.name == classes[int(f.stem.rsplit("_v", 1)[1])] for f in mine)
        n += len(mine)
    assert n == sum(sum(c.values()) for c in counts.crops.values()) > 0
    assert set(counts.by_view) <= {"front", "side", "rear"}


def test_an_existing_set_is_not_written_over(tmp_path: Path) -> None:
    _clip(tmp_path / "clips" / "c1", [[100, 50, 400, 250]])
    (tmp_path / "out" / "train").mkdir(parents=True)
    with pytest.raises(FileExistsError):
        write_lane_bodies([tmp_path / "clips"], tmp_path / "out")
    with pytest.raises(ValueError, match="every"):
        write_lane_bodies([tmp_path / "clips"], tmp_path / "out2", every=0)


def test_a_body_mostly_behind_a_nearer_vehicle_is_skipped(tmp_path: Path) -> None:
    # vehicle 1's body (boxes end at y 250) is 2/3 behind vehicle 2 (box ends lower, at y 350):
    # skipped; vehicle 2's body is in front of vehicle 1, so it is kept whatever covers it
    clip = _clip(tmp_path / "clips" / "c1", [[100, 50, 400, 250], [200, 100, 500, 340]])
    truth = json.loads((clip / "truth.json").read_text())
    objs = truth["frames"][0]["objects"]
    objs[0]["box"], objs[1]["box"] = [100, 50, 400, 250], [200, 60, 560, 350]
    (clip / "truth.json").write_text(json.dumps(truth))
    counts = write_lane_bodies([tmp_path / "clips"], tmp_path / "out", val_fraction=0.0)
    assert counts.skipped_hidden == 1
    assert [f.name for f in (tmp_path / "out").rglob("*.jpg")] == ["c1_000000_v2.jpg"]
    assert hidden_share(BBox(100, 50, 400, 250), BBox(100, 50, 400, 250), [BBox(200, 60, 560, 350)]) == (
        pytest.approx(200 * 190 / (300 * 200), abs=0.02)
    )
    counts = write_lane_bodies([tmp_path / "clips"], tmp_path / "all", val_fraction=0.0, max_hidden=1.0)
    assert counts.skipped_hidden == 0 and len(list((tmp_path / "all").rglob("*.jpg"))) == 2


def test_a_body_its_own_cab_mostly_hides_is_skipped_with_min_shown(tmp_path: Path) -> None:
    clip = _clip(tmp_path / "clips" / "c1", [[100, 50, 400, 250], [200, 100, 500, 340], [10, 60, 90, 200]])
    truth = json.loads((clip / "truth.json").read_text())
    objs = truth["frames"][0]["objects"]
    objs[0]["body_shown"], objs[1]["body_shown"], objs[2]["body_shown"] = 0.12, 0.25, 0.9
    (clip / "truth.json").write_text(json.dumps(truth))
    counts = write_lane_bodies([tmp_path / "clips"], tmp_path / "out", val_fraction=0.0, min_shown=0.25)
    assert counts.skipped_unshown == 1
    assert sorted(f.name for f in (tmp_path / "out").rglob("*.jpg")) == [
        "c1_000000_v2.jpg",
        "c1_000000_v3.jpg",
    ]
    meta = json.loads((tmp_path / "out" / "lane_bodies.json").read_text())
    assert meta["min_shown"] == 0.25 and meta["skipped_unshown"] == 1
    # without --min-shown every body is kept
    counts = write_lane_bodies([tmp_path / "clips"], tmp_path / "all", val_fraction=0.0)
    assert counts.skipped_unshown == 0 and len(list((tmp_path / "all").rglob("*.jpg"))) == 3
    # a truth rendered before body_shown: refused with min_shown, not read as all hidden
    del objs[2]["body_shown"]
    (clip / "truth.json").write_text(json.dumps(truth))
    with pytest.raises(ValueError, match="no body_shown"):
        write_lane_bodies([tmp_path / "clips"], tmp_path / "old", val_fraction=0.0, min_shown=0.25)
    with pytest.raises(ValueError, match="min_shown"):
        write_lane_bodies([tmp_path / "clips"], tmp_path / "bad", val_fraction=0.0, min_shown=1.5)


def test_a_clip_without_frames_is_refused_and_a_corrupt_frame_skipped(tmp_path: Path) -> None:
    _clip(tmp_path / "clips" / "a", [[100, 50, 400, 250]])
    _clip(tmp_path / "clips" / "b", [[100, 50, 400, 250]])
    (tmp_path / "clips" / "b" / "frames" / "000000.png").unlink()
    (tmp_path / "clips" / "b" / "frames").rmdir()
    with pytest.raises(ValueError, match="no frames/ folder"):
        write_lane_bodies([tmp_path / "clips"], tmp_path / "out")
    assert not (tmp_path / "out").exists()  # clip a's crop was not written before the refusal
    _clip(tmp_path / "clips2" / "a", [[100, 50, 400, 250]])
    _clip(tmp_path / "clips2" / "b", [[100, 50, 400, 250]])
    (tmp_path / "clips2" / "b" / "frames" / "000000.png").write_bytes(b"not an image")
    counts = write_lane_bodies([tmp_path / "clips2"], tmp_path / "out2", val_fraction=0.0)
    assert counts.unreadable_frames == 1
    assert [f.name for f in (tmp_path / "out2").rglob("*.jpg")] == ["a_000000_v1.jpg"]


class _FixedDetector:
    """A vehicle detector that finds the same boxes in every frame."""

    def __init__(self, found: list[tuple[list[float], str, float]]) -> None:
        self.found = DetectionSet(
            tuple(Detection(BBox(*b), 1 if c == "body" else 0, c, p) for b, c, p in found)
        )

    def detect(self, image: np.ndarray) -> DetectionSet:
        return self.found


def test_detector_boxes_are_cut_and_labelled_with_the_body_they_overlap_most(tmp_path: Path) -> None:
    # vehicle 1: a wide box with a low body strip (a flatbed from the front); vehicle 2 farther
    # away (its box ends higher), inside vehicle 1's box, so its own body is hidden
    clip = _clip(tmp_path / "clips" / "c1", [[100, 150, 400, 280], [400, 60, 640, 250]], crop_class="flatbed")
    truth = json.loads((clip / "truth.json").read_text())
    objs = truth["frames"][0]["objects"]
    objs[0]["box"], objs[1]["box"] = [100, 40, 640, 300], [400, 60, 640, 260]
    (clip / "truth.json").write_text(json.dumps(truth))
    detector = _FixedDetector(
        [
            ([100, 40, 420, 300], "body", 0.9),  # takes in the cab: kept, labelled vehicle 1
            ([100, 40, 640, 300], "vehicle", 0.9),  # not a body box
            ([110, 160, 140, 200], "body", 0.9),  # 30 px wide: under min_body_side_px
            ([0, 0, 60, 60], "body", 0.9),  # overlaps no labelled body
            ([120, 160, 390, 270], "body", 0.1),  # under the pipeline's vehicle_min_confidence
            ([250, 40, 640, 300], "body", 0.9),  # vehicle 2's body most, vehicle 1's box most
            ([400, 60, 640, 250], "body", 0.9),  # vehicle 2's body: hidden behind vehicle 1
        ]
    )
    counts = write_lane_bodies([tmp_path / "clips"], tmp_path / "out", val_fraction=0.0, detector=detector)
    files = sorted((tmp_path / "out").rglob("*.jpg"))
    assert [f.relative_to(tmp_path / "out").as_posix() for f in files] == [
        "train/flatbed/c1_000000_v1_d0.jpg"
    ]
    want = crop(load_image(clip / "frames" / "000000.png"), BBox(100, 40, 420, 300), ReadPolicy().body_margin)
    assert load_image(files[0]).shape == want.shape
    assert (
        counts.skipped_small,
        counts.skipped_unmatched,
        counts.skipped_ambiguous,
        counts.skipped_hidden,
    ) == (
        1,
        1,
        1,
        1,
    )
    meta = json.loads((tmp_path / "out" / "lane_bodies.json").read_text())
    assert meta["boxes"] == "detector" and meta["skipped_ambiguous"] == 1


def test_a_detection_of_a_body_its_cab_hides_is_skipped_and_counted_with_min_shown(tmp_path: Path) -> None:
    clip = _clip(tmp_path / "clips" / "c1", [[50, 100, 250, 300], [350, 100, 600, 300]], crop_class="box")
    truth = json.loads((clip / "truth.json").read_text())
    objs = truth["frames"][0]["objects"]
    objs[0]["box"], objs[1]["box"] = [40, 60, 260, 310], [340, 60, 610, 310]
    objs[0]["body_shown"], objs[1]["body_shown"] = 0.1, 0.6
    (clip / "truth.json").write_text(json.dumps(truth))
    detector = _FixedDetector([([50, 100, 250, 300], "body", 0.9), ([350, 100, 600, 300], "body", 0.9)])
    counts = write_lane_bodies(
        [tmp_path / "clips"], tmp_path / "out", val_fraction=0.0, detector=detector, min_shown=0.25
    )
    assert [f.name for f in (tmp_path / "out").rglob("*.jpg")] == ["c1_000000_v2_d0.jpg"]
    assert (counts.skipped_unshown, counts.skipped_hidden) == (1, 0)


def test_a_frame_whose_only_body_its_cab_hides_is_still_run_so_its_detection_is_counted(
    tmp_path: Path,
) -> None:
    clip = _clip(tmp_path / "clips" / "c1", [[50, 100, 250, 300]], crop_class="box")
    truth = json.loads((clip / "truth.json").read_text())
    truth["frames"][0]["objects"][0]["body_shown"] = 0.1
    (clip / "truth.json").write_text(json.dumps(truth))
    detector = _FixedDetector([([50, 100, 250, 300], "body", 0.9)])
    counts = write_lane_bodies(
        [tmp_path / "clips"], tmp_path / "out", val_fraction=0.0, detector=detector, min_shown=0.25
    )
    assert not list((tmp_path / "out").rglob("*.jpg")) and counts.skipped_unshown == 1


def test_a_set_with_a_clip_lacking_body_shown_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    for name, shown in (("a", 0.9), ("b", None)):
        clip = _clip(tmp_path / "clips" / name, [[50, 100, 250, 300]])
        if shown is not None:
            truth = json.loads((clip / "truth.json").read_text())
            truth["frames"][0]["objects"][0]["body_shown"] = shown
            (clip / "truth.json").write_text(json.dumps(truth))
    with pytest.raises(ValueError, match="no body_shown"):
        write_lane_bodies([tmp_path / "clips"], tmp_path / "out", val_fraction=0.0, min_shown=0.25)
    assert not (tmp_path / "out").exists()
