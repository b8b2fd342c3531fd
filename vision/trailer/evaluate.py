"""Trailer body-type evaluation on whole photographs (``hgv-lane eval trailers``).

Each manifest row (``image_path,label[,body_type,notes]``, label ``hard|soft|other``,
paths relative to the manifest) is a whole photograph: the vehicle detector finds the
body (its most confident ``body`` box, else its most confident ``vehicle`` box, else
the whole image is used and the row says so), the classifier names the body type, and
its side is scored against the label. Unreadable rows are counted as errors and the run
goes on.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vision.anpr.imageio import BadImageError, image_size, read_pixels
from vision.preprocess import as_bgr
from vision.types import BBox, BodyType, DetectionSet, ImageBGR, Side, TrailerVerdict

SIDES: tuple[Side, ...] = (Side.SOFT, Side.HARD, Side.OTHER)
MAX_IMAGE_PIXELS = 50_000_000
"""Photographs larger than this (width x height) are refused as a row error."""


class BodyLocator(Protocol):
    """Finds vehicles and bodies in a photograph (classes ``vehicle`` and ``body``)."""

    def detect(self, image: ImageBGR) -> DetectionSet: ...


class BodyClassifier(Protocol):
    """Names the body type of a crop."""

    def classify(self, crop: ImageBGR) -> TrailerVerdict: ...


@dataclass(frozen=True, slots=True)
class TrailerRow:
    """One manifest row: the photograph, its side label and optional body type."""

    image_path: Path
    label: Side
    body_type: str | None
    notes: str


@dataclass(frozen=True, slots=True)
class TrailerResult:
    """The prediction for one row (``error`` set, prediction unknown, when it failed)."""

    row: TrailerRow
    predicted_body: BodyType
    predicted_side: Side
    confidence: float
    box: BBox | None
    located_by: str
    ms: float
    error: str = ""


@dataclass(frozen=True, slots=True)
class TrailerSummary:
    """Side accuracy and its per-class breakdown over the rows without errors."""

    n: int
    n_errors: int
    accuracy: float
    macro_f1: float
    soft_recall: float
    hard_recall: float
    body_type_accuracy: float | None
    ms_per_image_p50: float
    confusion: tuple[tuple[int, ...], ...]
    """Rows: true side in :data:`SIDES` order; columns: predicted side, then ``unknown``."""


def read_manifest(manifest: Path) -> list[TrailerRow]:
    """Parse a trailer manifest; raises ``ValueError`` naming the line for a bad label or header."""
    with manifest.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"image_path", "label"} <= set(reader.fieldnames):
            raise ValueError(f"{manifest}: header must have image_path,label (got {reader.fieldnames})")
        rows = []
        for line, rec in enumerate(reader, start=2):
            label = (rec.get("label") or "").strip().lower()
            if label not in ("hard", "soft", "other"):
                raise ValueError(f"{manifest}:{line}: label must be hard, soft or other, got {label!r}")
            rows.append(
                TrailerRow(
                    (manifest.parent / rec["image_path"]).resolve(),
                    Side(label),
                    (rec.get("body_type") or "").strip() or None,
                    rec.get("notes") or "",
                )
            )
    return rows


def load_photo(path: Path) -> ImageBGR:
    """Read a photograph as (H, W, 3) uint8 BGR as shown (EXIF orientation applied, as
    :func:`vision.anpr.imageio.read_pixels`); ``ValueError`` for missing, corrupt or huge files."""
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"empty file: {path}")
    try:
        w, h = image_size(path)  # from the header: nothing decoded yet
    except BadImageError as e:
        raise ValueError(f"not a readable image: {path} ({e})") from e
    if w * h > MAX_IMAGE_PIXELS:
        raise ValueError(f"image too large (over {MAX_IMAGE_PIXELS} pixels): {path}")
    return as_bgr(read_pixels(path))  # as shown: EXIF orientation applied


def locate_body(image: ImageBGR, locator: BodyLocator | None) -> tuple[BBox | None, str]:
    """The box to classify and how it was found (``body``, ``vehicle`` or ``whole_image``)."""
    if locator is not None:
        found = locator.detect(image)
        for cls in ("body", "vehicle"):
            hits = found.of_class(cls)
            if len(hits):
                return max(hits, key=lambda d: d.confidence).box, cls
    return None, "whole_image"


def predict(row: TrailerRow, locator: BodyLocator | None, classifier: BodyClassifier) -> TrailerResult:
    """Locate and classify one row; never raises for a bad image (the error is in the result)."""
    t0 = time.perf_counter()
    try:
        image = load_photo(row.image_path)
    except ValueError as e:
        return TrailerResult(row, BodyType.UNKNOWN, Side.UNKNOWN, 0.0, None, "", 0.0, str(e))
    box, how = locate_body(image, locator)
    crop = image
    if box is not None:
        x1, y1, x2, y2 = box.clip(image.shape[1], image.shape[0]).as_int()
        if x2 - x1 >= 2 and y2 - y1 >= 2:
            crop = image[y1:y2, x1:x2]
    v = classifier.classify(crop)
    ms = (time.perf_counter() - t0) * 1000.0
    return TrailerResult(row, v.body_type, v.side, v.confidence, box, how, ms)


def summarise(results: Sequence[TrailerResult]) -> TrailerSummary:
    """Side accuracy, macro F1 over soft/hard/other, soft and hard recall, body-type accuracy."""
    ok = [r for r in results if not r.error]
    index = {s: i for i, s in enumerate(SIDES)}
    confusion = np.zeros((3, 4), np.int64)
    for r in ok:
        confusion[index[r.row.label], index.get(r.predicted_side, 3)] += 1
    recalls, f1s = [], []
    for i in range(3):
        tp = confusion[i, i]
        support, predicted = confusion[i].sum(), confusion[:, i].sum()
        rec = tp / support if support else 0.0
        prec = tp / predicted if predicted else 0.0
        recalls.append(float(rec))
        f1s.append(float(2 * prec * rec / (prec + rec)) if prec + rec else 0.0)
    present = [i for i in range(3) if confusion[i].sum()]
    typed = [r for r in ok if r.row.body_type]
    return TrailerSummary(
        n=len(results),
        n_errors=len(results) - len(ok),
        accuracy=float(np.trace(confusion[:, :3]) / len(ok)) if ok else 0.0,
        macro_f1=float(np.mean([f1s[i] for i in present])) if present else 0.0,
        soft_recall=recalls[0],
        hard_recall=recalls[1],
        body_type_accuracy=(
            sum(r.predicted_body.value == r.row.body_type for r in typed) / len(typed) if typed else None
        ),
        ms_per_image_p50=statistics.median([r.ms for r in ok]) if ok else 0.0,
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
    )


def evaluate(
    rows: Sequence[TrailerRow],
    locator: BodyLocator | None,
    classifier: BodyClassifier,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[TrailerResult], TrailerSummary]:
    """Predict every row and summarise."""
    results = []
    for i, row in enumerate(rows, start=1):
        results.append(predict(row, locator, classifier))
        if progress:
            progress(i, len(rows))
    return results, summarise(results)


def write_csv(results: Sequence[TrailerResult], path: Path) -> None:
    """Per-image predictions: truth, prediction, confidence, how the body was found, errors."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            (
                "image_path",
                "label",
                "body_type",
                "predicted_side",
                "predicted_body",
                "confidence",
                "located_by",
                "box_xyxy",
                "ms",
                "error",
            )
        )
        for r in results:
            box = (
                ""
                if r.box is None
                else " ".join(f"{v:.0f}" for v in (r.box.x1, r.box.y1, r.box.x2, r.box.y2))
            )
            w.writerow(
                (
                    r.row.image_path,
                    r.row.label.value,
                    r.row.body_type or "",
                    r.predicted_side.value,
                    r.predicted_body.value,
                    f"{r.confidence:.3f}",
                    r.located_by,
                    box,
                    f"{r.ms:.1f}",
                    r.error,
                )
            )


