"""Evaluating an exported model (ONNX, exactly as the service runs it) on a labelled set.

- Detectors on a YOLO data set (``data.yaml``, one split): mAP50 and mAP50-95 and per-class
  precision, recall and AP50, computed with ultralytics' own :func:`ap_per_class` (so the
  figures mean what ultralytics' ``val`` means) from the predictions of
  :class:`vision.detector.YoloDetector` (confidence floor 0.001, NMS IoU 0.7, as ``val``),
  plus the PR, F1, P and R curve PNGs.
- Classifiers on a folder-per-class set (``<root>/<split>/<class>/*.jpg`` or
  ``<root>/<class>/*.jpg``): accuracy, per-class recall and precision, the confusion matrix
  (counts, rows truth, columns prediction) and its PNG, from
  :class:`vision.trailer.classifier.TrailerClassifier`.

Classes are matched by name, so a model and a data set may list them in different orders; a
data class the model does not know is reported in ``unknown_classes`` and its boxes or
images are left out of the metrics.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import yaml

if TYPE_CHECKING:
    from vision.registry import Role

from vision.anpr.imageio import BadImageError, image_size
from vision.train.datasets import LabelledImage, load_image, read_yolo_labels

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
IOU_THRESHOLDS: npt.NDArray[np.float64] = np.linspace(0.5, 0.95, 10)
"""The IoU thresholds of mAP50-95 (0.50, 0.55, ... 0.95)."""


@dataclass(frozen=True, slots=True)
class EvalReport:
    """What :func:`evaluate_model` measured. ``metrics`` holds fractions in [0, 1]: for
    detectors ``map50``, ``map50_95``, ``precision``, ``recall``; for classifiers
    ``accuracy``, ``macro_recall``. ``per_class`` maps a class name to its figures;
    ``confusion`` (classifiers) is rows truth, columns prediction in ``classes`` order."""

    model: str
    task: str
    data: str
    n_images: int
    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]]
    classes: tuple[str, ...] = ()
    confusion: tuple[tuple[int, ...], ...] = ()
    unknown_classes: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()
    ms_per_image_p50: float = 0.0
    plots: tuple[str, ...] = field(default_factory=tuple)
    reader_engine: str = ""
    """A plate reader's: the reader engine it was read in as ``crnn`` (e.g. ``crnn+rapidocr``)."""

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def role_metric(report: EvalReport, role: Role) -> tuple[str, float]:
    """The figure a promotion compares, and its name: for a detector the mean AP50-95 of the
    role's ``scored_classes`` that the reference data has (one the model lacks counts 0; one
    the data lacks is left out, for every model alike), otherwise the role's
    ``primary_metric`` over all classes."""
    if report.task == "detect" and role.scored_classes:
        in_data = [c for c in role.scored_classes if c in report.per_class or c in report.unknown_classes]
        if in_data:
            aps = [report.per_class.get(c, {}).get("ap50_95", 0.0) for c in in_data]
            return f"ap50_95 of {', '.join(in_data)}", float(sum(aps) / len(aps))
    return role.primary_metric, report.metrics[role.primary_metric]


# --- data -----------------------------------------------------------------------------------------


def _images_of(entry: str | list[str], root: Path) -> list[Path]:
    """Image files a ``data.yaml`` split entry names: folders, image lists (``.txt``) or files."""
    entries = entry if isinstance(entry, list) else [entry]
    found: list[Path] = []
    for item in entries:
        p = Path(item)
        p = p if p.is_absolute() else root / p
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES)
        elif p.suffix == ".txt":
            for line in p.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    q = Path(line.strip())
                    found.append(q if q.is_absolute() else root / q)
        elif p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"data split entry {item!r} not found (looked at {p})")
    return found


