from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.anpr.imageio import BadImageError, load_image, to_bgr8


def test_conversions() -> None:
    assert to_bgr8(np.zeros((20, 30), np.uint8)).shape == (20, 30, 3)
    assert to_bgr8(np.zeros((20, 30, 1), np.uint8)).shape == (20, 30, 3)
    assert to_bgr8(np.zeros((20, 30, 4), np.uint8)).shape == (20, 30, 3)
    sixteen = to_bgr8(np.full((20, 30), 65535, np.uint16))
    assert sixteen.dtype == np.uint8 and sixteen.max() == 255


@pytest.mark.parametrize(
    "bad",
    [np.zeros((0, 0, 3), np.uint8), np.zeros((1, 1, 3), np.uint8), np.zeros((20, 30, 2), np.uint8)],
)
def test_bad_arrays(bad: np.ndarray) -> None:
    with pytest.raises(BadImageError):
        to_bgr8(bad)


def test_bad_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "text.jpg"
    text.write_text("not an image")
    for p in (empty, text, tmp_path / "missing.png"):
        with pytest.raises(BadImageError):
            load_image(p)


def test_huge_image_refused_from_header(tmp_path: Path) -> None:
    # a 20000 x 20000 PNG, refused before its pixels are decoded
    big = tmp_path / "big.png"
    img = np.zeros((20000, 20000), np.uint8)
    assert cv2.imwrite(str(big), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    del img
    with pytest.raises(BadImageError, match="too large"):
        load_image(big)


def test_greyscale_and_16bit_files_load(tmp_path: Path) -> None:
    g = tmp_path / "g.png"
    cv2.imwrite(str(g), np.full((30, 60), 128, np.uint8))
    d = tmp_path / "d.png"
    cv2.imwrite(str(d), np.full((30, 60), 40000, np.uint16))
    assert load_image(g).shape == (30, 60, 3)
    out = load_image(d)
    assert out.dtype == np.uint8 and out.shape == (30, 60, 3)
