"""``bench/bench_plates.py``: which held-out scene manifest ``--heldout`` runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import load_bench


def test_heldout_scenes_are_those_of_the_first_tile_set_on_the_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_bench("bench_plates")
    monkeypatch.setattr(bench, "ROOT", tmp_path)

    def scenes(tiles: str) -> Path:
        return tmp_path / "data" / "train" / tiles / "heldout" / "scenes.csv"

    # none on the machine: the first set's path, which the run then reports absent
    assert bench.heldout_scenes() == scenes("plate_tiles")
    # only a later set: that one
    scenes("plate_tiles_r4").parent.mkdir(parents=True)
    scenes("plate_tiles_r4").write_text("image_path,plate_text\n")
    assert bench.heldout_scenes() == scenes("plate_tiles_r4")
    # the first set too: the first set
    scenes("plate_tiles").parent.mkdir(parents=True)
    scenes("plate_tiles").write_text("image_path,plate_text\n")
    assert bench.heldout_scenes() == scenes("plate_tiles")
