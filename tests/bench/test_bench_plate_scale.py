"""``bench/bench_plate_scale.py``: re-framing a scene so its plate is a share of the width."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import load_bench


def test_reframed_box_is_the_share_asked_for_and_covers_the_plate() -> None:
    bench = load_bench("bench_plate_scale")
    image = np.zeros((480, 640, 3), np.uint8)
    image[200:230, 300:360] = 255  # a 60 x 30 px plate
    for fraction in (0.1, 0.4, 0.6):
        out, (x, y, w, h) = bench.reframe(
            image, (300.0, 200.0, 60.0, 30.0), fraction, np.random.default_rng(1)
        )
        assert out.shape == (bench.OUT_H, bench.OUT_W, 3)
        assert abs(w - fraction * bench.OUT_W) <= 1
        px = w / 60 + 1  # one source pixel, enlarged (cubic edges blur over about that)
        ys, xs = np.nonzero(out[..., 0] > 127)
        assert abs(xs.min() - x) <= px and abs(xs.max() + 1 - (x + w)) <= px
        assert abs(ys.min() - y) <= px and abs(ys.max() + 1 - (y + h)) <= px


def test_write_set_keeps_scene_rows_and_skips_crop_rows(tmp_path: Path) -> None:
    bench = load_bench("bench_plate_scale")
    image = np.zeros((480, 640, 3), np.uint8)
    image[200:230, 300:360] = 255
    cv2.imwrite(str(tmp_path / "a.png"), image)
    manifest = tmp_path / "m.csv"
    with manifest.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_path", "plate_text", "country", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "notes"])
        w.writerow(["a.png", "AB12CDE", "UK", 300, 200, 60, 30, ""])
        w.writerow(["a.png", "AB12CDE", "UK", "", "", "", "", "a crop"])
    out = bench.write_set(manifest, 0.4, tmp_path / "set", seed=3)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1 and rows[0]["plate_text"] == "AB12CDE"
    assert int(rows[0]["bbox_w"]) == 512 and (out.parent / rows[0]["image_path"]).is_file()


def test_a_turned_plate_gets_the_box_around_it() -> None:
    bench = load_bench("bench_plate_scale")
    image = np.zeros((480, 640, 3), np.uint8)
    image[200:230, 300:360] = 255
    level, box0 = bench.reframe(image, (300.0, 200.0, 60.0, 30.0), 0.2, np.random.default_rng(1))
    out, (x, y, w, h) = bench.reframe(
        image, (300.0, 200.0, 60.0, 30.0), 0.2, np.random.default_rng(1), angle=20
    )
    assert w > box0[2] and h > box0[3]  # the box around a turned 2:1 box is wider and taller
    ys, xs = np.nonzero(out[..., 0] > 127)
    px = box0[2] / 60 + 1
    assert abs(xs.min() - x) <= px and abs(xs.max() + 1 - (x + w)) <= px
    assert abs(ys.min() - y) <= px and abs(ys.max() + 1 - (y + h)) <= px
    assert (level[..., 0] > 127).sum() == pytest.approx(
        (out[..., 0] > 127).sum(), rel=0.05
    )  # turned, not cut


@pytest.mark.parametrize("orientation", range(1, 9))
def test_tagged_photos_show_as_framed(tmp_path: Path, orientation: int) -> None:
    bench = load_bench("bench_plate_scale")
    from vision.anpr.imageio import load_image

    shown = np.zeros((30, 40, 3), np.uint8)
    shown[:10, :5] = 255  # top-left corner as shown
    bench.write_tagged(tmp_path / "t.jpg", shown, orientation)
    stored = cv2.imread(str(tmp_path / "t.jpg"), cv2.IMREAD_UNCHANGED)
    assert stored is not None and stored.shape[:2] == ((40, 30) if orientation >= 5 else (30, 40))
    for back in (load_image(tmp_path / "t.jpg"), cv2.imread(str(tmp_path / "t.jpg"), cv2.IMREAD_COLOR)):
        # as the project reads it and as OpenCV (and so ultralytics) shows it
        assert back is not None and back.shape == (30, 40, 3)
        assert back[:8, :3].mean() > 200 and back[15:, 10:].mean() < 20
