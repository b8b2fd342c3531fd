from __future__ import annotations

import cv2
import numpy as np

from vision.anpr.rectify import blue_band_width, invert_affine, rectify


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


def test_blank_image_gives_no_lines_and_whole_image() -> None:
    img = np.full((40, 120, 3), 200, np.uint8)
    r = rectify(img)
    assert r.lines == ()
    assert r.line_images()[0].shape == img.shape
