from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.preprocess import (
    PAD_VALUE,
    as_bgr,
    center_crop_square,
    crop,
    letterbox,
    to_tensor,
    turn_in_place,
    turn_whole,
    undo_letterbox,
)
from vision.types import BBox


def test_letterbox_geometry_and_undo() -> None:
    img = np.zeros((720, 1280, 3), np.uint8)
    img[100:200, 300:500] = (0, 0, 255)  # a red rectangle (BGR)
    tensor, lb = letterbox(img, (320, 320))
    assert tensor.shape == (1, 3, 320, 320) and tensor.dtype == np.float32
    assert lb.scale == pytest.approx(0.25)
    assert (lb.pad_x_px, lb.pad_y_px) == (0.0, 70.0)
    # padding rows are grey; the rectangle is red in RGB order (channel 0)
    assert tensor[0, :, 0, 0] == pytest.approx([PAD_VALUE / 255] * 3)
    assert tensor[0, 0, 70 + 37, 100] == pytest.approx(1.0) and tensor[0, 2, 70 + 37, 100] == pytest.approx(
        0.0
    )
    boxes = np.array([[300 * 0.25, 100 * 0.25 + 70, 500 * 0.25, 200 * 0.25 + 70]], np.float32)
    np.testing.assert_allclose(undo_letterbox(boxes, lb), [[300, 100, 500, 200]], atol=1e-3)
    clipped = undo_letterbox(np.array([[-10, -10, 400, 400]], np.float32), lb)
    assert clipped[0].tolist() == [0.0, 0.0, 1280.0, 720.0]


def test_letterbox_shrinks_by_area_so_thin_strokes_are_not_skipped() -> None:
    # 1-px dark lines every 4 px, shrunk 3.33 times: averaging areas keeps every pixel a pale
    # grey (each takes in part of a line); bilinear sampling lands on or between the lines
    # (std 81, darkest 42)
    img = np.full((1280, 1280, 3), 255, np.uint8)
    img[:, ::4] = 0
    tensor, lb = letterbox(img, (384, 640), shrink_by_area=True)
    assert lb.scale == pytest.approx(0.3)
    body = tensor[0, 0, 10:-10, 128 + 10 : 128 + 384 - 10] * 255.0
    assert float(body.std()) < 30.0 and float(body.min()) > 150.0
    assert float(body.mean()) == pytest.approx(0.75 * 255, abs=6)
    # exactly half size (a 1280x720 lane frame): the same pixels as before
    frame = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), np.uint8)
    half, _ = letterbox(frame, (384, 640), shrink_by_area=True)
    linear = cv2.resize(frame, (640, 360), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(np.rint(half[0, ::-1, 12:372].transpose(1, 2, 0) * 255.0), linear)
    # by default (the vehicle detector, trained by ultralytics on bilinearly shrunk frames) bilinear
    striped, _ = letterbox(img, (384, 640))
    assert float(striped[0, 0, 10:-10, 138:502].std() * 255.0) > 60.0


def test_center_crop_square_takes_the_middle() -> None:
    img = np.zeros((100, 400, 3), np.uint8)
    img[:, 180:220] = 255  # 115..141 px after resizing to 64 px high; the crop spans 96..160
    t = center_crop_square(img, 64)
    assert t.shape == (1, 3, 64, 64)
    assert t[0, :, 32, 32].min() == pytest.approx(1.0)
    assert t[0, :, 32, 0].max() == pytest.approx(0.0)


def test_to_tensor_swaps_to_rgb() -> None:
    img = np.zeros((2, 2, 3), np.uint8)
    img[..., 0] = 255  # blue in BGR
    t = to_tensor(img)
    assert t[0, 2].min() == 1.0 and t[0, 0].max() == 0.0


@pytest.mark.parametrize(
    "image",
    [
        np.full((10, 12), 7, np.uint8),
        np.full((10, 12, 1), 7, np.uint8),
        np.full((10, 12, 4), 7, np.uint8),
        np.full((10, 12, 3), 7 * 256, np.uint16),
        np.full((10, 12, 3), 7 / 255, np.float32),
    ],
)
def test_as_bgr_normalises_layouts(image: np.ndarray) -> None:
    out = as_bgr(image)
    assert out.shape == (10, 12, 3) and out.dtype == np.uint8
    assert int(out[0, 0, 0]) == 7


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((0, 0, 3), np.uint8), "not an image"),
        (np.zeros((1, 1, 3), np.uint8), "too small"),
        (np.zeros((4, 4, 2), np.uint8), "channel"),
        (np.zeros((4,), np.uint8), "not an image"),
    ],
)
def test_as_bgr_rejects_bad_images(image: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        as_bgr(image)


def test_crop_grows_the_box_by_its_margins_and_stays_in_the_image() -> None:
    ys, xs = np.mgrid[0:100, 0:200]
    image = np.stack([xs, ys, np.zeros_like(xs)], axis=-1).astype(np.uint8)
    box = BBox(50, 40, 150, 60)  # 100 x 20 px
    assert crop(image, box).shape == (20, 100, 3)
    wide = crop(image, box, 0.06, margin_y=0.0)  # a lane plate crop: 6 px more at each end
    assert wide.shape == (20, 112, 3) and wide[0, 0, 0] == 44 and wide[0, -1, 0] == 155
    assert crop(image, box, 0.1).shape == (24, 120, 3)  # the same margin all round
    assert crop(image, BBox(190, 90, 200, 100), 0.5).shape == (15, 15, 3)  # clipped at the edges


def test_turn_whole_keeps_the_whole_image_on_the_box_around_it() -> None:
    image = np.zeros((40, 160, 3), np.uint8)
    image[10:30, 20:140] = 255
    for angle in (0.0, 10.0, -20.0):
        out = turn_whole(image, angle)
        rad = np.radians(abs(angle))
        assert abs(out.shape[1] - (160 * np.cos(rad) + 40 * np.sin(rad))) <= 1
        assert abs(out.shape[0] - (160 * np.sin(rad) + 40 * np.cos(rad))) <= 1
        assert abs(int((out[..., 0] > 127).sum()) - 120 * 20) <= 120  # the white block, whole


def test_turn_in_place_keeps_the_size_and_returns_its_transform() -> None:
    image = np.zeros((40, 100, 3), np.uint8)
    image[18:22, 10:90] = 255  # a level bar through the centre
    turned, m = turn_in_place(image, 90.0)
    assert turned.shape == image.shape and m.shape == (2, 3)
    ys, xs = np.nonzero(turned[..., 0] > 127)
    assert xs.max() - xs.min() <= 5 and ys.max() - ys.min() >= 35  # now upright, cut at the edges
    assert np.allclose(m @ np.array([50.0, 20.0, 1.0]), (50.0, 20.0))  # about the centre
