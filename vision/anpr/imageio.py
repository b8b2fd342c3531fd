"""Loading and checking the images a plate reader is given. Pure functions.

Everything a reader sees is ``(H, W, 3)`` uint8 **BGR**. Greyscale, BGRA and 16-bit
images are converted; anything else (not an image, empty, too small to hold a plate,
too large to be a camera frame) raises :class:`BadImageError` with the reason, so an
evaluation can count it and go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from vision.types import ImageBGR

if TYPE_CHECKING:
    from PIL.Image import Image as PilImage

MIN_SIDE_PX = 8
"""Smallest width or height of a crop worth reading."""

MAX_PIXELS = 64_000_000
"""Largest image accepted (8000 x 8000); bigger is not a camera frame and would exhaust memory."""


class BadImageError(ValueError):
    """An input image that cannot be read as a plate crop or scene; the message says why."""


def to_bgr8(image: npt.NDArray[np.generic], *, min_side_px: int = MIN_SIDE_PX) -> ImageBGR:
    """An array as ``(H, W, 3)`` uint8 BGR.

    Accepts ``(H, W)`` and ``(H, W, 1)`` greyscale, ``(H, W, 3)`` BGR, ``(H, W, 4)`` BGRA,
    in uint8, uint16 (scaled by 1/257) or float in [0, 1]. Raises :class:`BadImageError`
    for anything else or for a side shorter than ``min_side_px``.
    """
    arr = np.asarray(image)
    if arr.size == 0:
        raise BadImageError(f"empty image (shape {arr.shape})")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise BadImageError(f"not an image: shape {arr.shape}")
    h, w = arr.shape[:2]
    if min(h, w) < min_side_px:
        raise BadImageError(f"too small to read: {w}x{h} px (minimum side {min_side_px} px)")
    if h * w > MAX_PIXELS:
        raise BadImageError(f"too large: {w}x{h} px (limit {MAX_PIXELS} pixels)")
    if arr.dtype == np.uint16:
        arr = (arr.astype(np.uint32) // 257).astype(np.uint8)
    elif arr.dtype.kind == "f":
        arr = (np.clip(np.nan_to_num(arr.astype(np.float32)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise BadImageError(f"unsupported pixel type {arr.dtype}")
    if arr.ndim == 2:
        arr = cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    elif arr.shape[2] == 4:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(arr, dtype=np.uint8)


@contextmanager
def open_pil(source: Path | IO[bytes], name: object) -> Iterator[PilImage]:
    """``PIL.Image.open(source)`` (lazy: header only until loaded), closed at the end of the
    block. A file PIL cannot identify raises :class:`BadImageError` naming ``name``: also when
    ultralytics, once imported in the process, has patched ``Image.open`` to try its optional
    pi-heif plugin on such files and that import fails (ModuleNotFoundError)."""
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415 - only when loading files

    try:
        im = Image.open(source)
    except (UnidentifiedImageError, SyntaxError, ModuleNotFoundError) as e:
        raise BadImageError(f"not an image: {name} ({e})") from e
    with im:
        yield im


def image_size(path: Path) -> tuple[int, int]:
    """``(width_px, height_px)`` from the file's header without decoding its pixels.

    Raises :class:`BadImageError` when the file is missing, empty or not an image.
    """
    from PIL import Image  # noqa: PLC0415 - only when loading files

    if not path.is_file():
        raise BadImageError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise BadImageError(f"empty file: {path}")
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # we apply our own limit below, with a clearer message
    try:
        with open_pil(path, path) as im:
            return int(im.width), int(im.height)
    except OSError as e:
        raise BadImageError(f"not an image: {path} ({e})") from e
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def load_image(path: Path, *, min_side_px: int = MIN_SIDE_PX) -> ImageBGR:
    """Read an image file as ``(H, W, 3)`` uint8 BGR, checking its size before decoding.

    Raises :class:`BadImageError` (missing, empty, not an image, too small, too large).
    """
    w, h = image_size(path)
    if w * h > MAX_PIXELS:
        raise BadImageError(f"too large: {w}x{h} px (limit {MAX_PIXELS} pixels): {path}")
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if raw is None:
        raise BadImageError(f"cannot decode: {path}")
    return to_bgr8(raw, min_side_px=min_side_px)
