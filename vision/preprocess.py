"""Pre-processing for the YOLO models: pure functions that return what is needed to undo them.

Inputs are BGR uint8 images (H, W, 3). Outputs are NCHW float32 tensors in [0, 1], RGB,
the layout ultralytics' exported ONNX models take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from vision.types import BBox, ImageBGR

Tensor = npt.NDArray[np.float32]
"""A float32 NCHW tensor."""

PAD_VALUE = 114
"""Grey used for letterbox padding (ultralytics' value)."""


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How an image was letterboxed: ``model_px = image_px * scale + pad``.

    ``pad_x_px``/``pad_y_px`` are the left/top padding in model-input pixels.
    """

    scale: float
    pad_x_px: float
    pad_y_px: float
    input_hw: tuple[int, int]
    image_hw: tuple[int, int]


def letterbox(
    image: ImageBGR, input_hw: tuple[int, int], *, shrink_by_area: bool = False
) -> tuple[Tensor, Letterbox]:
    """Resize keeping aspect ratio and pad to ``input_hw`` (height, width), centred.

    Shrinking is bilinear, as ultralytics shrinks whole frames when it trains a detector on
    them, or with ``shrink_by_area`` averages pixel areas (``INTER_AREA``), as the plate
    detector's training tiles were scaled (``vision.train.datasets``): past a factor of 2,
    bilinear sampling skips pixels, and a 1280-px photograph letterboxed to 384 px lost thin
    strokes (a grey Brazilian plate found at 0.09 instead of 0.34). At exactly half size, as
    a 1280x720 lane frame for the plate detector, both give the same pixels. Enlarging is
    always bilinear.

    Returns a (1, 3, H, W) float32 RGB tensor in [0, 1] and the :class:`Letterbox` that undoes it.
    """
    h, w = image.shape[:2]
    in_h, in_w = input_hw
    scale = min(in_h / h, in_w / w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = (
        cv2.resize(
            image,
            (new_w, new_h),
            interpolation=cv2.INTER_AREA if shrink_by_area and scale < 1.0 else cv2.INTER_LINEAR,
        )
        if (new_w, new_h) != (w, h)
        else image
    )
    pad_x, pad_y = (in_w - new_w) / 2.0, (in_h - new_h) / 2.0
    left, top = round(pad_x - 0.1), round(pad_y - 0.1)
    canvas = np.full((in_h, in_w, 3), PAD_VALUE, np.uint8)
    canvas[top : top + new_h, left : left + new_w] = resized
    return to_tensor(canvas), Letterbox(scale, float(left), float(top), (in_h, in_w), (h, w))


def undo_letterbox(boxes_xyxy: npt.NDArray[np.float32], lb: Letterbox) -> npt.NDArray[np.float32]:
    """Boxes (N, 4) xyxy in model-input pixels -> original image pixels, clipped to the image."""
    out = boxes_xyxy.astype(np.float32, copy=True)
    out[:, [0, 2]] = (out[:, [0, 2]] - lb.pad_x_px) / lb.scale
    out[:, [1, 3]] = (out[:, [1, 3]] - lb.pad_y_px) / lb.scale
    h, w = lb.image_hw
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
    return out


def center_crop_square(image: ImageBGR, size_px: int) -> Tensor:
    """Resize the shortest edge to ``size_px`` and take the centre square (ultralytics'
    classification transform at inference). Returns (1, 3, size, size) float32 RGB in [0, 1]."""
    h, w = image.shape[:2]
    scale = size_px / min(h, w)
    new_w, new_h = max(size_px, round(w * scale)), max(size_px, round(h * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, left = (new_h - size_px) // 2, (new_w - size_px) // 2
    square: ImageBGR = np.ascontiguousarray(
        resized[top : top + size_px, left : left + size_px], dtype=np.uint8
    )
    return to_tensor(square)


def squash_square(image: ImageBGR, size_px: int) -> ImageBGR:
    """Resize the whole image to ``size_px`` x ``size_px`` regardless of aspect ratio.

    The trailer classifier's input: a side view of a trailer is 3-4 times wider than high,
    and a centre crop would cut off what tells body types apart (a reefer's refrigeration
    unit sits at the front end), so crops are squashed, in training and in service alike.
    """
    out: ImageBGR = np.asarray(
        cv2.resize(image, (size_px, size_px), interpolation=cv2.INTER_AREA), dtype=np.uint8
    )
    return out


def to_tensor(image: ImageBGR) -> Tensor:
    """(H, W, 3) uint8 BGR -> (1, 3, H, W) float32 RGB in [0, 1]."""
    rgb = image[:, :, ::-1].transpose(2, 0, 1)
    return np.ascontiguousarray(rgb, dtype=np.float32)[None] / np.float32(255.0)


def as_bgr(image: npt.NDArray[Any]) -> ImageBGR:
    """Bring any decoded image to (H, W, 3) uint8 BGR: greyscale is expanded, 16-bit is
    scaled to 8-bit, an alpha channel is dropped. Raises ``ValueError`` for anything else
    (empty, wrong rank, 1-pixel images)."""
    if image.size == 0 or image.ndim not in (2, 3):
        raise ValueError(f"not an image: shape {image.shape}")
    if min(image.shape[:2]) < 2:
        raise ValueError(f"image too small: {image.shape[1]}x{image.shape[0]} px")
    img8: ImageBGR
    if image.dtype == np.uint16:
        img8 = (image >> 8).astype(np.uint8)
    elif image.dtype == np.uint8:
        img8 = image
    else:
        scaled = (
            image * 255.0
            if np.issubdtype(image.dtype, np.floating) and float(np.nanmax(image)) <= 1.0
            else image
        )
        img8 = np.clip(np.nan_to_num(scaled), 0, 255).astype(np.uint8)
    if img8.ndim == 2 or img8.shape[2] == 1:
        return np.ascontiguousarray(cv2.cvtColor(img8, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    channels = img8.shape[2]
    if channels == 4:
        return np.ascontiguousarray(cv2.cvtColor(img8, cv2.COLOR_BGRA2BGR), dtype=np.uint8)
    if channels == 3:
        return np.ascontiguousarray(img8)
    raise ValueError(f"unsupported channel count {channels}")


def crop(image: ImageBGR, box: BBox, margin: float = 0.0, *, margin_y: float | None = None) -> ImageBGR:
    """A copy of ``box`` from ``image``, grown on each side by ``margin`` of its width left and
    right and ``margin_y`` (default ``margin``) of its height above and below, clipped."""
    h, w = image.shape[:2]
    mx, my = box.width_px * margin, box.height_px * (margin if margin_y is None else margin_y)
    x1, y1, x2, y2 = BBox(box.x1 - mx, box.y1 - my, box.x2 + mx, box.y2 + my).clip(w, h).as_int()
    out: ImageBGR = np.ascontiguousarray(image[y1:y2, x1:x2])
    return out


def turn_in_place(image: ImageBGR, angle_deg: float) -> tuple[ImageBGR, npt.NDArray[np.float64]]:
    """``image`` (H, W, 3) turned ``angle_deg`` degrees counter-clockwise about its centre on a
    canvas of its own size (corners cut off, edges replicated into the gaps; bilinear), and the
    2x3 transform from its pixels to the turned image's."""
    h, w = image.shape[:2]
    m = np.asarray(cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle_deg, 1.0), np.float64)
    out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(out, np.uint8), m


def turn_whole(image: ImageBGR, angle_deg: float, border: tuple[int, int, int] | None = None) -> ImageBGR:
    """``image`` (H, W, 3) turned ``angle_deg`` degrees counter-clockwise about its centre, on a
    canvas the size of the box around the turned image (nothing cut off), filled with
    ``border`` (BGR), or with the image's edges replicated when None. As a detector's box cuts
    a turned plate out of a photograph (turned-plate benchmarks and tests)."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle_deg, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    out_w, out_h = round(w * cos + h * sin), round(w * sin + h * cos)
    m[0, 2] += out_w / 2.0 - w / 2.0
    m[1, 2] += out_h / 2.0 - h / 2.0
    if border is None:
        out = cv2.warpAffine(image, m, (out_w, out_h), borderMode=cv2.BORDER_REPLICATE)
    else:
        out = cv2.warpAffine(image, m, (out_w, out_h), borderValue=border)
    return np.asarray(out, np.uint8)
