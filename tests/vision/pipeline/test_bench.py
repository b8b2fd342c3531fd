from __future__ import annotations

import json
from pathlib import Path

import pytest

from vision.pipeline.bench import (
    BenchClip,
    LaneSet,
    _cached_clip,
    _truth_current,
    lane_sets,
    run_benchmark,
    run_clip,
    run_lane_set,
    truth_detectors,
)
from vision.pipeline.config import LaneConfig, TrackingConfig
from vision.pipeline.merge import MergeRule
from vision.pipeline.testing import CLIP, ConstClassifier, ConstReader
from vision.types import BodyType


def test_run_clip_scores_the_fixture_clip_by_track_boxes() -> None:
    run = run_clip(BenchClip(CLIP, "front"), LaneConfig("bench"), truth_detectors(ConstReader(), None))
    s = run.score
    assert (s.expected, s.found, s.matched, s.duplicates, s.spurious) == (2, 2, 2, 0, 0)
    assert run.frames == 40 and run.dropped == 0


def test_a_two_camera_lane_run_merges_each_lorrys_passages() -> None:
    """The fixture clip as both the front and the rear camera (the rear 300 ms later): two lorries,
    two lane passages, each a front and a rear passage of the same lorry."""
    lane = LaneSet("fixture", (BenchClip(CLIP, "front"), BenchClip(CLIP, "rear")), (0, 300))
    config = LaneConfig("bench", tracking=TrackingConfig(close_after_ms=300))
    run = run_lane_set(lane, config, truth_detectors(ConstReader(), None), MergeRule())
    s = run.score
    assert (s.lorries, s.passages, s.one_passage, s.merged, s.merged_wrong) == (2, 2, 2, 2, 0)
    assert (s.alone, s.duplicates, s.none, s.spurious) == (0, 0, 0, 0)
    assert run.frames == 80 and len(run.frame_ms) == 80


def test_a_three_camera_lane_run_takes_the_body_type_from_the_side_camera() -> None:
    """The fixture clip as front, side (2 s later) and rear (4 s later) camera, a queue past a
    gantry (the rear camera picks a lorry up once the side camera saw it go by, not while the lorry
    ahead is still beside it); the classifier says reefer: one passage per lorry from three
    cameras; the reefer's body is right, the car transporter's is not."""
    clips = (BenchClip(CLIP, "front"), BenchClip(CLIP, "side"), BenchClip(CLIP, "rear"))
    lane = LaneSet("fixture", clips, (0, 2000, 4000))
    config = LaneConfig("bench", tracking=TrackingConfig(close_after_ms=300))
    models = truth_detectors(ConstReader(), ConstClassifier(BodyType.REEFER))
    run = run_lane_set(lane, config, models, MergeRule())
    s = run.score
    assert (s.lorries, s.passages, s.one_passage, s.merged, s.merged_wrong, s.alone) == (2, 2, 2, 2, 0, 0)
    assert s.body_ok == 1 and run.frames == 120
    # the fixture's truth predates body_shown: every body counts as shown
    assert (s.body_shown, s.body_shown_ok) == (2, 1)


def _clip_with_shown(folder: Path, shown: dict[str, float]) -> BenchClip:
    """The fixture clip in ``folder`` with ``body_shown`` on every body box: ``shown`` per body
    type (``crop_class``), 0.5 for the others."""
    raw = json.loads((CLIP / "truth.json").read_text())
    cls = {v["vehicle_id"]: v["crop_class"] for v in raw["vehicles"]}
    for f in raw["frames"]:
        for o in f["objects"]:
            o["body_shown"] = None if o["body_box"] is None else shown.get(cls[o["vehicle_id"]], 0.5)
    folder.mkdir(parents=True)
    (folder / "truth.json").write_text(json.dumps(raw))
    (folder / "clip.mp4").symlink_to((CLIP / "clip.mp4").resolve())
    return BenchClip(folder, folder.name)  # type: ignore[arg-type]


def test_a_lane_scores_body_type_over_the_lorries_some_camera_shows(tmp_path: Path) -> None:
    """The front camera hardly shows either body; the rear camera shows the reefer's, not the car
    transporter's: one lorry's body is shown, and the car transporter's wrong type (the classifier
    says reefer) is counted apart and said to be hardly shown."""
    clips = (
        _clip_with_shown(tmp_path / "front", {"reefer": 0.1, "car_transporter": 0.1}),
        _clip_with_shown(tmp_path / "rear", {"car_transporter": 0.1}),
    )
    config = LaneConfig("bench", tracking=TrackingConfig(close_after_ms=300))
    models = truth_detectors(ConstReader(), ConstClassifier(BodyType.REEFER))
    s = run_lane_set(LaneSet("fixture", clips, (0, 300)), config, models, MergeRule()).score
    assert (s.lorries, s.one_passage, s.body_ok, s.body_shown, s.body_shown_ok) == (2, 2, 1, 1, 1)
    assert [m for m in s.misses if "body" in m and "hardly shown by any camera" in m]


