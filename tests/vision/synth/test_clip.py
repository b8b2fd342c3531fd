"""Clip rendering helpers (``vision/synth/clip.py``)."""

from __future__ import annotations

import pytest

from vision.synth.clip import _progress


def test_progress_is_a_line_every_50_frames_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(1, 121):
        _progress(i, 120)
    assert capsys.readouterr().err.splitlines() == [
        "clip frame 50/120",
        "clip frame 100/120",
        "clip frame 120/120",
    ]
