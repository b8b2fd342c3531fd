from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.anpr.line_input import GREY_RANGE_PERCENTILES, grey_percentiles

CROPS = Path(__file__).resolve().parents[3] / "fixtures" / "synth" / "plates" / "crops"


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    out: list[np.ndarray] = [np.zeros((1, 1), np.uint8), np.full((3, 5), 255, np.uint8)]
    for i in range(300):
        h, w = int(rng.integers(1, 50)), int(rng.integers(1, 250))
        if i % 2:
            out.append(rng.integers(0, 256, (h, w), dtype=np.uint8))
        else:  # narrow ranges, as a dark night plate's
            mid, spread = rng.uniform(0, 255), rng.uniform(0.5, 30)
            out.append(np.clip(rng.normal(mid, spread, (h, w)), 0, 255).astype(np.uint8))
    for path in sorted(CROPS.glob("*.jpg"))[:10]:
        bgr = cv2.imread(str(path))
        assert bgr is not None
        out.extend(np.ascontiguousarray(bgr[:, :, c]) for c in range(3))
    return out


def test_grey_percentiles_equal_numpys_bit_for_bit() -> None:
    images = _images()
    assert len(images) > 300
    for img in images:
        for qs in (GREY_RANGE_PERCENTILES, (0.0, 50.0, 100.0), (12.345, 87.6)):
            assert grey_percentiles(img, qs) == [float(v) for v in np.percentile(img, qs)]


def test_grey_percentiles_of_an_empty_image_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        grey_percentiles(np.zeros((0, 4), np.uint8), GREY_RANGE_PERCENTILES)


@pytest.mark.parametrize("q", [-1.0, 100.5])
def test_grey_percentiles_outside_0_100_is_an_error(q: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        grey_percentiles(np.zeros((2, 2), np.uint8), (q,))