def write_confusion_png(summary: TrailerSummary, path: Path) -> None:
    """The side confusion matrix as a PNG (rows: truth; columns: prediction), drawn with OpenCV."""
    cols = [*(s.value for s in SIDES), "unknown"]
    cell, left, top = 110, 120, 70
    h, w = top + cell * 3 + 20, left + cell * 4 + 20
    img = np.full((h, w, 3), 255, np.uint8)
    m = np.array(summary.confusion, np.float64)
    row_sums = m.sum(axis=1, keepdims=True).clip(min=1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, "predicted", (left + cell, 22), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    for j, name in enumerate(cols):
        cv2.putText(img, name, (left + j * cell + 10, top - 12), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for i, side in enumerate(SIDES):
        cv2.putText(
            img, side.value, (10, top + i * cell + cell // 2 + 5), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA
        )
        for j in range(4):
            share = m[i, j] / row_sums[i, 0]
            shade = int(255 - 200 * share)
            x0, y0 = left + j * cell, top + i * cell
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), (255, shade, shade), -1)
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), (0, 0, 0), 1)
            colour = (255, 255, 255) if share > 0.6 else (0, 0, 0)
            cv2.putText(img, f"{int(m[i, j])}", (x0 + 12, y0 + 45), font, 0.8, colour, 2, cv2.LINE_AA)
            cv2.putText(img, f"{share:.0%}", (x0 + 12, y0 + 80), font, 0.55, colour, 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
