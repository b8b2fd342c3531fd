from __future__ import annotations

from dataclasses import replace
from typing import Any

import cv2
import numpy as np
import pytest

import vision.anpr.rectify as rectify_module
from vision.anpr.rectify import (
    TURN_CANDIDATES,
    TURN_MIN_GAIN,
    Rectified,
    TextLine,
    _drop_frames,
    _ink,
    _profile_score,
    _split_at_waist,
    _split_stacked,
    blue_band_width,
    invert_affine,
    rectify,
)
from vision.preprocess import turn_whole
from vision.synth.plates import make_plate, render_plate


def plate(lines: list[str], *, band: bool = False, angle: float = 0.0, border: bool = True) -> np.ndarray:
    """A white plate (H, W, 3) uint8 BGR with black text lines, optional EU band and rotation."""
    h = 70 * len(lines) + 30
    w = 360
    img = np.full((h, w, 3), 255, np.uint8)
    x0 = 60 if band else 20
    for i, text in enumerate(lines):
        cv2.putText(img, text, (x0, 75 + 70 * i), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (0, 0, 0), 7, cv2.LINE_AA)
    if band:
        img[:, :40] = (153, 51, 0)  # EU blue (BGR)
        cv2.putText(img, "D", (8, h - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    if border:
        cv2.rectangle(img, (1, 1), (w - 2, h - 2), (0, 0, 0), 3)
    if angle:
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        img = np.asarray(cv2.warpAffine(img, m, (w, h), borderValue=(255, 255, 255)), np.uint8)
    return img


def test_single_line_is_found_and_border_trimmed() -> None:
    img = plate(["AB12CDE"])
    r = rectify(img)
    assert len(r.lines) == 1 and not r.two_line
    _, y1, _, y2 = r.lines[0].box
    assert y1 > 3 and y2 < img.shape[0] - 3  # the border rows are cut off
    assert len(r.lines[0].char_boxes) >= 5


def test_two_line_plate_lines_come_top_then_bottom() -> None:
    img = plate(["A123", "4567"])
    r = rectify(img)
    assert r.two_line
    top, bottom = r.lines
    assert top.box[1] < bottom.box[1]
    assert top.box[3] <= bottom.box[3]
    images = r.line_images()
    assert len(images) == 2 and images[0].shape[0] < img.shape[0]


def test_blue_band_is_detected_and_excluded() -> None:
    img = plate(["MAB1234"], band=True)
    assert 30 <= blue_band_width(img) <= 60
    assert blue_band_width(plate(["MAB1234"])) == 0
    r = rectify(img)
    assert r.band_width_px > 0
    assert all(b[0] >= r.band_width_px for b in r.lines[0].char_boxes)


def test_skew_is_measured_and_undone() -> None:
    img = plate(["AB12CDE"], angle=6.0, border=False)
    r = rectify(img)
    assert abs(abs(r.angle_deg) - 6.0) < 2.0
    back = invert_affine(r.matrix)
    pt = np.array([10.0, 20.0, 1.0])
    there = r.matrix @ pt
    again = back @ np.array([there[0], there[1], 1.0])
    assert np.allclose(again, pt[:2], atol=1e-6)


def test_a_steeply_tilted_line_is_grouped_along_its_slope_and_deskewed() -> None:
    # at 18 degrees the characters' centres drift more than a third of a character height
    # from one end of the line to the other: grouped level, the line falls apart (no deskew)
    img = plate(["AB12CDE"], angle=18.0, border=False)
    r = rectify(img)
    assert abs(abs(r.angle_deg) - 18.0) < 3.0
    assert len(r.lines) == 1 and len(r.lines[0].char_boxes) >= 4


def test_blank_image_gives_no_lines_and_whole_image() -> None:
    img = np.full((40, 120, 3), 200, np.uint8)
    r = rectify(img)
    assert r.lines == ()
    assert r.line_images()[0].shape == img.shape


def test_a_component_enclosing_characters_is_a_frame_not_a_character() -> None:
    # on a small two-line plate the frame (thick at low resolution) passes the character
    # filters and, with a sticker beside it, was grouped as the tallest "line"
    chars = [(26, 24, 40, 46), (44, 24, 57, 47), (27, 51, 41, 75), (44, 53, 57, 75)]
    frame, sticker = (3, 0, 81, 86), (99, 9, 119, 100)
    kept = _drop_frames([frame, sticker, *chars])
    assert frame not in kept
    assert sticker in kept and all(c in kept for c in chars)


def stacked_plate(*, join: bool) -> np.ndarray:
    """A square plate `TN` over `515N`, the `T`'s stem joined to the `1` under it by a thin
    link when ``join`` (on a small square plate the lines nearly touch)."""
    img = np.full((160, 250, 3), 255, np.uint8)
    cv2.putText(img, "TN", (70, 70), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (0, 0, 0), 7, cv2.LINE_AA)
    cv2.putText(img, "515N", (20, 134), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (0, 0, 0), 7, cv2.LINE_AA)
    if join:
        cv2.rectangle(img, (84, 66), (89, 90), (0, 0, 0), -1)
    return img


@pytest.mark.parametrize("join", [False, True])
def test_two_characters_of_touching_lines_are_split_and_both_lines_found(join: bool) -> None:
    r = rectify(stacked_plate(join=join))
    assert r.two_line
    top, bottom = r.lines
    assert len(top.char_boxes) == 2 and len(bottom.char_boxes) == 4
    assert top.box[3] <= bottom.box[1] + 5


def test_split_at_waist_cuts_out_the_link_and_leaves_a_bar_whole() -> None:
    mask = np.zeros((40, 10), bool)
    mask[:17] = True  # a character
    mask[17:23, 4:6] = True  # a thin link
    mask[23:] = True  # the character under it
    parts = _split_at_waist((5, 10, 15, 50), mask)
    assert parts == [((5, 10, 15, 27), 170), ((5, 33, 15, 50), 170)]
    assert _split_at_waist((5, 10, 15, 50), np.ones((40, 10), bool)) is None  # no waist


def test_a_character_of_a_one_line_plate_with_small_text_under_it_is_not_split() -> None:
    # a squarish crop (a US-style plate); an `X` has a waist and the small text under the line
    # is half its height, but the X's top half is level with nothing: one line, the X whole
    img = np.full((150, 300, 3), 255, np.uint8)
    cv2.putText(img, "AX12", (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 2.6, (0, 0, 0), 8, cv2.LINE_AA)
    cv2.putText(img, "AB CD", (60, 135), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 4, cv2.LINE_AA)
    r = rectify(img)
    assert len(r.lines[0].char_boxes) == 4
    x_box = [b for b in r.lines[0].char_boxes if 70 < (b[0] + b[2]) / 2 < 130]
    assert len(x_box) == 1 and x_box[0][3] - x_box[0][1] > 30


def glyph(h: int, w: int) -> np.ndarray:
    """A character-like component's pixels: a ring 2 px thick, (h, w) bool."""
    mask = np.ones((h, w), bool)
    mask[2:-2, 2:-2] = False
    return mask


def split_stacked(components: dict[tuple[int, int, int, int], np.ndarray]) -> list[tuple[int, int, int, int]]:
    """``_split_stacked`` on components given as box -> pixels, painted into a label image
    100 px high."""
    labels = np.zeros((100, 120), np.int32)
    kept = {}
    for i, (box, mask) in enumerate(components.items(), start=1):
        x1, y1, x2, y2 = box
        labels[y1:y2, x1:x2][mask] = i
        kept[box] = i
    return _split_stacked(kept, labels, 100, 0.1)


def test_a_tall_character_among_as_tall_ones_is_not_split() -> None:
    # half-height neighbours (a US plate's stacked small letters) do not split a line's
    # characters when they are as tall as the rest of the line
    stacked = np.zeros((40, 12), bool)
    stacked[:17] = glyph(17, 12)
    stacked[17:23, 5:7] = True
    stacked[23:] = glyph(17, 12)
    small = {(5, 10, 17, 27): glyph(17, 12), (5, 33, 17, 50): glyph(17, 12)}
    line = {(20 + 15 * i, 10, 32 + 15 * i, 50): glyph(40, 12) for i in range(1, 5)}
    kept = {(20, 10, 32, 50): stacked, **line, **small}
    assert sorted(split_stacked(kept)) == sorted(kept)
    alone = {(20, 10, 32, 50): stacked, **small, (40, 10, 52, 27): glyph(17, 12)}
    split = split_stacked(alone)
    assert sorted(split) == sorted([(20, 10, 32, 27), (20, 33, 32, 50), *small, (40, 10, 52, 27)])
    # the same halves all under it (small text under a line): its top part is level with none
    under = {(40 + 15 * i, 55, 52 + 15 * i, 72): glyph(17, 12) for i in range(3)}
    assert sorted(split_stacked({(20, 10, 32, 50): stacked, **under})) == sorted([(20, 10, 32, 50), *under])


def test_a_character_touching_the_band_is_kept_in_the_line() -> None:
    # the first character is joined to the blue band by a dark smudge: it is no component of
    # its own, but its ink is next to the line, so the line starts with it
    img = plate(["MAB1234"], band=True, border=False)
    cv2.rectangle(img, (38, 30), (66, 42), (0, 0, 0), -1)
    r = rectify(img)
    assert len(r.lines) == 1
    assert min(b[0] for b in r.lines[0].char_boxes) > 100  # the 'M' (drawn from x=60) is no component
    assert r.band_width_px > 0 and r.lines[0].box[0] <= 60  # yet the line starts before it


def test_a_plate_edge_stops_the_line_from_growing() -> None:
    # ink well above and below the characters' band is a plate's edge, not a character
    img = np.full((100, 420, 3), 90, np.uint8)
    img[10:90, 60:400] = 255
    cv2.putText(img, "AB12CDE", (80, 75), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 7, cv2.LINE_AA)
    r = rectify(img)
    assert len(r.lines) == 1
    x1, _, x2, _ = r.lines[0].box
    assert x1 >= 40 and x2 <= 420


def test_a_blurred_two_line_plate_gets_its_second_line() -> None:
    # the bottom line is smeared into one blob (no character components); the top line sits in
    # the top part of a squarish crop, so the band below it is read as the second line
    img = plate(["N316", "1079"], border=False)
    h = img.shape[0]
    bottom = img[h // 2 :, :].copy()
    img[h // 2 :, :] = cv2.GaussianBlur(bottom, (0, 0), 9)
    img[h // 2 :, :] = np.where(img[h // 2 :, :] < 235, 60, 255).astype(np.uint8)
    r = rectify(img)
    assert r.two_line
    top, second = r.lines
    assert second.char_boxes == ()  # found by the fallback, not as components
    assert top.box[1] < second.box[1] and top.box[3] < second.box[3]


def test_a_short_blurred_top_line_over_a_long_one_is_found() -> None:
    # a PL square plate: 2 characters over 5, the top line smeared into a blob over about 0.4
    # of the bottom line's columns (found at OTHER_INK_COLUMNS 0.35, not at 0.5)
    img = np.full((150, 250, 3), 255, np.uint8)
    cv2.putText(img, "ZW", (80, 80), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 7, cv2.LINE_AA)
    cv2.putText(img, "1517R", (20, 130), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 7, cv2.LINE_AA)
    img[:84] = np.where(cv2.GaussianBlur(img[:84].copy(), (0, 0), 4) < 235, 60, 255).astype(np.uint8)
    cv2.rectangle(img, (1, 1), (248, 148), (0, 0, 0), 3)
    r = rectify(img)
    assert r.two_line
    first, second = r.lines
    assert first.char_boxes == () and len(second.char_boxes) == 5  # the top line from its band
    assert first.box[1] < second.box[1] and first.box[3] < second.box[3]


def test_a_one_line_plate_in_a_square_crop_stays_one_line() -> None:
    # a US-style plate: one line of characters in the middle of a 2:1 crop, small text above
    img = np.full((180, 360, 3), 255, np.uint8)
    cv2.putText(img, "TEXAS", (130, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
    cv2.putText(img, "ABC1234", (20, 115), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 7, cv2.LINE_AA)
    r = rectify(img)
    assert len(r.lines) == 1


def test_halves_of_a_squarish_crop_leave_out_the_band() -> None:
    img = plate(["A123", "4567"], band=True)  # 170 x 360: squarish once the band is left out
    r = rectify(img)
    assert r.band_width_px > 0
    top, bottom = r.halves(max_aspect=2.2)
    h = img.shape[0]
    assert top.shape[0] == bottom.shape[0] or abs(top.shape[0] - bottom.shape[0]) == 1
    assert top.shape[0] > h // 2 and top.shape[0] < 0.6 * h  # past the middle, not much more
    assert top.shape[1] == bottom.shape[1] == img.shape[1] - r.band_width_px
    np.testing.assert_array_equal(bottom[-1], r.image[-1, r.band_width_px :])
    assert r.halves(max_aspect=1.0) == []  # wider than that: no halves
    assert rectify(np.full((3, 3, 3), 128, np.uint8)).halves(max_aspect=2.2) == []  # too small


def square_plate_in_scene(lines: tuple[str, str], country: str) -> np.ndarray:
    """A generator-drawn two-line plate with its EU band (``country``'s square plate), cut loosely:
    a margin of 15 % of the plate's width at each side (dark scene), as a detector box with a
    margin cuts it. (H, W, 3) uint8 BGR."""
    rng = np.random.default_rng(1)
    spec = replace(make_plate(rng, country, "rear", lines=lines), band=True, dirt=0.0, wear=0.0)
    texture = render_plate(spec, 0.5, rng).image
    alpha = texture[:, :, 3:4] / 255.0
    img = (texture[:, :, :3] * alpha + 70 * (1 - alpha)).astype(np.uint8)
    m = round(0.15 * img.shape[1])
    return np.asarray(cv2.copyMakeBorder(img, m // 2, m // 2, m, m, cv2.BORDER_CONSTANT, value=(70, 70, 70)))


def test_the_band_of_a_loosely_cut_square_plate_is_found_and_left_out_of_its_lines() -> None:
    # the band starts 12 % into the crop: its letters are not characters of the bottom line
    img = square_plate_in_scene(("CU", "2430G"), "PL")
    band = blue_band_width(img)
    assert 0.1 * img.shape[1] < band < 0.3 * img.shape[1]
    r = rectify(img)
    assert r.two_line and r.band_width_px == band
    assert all(b[0] >= band for line in r.lines for b in line.char_boxes)
    assert len(r.lines[1].char_boxes) == 5


def test_a_blue_first_character_set_in_from_the_edge_is_not_a_band(monkeypatch: pytest.MonkeyPatch) -> None:
    # a US plate whose first character is blue (469BWW): a blue run as tall as the band and as far
    # in as a loose crop's band, but with the plate's own background on both sides of it
    img = np.full((100, 400, 3), 255, np.uint8)
    cv2.putText(img, "4", (34, 82), cv2.FONT_HERSHEY_SIMPLEX, 2.8, (170, 70, 0), 16, cv2.LINE_AA)
    cv2.putText(img, "69BWW", (100, 82), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (0, 0, 0), 7, cv2.LINE_AA)
    assert blue_band_width(img) == 0
    monkeypatch.setattr(rectify_module, "BAND_AT_EDGE", 1.0)  # without the check it would be one
    assert blue_band_width(img) > 0


@pytest.mark.parametrize(
    ("lines", "turned_shows", "applied"),
    [
        (["A12", "345"], "short", False),
        (["A12", "345"], "longest", False),
        (["A12", "345"], "joined", True),
        (["A12", "345"], "both", True),
        (["A123", "4567"], "longest", True),
    ],
)
def test_a_deskew_that_breaks_a_line_is_not_applied(
    monkeypatch: pytest.MonkeyPatch, lines: list[str], turned_shows: str, applied: bool
) -> None:
    # the slope of a two-line plate's line of 3 characters may be wrong enough that the turned
    # crop shows one line only, shorter ("short") or no longer ("longest"): the crop is then read
    # as it stands. One line longer than either level one ("joined": a turned plate's pieces),
    # both lines again ("both"), or a slope measured on 4 characters keep the deskew.
    img = turned_in_box(plate(lines), 4.0)
    real = rectify_module._find_lines
    calls: list[int] = []

    def level_sees_two(*args: Any, **kwargs: Any) -> Any:
        found, components, ink = real(*args, **kwargs)
        calls.append(len(found))
        if len(calls) > 1 and turned_shows == "short":
            found = [found[0][:2]]
        elif len(calls) > 1 and turned_shows == "longest":
            found = [max(found, key=len)]
        elif len(calls) > 1 and turned_shows == "joined":
            found = [sorted(found[0] + found[1])]
        return found, components, ink

    monkeypatch.setattr(rectify_module, "_find_lines", level_sees_two)
    r = rectify(img)
    assert calls[0] == 2 and len(calls) >= 2  # a deskew was tried
    assert (abs(r.angle_deg) > 2.0) is applied
    assert r.two_line is (turned_shows == "both" or not applied)


def turned_in_box(img: np.ndarray, angle: float) -> np.ndarray:
    """``img`` turned ``angle`` degrees on a grey canvas the size of the box around it."""
    return turn_whole(img, angle, border=(90, 90, 90))


def test_a_plate_turned_past_the_tilted_groupings_is_found_by_turning_it_back() -> None:
    # at 22 degrees each character's box overlaps its neighbours': no grouping joins them, and
    # the plate fills under half the height of the box around it
    for angle in (22.0, -22.0):
        r = rectify(turned_in_box(plate(["AB12CDE"]), angle))
        assert abs(r.angle_deg + angle) < 2.0  # turned back
        assert len(r.lines) == 1 and len(r.lines[0].char_boxes) >= 6


def test_the_row_profile_is_sharpest_when_the_text_is_level() -> None:
    def ink(img: np.ndarray) -> np.ndarray:
        return _ink(np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), np.uint8), dark_text=True)

    level = ink(plate(["AB12CDE"], border=False))
    assert all(_profile_score(level, 0.0) > _profile_score(level, a) for a in TURN_CANDIDATES)
    turned = ink(turned_in_box(plate(["AB12CDE"], border=False), 20.0))
    assert max(TURN_CANDIDATES, key=lambda a: _profile_score(turned, a)) == -20.0
    # a motion streak merges the characters, but its ink is still sharpest level: no turn gains
    # TURN_MIN_GAIN over level, so none is tried
    kernel = np.full((1, 25), 1 / 25, np.float32)
    streaked = ink(np.asarray(cv2.filter2D(plate(["AB12CDE"]), -1, kernel), np.uint8))
    level_score = _profile_score(streaked, 0.0)
    assert all(_profile_score(streaked, a) < TURN_MIN_GAIN * level_score for a in TURN_CANDIDATES)


def test_median_of_a_list_equals_numpys() -> None:
    rng = np.random.default_rng(3)
    for n in range(1, 40):
        ints = [int(v) for v in rng.integers(0, 90, n)]
        floats = [float(v) for v in rng.normal(20.0, 7.0, n)]
        assert rectify_module._median(ints) == float(np.median(ints))
        assert rectify_module._median(floats) == float(np.median(floats))
    with pytest.raises(ValueError):
        rectify_module._median([])


def test_the_second_line_is_found_beside_a_shadow_on_the_first() -> None:
    # the top line is smeared into one blob (no components); a shadow lies over the left part of
    # the bottom line's rows (from y 95, below where the top line is looked for). Most of that
    # line's background is shadow grey (its median 55 grey levels under the top's white), but
    # its brightest part is the top's white: the plate's white is compared (80th percentile),
    # not the median
    img = plate(["N316", "1079"], border=False)
    h, w = img.shape[:2]
    top = img[: h // 2, :].copy()
    img[: h // 2, :] = np.where(cv2.GaussianBlur(top, (0, 0), 9) < 235, 60, 255).astype(np.uint8)
    shaded = img[95:, : int(0.38 * w)]
    shaded[shaded > 128] = 200
    r = rectify(img)
    assert r.two_line
    first, second = r.lines
    assert first.char_boxes == ()  # the top line, found by the fallback
    assert first.box[3] <= second.box[3]


def test_a_blob_line_over_a_line_whose_white_blur_greys_is_found() -> None:
    # the top line smeared into one blob (no components); blur between the bottom line's close,
    # bold characters greys its white (215 here, against 255 round the blob)
    img = plate(["N316", "1079"], border=False)
    h = img.shape[0]
    top = img[: h // 2, :].copy()
    img[: h // 2, :] = np.where(cv2.GaussianBlur(top, (0, 0), 9) < 235, 60, 255).astype(np.uint8)
    below = img[92:]  # 1079's characters start at row 95
    below[below > 128] = 195
    r = rectify(img)
    assert r.two_line
    first, second = r.lines
    assert first.char_boxes == () and len(second.char_boxes) == 4


@pytest.mark.parametrize(
    ("line_white", "band_white", "found"),
    [
        (200, 200, True),
        (140, 200, True),  # the found line's white greyed by blur: the band 60 brighter
        (140, 220, False),  # 80 brighter: sky or a white body over a plate, not its other line
        (200, 150, False),  # 50 darker: the scene round a small plate in a loose crop
    ],
)
def test_the_other_lines_background_may_be_brighter_than_the_found_lines_not_darker(
    line_white: int, band_white: int, found: bool
) -> None:
    gray = np.full((100, 160), band_white, np.uint8)
    gray[57:] = line_white  # the band looked in is rows 26-56
    ink = np.zeros((100, 160), np.uint8)
    line = [(20 + 30 * i, 60, 40 + 30 * i, 90) for i in range(4)]  # 4 characters, 30 high
    for x1, y1, x2, y2 in line:
        ink[y1:y2, x1:x2] = 255
    ink[25:55, 50:100] = 255  # the other line: one blob over half the line's width
    gray[ink > 0] = 20
    other = rectify_module._other_line(gray, ink, line, (10, 55, 150, 95), 1.0, 100)
    assert (other is not None) is found


def test_a_frame_hugging_the_characters_is_told_from_one_that_does_not() -> None:
    ink = np.zeros((100, 200), np.uint8)
    ink[40:70, 50:150:12] = 255  # character stems, a line from y 40 to 70 (ch 30)
    assert not rectify_module._frame_hugs(ink, 40, 70, 50, 150, 30.0)
    ink[33:40, :] = 255  # a frame line just above the characters...
    assert not rectify_module._frame_hugs(ink, 40, 70, 50, 150, 30.0)
    ink[70:77, :] = 255  # ...and just below: it hugs them
    assert rectify_module._frame_hugs(ink, 40, 70, 50, 150, 30.0)
    assert not rectify_module._frame_hugs(ink, 5, 35, 50, 150, 30.0)  # no room above: no test


def test_growth_stops_at_a_border_column_unless_borders_are_off() -> None:
    ink = np.zeros((100, 200), np.uint8)
    ink[40:70, 80:150] = 255  # the line's characters (one block)
    ink[40:70, 62:70] = 255  # a character the components missed, left of them
    ink[25:85, 70:73] = 255  # ... joined to a column inked far above and below: a "border"
    assert rectify_module._grow_span(ink, 40, 70, 80, 150, 30.0, 0) == (80, 150)
    assert rectify_module._grow_span(ink, 40, 70, 80, 150, 30.0, 0, borders=False) == (62, 150)


def _hugged_ink(missed_from: int) -> np.ndarray:
    """Analysis-scale ink (100 x 200): a line y 40-70 (characters x 80-150), a frame hugging it
    above and below, and ink the components missed from ``missed_from`` to a column joined to
    the frame (x 70-73)."""
    ink = np.zeros((100, 200), np.uint8)
    ink[40:70, 80:150] = 255
    ink[32:40, :] = 255
    ink[70:78, :] = 255
    ink[40:70, missed_from:73] = 255
    return ink


def test_a_line_gets_a_hugged_box_only_when_it_grows_by_a_character() -> None:
    line = [(80, 40, 100, 70), (110, 40, 130, 70), (135, 40, 150, 70)]
    box, _, hugged = rectify_module._line_box(line, line, _hugged_ink(50), 0, 1.0, 200, 100)
    assert hugged is not None and hugged[0] < box[0] and hugged[2] == box[2]
    # only the frame's own edge beyond the line (7 px, 0.23 character heights): no second box
    assert rectify_module._line_box(line, line, _hugged_ink(70), 0, 1.0, 200, 100)[2] is None
    # the same analysis pixels from a crop twice as large (scale 0.5): boxes in crop pixels
    box2, _, hugged2 = rectify_module._line_box(line, line, _hugged_ink(50), 0, 0.5, 400, 200)
    assert hugged2 is not None
    for got, want in ((box2, box), (hugged2, hugged)):
        assert all(abs(g - 2 * v) <= 1 for g, v in zip(got, want, strict=True))


# components (analysis pixels) of two plates whose best level line has 4 characters but under
# 60 % of the components. XW198LK turned about 10 degrees (with its department's 88): level
# groups 8, L, K and the 88; along the first slope tried (-15 degrees) 7 do, and the search
# stops there (deskewed by that line's slope the plate shows all 9). NRT827 in rain: 5 along -5
# degrees with a raindrop; one more is no evidence of a slope, the level line is kept.
TILTED_XW198LK = [
    (219, 13, 234, 38), (201, 22, 216, 50), (181, 27, 197, 55), (147, 33, 163, 60), (127, 36, 142, 64),
    (233, 37, 245, 59), (109, 40, 118, 67), (72, 46, 88, 75), (51, 50, 67, 79), (32, 63, 47, 89),
]  # fmt: skip
RAINY_NRT827 = [
    (0, 4, 28, 40), (54, 15, 93, 100), (163, 30, 182, 69), (198, 34, 220, 72), (227, 36, 249, 79),
    (257, 36, 278, 75), (0, 62, 47, 100), (93, 69, 114, 100),
]  # fmt: skip


@pytest.mark.parametrize(
    ("comps", "expected", "level_kept"), [(TILTED_XW198LK, 7, False), (RAINY_NRT827, 4, True)]
)
def test_a_level_line_of_a_few_components_gives_way_to_a_slope_two_characters_longer(
    comps: list[tuple[int, int, int, int]], expected: int, level_kept: bool
) -> None:
    groups: list[list[tuple[int, int, int, int]]] = rectify_module._group_lines(comps, 0.0)
    longest = max(groups, key=len)
    level = sorted(longest)
    assert len(level) == 4
    best = rectify_module._sloped_groups(comps)[0]
    assert len(best) == expected
    assert (best == level) is level_kept


def _sloped_groups_before_the_share_rule(
    components: list[tuple[int, int, int, int]],
) -> list[list[tuple[int, int, int, int]]]:
    """``_sloped_groups`` as it was before ``SLOPE_SEARCH_SHARE`` (seventeenth session)."""
    best: list[list[tuple[int, int, int, int]]] = []
    best_n = 0
    for slope in rectify_module.GROUP_SLOPES:
        if slope != 0.0 and best_n >= rectify_module.SLOPE_SEARCH_BELOW:
            break
        groups = [g for g in rectify_module._group_lines(components, slope) if len(g) >= 2]
        if groups:
            groups.sort(key=rectify_module._line_score, reverse=True)
            if len(groups[0]) > best_n:
                best, best_n = groups, len(groups[0])
    return best


def test_the_share_rule_leaves_short_and_long_level_lines_as_they_were() -> None:
    # a level line under 4 characters, or holding 60 % of the components: as before the rule
    rng = np.random.default_rng(11)
    compared = 0
    for _ in range(3000):
        n = int(rng.integers(0, 12))
        xs, ys = rng.integers(0, 250, n), rng.integers(0, 70, n)
        ws, hs = rng.integers(8, 20, n), rng.integers(15, 35, n)
        comps = [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h in zip(xs, ys, ws, hs, strict=True)]
        level = [g for g in rectify_module._group_lines(comps, 0.0) if len(g) >= 2]
        level.sort(key=rectify_module._line_score, reverse=True)
        n_level = len(level[0]) if level else 0
        if n_level >= rectify_module.SLOPE_SEARCH_BELOW and n_level < rectify_module.SLOPE_SEARCH_SHARE * n:
            continue
        compared += 1
        assert rectify_module._sloped_groups(comps) == _sloped_groups_before_the_share_rule(comps)
    assert compared > 2000


def test_a_border_sliver_grouped_with_the_top_line_does_not_hide_the_bottom_line() -> None:
    """A two-line trailer mark whose crop starts on the plate's dark border: the border's edge
    (a tall sliver at x 0) is grouped with the top line and reaches down past the bottom line's
    top. The line's extent is taken without it, so the bottom line is still found (it was lost,
    ``A7976572`` read ``A797`` 0.997 on the synthetic two-line set s920)."""
    g = np.full((100, 140), 200, np.uint8)
    cv2.putText(g, "A797", (12, 42), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 20, 5, cv2.LINE_AA)
    cv2.putText(g, "6572", (12, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 20, 5, cv2.LINE_AA)
    g[12:56, 0:7] = 30  # the border's edge, ragged like a real one
    g[14:54:2, 2:5] = 200
    lines, components, _ = rectify_module._find_lines(g, 0)
    assert any(b[0] == 0 for b in components)  # the sliver is there, character-like
    assert [len(line) for line in lines] == [5, 4]  # the top line with the sliver, the bottom line
    assert min(b[1] for b in lines[1]) > max(b[3] for b in lines[0] if b[0] > 0)


def test_a_second_line_is_looked_for_only_in_a_crop_that_can_hold_a_two_line_plate() -> None:
    """Two rows of characters make a two-line plate in a crop up to 2.6 times as wide as high (a
    square plate seen by a steep camera with the lane's margins is about 2.4:1); in a crop three
    times as wide the row under the main line is no line of the plate (a tilted line's other end
    or a hatched edge read as characters: ``VOB320`` read ``VOB320KY``)."""

    def rows(width: int) -> np.ndarray:
        g = np.full((100, width), 200, np.uint8)
        cv2.putText(g, "AB12", (12, 42), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 20, 5, cv2.LINE_AA)
        cv2.putText(g, "CD34", (12, 86), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 20, 5, cv2.LINE_AA)
        return g

    for width in (140, 240):  # 1.4:1 and 2.4:1
        lines, _, _ = rectify_module._find_lines(rows(width), 0)
        assert [len(line) for line in lines] == [4, 4], width
    wide, _, _ = rectify_module._find_lines(rows(300), 0)
    assert len(wide) == 1


def test_a_lines_members_off_the_edges_leave_out_slivers_at_the_band_and_the_right_edge() -> None:
    """The members whose extent counts when a second line is looked for: not one starting at the
    band's edge (components start there at the earliest) nor one ending at the image's right
    edge; every member when all touch an edge."""
    line = [(10, 5, 16, 60), (20, 20, 40, 50), (45, 20, 65, 50), (94, 8, 100, 58)]
    assert rectify_module._off_the_edges(line, 10, 100) == [(20, 20, 40, 50), (45, 20, 65, 50)]
    assert rectify_module._off_the_edges(line, 0, 120) == line
    edges = [(0, 5, 6, 60), (94, 8, 100, 58)]
    assert rectify_module._off_the_edges(edges, 0, 100) == edges


def test_a_loosely_cut_two_line_plate_gets_both_lines() -> None:
    # the plate is 170 of the crop's 250 px: its characters are under a fifth of the crop's height
    img = cv2.copyMakeBorder(
        plate(["KN", "181K"], band=True), 40, 40, 20, 20, cv2.BORDER_CONSTANT, value=(60, 60, 60)
    )
    r = rectify(np.asarray(img, np.uint8))
    assert r.two_line
    assert [len(line.char_boxes) for line in r.lines] == [2, 4]


def _boxes(n: int, y: int) -> list[tuple[int, int, int, int]]:
    return [(10 + 12 * i, y, 20 + 12 * i, y + 18) for i in range(n)]


@pytest.mark.parametrize(
    ("first", "again", "taken"),
    [
        ([], [2, 4], True),  # KN / 181K, no line found as usual
        ([3, 2], [3, 5], True),  # FYF / 91940, two of the bottom line's characters found
        ([], [2, 2], False),  # the loops of two big 8s are not two lines of characters
        ([], [5], False),  # one line of a two-line plate: the other would be lost (2368W)
        ([3, 2], [3, 2], False),  # no more characters
        ([4, 3], [4, 5], False),  # lines of 3 or more characters: not looked at again
    ],
)
def test_a_squarish_crop_is_looked_at_again_for_shorter_characters_only_to_find_two_lines(
    monkeypatch: pytest.MonkeyPatch, first: list[int], again: list[int], taken: bool
) -> None:
    found = [_boxes(n, 10 + 30 * i) for i, n in enumerate(again)]
    monkeypatch.setattr(rectify_module, "_find_lines", lambda g, b, h: (found, [], g))
    gray = np.full((100, 150), 200, np.uint8)
    lines = [_boxes(n, 10 + 30 * i) for i, n in enumerate(first)]
    got = rectify_module._shorter_look(gray, 0, lines)
    assert (got is not None) is taken
    assert rectify_module._shorter_look(np.full((100, 400), 200, np.uint8), 0, lines) is None  # 4:1


def test_a_deskewed_crop_is_not_looked_at_again_for_shorter_characters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # turned back from 22 degrees, the crop's lines stand; looked at again level, the turned
    # plate's tilted pieces could pass for two lines (a held-out crop turned -20 degrees did)
    def never(*args: Any) -> None:
        raise AssertionError("a deskewed crop was looked at again")

    monkeypatch.setattr(rectify_module, "_shorter_look", never)
    r = rectify(turned_in_box(plate(["AB12CDE"]), 22.0))
    assert abs(r.angle_deg + 22.0) < 2.0 and len(r.lines) == 1


def test_wide_line_rows_grow_but_not_past_the_image_or_into_the_other_line() -> None:
    """The whole-width reading's rows grow by ``grow`` of the line's height each way (a tilted
    plate's characters beyond the line found sit higher or lower than its rows), stopping at
    the image's edges and at the middle of the gap between two lines."""
    image = np.zeros((60, 200, 3), np.uint8)
    one = Rectified(image, np.eye(2, 3), 0.0, 10, (TextLine((20, 20, 80, 40), ()),))
    assert [im.shape for im in one.wide_line_images(0.85)] == [(20, 190, 3)]
    assert [im.shape for im in one.wide_line_images(0.85, grow=0.3)] == [(32, 190, 3)]  # rows 14-46
    assert [im.shape for im in one.wide_line_images(0.85, grow=2.0)] == [(60, 190, 3)]  # the image
    assert one.wide_line_images(0.2, grow=0.3) == []  # the line covers enough: no wide reading
    two = Rectified(
        image, np.eye(2, 3), 0.0, 0, (TextLine((20, 4, 80, 24), ()), TextLine((20, 32, 80, 56), ()))
    )
    top, bottom = two.wide_line_images(0.85, grow=0.5)
    assert top.shape[0] == 28 - 0 and bottom.shape[0] == 60 - 28  # both stop at row 28
    # boxes that overlap (each line's box is padded): never less than a line's own rows
    overlapping = Rectified(
        image, np.eye(2, 3), 0.0, 0, (TextLine((20, 4, 80, 30), ()), TextLine((20, 26, 80, 56), ()))
    )
    assert [im.shape[0] for im in overlapping.wide_line_images(0.85)] == [26, 30]
    assert [im.shape[0] for im in overlapping.wide_line_images(0.85, grow=0.5)] == [30, 34]
