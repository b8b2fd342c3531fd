from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.anpr.imageio import BadImageError, image_size, load_image, read_pixels, to_bgr8


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


def _tagged(path: Path, rgb: np.ndarray, orientation: int) -> Path:
    """Save ``rgb`` as stored pixels with EXIF ``orientation``; the format from the suffix."""
    from PIL import Image

    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(path, exif=exif.tobytes())
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
def test_files_load_as_shown(tmp_path: Path, orientation: int) -> None:
    from PIL import Image, ImageOps

    rgb = np.random.default_rng(orientation).integers(0, 255, (30, 50, 3), dtype=np.uint8)
    path = _tagged(tmp_path / "p.png", rgb, orientation)
    shown = load_image(path)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im))[:, :, ::-1]
    assert np.array_equal(shown, expected)  # as PIL shows it
    by_opencv = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert by_opencv is not None and np.array_equal(shown, by_opencv)  # as OpenCV and ultralytics
    assert image_size(path) == (shown.shape[1], shown.shape[0])
    assert image_size(path) == ((30, 50) if orientation >= 5 else (50, 30))


def test_a_phone_photo_turned_by_its_tag(tmp_path: Path) -> None:
    # stored on its side with "turn 90 clockwise to show": read upright, also when 16-bit
    upright = np.zeros((40, 100, 3), np.uint8)
    upright[:, :10] = 255  # a white band at the left edge as shown
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # how a camera held sideways stores it
    path = _tagged(tmp_path / "side.jpg", stored, 6)
    shown = load_image(path)
    assert shown.shape == (40, 100, 3) and image_size(path) == (100, 40)
    assert shown[:, :8].mean() > 200 and shown[:, 20:].mean() < 30
    deep = np.zeros((40, 100), np.uint16)
    deep[:, :10] = 60000
    pixels = read_pixels(_tagged(tmp_path / "deep.png", np.ascontiguousarray(np.rot90(deep, 1)), 6))
    assert pixels.dtype == np.uint16 and np.array_equal(pixels, deep)


def test_a_malformed_or_invalid_tag_counts_as_none(tmp_path: Path) -> None:
    import struct

    stored = np.zeros((30, 50, 3), np.uint8)
    jpeg = bytes(cv2.imencode(".jpg", stored)[1])
    blocks = {
        "garbage": b"Exif\x00\x00" + b"II\x2a\x00\x08\x00\x00\x00" + b"\xff\xff" + b"\x00" * 10,
        "orientation 9": b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01"
        + b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x09\x00\x00",
    }
    for name, app1 in blocks.items():
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:])
        assert load_image(path).shape == (30, 50, 3), name
        assert image_size(path) == (50, 30), name
