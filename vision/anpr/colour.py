"""The background colour of a plate crop: white, yellow or red, or unknown. Pure functions.

Used to name the country of a read whose text fits formats of several countries
(:meth:`vision.anpr.grammars.GrammarSet.rank`): Dutch plates are yellow, UK rear plates are
yellow, a Spanish trailer's is red, the rest of the formats here are white. Only the name
changes, never the ranking of texts.

The background is taken as the brighter half of the pixels in the middle of the crop (the
ink is darker), and its median hue and saturation decide. A crop with almost no colour at all
(an infrared camera at night gives grey pixels, in which a yellow plate looks white) is
unknown, and so is one whose background is neither clearly coloured nor clearly grey (dusk).
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from vision.types import ImageBGR

PlateColour = Literal["white", "yellow", "red"]

GREY_SATURATION = 20
"""A crop whose 95th percentile of saturation (OpenCV 0-255) is under this has no colour to go
by: an infrared or greyscale camera."""

WHITE_MAX_SATURATION = 45
"""A background with median saturation under this is white (or grey, or silver)."""

COLOUR_MIN_SATURATION = 70
"""A background with median saturation at least this is coloured: yellow for a hue of
:data:`YELLOW_HUES`, red for :data:`RED_HUES` (red needs 90)."""

YELLOW_HUES = (12, 40)
"""Hue range (OpenCV 0-180) of a yellow plate, from orange-ish under warm light to lemon."""

RED_HUES = (8, 170)
"""A red background has a hue at most the first or at least the second (OpenCV 0-180)."""


def plate_colour(image: ImageBGR) -> PlateColour | None:
    """The background colour of a plate crop ``(H, W, 3)`` uint8 BGR (best deskewed), or
    ``None`` when it cannot be told (see the module doc) or the array is not such a crop."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        return None
    h, w = image.shape[:2]
    if h < 4 or w < 4:
        return None
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    if float(np.percentile(hsv[:, :, 1], 95)) < GREY_SATURATION:
        return None
    middle = hsv[int(h * 0.2) : max(int(h * 0.8), int(h * 0.2) + 1), int(w * 0.15) : max(int(w * 0.9), 1)]
    px = middle.reshape(-1, 3).astype(np.float32)
    if len(px) == 0:
        return None
    background = px[px[:, 2] >= np.percentile(px[:, 2], 50)]
    hue, sat = float(np.median(background[:, 0])), float(np.median(background[:, 1]))
    if sat >= COLOUR_MIN_SATURATION and YELLOW_HUES[0] <= hue <= YELLOW_HUES[1]:
        return "yellow"
    red = (background[:, 0] <= RED_HUES[0]) | (background[:, 0] >= RED_HUES[1])  # hue wraps at red
    if sat >= 90 and float(red.mean()) >= 0.5:
        return "red"
    if sat < WHITE_MAX_SATURATION:
        return "white"
    return None
