"""``bench/bench_plate_turn.py``: plate crops turned on the box around them."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import load_bench


def test_write_set_turns_crop_rows_and_skips_scene_rows(tmp_path: Path) -> None:
    bench = load_bench("bench_plate_turn")
    cv2.imwrite(str(tmp_path / "a.png"), np.full((20, 80, 3), 200, np.uint8))
    manifest = tmp_path / "m.csv"
    with manifest.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_path", "plate_text", "country", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "notes"])
        w.writerow(["a.png", "AB12CDE", "UK", "", "", "", "", ""])
        w.writerow(["a.png", "AB12CDE", "UK", 1, 1, 10, 5, "a scene"])
    out = bench.write_set(manifest, 15.0, tmp_path / "set")
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1 and rows[0]["plate_text"] == "AB12CDE"
    turned = cv2.imread(str(out.parent / rows[0]["image_path"]))
    assert turned is not None and turned.shape[0] > 20


def test_a_sheared_crop_keeps_upright_columns_and_sloping_rows() -> None:
    bench = load_bench("bench_plate_turn")
    image = np.zeros((40, 100, 3), np.uint8)
    image[10:30, 10:90] = 255
    for slope in (0.2, -0.2):
        out = bench.shear_whole(image, slope)
        assert out.shape[:2] == (40 + 20, 100)
        ys_left = np.nonzero(out[:, 12, 0] > 127)[0]
        ys_right = np.nonzero(out[:, 87, 0] > 127)[0]
        assert len(ys_left) == pytest.approx(20, abs=2) and len(ys_right) == pytest.approx(20, abs=2)
        assert np.sign(ys_right.min() - ys_left.min()) == np.sign(slope)  # rows slope, columns stay
