from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from vision.anpr.locate import ANALYSIS_HEIGHT_PX, PIECE_GAP, _join_pieces, text_box, text_crop
from vision.synth.plates import make_plate, render_plate
from vision.types import ImageBGR


def rendered_plate(country: str, lines: tuple[str, ...], seed: int = 3) -> ImageBGR:
    """A clean plate of the project's generator, ``(H, W, 3)`` uint8 BGR, about 60 px per line."""
    rng = np.random.default_rng(seed)
    spec = replace(make_plate(rng, country, "rear", lines=lines), dirt=0.0, wear=0.0)
    texture = render_plate(spec, 0.55, rng).image
    alpha = texture[:, :, 3:4] / 255.0
    return np.asarray(texture[:, :, :3] * alpha + 70 * (1 - alpha), np.uint8)


def in_scene(
    plate: ImageBGR, left: int, right: int, top: int, bottom: int
) -> tuple[ImageBGR, tuple[int, int]]:
    """``plate`` pasted into a scene (vehicle paint, a lamp, a pole); returns the crop and the
    plate's left and right x in it."""
    h, w = plate.shape[:2]
    scene = np.full((h + top + bottom, w + left + right, 3), (40, 90, 150), np.uint8)  # brown paint
    scene[:, : left // 3] = (200, 200, 200)  # a pale pole at the left edge
    cv2.rectangle(scene, (w + left + right // 4, top), (w + left + right // 2, top + h // 2), (0, 0, 220), -1)
    scene[top : top + h, left : left + w] = plate
    return scene, (left, left + w)


@pytest.mark.parametrize(
    ("country", "lines"), [("UK", ("AB12CDE",)), ("D", ("B", "RH16")), ("PL", ("CU", "2430G"))]
)
def test_the_text_of_a_loosely_cut_plate_is_found(country: str, lines: tuple[str, ...]) -> None:
    plate = rendered_plate(country, lines)
    h, w = plate.shape[:2]
    crop, (px1, px2) = in_scene(plate, left=w // 3, right=w // 3, top=h // 4, bottom=h // 4)
    box = text_box(crop)
    assert box is not None
    x1, y1, x2, y2 = box
    # the text lies on the plate (its band may be left out), all of it; the energy's averaging
    # box spreads the plate's edges outwards by up to half its width (0.21 of the height)
    assert px1 - 0.15 * w <= x1 < px1 + 0.3 * w and px2 - 0.12 * w < x2 <= px2 + 0.15 * w
    assert h // 4 - 0.1 * h <= y1 < h // 4 + 0.4 * h and h // 4 + 0.6 * h < y2 <= h // 4 + 1.1 * h
    cut = text_crop(crop, 0.92)
    assert cut is not None
    assert cut.shape[1] < 0.92 * crop.shape[1] and cut.shape[0] <= crop.shape[0]


def test_a_tight_crop_is_not_cut() -> None:
    plate = rendered_plate("UK", ("AB12CDE",))
    assert text_crop(plate, 0.92) is None
    # nor a loose one that is loose only above and below: the cut is for width
    h = plate.shape[0]
    grey = (70, 70, 70)
    loose = np.asarray(cv2.copyMakeBorder(plate, h, h, 0, 0, cv2.BORDER_CONSTANT, value=grey), np.uint8)
    assert text_crop(loose, 0.92) is None


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 40, 3), (40, 1, 3), (30, 90, 3)])
def test_no_text_no_box(shape: tuple[int, int, int]) -> None:
    blank = np.full(shape, 128, np.uint8)
    assert text_box(blank) is None
    assert text_crop(blank, 0.92) is None


def test_pieces_one_over_the_other_are_joined() -> None:
    # a lone B's strokes, split at its middle bar: two pieces one over the other, close; a third
    # piece beside them and one far below stay apart
    gap = int(PIECE_GAP * ANALYSIS_HEIGHT_PX)
    top, bottom = (1.0, 40, 10, 52, 14), (2.0, 40, 14 + gap, 52, 19 + gap)
    beside, far = (3.0, 70, 10, 80, 14), (4.0, 40, 30 + 3 * gap, 52, 34 + 3 * gap)
    joined = _join_pieces([top, beside, bottom, far])
    assert sorted(joined) == sorted([(3.0, 40, 10, 52, 19 + gap), beside, far])


def test_the_box_stays_in_the_crop() -> None:
    # a crop so narrow that its analysis width is clamped up: the box is still in its pixels
    rng = np.random.default_rng(0)
    for shape in [(4, 100, 3), (195, 60, 3), (100, 4, 3)]:
        box = text_box(rng.integers(0, 256, shape, dtype=np.uint8))
        if box is not None:
            assert 0 <= box[0] < box[2] <= shape[1] and 0 <= box[1] < box[3] <= shape[0]
