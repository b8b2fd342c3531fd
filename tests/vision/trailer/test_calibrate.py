from __future__ import annotations

import numpy as np
import pytest

from vision.postprocess import softmax
from vision.trailer.calibrate import expected_calibration_error, fit_temperature


def test_overconfident_model_gets_a_temperature_above_one() -> None:
    rng = np.random.default_rng(0)
    n, c = 2000, 4
    labels = rng.integers(0, c, n)
    logits = rng.normal(0, 1, (n, c)).astype(np.float32)
    logits[np.arange(n), labels] += 1.0  # true logits: moderately informative
    overconfident = softmax(logits * 4.0)  # a model 4x too sure of itself
    cal = fit_temperature(overconfident, labels)
    assert cal.temperature == pytest.approx(4.0, rel=0.15)
    assert cal.ece_after < cal.ece_before / 3
    assert cal.n == n


def test_ece_of_a_perfectly_calibrated_toy() -> None:
    probs = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    assert expected_calibration_error(probs, np.array([0, 1])) == pytest.approx(0.0)
    assert expected_calibration_error(probs, np.array([1, 0])) == pytest.approx(1.0)


def test_rejects_empty() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        fit_temperature(np.zeros((0, 3), np.float32), np.zeros(0, np.int64))


def _overconfident(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    logits = rng.normal(0, 1, (n, 4)).astype(np.float32)
    logits[np.arange(n), labels] += 1.0
    return softmax(logits * 4.0), labels


def test_a_small_set_is_not_trusted() -> None:
    probs, labels = _overconfident(100)
    cal = fit_temperature(probs, labels)
    assert not cal.applied and cal.temperature == 1.0 and "fewer than 200" in cal.reason
    assert cal.fitted > 1.0 and cal.ece_after == cal.ece_before  # what the fit found, not used


def test_a_set_the_model_gets_all_right_is_not_trusted() -> None:
    """Nothing wrong to learn from: the likelihood alone would drive T to its floor and make
    every answer, right or wrong, 100 % sure (a model team's 16 crops had done that)."""
    labels = np.arange(300) % 3
    probs = np.full((300, 3), 0.1, np.float32)
    probs[np.arange(300), labels] = 0.8
    cal = fit_temperature(probs, labels)
    assert not cal.applied and cal.temperature == 1.0 and "no crop is classified wrong" in cal.reason
    assert cal.fitted == pytest.approx(0.05, rel=0.01)


def test_a_fit_that_makes_calibration_worse_is_not_applied() -> None:
    probs, labels = _overconfident(2000)
    cal = fit_temperature(softmax(np.log(probs) / 4.0), labels)  # already calibrated
    assert cal.fitted == pytest.approx(0.97, abs=0.02)  # the likelihood's best is near 1 ...
    assert not cal.applied and "no better" in cal.reason and cal.temperature == 1.0  # ... and worse by ECE