def test_a_cached_lane_set_whose_truth_lacks_body_shown_is_rendered_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached lane set whose cameras' truth predates ``body_shown`` is rendered again and takes
    the old folder's place; a current one is reused."""
    renders: list[Path] = []

    def fake_render(spec: object, out: Path, **kw: object) -> None:
        renders.append(out)
        for view in ("front", "rear"):
            _clip_with_shown(out / view, {})
        (out / "lane.json").write_text("{}")

    monkeypatch.setattr("vision.synth.clip.render_lane_clip", fake_render)
    monkeypatch.setattr("vision.synth.clip.random_lane_clip_spec", lambda *a, **kw: None)
    monkeypatch.setattr("vision.synth.render.StaticTextures", lambda: None)
    folder = tmp_path / "lane-9-front+rear-3v-1s-12.5fps"
    for view in ("front", "rear"):
        (folder / view).mkdir(parents=True)
        (folder / view / "truth.json").write_text((CLIP / "truth.json").read_text())
    (folder / "lane.json").write_text("{}")
    args = {"n_sets": 1, "seed": 9, "views": ("front", "rear"), "vehicles": 3, "seconds": 1.0, "fps": 12.5}
    (lane,) = lane_sets(tmp_path, **args)  # type: ignore[arg-type]
    assert len(renders) == 1 and lane.clips[0].folder == folder / "front"
    assert _truth_current(folder / "front" / "truth.json") and not renders[0].exists()
    lane_sets(tmp_path, **args)  # type: ignore[arg-type]
    assert len(renders) == 1


def test_a_lane_set_reuses_a_current_cache_rendered_with_more_cameras(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A camera's clip is the same whichever cameras were rendered with it: a current cache of the
    same seed with more views is used rather than rendering; one whose truth predates
    ``body_shown`` is not."""
    renders: list[Path] = []
    monkeypatch.setattr("vision.synth.clip.render_lane_clip", lambda spec, out, **kw: renders.append(out))
    stale = tmp_path / "lane-9-front+rear+aaa-3v-1s-12.5fps"
    for view in ("front", "rear"):
        (stale / view).mkdir(parents=True)
        (stale / view / "truth.json").write_text((CLIP / "truth.json").read_text())
    (stale / "lane.json").write_text("{}")
    wider = tmp_path / "lane-9-front+side+rear-3v-1s-12.5fps"
    for view in ("front", "side", "rear"):
        _clip_with_shown(wider / view, {})
    (wider / "lane.json").write_text("{}")
    args = {"n_sets": 1, "seed": 9, "views": ("front", "rear"), "vehicles": 3, "seconds": 1.0, "fps": 12.5}
    (lane,) = lane_sets(tmp_path, **args)  # type: ignore[arg-type]
    assert renders == [] and [c.folder for c in lane.clips] == [wider / "front", wider / "rear"]


def test_a_cached_clip_whose_truth_lacks_body_shown_is_rendered_again(tmp_path: Path) -> None:
    """The bundled fixture's truth predates ``body_shown``: a cache holding such a truth is out of
    date (the bench renders the clip again: the same frames, with the share shown); one with the
    key is current; an unreadable one is out of date too."""
    raw = json.loads((CLIP / "truth.json").read_text())
    assert any(o["body_box"] is not None for f in raw["frames"] for o in f["objects"])
    old = tmp_path / "old.json"
    old.write_text(json.dumps(raw))
    assert not _truth_current(old)
    for f in raw["frames"]:
        for o in f["objects"]:
            o["body_shown"] = None if o["body_box"] is None else 0.5
    new = tmp_path / "new.json"
    new.write_text(json.dumps(raw))
    assert _truth_current(new)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert not _truth_current(bad)


def test_an_out_of_date_cached_clip_is_replaced_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached clip whose truth lacks ``body_shown`` is rendered again into a ``.partial`` folder
    that then takes the old folder's place (nothing of the old left); a current one is reused."""
    renders: list[Path] = []

    def fake_render(spec: object, out: Path, **kw: object) -> None:
        renders.append(out)
        out.mkdir(parents=True)
        raw = json.loads((CLIP / "truth.json").read_text())
        for f in raw["frames"]:
            for o in f["objects"]:
                o["body_shown"] = None if o["body_box"] is None else 0.5
        (out / "truth.json").write_text(json.dumps(raw))
        (out / "clip.mp4").write_bytes(b"new")

    monkeypatch.setattr("vision.synth.clip.render_clip", fake_render)
    monkeypatch.setattr("vision.synth.clip.random_clip_spec", lambda *a, **kw: None)
    folder = tmp_path / "clip-7-front-3v-1s-25fps"
    folder.mkdir()
    (folder / "truth.json").write_text((CLIP / "truth.json").read_text())
    (folder / "clip.mp4").write_bytes(b"old")
    (folder / "stale.txt").write_text("from the old render")
    args = {"vehicles": 3, "seconds": 1.0, "fps": 25.0, "progress": False, "static": [object()]}
    clip = _cached_clip(tmp_path, 7, "front", **args)  # type: ignore[arg-type]
    assert clip.folder == folder and len(renders) == 1 and renders[0].name.endswith(".partial")
    assert (folder / "clip.mp4").read_bytes() == b"new" and not (folder / "stale.txt").exists()
    assert _truth_current(folder / "truth.json") and not renders[0].exists()
    _cached_clip(tmp_path, 7, "front", **args)  # type: ignore[arg-type]
    assert len(renders) == 1


def test_body_type_accuracy_over_shown_bodies_is_null_when_no_body_is_shown(tmp_path: Path) -> None:
    clip = _clip_with_shown(tmp_path / "front", {"reefer": 0.1, "car_transporter": 0.1})
    models = truth_detectors(ConstReader(), ConstClassifier(BodyType.REEFER))
    j = run_benchmark([clip], LaneConfig("bench"), models, detectors="truth", classifier="const").as_json()
    assert j["body_type_accuracy"] == 0.5 and j["body_type_accuracy_shown"] is None
    assert j["bodies_hardly_shown"] == 2