def _label_of(image: Path) -> Path:
    """The YOLO label file of ``image`` (ultralytics' rule: the last ``images`` folder becomes ``labels``)."""
    parts = list(image.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def read_yolo_split(
    data_yaml: Path, split: str = "val"
) -> tuple[dict[int, str], list[LabelledImage], list[str]]:
    """A YOLO data set's class names, the images of ``split`` with their boxes (pixels,
    xyxy) and the images that could not be read. Labels missing means no objects."""
    spec = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
    names_raw = spec["names"]
    names = (
        dict(enumerate(names_raw))
        if isinstance(names_raw, list)
        else {int(k): v for k, v in names_raw.items()}
    )
    # ``path`` (absolute, or relative to the yaml's folder) or, without one, the yaml's folder
    raw = spec.get("path")
    root = ((data_yaml.parent / str(raw)) if raw else data_yaml.parent).resolve()
    if split not in spec:
        raise ValueError(
            f"{data_yaml} has no {split!r} split (has {', '.join(k for k in spec if k != 'names')})"
        )
    items, unreadable = [], []
    for image in _images_of(spec[split], root):
        try:
            w, h = image_size(image)  # the header only: the evaluation decodes each image once, later
        except BadImageError:
            unreadable.append(str(image))
            continue
        items.append(LabelledImage(image, read_yolo_labels(_label_of(image), w, h)))
    return names, items, unreadable


def read_class_folders(root: Path, split: str = "val") -> tuple[list[tuple[Path, str]], tuple[str, ...]]:
    """``(image, class name)`` pairs of a folder-per-class set and its class names (sorted):
    ``<root>/<split>/<class>/*`` when ``<root>/<split>`` exists, else ``<root>/<class>/*``.
    Raises ``ValueError`` when ``root`` holds train/val folders but not ``split``."""
    base = root / split if (root / split).is_dir() else root
    if base == root and {"train", "val"} & {p.name for p in root.iterdir() if p.is_dir()}:
        raise ValueError(f"{root} has no {split!r} split")
    classes = tuple(sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if not classes:
        raise ValueError(f"{base} has no class folders")
    pairs = [
        (img, name)
        for name in classes
        for img in sorted((base / name).iterdir())
        if img.suffix.lower() in IMAGE_SUFFIXES
    ]
    return pairs, classes


# --- detectors --------------------------------------------------------------------------------


def _iou_matrix(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """IoU of every box of ``a`` (N, 4) xyxy with every box of ``b`` (M, 4): shape (N, M)
    (with ultralytics' ``box_iou`` epsilon, so ties break the same way)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).prod(axis=1)
    result: npt.NDArray[np.float64] = inter / (area_a[:, None] + area_b[None, :] - inter + 1e-7)
    return result


def match_predictions(
    pred_boxes: npt.NDArray[np.float64],
    pred_cls: npt.NDArray[np.int64],
    true_boxes: npt.NDArray[np.float64],
    true_cls: npt.NDArray[np.int64],
) -> npt.NDArray[np.bool_]:
    """Which predictions are true positives at each IoU threshold: shape (N, 10) bool.

    Predictions must come in descending confidence order. The rule of ultralytics' validator
    (``BaseValidator.match_predictions``, COCO's greedy matching), kept exactly so the figures
    compare with ``val``'s: each prediction in turn takes the unclaimed true box of its class
    with the highest IoU, and is correct at every threshold that IoU reaches.
    """
    thresholds = IOU_THRESHOLDS
    correct = np.zeros((len(pred_boxes), len(thresholds)), bool)
    if not len(pred_boxes) or not len(true_boxes):
        return correct
    iou = _iou_matrix(true_boxes, pred_boxes) * (true_cls[:, None] == pred_cls[None, :])  # (M, N)
    claimed = np.zeros((len(true_boxes), len(thresholds)), bool)  # true boxes taken, per threshold
    columns = np.arange(len(thresholds))
    for j in np.flatnonzero((iou >= thresholds.min()).any(axis=0)):
        available = np.where(claimed, 0.0, iou[:, j, None])  # (M, T)
        best = available.argmax(axis=0)
        correct[j] = available[best, columns] >= thresholds
        claimed[best, columns] |= correct[j]
    return correct


def evaluate_detector(
    model_path: Path, data_yaml: Path, *, split: str = "val", out_dir: Path | None = None
) -> EvalReport:
    """mAP and per-class precision/recall of the ONNX detector ``model_path`` on ``split`` of
    ``data_yaml``; curve PNGs into ``out_dir`` when given."""
    from ultralytics.utils.metrics import ap_per_class  # noqa: PLC0415 - heavy import

    from vision.detector import YoloDetector  # noqa: PLC0415

    detector = YoloDetector(model_path, "cpu", conf_threshold=0.001, iou_threshold=0.7)
    model_ids = {name: i for i, name in enumerate(detector.class_names)}
    names, items, unreadable = read_yolo_split(data_yaml, split)
    data_to_model = {c: model_ids[n] for c, n in names.items() if n in model_ids}
    unknown = tuple(sorted(n for n in names.values() if n not in model_ids))
    stats: list[tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64], npt.NDArray[np.int64]]] = []
    target_cls: list[int] = []
    times: list[float] = []
    for item in items:
        try:
            image = load_image(item.path)
        except ValueError:
            unreadable.append(str(item.path))
            continue
        t0 = time.perf_counter()
        found = detector.detect(image)
        times.append((time.perf_counter() - t0) * 1000)
        truth = [(data_to_model[c], b) for c, b in item.boxes if c in data_to_model]
        t_boxes = np.array([[b.x1, b.y1, b.x2, b.y2] for _, b in truth], np.float64).reshape(-1, 4)
        t_cls = np.array([c for c, _ in truth], np.int64)
        p_boxes = np.array([[d.box.x1, d.box.y1, d.box.x2, d.box.y2] for d in found], np.float64).reshape(
            -1, 4
        )
        p_cls = np.array([d.class_id for d in found], np.int64)
        p_conf = np.array([d.confidence for d in found], np.float64)
        stats.append((match_predictions(p_boxes, p_cls, t_boxes, t_cls), p_conf, p_cls))
        target_cls += t_cls.tolist()
    if not stats:
        raise ValueError(f"no readable images in {data_yaml} ({split}): nothing to evaluate")
    tp = np.concatenate([s[0] for s in stats])
    conf = np.concatenate([s[1] for s in stats])
    pcls = np.concatenate([s[2] for s in stats])
    tcls = np.array(target_cls, np.int64)
    plots: list[str] = []
    per_class: dict[str, dict[str, float]] = {}
    metrics = {"map50": 0.0, "map50_95": 0.0, "precision": 0.0, "recall": 0.0}
    if len(tcls):
        save_dir = out_dir or Path(".")
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
        _, _, p, r, _, ap, classes, *_ = ap_per_class(
            tp,
            conf,
            pcls,
            tcls,
            plot=out_dir is not None,
            save_dir=save_dir,
            names=dict(enumerate(detector.class_names)),
        )
        metrics = {
            "map50": float(ap[:, 0].mean()),
            "map50_95": float(ap.mean()),
            "precision": float(p.mean()),
            "recall": float(r.mean()),
        }
        for j, c in enumerate(classes):
            per_class[detector.class_names[int(c)]] = {
                "precision": float(p[j]),
                "recall": float(r[j]),
                "ap50": float(ap[j, 0]),
                "ap50_95": float(ap[j].mean()),
                "instances": int((tcls == c).sum()),
            }
        if out_dir is not None:
            plots = sorted(str(q) for q in out_dir.glob("*_curve.png"))
    return EvalReport(
        model=str(model_path),
        task="detect",
        data=f"{data_yaml} ({split})",
        n_images=len(stats),
        metrics=metrics,
        per_class=per_class,
        classes=tuple(detector.class_names),
        unknown_classes=unknown,
        unreadable=tuple(unreadable),
        ms_per_image_p50=float(np.median(times)) if times else 0.0,
        plots=tuple(plots),
    )


# --- classifiers ------------------------------------------------------------------------------


def evaluate_classifier(
    model_path: Path, root: Path, *, split: str = "val", out_dir: Path | None = None
) -> EvalReport:
    """Accuracy, per-class recall/precision and the confusion matrix of the ONNX trailer
    classifier ``model_path`` on a folder-per-class set; the confusion PNG into ``out_dir``."""
    from vision.trailer.classifier import TrailerClassifier  # noqa: PLC0415

    classifier = TrailerClassifier(model_path, "cpu")
    classes = tuple(c.value for c in classifier.classes)
    index = {name: i for i, name in enumerate(classes)}
    pairs, data_classes = read_class_folders(root, split)
    unknown = tuple(n for n in data_classes if n not in index)
    confusion = np.zeros((len(classes), len(classes)), np.int64)
    unreadable: list[str] = []
    times: list[float] = []
    for path, name in pairs:
        if name not in index:
            continue
        try:
            image = load_image(path)
        except ValueError:
            unreadable.append(str(path))
            continue
        t0 = time.perf_counter()
        best = classifier.classify(image).body_type
        times.append((time.perf_counter() - t0) * 1000)
        confusion[index[name], index[best.value]] += 1
    n = int(confusion.sum())
    if n == 0:
        raise ValueError(
            f"no readable images of the model's classes in {root} ({split}): nothing to evaluate"
        )
    per_class: dict[str, dict[str, float]] = {}
    for i, name in enumerate(classes):
        support = int(confusion[i].sum())
        predicted = int(confusion[:, i].sum())
        if support or predicted:
            per_class[name] = {
                "recall": float(confusion[i, i] / support) if support else 0.0,
                "precision": float(confusion[i, i] / predicted) if predicted else 0.0,
                "instances": support,
            }
    present = [v["recall"] for v in per_class.values() if v["instances"]]
    metrics = {
        "accuracy": float(np.trace(confusion) / n) if n else 0.0,
        "macro_recall": float(np.mean(present)) if present else 0.0,
    }
    plots: list[str] = []
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        png = out_dir / "confusion_matrix.png"
        plot_confusion(confusion, classes, png, title=Path(model_path).name)
        plots.append(str(png))
    return EvalReport(
        model=str(model_path),
        task="classify",
        data=f"{root} ({split})",
        n_images=n,
        metrics=metrics,
        per_class=per_class,
        classes=classes,
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
        unknown_classes=unknown,
        unreadable=tuple(unreadable),
        ms_per_image_p50=float(np.median(times)) if times else 0.0,
        plots=tuple(plots),
    )


def plot_confusion(
    confusion: npt.NDArray[np.int64], classes: Sequence[str], path: Path, title: str = ""
) -> None:
    """The confusion matrix as a PNG: rows truth, columns prediction, cells shaded by the
    share of their row and labelled with the count."""
    import matplotlib  # noqa: PLC0415 - plotting only

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    share = confusion / confusion.sum(axis=1, keepdims=True).clip(min=1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(classes), 1 + 0.8 * len(classes)), dpi=100)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("truth")
    ax.set_title(title)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if confusion[i, j]:
                colour = "white" if share[i, j] > 0.6 else "black"
                ax.text(j, i, str(int(confusion[i, j])), ha="center", va="center", color=colour, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


# --- both -------------------------------------------------------------------------------------


def evaluate_model(
    model_path: Path,
    data: Path,
    *,
    split: str = "val",
    out_dir: Path | None = None,
    reader_engine: str = "crnn",
    work_dir: Path | None = None,
) -> EvalReport:
    """Evaluate ``model_path`` on ``data``: a ``data.yaml`` for a detector, a folder-per-class
    root for a classifier, a plate manifest (``eval plates``' CSV) for a plate reader (the
    model's ``task`` metadata decides which). A plate reader is read as ``crnn`` in the reader
    engine ``reader_engine`` (see :func:`evaluate_recogniser`)."""
    from vision.runtime import OnnxModel  # noqa: PLC0415

    task = OnnxModel(model_path, "cpu", warmup=False).info.task
    if task == "plate-line-ctc":
        if data.suffix.lower() != ".csv":
            raise ValueError(f"{model_path.name} is a plate reader: --data must be a plate manifest (CSV)")
        return evaluate_recogniser(model_path, data, engine=reader_engine, work_dir=work_dir)
    if task == "classify":
        if not data.is_dir():
            raise ValueError(f"{model_path.name} is a classifier: --data must be a folder-per-class root")
        return evaluate_classifier(model_path, data, split=split, out_dir=out_dir)
    if data.suffix not in (".yaml", ".yml"):
        raise ValueError(f"{model_path.name} is a detector: --data must be a YOLO data.yaml")
    return evaluate_detector(model_path, data, split=split, out_dir=out_dir)


def evaluate_recogniser(
    model_path: Path, manifest: Path, *, engine: str = "crnn", work_dir: Path | None = None
) -> EvalReport:
    """The full plate reader (rectification, grammars) with ``model_path`` as its ``crnn``
    engine in the reader engine ``engine`` (``crnn``, or ``crnn+rapidocr`` as the lanes read by
    default: a recogniser that reads better alone may read worse beside its second opinion) on a
    plate manifest, as ``eval plates`` scores it (scenes read from their true box):
    ``exact_match``, ``exact_match_lookalike``, ``char_accuracy`` over the rows with text.
    ``work_dir`` is a writable folder for an engine that wants one (EasyOCR; default: a
    temporary one). Raises ``ValueError`` when ``engine`` does not use ``crnn``."""
    from vision.anpr.evaluate import evaluate, load_manifest  # noqa: PLC0415
    from vision.anpr.reader import build_reader  # noqa: PLC0415

    if "crnn" not in engine.split("+"):
        raise ValueError(f"reader engine {engine!r} does not use crnn: {model_path.name} would not be read")
    with tempfile.TemporaryDirectory(prefix="hgv-eval-") as tmp:
        reader = build_reader(
            engine, work_dir=work_dir or Path(tmp), crnn_model=model_path, intra_op_threads=1
        )
        _, summary = evaluate(load_manifest(manifest), reader)
    return EvalReport(
        model=str(model_path),
        task="plate-line-ctc",
        reader_engine=engine,
        data=str(manifest),
        n_images=summary.n_read_scored,
        metrics={
            "exact_match": round(summary.exact_match, 4),
            "exact_match_lookalike": round(summary.exact_match_lookalike, 4),
            "char_accuracy": round(summary.char_accuracy, 4),
        },
        per_class={},
        ms_per_image_p50=round(summary.cpu_ms_per_image_p50, 2),
    )


def comparison_table(reports: Sequence[tuple[str, EvalReport]]) -> str:
    """A Markdown table of the reports side by side: overall metrics, then per-class rows.
    ``reports`` are ``(column label, report)`` pairs on the same data."""
    labels = [label for label, _ in reports]
    metric_names = list(dict.fromkeys(k for _, r in reports for k in r.metrics))
    lines = ["| metric | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    lines += [
        f"| {m} | " + " | ".join(f"{r.metrics.get(m, float('nan')):.3f}" for _, r in reports) + " |"
        for m in metric_names
    ]
    class_names = list(dict.fromkeys(c for _, r in reports for c in r.per_class))
    key = "ap50" if reports and reports[0][1].task == "detect" else "recall"
    lines += [
        f"| {c} {key} | "
        + " | ".join(f"{r.per_class[c][key]:.3f}" if c in r.per_class else "-" for _, r in reports)
        + " |"
        for c in class_names
    ]
    lines.append("| ms/image p50 | " + " | ".join(f"{r.ms_per_image_p50:.1f}" for _, r in reports) + " |")
    return "\n".join(lines)
