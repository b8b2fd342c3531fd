"""Clip rendering helpers (``vision/synth/clip.py``)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from vision.pipeline.truth import has_body_shown
from vision.synth.clip import _progress, frame_objects, random_clip_spec, render_clip
from vision.synth.render import render_spec


def test_progress_is_a_line_every_50_frames_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(1, 121):
        _progress(i, 120)
    assert capsys.readouterr().err.splitlines() == [
        "clip frame 50/120",
        "clip frame 100/120",
        "clip frame 120/120",
    ]


def test_clip_truth_gives_how_much_of_each_body_shows(tmp_path: Path) -> None:
    """Set 5600's front clip: frame 240 shows its tanker (lorry 3) behind its own cab, labelled
    as visible but hardly shown; ``render_clip`` writes the share per body box into
    ``truth.json`` (frame 0 has two lorries with body boxes)."""
    spec = random_clip_spec(5600, view="front", n_vehicles=3, seconds=12, fps=25)
    scene = render_spec(spec.at(240))
    tanker = next(v for v in scene.vehicles if v.vehicle_id == 3)
    assert tanker.body_type == "tanker" and tanker.body_labelled and tanker.body_visible_fraction > 0.9
    obj = next(o for o in frame_objects(scene) if o.vehicle_id == 3)
    assert obj.body_shown is not None and obj.body_shown < 0.25
    render_clip(replace(spec, n_frames=1), tmp_path, video=False)
    raw = json.loads((tmp_path / "truth.json").read_text())
    bodies = [o for o in raw["frames"][0]["objects"] if o["body_box"] is not None]
    assert len(bodies) == 2 and all(isinstance(o["body_shown"], float) for o in bodies)
    assert has_body_shown(raw)
