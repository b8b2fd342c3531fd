"""Temperature scaling: makes the classifier's confidence mean what it says.

Fit one temperature ``T`` on held-out crops by minimising the negative log-likelihood of
``softmax(log(p) / T)``; report the expected calibration error (ECE, 10 equal-width bins)
before and after.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vision.postprocess import softmax


@dataclass(frozen=True, slots=True)
class Calibration:
    """The fitted temperature and the ECE (in [0, 1]) before and after it, on ``n`` crops."""

    temperature: float
    ece_before: float
    ece_after: float
    n: int


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


def fit_temperature(probs: npt.NDArray[np.float32], labels: npt.NDArray[np.int64]) -> Calibration:
    """Fit ``T`` in [0.05, 20] (log grid, then refined) to (N, C) probabilities and (N,) labels."""
    if len(probs) == 0 or len(probs) != len(labels):
        raise ValueError(
            f"need matching non-empty probabilities and labels, got {len(probs)} and {len(labels)}"
        )
    logits = np.log(np.clip(probs, 1e-9, 1.0)).astype(np.float32)

    def nll(t: float) -> float:
        p = softmax(logits, t)
        return float(-np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1.0)).mean())

    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 61))
    best = float(grid[int(np.argmin([nll(float(t)) for t in grid]))])
    fine = np.clip(best * np.exp(np.linspace(-0.1, 0.1, 21)), 0.05, 20.0)
    best = float(fine[int(np.argmin([nll(float(t)) for t in fine]))])
    return Calibration(
        temperature=best,
        ece_before=expected_calibration_error(probs, labels),
        ece_after=expected_calibration_error(softmax(logits, best), labels),
        n=len(labels),
    )


def calibrate_onnx(model_path: Path, folder: Path) -> Calibration:
    """Fit the temperature of a classifier ONNX file on a folder-per-class set
    (``<class>/*.jpg`` named like the model's classes) and store it in the file's metadata
    under ``temperature``; the images go through the classifier's own pre-processing."""
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
    proto = onnx.load(str(model_path))
    entry = (
        next((m for m in proto.metadata_props if m.key == "temperature"), None) or proto.metadata_props.add()
    )
    entry.key, entry.value = "temperature", f"{cal.temperature:.4f}"
    onnx.save(proto, str(model_path))
    return cal
