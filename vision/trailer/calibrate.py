"""Temperature scaling: makes the classifier's confidence mean what it says.

Fit one temperature ``T`` on held-out crops by minimising the negative log-likelihood of
``softmax(log(p) / T)``; report the expected calibration error (ECE, 10 equal-width bins)
before and after. A fit that cannot be trusted is not applied (``T`` stays 1, ``applied`` is
False and ``reason`` says why): fewer than :data:`MIN_IMAGES` crops, no wrong answer among them
(the likelihood then only grows as ``T`` shrinks: every answer would be made 100 % sure), a
temperature at the end of the search range, or an ECE no better after than before.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vision.postprocess import softmax

MIN_IMAGES = 200
"""Fewest calibration crops a temperature is fitted on (ten bins of about twenty)."""

T_RANGE = (0.05, 20.0)
"""The temperatures searched."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """The temperature to use (1.0 when the fit was not applied) and the ECE (in [0, 1]) before
    and after it, on ``n`` crops; ``fitted`` is what the search found, ``reason`` why it was not
    applied (empty when it was)."""

    temperature: float
    ece_before: float
    ece_after: float
    n: int
    fitted: float = 1.0
    applied: bool = True
    reason: str = ""


def expected_calibration_error(
    probs: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], bins: int = 10
) -> float:
    """ECE of (N, C) probabilities against (N,) true class ids."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(float(correct[in_bin].mean()) - float(conf[in_bin].mean()))
    return float(ece)


def fit_temperature(
    probs: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], *, min_images: int = MIN_IMAGES
) -> Calibration:
    """Fit ``T`` in :data:`T_RANGE` (log grid, then refined) to (N, C) probabilities and (N,)
    labels; applied only when it can be trusted (module doc)."""
    if len(probs) == 0 or len(probs) != len(labels):
        raise ValueError(
            f"need matching non-empty probabilities and labels, got {len(probs)} and {len(labels)}"
        )
    logits = np.log(np.clip(probs, 1e-9, 1.0)).astype(np.float32)

    def nll(t: float) -> float:
        p = softmax(logits, t)
        return float(-np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1.0)).mean())

    lo, hi = T_RANGE
    grid = np.exp(np.linspace(np.log(lo), np.log(hi), 61))
    best = float(grid[int(np.argmin([nll(float(t)) for t in grid]))])
    fine = np.clip(best * np.exp(np.linspace(-0.1, 0.1, 21)), lo, hi)
    best = float(fine[int(np.argmin([nll(float(t)) for t in fine]))])
    before = expected_calibration_error(probs, labels)
    after = expected_calibration_error(softmax(logits, best), labels)
    n_wrong = int((probs.argmax(axis=1) != labels).sum())
    reason = ""
    if len(labels) < min_images:
        reason = f"{len(labels)} crops, fewer than {min_images}"
    elif n_wrong == 0:
        reason = "no crop is classified wrong: nothing shows how sure a wrong answer is"
    elif best <= lo * 1.001 or best >= hi * 0.999:
        reason = f"the fit ran to the end of the range searched ({best:.3g})"
    elif after >= before:
        reason = f"ECE {before:.4f} -> {after:.4f}: no better"
    if reason:
        return Calibration(1.0, before, before, len(labels), fitted=best, applied=False, reason=reason)
    return Calibration(best, before, after, len(labels), fitted=best)


def calibrate_onnx(model_path: Path, folder: Path) -> Calibration:
    """Fit the temperature of a classifier ONNX file on a folder-per-class set
    (``<class>/*.jpg`` named like the model's classes) and store it in the file's metadata
    under ``temperature`` when the fit is applied; the images go through the classifier's own
    pre-processing."""
    import onnx  # noqa: PLC0415 - export-time only

    from vision.preprocess import squash_square, to_tensor  # noqa: PLC0415
    from vision.runtime import OnnxModel  # noqa: PLC0415
    from vision.train.datasets import load_image  # noqa: PLC0415

    model = OnnxModel(model_path, "cpu", warmup=False)
    names = model.info.class_names
    size = model.info.imgsz[0] if model.info.imgsz else 128
    probs, labels = [], []
    for idx, name in enumerate(names):
        for f in sorted((folder / name).glob("*.jpg")):
            (p,) = model.run(to_tensor(squash_square(load_image(f), size)))[:1]
            probs.append(p[0])
            labels.append(idx)
    if not probs:
        raise ValueError(f"no images under {folder}/<class>/ for classes {names}")
    cal = fit_temperature(np.asarray(probs, np.float32), np.asarray(labels, np.int64))
    if not cal.applied:
        return cal  # the file keeps the temperature it had (none: 1)
    proto = onnx.load(str(model_path))
    entry = (
        next((m for m in proto.metadata_props if m.key == "temperature"), None) or proto.metadata_props.add()
    )
    entry.key, entry.value = "temperature", f"{cal.temperature:.4f}"
    onnx.save(proto, str(model_path))
    return cal
