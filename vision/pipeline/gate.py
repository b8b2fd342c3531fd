"""The motion gate: is anything moving inside the lane's region of interest? Cheap (a 160-px-wide
greyscale difference), so frames of an empty, still lane cost almost nothing."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from vision.pipeline.config import MotionGateConfig, RegionOfInterest
from vision.types import ImageBGR


class MotionGate:
    """Compares each frame with the previous one inside the region of interest.

    :meth:`moved` returns True when at least ``min_changed_fraction`` of the region's pixels
    changed by more than ``pixel_threshold`` grey levels (at ``width_px`` wide, blurred
    3x3), and for the first frame. ``changed_fraction`` keeps the last measurement.
    """

    def __init__(self, config: MotionGateConfig, roi: RegionOfInterest) -> None:
        self.config = config
        self.roi = roi
        self._prev: npt.NDArray[np.uint8] | None = None
        self._mask: npt.NDArray[np.bool_] | None = None
        self._shape: tuple[int, int] | None = None
        self.changed_fraction = 1.0

    def _small(self, image: ImageBGR) -> npt.NDArray[np.uint8]:
        h, w = image.shape[:2]
        width = min(self.config.width_px, w)
        height = max(1, round(h * width / w))
        grey = cv2.cvtColor(
            cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY
        )
        small: npt.NDArray[np.uint8] = np.asarray(cv2.blur(grey, (3, 3)), dtype=np.uint8)
        if self._shape != (height, width):
            self._shape = (height, width)
            mask = np.zeros((height, width), np.uint8)
            poly = self.roi.polygon_px(width, height).round().astype(np.int32)
            cv2.fillPoly(mask, [poly], 1)
            self._mask = mask.astype(bool)
            self._prev = None
        return small

    def moved(self, image: ImageBGR) -> bool:
        """Whether ``image`` (H, W, 3) uint8 BGR differs from the previous frame inside the region."""
        small = self._small(image)
        prev, self._prev = self._prev, small
        if prev is None or self._mask is None:
            self.changed_fraction = 1.0
            return True
        diff = cv2.absdiff(small, prev) > self.config.pixel_threshold
        n = int(self._mask.sum())
        self.changed_fraction = float(np.count_nonzero(diff & self._mask)) / max(1, n)
        return self.changed_fraction >= self.config.min_changed_fraction
