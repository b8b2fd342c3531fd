from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vision.train.datasets import LARGE_PLATE_PX, TILE_PX, manifest_image_name, plate_tiles, write_plate_tiles
from vision.types import BBox, ImageBGR


def scene() -> tuple[ImageBGR, list[BBox]]:
    """A 1280x720 grey scene with two white plates (boxes in scene pixels)."""
    img = np.full((720, 1280, 3), 90, np.uint8)
    plates = [BBox(200, 400, 320, 430), BBox(900, 200, 1020, 230)]
    for b in plates:
        x1, y1, x2, y2 = b.as_int()
        img[y1:y2, x1:x2] = 255
    return img, plates


def test_each_plate_gets_n_tiles_each_with_the_plate_whole() -> None:
    img, plates = scene()
    tiles = plate_tiles(img, plates, np.random.default_rng(0), n_per_plate=3, n_negative=1)
    assert len(tiles) == 2 * 3 + 1
    for tile, boxes in tiles[:6]:
        assert tile.shape == (TILE_PX, TILE_PX, 3)
        assert boxes, "a tile placed around a plate holds it"
        for b in boxes:  # the labelled box is the white plate
            x1, y1, x2, y2 = b.as_int()
            assert tile[y1 + 1 : y2 - 1, x1 + 1 : x2 - 1].min() > 200
    where = {t[1][0].as_int() for t in tiles[:3]}
    assert len(where) > 1, "the tiles around one plate are placed differently"


def test_one_tile_per_plate_draws_as_before() -> None:
    # n_per_plate=1 takes the same random draws as the single-tile code did: a rebuilt set of
    # tiles is the same set
    img, plates = scene()
    a = plate_tiles(img, plates, np.random.default_rng(7))
    b = plate_tiles(img, plates, np.random.default_rng(7), n_per_plate=1)
    assert len(a) == len(b) == 3
    assert all(np.array_equal(x[0], y[0]) and x[1] == y[1] for x, y in zip(a, b, strict=True))


def test_extra_tiles_go_to_training_sources_only(tmp_path: Path) -> None:
    img, plates = scene()
    sources = [(f"real/photo{i}.jpg", lambda: img, plates) for i in range(12)]
    counts = write_plate_tiles(
        sources, tmp_path, val_fraction=0.3, seed=0, train_tiles_per_plate=lambda name: 4
    )
    n_val_sources = counts["val"] // 3  # a validation source: one tile per plate + one negative
    assert counts["val"] == 3 * n_val_sources and 0 < n_val_sources < 12
    assert counts["train"] == (12 - n_val_sources) * (2 * 4 + 1)
    labels = sorted((tmp_path / "labels" / "train").glob("*.txt"))
    assert len(labels) == counts["train"]
    tile = cv2.imread(str(tmp_path / "images" / "train" / (labels[0].stem + ".jpg")))
    assert tile is not None and tile.shape == (TILE_PX, TILE_PX, 3)


def test_a_close_up_plate_is_shown_whole_shrunk_to_fit() -> None:
    # a 900x500 photograph whose plate is 700 px wide (about 500 at the work scale: wider than a
    # tile) gets tiles from the photograph shrunk until the plate is LARGE_PLATE_PX wide
    img = np.full((500, 900, 3), 90, np.uint8)
    img[200:340, 100:800] = 255
    tiles = plate_tiles(
        img, [BBox(100, 200, 800, 340)], np.random.default_rng(0), n_per_plate=2, n_negative=0
    )
    assert len(tiles) == 2
    for tile, boxes in tiles:
        assert len(boxes) == 1
        x1, y1, x2, y2 = boxes[0].as_int()
        assert abs((x2 - x1) - LARGE_PLATE_PX) <= 2
        assert tile[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2].min() > 200


def test_a_manifest_image_is_split_by_its_manifest_stem_folder_and_file() -> None:
    # The shipped models' held-out photographs were chosen by this name: changing it would put
    # photographs they trained on into every later val side.
    name = manifest_image_name(Path("/data/plates-dev/scenes.csv"), Path("/data/plates-dev/us/car1.jpg"))
    assert name == "scenes/us_car1.jpg"
