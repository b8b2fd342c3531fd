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
