from __future__ import annotations

import numpy as np

from vision.anpr.detector import PLATE_CLASS, StillPlateDetector, merge_boxes
from vision.types import BBox, Detection, DetectionSet, ImageBGR


class _Marks:
    """A fake detector: finds each white square of an image, but only when the image is shown
    to it no more than ``max_shrink`` times smaller than its input (a small plate is lost when
    the whole photograph is shrunk to the model's input)."""

    name = "marks"
    input_hw = (384, 640)

    def __init__(self, max_shrink: float = 1.9) -> None:
        self.max_shrink = max_shrink
        self.calls: list[tuple[int, int]] = []

    def detect(self, image: ImageBGR) -> DetectionSet:
        h, w = image.shape[:2]
        self.calls.append((h, w))
        if max(h / self.input_hw[0], w / self.input_hw[1]) > self.max_shrink:
            return DetectionSet((), w, h)
        ys, xs = np.nonzero(image[..., 0] == 255)
        if len(xs) == 0:
            return DetectionSet((), w, h)
        box = BBox(float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        return DetectionSet((Detection(box, 0, PLATE_CLASS, 0.4),), w, h)


def _photo(h: int, w: int, box: tuple[int, int, int, int] | None) -> ImageBGR:
    img = np.zeros((h, w, 3), np.uint8)
    if box is not None:
        x1, y1, x2, y2 = box
        img[y1:y2, x1:x2] = 255
    return img


def test_a_small_plate_missed_whole_is_found_in_a_tile_and_mapped_back() -> None:
    inner = _Marks()
    found = StillPlateDetector(inner).detect(_photo(720, 1280, (700, 85, 758, 114)))
    assert len(inner.calls) == 5  # the whole photograph, then 2 x 2 tiles of 432 x 768
    assert inner.calls[1:] == [(432, 768)] * 4
    assert [d.box for d in found] == [BBox(700, 85, 758, 114)]  # seen by both top tiles: one box


def test_no_second_look_when_the_first_finds_a_plate_or_the_photo_is_small() -> None:
    inner = _Marks(max_shrink=10.0)
    StillPlateDetector(inner).detect(_photo(720, 1280, (100, 100, 160, 130)))
    assert len(inner.calls) == 1
    inner = _Marks(max_shrink=0.5)  # never finds anything
    found = StillPlateDetector(inner).detect(_photo(300, 400, (10, 10, 50, 30)))
    assert len(inner.calls) == 1 and len(found) == 0


def test_a_plate_in_two_overlapping_tiles_is_one_box() -> None:
    inner = _Marks()
    # in the middle: inside all four tiles (x 0..768 and 512..1280, y 0..432 and 288..720)
    found = StillPlateDetector(inner).detect(_photo(720, 1280, (600, 340, 660, 370)))
    assert len(inner.calls) == 5
    assert [d.box for d in found] == [BBox(600, 340, 660, 370)]


def test_a_plate_cut_by_a_tile_edge_is_taken_from_the_tile_that_holds_it_whole() -> None:
    inner = _Marks()
    # across x = 768, the top-left tile's right edge: that tile sees a piece (740..768) only
    found = StillPlateDetector(inner).detect(_photo(720, 1280, (740, 85, 800, 114)))
    assert [d.box for d in found] == [BBox(740, 85, 800, 114)]


def test_a_plate_only_in_the_bottom_right_tile_and_a_photo_only_too_tall() -> None:
    found = StillPlateDetector(_Marks()).detect(_photo(720, 1280, (1200, 650, 1260, 700)))
    assert [d.box for d in found] == [BBox(1200, 650, 1260, 700)]
    inner = _Marks(max_shrink=1.5)
    found = StillPlateDetector(inner).detect(_photo(800, 500, (50, 700, 110, 730)))  # 800 > 384 px
    assert inner.calls[1:] == [(480, 300)] * 4
    assert [d.box for d in found] == [BBox(50, 700, 110, 730)]


def test_merge_keeps_the_surest_of_overlapping_or_enclosed_boxes() -> None:
    whole = Detection(BBox(0, 0, 100, 30), 0, PLATE_CLASS, 0.6)
    piece = Detection(BBox(60, 2, 100, 28), 0, PLATE_CLASS, 0.3)  # a tile's edge cut the plate
    shifted = Detection(BBox(5, 1, 104, 31), 0, PLATE_CLASS, 0.5)
    other = Detection(BBox(300, 0, 400, 30), 0, PLATE_CLASS, 0.2)
    assert merge_boxes([piece, other, shifted, whole]) == [whole, other]
    # a surer piece still stands for the plate (one box), and another class is never merged
    sure_piece = Detection(BBox(60, 2, 100, 28), 0, PLATE_CLASS, 0.9)
    sign = Detection(BBox(0, 0, 100, 30), 1, "sign", 0.7)
    assert merge_boxes([whole, sure_piece, sign]) == [sure_piece, sign]
