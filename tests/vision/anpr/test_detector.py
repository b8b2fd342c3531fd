from __future__ import annotations

import itertools

import cv2
import numpy as np

from vision.anpr.detector import CROP_LOOK_WIDTH_PX, PLATE_CLASS, StillPlateDetector, merge_boxes, tile_starts
from vision.types import BBox, Detection, DetectionSet, ImageBGR


class _Marks:
    """A fake detector: finds each white square of an image, but only when the image is shown
    to it no more than ``max_shrink`` times smaller than its input (a small plate is lost when
    the whole photograph is shrunk to the model's input), and a square wider than ``max_wide``
    px in its input (letterboxed) as a less sure piece (its right three quarters), or not at
    all when ``pieces`` is false (a close-up plate bigger than any the model was trained on)."""

    name = "marks"
    input_hw = (384, 640)

    def __init__(self, max_shrink: float = 1.9, max_wide: float = 1e9, pieces: bool = False) -> None:
        self.max_shrink = max_shrink
        self.max_wide = max_wide
        self.pieces = pieces
        self.calls: list[tuple[int, int]] = []

    def detect(self, image: ImageBGR) -> DetectionSet:
        h, w = image.shape[:2]
        self.calls.append((h, w))
        if max(h / self.input_hw[0], w / self.input_hw[1]) > self.max_shrink:
            return DetectionSet((), w, h)
        ys, xs = np.nonzero(image[..., 0] > 127)
        if len(xs) == 0:
            return DetectionSet((), w, h)
        box = BBox(float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        if box.width_px * min(self.input_hw[0] / h, self.input_hw[1] / w) <= self.max_wide:
            return DetectionSet((Detection(box, 0, PLATE_CLASS, 0.4),), w, h)
        if not self.pieces:
            return DetectionSet((), w, h)
        piece = BBox(box.x1 + box.width_px / 4, box.y1, box.x2, box.y2)
        return DetectionSet((Detection(piece, 0, PLATE_CLASS, 0.3),), w, h)


def _photo(h: int, w: int, box: tuple[int, int, int, int] | None) -> ImageBGR:
    img = np.zeros((h, w, 3), np.uint8)
    if box is not None:
        x1, y1, x2, y2 = box
        img[y1:y2, x1:x2] = 255
    return img


def test_a_small_plate_missed_whole_is_found_in_a_tile_and_mapped_back() -> None:
    inner = _Marks()
    found = StillPlateDetector(inner).detect(_photo(720, 1280, (700, 85, 758, 114)))
    assert len(inner.calls) == 7  # the whole photograph, 2 x 2 tiles of 432 x 768, 2 zoomed out
    assert inner.calls[1:] == [(432, 768)] * 4 + [(384, 640)] * 2
    assert [d.box for d in found] == [BBox(700, 85, 758, 114)]  # seen by both top tiles: one box


def test_no_second_look_when_the_first_finds_a_plate_and_no_tiles_when_the_photo_is_small() -> None:
    inner = _Marks(max_shrink=10.0)
    StillPlateDetector(inner).detect(_photo(720, 1280, (100, 100, 160, 130)))
    assert len(inner.calls) == 1
    inner = _Marks(max_shrink=0.5)  # never finds anything
    found = StillPlateDetector(inner).detect(_photo(300, 400, (10, 10, 50, 30)))
    # zoomed out twice, then turned both ways: no tiles
    assert inner.calls == [(300, 400), (384, 640), (384, 640), (300, 400), (300, 400)] and len(found) == 0


def test_a_plate_in_two_overlapping_tiles_is_one_box() -> None:
    inner = _Marks()
    # in the middle: inside all four tiles (x 0..768 and 512..1280, y 0..432 and 288..720)
    found = StillPlateDetector(inner).detect(_photo(720, 1280, (600, 340, 660, 370)))
    assert len(inner.calls) == 7
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
    assert inner.calls[1:5] == [(480, 300)] * 4
    assert [d.box for d in found] == [BBox(50, 700, 110, 730)]


def test_tile_starts_cover_the_side_with_a_fifth_of_a_tile_shared() -> None:
    assert tile_starts(1280, 768) == [0, 512]  # the 2 x 2 tiles of a 1280x720 photograph
    assert tile_starts(500, 800) == [0]
    starts = tile_starts(4000, 1280)
    assert starts[0] == 0 and starts[-1] == 4000 - 1280
    assert all(0 < b - a <= 0.8 * 1280 for a, b in itertools.pairwise(starts))


def test_a_big_photograph_gets_a_finer_grid_of_tiles_too() -> None:
    # 4000x3000: the 2 x 2 tiles (2400x1800) shrink 3.75 times, the fine ones (1280x768) twice
    inner = _Marks(max_shrink=2.1)
    found = StillPlateDetector(inner).detect(_photo(3000, 4000, (2000, 1500, 2120, 1560)))
    assert inner.calls.count((1800, 2400)) == 4 and inner.calls.count((768, 1280)) == 4 * 5
    assert [d.box for d in found] == [BBox(2000, 1500, 2120, 1560)]


def test_a_close_up_plate_missed_whole_is_found_zoomed_out_and_mapped_back() -> None:
    # 768 px of a 1280x960 photograph: 307 px in the input whole, 154 and 102 zoomed out
    inner = _Marks(max_shrink=10.0, max_wide=150.0)
    found = StillPlateDetector(inner).detect(_photo(960, 1280, (200, 300, 968, 548)))
    assert inner.calls[-2:] == [(384, 640)] * 2
    assert len(found) == 1
    got = found.detections[0].box
    assert (
        max(abs(a - b) for a, b in zip((got.x1, got.y1, got.x2, got.y2), (200, 300, 968, 548), strict=True))
        <= 4.0
    )


def test_a_piece_of_a_big_plate_gives_way_to_the_whole_plate_zoomed_out() -> None:
    # 400 px of 1280: 200 px in the input, past BIG_PLATE_INPUT_PX; the whole look finds a piece
    inner = _Marks(max_shrink=10.0, max_wide=150.0, pieces=True)
    found = StillPlateDetector(inner).detect(_photo(720, 1280, (400, 300, 800, 420)))
    assert inner.calls == [(720, 1280), (384, 640), (384, 640)]  # no tiles: a plate was found
    assert [round(d.confidence, 2) for d in found] == [0.4]
    got = found.detections[0].box
    assert (
        max(abs(a - b) for a, b in zip((got.x1, got.y1, got.x2, got.y2), (400, 300, 800, 420), strict=True))
        <= 4.0
    )
    # a plate the model sees at most BIG_PLATE_INPUT_PX wide is taken as found
    inner = _Marks(max_shrink=10.0, max_wide=150.0, pieces=True)
    StillPlateDetector(inner).detect(_photo(720, 1280, (400, 300, 640, 380)))  # 120 px in the input
    assert len(inner.calls) == 1


class _LevelMarks(_Marks):
    """Finds a white mark only when it is level: it fills nine tenths of the box around it."""

    def detect(self, image: ImageBGR) -> DetectionSet:
        found = super().detect(image)
        h, w = image.shape[:2]
        level = [
            d
            for d in found
            if (image[int(d.box.y1) : int(d.box.y2), int(d.box.x1) : int(d.box.x2), 0] > 127).mean() >= 0.9
        ]
        return DetectionSet(tuple(level), w, h)


def test_a_turned_plate_no_other_look_finds_is_found_turned_back() -> None:
    photo = _photo(720, 1280, None)
    cv2.fillPoly(
        photo, [cv2.boxPoints(((640.0, 360.0), (200.0, 50.0), 15.0)).astype(np.int32)], (255, 255, 255)
    )
    inner = _LevelMarks(max_shrink=10.0)
    found = StillPlateDetector(inner).detect(photo)
    assert inner.calls[-2:] == [(720, 1280)] * 2  # the two turned looks, last
    assert len(found) == 1
    ys, xs = np.nonzero(photo[..., 0] > 127)
    box = found.detections[0].box
    assert abs(box.x1 - xs.min()) <= 6 and abs(box.x2 - xs.max() - 1) <= 6
    assert abs(box.y1 - ys.min()) <= 6 and abs(box.y2 - ys.max() - 1) <= 6


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


class _Shown(_Marks):
    """:class:`_Marks` that also records the white square's width in each input it is shown."""

    def __init__(self) -> None:
        super().__init__(max_shrink=10.0)
        self.widths: list[int] = []

    def detect(self, image: ImageBGR) -> DetectionSet:
        xs = np.nonzero(image[..., 0].max(axis=0) > 127)[0]
        self.widths.append(int(xs.max() - xs.min() + 1) if len(xs) else 0)
        return super().detect(image)


def test_the_plate_in_a_loose_crop_is_found_shown_at_the_width_the_model_knows() -> None:
    inner = _Shown()
    crop = _photo(60, 150, (20, 12, 130, 48))  # a plate with 13 % of the crop's width round it
    box = StillPlateDetector(inner).in_crop(crop)
    assert inner.calls == [(384, 640)]  # one look, on the model's input
    # the crop is shown 96 px wide: its plate 110 / 150 of that
    assert abs(inner.widths[0] - 110 * CROP_LOOK_WIDTH_PX / 150) <= 1
    assert box is not None
    assert (
        max(abs(a - b) for a, b in zip((box.x1, box.y1, box.x2, box.y2), (20, 12, 130, 48), strict=True))
        <= 2.0
    )
    # a crop with no plate in it: None; a crop taller than the input allows is shown shorter
    assert StillPlateDetector(_Marks(max_shrink=10.0)).in_crop(_photo(60, 150, None)) is None
    tall = _Shown()
    StillPlateDetector(tall).in_crop(_photo(900, 100, (10, 100, 90, 800)))
    assert tall.calls == [(384, 640)] and abs(tall.widths[0] - 80 * 384 / 900) <= 1
