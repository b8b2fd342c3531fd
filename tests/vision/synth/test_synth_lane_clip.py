"""Lane clips: one queue on one timeline from several cameras (truth consistency, determinism)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vision.synth.clip import ClipTruth, random_lane_clip_spec, render_lane_clip
from vision.synth.scene import View

SEED = 31
VIEWS: tuple[View, ...] = ("front", "side", "rear")


@pytest.fixture(scope="module")
def lane(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, ClipTruth]]:
    """A small lane set: 2 lorries, 9 s at 4 fps from front, side and rear (frames, no video)."""
    out = tmp_path_factory.mktemp("lane")
    spec = random_lane_clip_spec(SEED, views=VIEWS, n_vehicles=2, seconds=9.0, fps=4.0)
    truths = render_lane_clip(spec, out, video=False, frames=True)
    return out, {str(k): v for k, v in truths.items()}


def test_every_camera_sees_the_same_lorries_on_one_timeline(lane: tuple[Path, dict[str, ClipTruth]]) -> None:
    out, truths = lane
    meta = json.loads((out / "lane.json").read_text())
    assert meta["views"] == list(VIEWS) and meta["n_frames"] == 36
    ids = {
        v: [(x.vehicle_id, x.body_type, tuple(p.text for p in x.plates)) for x in t.vehicles]
        for v, t in truths.items()
    }
    assert ids["front"] == ids["side"] == ids["rear"]
    for view, t in truths.items():
        assert t.view == view and t.n_frames == 36 and len(t.frames) == 36
        assert len(list((out / view / "frames").glob("*.jpg"))) == 36
        data = json.loads((out / view / "truth.json").read_text())
        for fr in data["frames"]:
            for o in fr["objects"]:
                x0, y0, x1, y1 = o["box"]
                assert 0 <= x0 < x1 <= 1280 and 0 <= y0 < y1 <= 720
                if o["body_box"] is not None:
                    bx0, by0, bx1, by1 = o["body_box"]
                    assert x0 - 1 <= bx0 < bx1 <= x1 + 1 and y0 - 1 <= by0 < by1 <= y1 + 1
                for p in o["plates"]:
                    px0, py0, px1, py1 = p["box"]
                    assert x0 - 1 <= px0 and px1 <= x1 + 1 and y0 - 1 <= py0 and py1 <= y1 + 1
    # the queue passes the cameras in order: front first, then side, then rear
    for vid in (1, 2):
        first = {v: next(x.first_frame for x in t.vehicles if x.vehicle_id == vid) for v, t in truths.items()}
        assert first["front"] is not None and first["side"] is not None and first["rear"] is not None
        assert first["front"] < first["side"] <= first["rear"]
    # front and rear cameras label the plates they face (a side camera may see either end at an angle)
    for view, roles in (("front", {"front"}), ("rear", {"rear", "trailer_mark"})):
        seen = {p.role for f in truths[view].frames for o in f for p in o.plates}
        assert seen <= roles
    assert {p.role for f in truths["front"].frames for o in f for p in o.plates} == {"front"}
    # the side camera sees every lorry's body broadside, big enough for the classifier
    for vid in (1, 2):
        bodies = [o.body_box for f in truths["side"].frames for o in f if o.vehicle_id == vid and o.body_box]
        assert bodies and max(b.width for b in bodies) > 400


def test_a_camera_is_the_same_bytes_whichever_other_cameras_are_rendered(
    lane: tuple[Path, dict[str, ClipTruth]], tmp_path: Path
) -> None:
    spec = random_lane_clip_spec(SEED, views=("side",), n_vehicles=2, seconds=9.0, fps=4.0)
    render_lane_clip(spec, tmp_path, video=False, frames=True)
    out, _ = lane
    assert (tmp_path / "side" / "truth.json").read_bytes() == (out / "side" / "truth.json").read_bytes()
    for f in sorted((out / "side" / "frames").glob("*.jpg"))[::6]:
        assert (tmp_path / "side" / "frames" / f.name).read_bytes() == f.read_bytes()


def test_lane_views_are_checked() -> None:
    with pytest.raises(ValueError, match="distinct"):
        random_lane_clip_spec(1, views=("front", "front"))
