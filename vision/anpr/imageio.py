"""Loading and checking the images a plate reader is given. Pure functions.

Everything a reader sees is ``(H, W, 3)`` uint8 **BGR**. Greyscale, BGRA and 16-bit
images are converted; anything else (not an image, empty, too small to hold a plate,
too large to be a camera frame) raises :class:`BadImageError` with the reason, so an
evaluation can count it and go on.

Files are read as they are shown: a photo's EXIF orientation tag (a phone held upright, a
camera mounted on its side) is applied, as OpenCV's own ``imread``, ultralytics, image viewers
and labelling tools apply it, so a box drawn on the photo as shown is a box on what the
detector sees and sizes are those of the photo as shown.
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

EXIF_ORIENTATION = 0x0112
"""The EXIF tag saying how the stored pixels are turned or mirrored to show the photo (1-8)."""

QUARTER_TURNED = frozenset({5, 6, 7, 8})
"""Orientations whose photo as shown has width and height swapped."""


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


def orientation_of(im: PilImage) -> int:
    """The EXIF orientation (1-8) of an opened image, from the EXIF block its header holds (a
    JPEG's APP1 segment, WebP's EXIF chunk, a PNG's eXIf chunk before the pixels): where OpenCV's
    ``imread`` reads it. 1 (as stored) when there is none or it is invalid or unreadable.

    Never decodes pixels: PIL's ``getexif`` would decode a whole PNG to look for a chunk after
    the pixels (before any size check: a 20000 x 20000 PNG took 1.5 GB), and would also take an
    XMP orientation, which OpenCV, and so ultralytics, ignore."""
    from PIL import Image  # noqa: PLC0415 - only when loading files

    raw = im.info.get("exif")
    if not isinstance(raw, bytes) or not raw:
        return 1
    try:
        exif = Image.Exif()
        exif.load(raw)
        tag = exif.get(EXIF_ORIENTATION, 1)
    except Exception:  # a malformed block is as good as none (as in ultralytics' exif_size)
        return 1
    return tag if isinstance(tag, int) and 1 <= tag <= 8 else 1


def shown_size(width_px: int, height_px: int, orientation: int) -> tuple[int, int]:
    """``(width_px, height_px)`` of stored pixels of that size as shown under EXIF ``orientation``."""
    return (height_px, width_px) if orientation in QUARTER_TURNED else (width_px, height_px)


def apply_orientation(pixels: npt.NDArray[np.generic], orientation: int) -> npt.NDArray[np.generic]:
    """Stored pixels ``(H, W[, C])`` as shown under EXIF ``orientation`` (1-8): the same
    turns and mirrors as ``PIL.ImageOps.exif_transpose`` and OpenCV's ``imread``."""
    turned = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],  # mirrored left-right
        3: lambda a: a[::-1, ::-1],  # turned 180
        4: lambda a: a[::-1],  # mirrored top-bottom
        5: lambda a: a.swapaxes(0, 1),  # transposed
        6: lambda a: np.rot90(a, -1),  # turned 90 clockwise
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],  # transversed
        8: lambda a: np.rot90(a, 1),  # turned 90 anticlockwise
    }[orientation if 1 <= orientation <= 8 else 1](pixels)
    return np.ascontiguousarray(turned)


def _header(path: Path) -> tuple[int, int, int]:
    """``(stored width_px, stored height_px, EXIF orientation)`` from the file's header.

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
            return int(im.width), int(im.height), orientation_of(im)
    except OSError as e:
        raise BadImageError(f"not an image: {path} ({e})") from e
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def image_size(path: Path) -> tuple[int, int]:
    """``(width_px, height_px)`` of the photo as shown, from the file's header without decoding
    its pixels.

    Raises :class:`BadImageError` when the file is missing, empty or not an image.
    """
    return shown_size(*_header(path))


def read_pixels(path: Path) -> npt.NDArray[np.generic]:
    """A file's pixels as shown (EXIF orientation applied), in the file's own channels and depth
    (``(H, W)``, ``(H, W, 3)`` BGR or ``(H, W, 4)`` BGRA; uint8 or uint16).

    OpenCV decodes the stored pixels and the orientation is applied here, from the header PIL
    read, so that 16-bit and alpha are kept (OpenCV applies the tag only with flags that drop
    them). Raises :class:`BadImageError` (missing, empty, not an image, too large).
    """
    w, h, orientation = _header(path)
    if w * h > MAX_PIXELS:
        raise BadImageError(f"too large: {w}x{h} px (limit {MAX_PIXELS} pixels): {path}")
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # stored pixels: UNCHANGED ignores the tag
    if raw is None:
        raise BadImageError(f"cannot decode: {path}")
    return apply_orientation(raw, orientation)


def load_image(path: Path, *, min_side_px: int = MIN_SIDE_PX) -> ImageBGR:
    """Read an image file as ``(H, W, 3)`` uint8 BGR as shown (EXIF orientation applied),
    checking its size before decoding.

    Raises :class:`BadImageError` (missing, empty, not an image, too small, too large).
    """
    return to_bgr8(read_pixels(path), min_side_px=min_side_px)
