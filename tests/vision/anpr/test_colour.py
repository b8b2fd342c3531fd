"""``vision.anpr.colour``: a plate crop's background colour."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.anpr.colour import plate_colour


def _plate(
    background_bgr: tuple[int, int, int], ink: int = 25, size: tuple[int, int] = (40, 160)
) -> np.ndarray:
    """A plate crop ``(h, w, 3)`` of one background colour with dark text, noise added."""
    h, w = size
    img = np.full((h, w, 3), background_bgr, np.uint8)
    cv2.putText(img, "AB12CD", (8, h - 10), cv2.FONT_HERSHEY_SIMPLEX, h / 32, (ink, ink, ink), 3)
    noise = np.random.default_rng(0).normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("background", "expected"),
    [
        ((235, 235, 235), "white"),  # white
        ((180, 185, 190), "white"),  # grey-white in shade
        ((30, 200, 240), "yellow"),  # UK rear / Dutch yellow (BGR)
        ((20, 150, 210), "yellow"),  # yellow under warm light
        ((40, 40, 200), "red"),  # a Spanish trailer's red
        ((200, 120, 60), None),  # blue: none of ours
    ],
)
def test_background_colours(background: tuple[int, int, int], expected: str | None) -> None:
    assert plate_colour(_plate(background)) == expected


def test_a_grey_crop_has_no_colour_to_go_by() -> None:
    # an infrared camera: every channel the same, a yellow plate as light as a white one
    grey = cv2.cvtColor(cv2.cvtColor(_plate((30, 200, 240)), cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    assert plate_colour(np.asarray(grey, np.uint8)) is None
    assert plate_colour(np.zeros((3, 40, 3), np.uint8)) is None
