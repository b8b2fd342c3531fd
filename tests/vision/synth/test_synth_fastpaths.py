"""The renderer's fast paths give the results of the plain versions they replace."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision.synth.camera import clip_polygon_box
from vision.synth.canvas import Canvas, scale_bgra
from vision.synth.effects import _glow
from vision.synth.render import group_counts


def _random_canvas(seed: int) -> Canvas:
    c = Canvas(4.0, 2.0, 50.0)
    c.img[:] = np.random.default_rng(seed).integers(0, 256, c.img.shape, dtype=np.uint8)
    return c


def test_canvas_fills_and_shading_match_numpy() -> None:
    c = _random_canvas(1)
    ref = c.img.copy()
    ys, xs = c._slice(0.5, 0.3, 2.7, 1.6)

    c.rect(0.5, 0.3, 2.7, 1.6, (10, 20, 30), 200)
    ref[ys, xs] = (10, 20, 30, 200)
    assert np.array_equal(c.img, ref)

    c.vgrad(0.5, 0.3, 2.7, 1.6, (200, 150, 100), (20, 40, 60))
    t = np.linspace(0.0, 1.0, ys.stop - ys.start, dtype=np.float32)[:, None]
    col = np.array((200, 150, 100), np.float32) * (1 - t) + np.array((20, 40, 60), np.float32) * t
    ref[ys, xs, :3] = col[:, None, :].astype(np.uint8)
    ref[ys, xs, 3] = 255
    assert np.array_equal(c.img, ref)

    c = _random_canvas(2)
    ref = c.img.copy()
    profile = np.array([0.6, 1.3, 0.9, 1.1])
    c.row_shade(0.5, 0.3, 2.7, 1.6, profile)
    n = ys.stop - ys.start
    p = np.interp(np.linspace(0, 3, n), np.arange(4), profile).astype(np.float32)
    ref[ys, xs, :3] = np.clip(ref[ys, xs, :3].astype(np.float32) * p[:, None, None], 0, 255).astype(np.uint8)
    assert np.array_equal(c.img, ref)

    c.column_shade(0.5, 0.3, 2.7, 1.6, profile)
    n = xs.stop - xs.start
    p = np.interp(np.linspace(0, 3, n), np.arange(4), profile).astype(np.float32)
    ref[ys, xs, :3] = np.clip(ref[ys, xs, :3].astype(np.float32) * p[None, :, None], 0, 255).astype(np.uint8)
    assert np.array_equal(c.img, ref)


def test_scale_bgra_scales_colour_and_keeps_alpha() -> None:
    img = _random_canvas(3).img
    out = scale_bgra(img, 0.83)
    ramp = np.clip(np.arange(256, dtype=np.float32) * 0.83 + 0.5, 0, 255).astype(np.uint8)
    assert np.array_equal(out[..., :3], ramp[img[..., :3]])
    assert np.array_equal(out[..., 3], img[..., 3])


def test_group_counts_is_bincount() -> None:
    ids = np.random.default_rng(4).integers(0, 23, (90, 160)).astype(np.uint16)
    assert np.array_equal(group_counts(ids, 23), np.bincount(ids.ravel(), minlength=23))
    roi = ids[10:70, 33:150]  # a view with a row stride, as the renderer passes
    assert np.array_equal(group_counts(roi, 23), np.bincount(roi.ravel(), minlength=23))


def test_clip_polygon_box() -> None:
    inside = np.array([[1.0, 2.0], [5.0, 2.5], [4.0, 7.0]])
    assert np.array_equal(clip_polygon_box(inside, 0, 0, 10, 10), inside)
    huge = np.array([[-1e6, 5.0], [1e6, 5.0], [1e6, 6.0], [-1e6, 6.0]])
    clipped = clip_polygon_box(huge, -8, -8, 108, 58)
    assert clipped[:, 0].min() == -8 and clipped[:, 0].max() == 108
    assert abs(cv2.contourArea(clipped.astype(np.float32)) - 116.0) < 1e-6
    assert len(clip_polygon_box(huge, -8, 100, 108, 200)) == 0


def _glow_full_frame(img: np.ndarray, lamps: np.ndarray, red: np.ndarray, strength: float) -> np.ndarray:
    """The whole-frame computation that ``_glow`` restricts to the region the lamps reach."""
    h, w = img.shape[:2]
    layer = np.zeros((h, w, 3), np.float32)
    for (x, y, r), is_red in zip(lamps, red, strict=True):
        if -4 * r < x < w + 4 * r and -4 * r < y < h + 4 * r:
            col = (60, 60, 255) if is_red else (255, 250, 240)
            cv2.circle(layer, (int(x), int(y)), max(2, int(r)), col, -1, cv2.LINE_AA)
    sigma = max(1.0, float(lamps[:, 2].max()) * 4 / 3.0)
    small = cv2.resize(layer, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    halo = cv2.resize(cv2.GaussianBlur(small, (0, 0), sigmaX=max(0.7, sigma / 4)), (w, h))
    glow = cv2.addWeighted(layer, 0.9 * strength, halo, 2.2 * strength, 0.0)
    return np.asarray(cv2.add(img, glow, dtype=cv2.CV_8U))


@pytest.mark.parametrize(
    "lamps",
    [
        [(400.3, 300.8, 3.0), (470.0, 310.0, 3.2)],  # a pair of head lamps mid-frame
        [(3.0, 700.0, 9.0), (1275.0, 10.0, 2.0)],  # at the frame's edges
        [(-20.0, 360.0, 8.0), (900.0, 200.0, 40.0)],  # one outside, one large and close
    ],
)
def test_glow_in_a_region_matches_the_whole_frame(lamps: list[tuple[float, float, float]]) -> None:
    img = np.random.default_rng(5).integers(0, 200, (720, 1280, 3), dtype=np.uint8)
    arr = np.array(lamps, np.float64)
    red = np.array([i % 2 == 1 for i in range(len(lamps))])
    assert np.array_equal(_glow(img, arr, red, 0.8, grey=False), _glow_full_frame(img, arr, red, 0.8))


def test_glow_on_a_frame_the_small_grid_does_not_tile() -> None:
    img = np.random.default_rng(6).integers(0, 200, (721, 1282, 3), dtype=np.uint8)
    arr = np.array([(640.0, 360.0, 5.0)])
    red = np.array([True])
    assert np.array_equal(_glow(img, arr, red, 1.0, grey=False), _glow_full_frame(img, arr, red, 1.0))
