"""Training and ONNX export of the project's YOLO models (ultralytics, offline).

Torch and ultralytics are imported inside the functions: only training and export need
them. Every function here calls :func:`vision.offline.configure_ultralytics` first, so
nothing is downloaded (models are built from ``.yaml`` or fine-tuned from our own ``.pt``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx

from vision.offline import configure_ultralytics

log = logging.getLogger(__name__)

Task = Literal["detect", "classify"]

ARCHITECTURES: dict[Task, str] = {"detect": "yolov8n.yaml", "classify": "yolov8n-cls.yaml"}
"""Model definitions used when training from scratch (ultralytics ships the .yaml files)."""

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True, slots=True)
class TrainResult:
    """Where a training run left its artefacts, and how long it took (seconds)."""

    run_dir: Path
    best_weights: Path
    task: Task
    epochs: int
    imgsz: int
    train_seconds: float
    metrics: dict[str, float]
    data: str = ""
    command: str = ""
    parent: str = ""
    parent_input: list[int] | None = None


def data_fingerprint(data: Path) -> tuple[str, int]:
    """SHA-256 over the sorted relative paths and bytes of every file under ``data`` (a
    folder) or of ``data`` and the folders its ``data.yaml`` names; and the file count."""
    root = data.parent if data.is_file() else data
    h = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file() and "cache" not in p.suffix)
    for p in files:
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest(), len(files)


def train(
    task: Task,
    data: Path,
    *,
    epochs: int,
    imgsz: int,
    run_dir: Path,
    data_dir: Path,
    start_from: Path | None = None,
    batch: int = 32,
    workers: int = 2,
    resume: bool = False,
    seed: int = 0,
    extra: dict[str, Any] | None = None,
    command: str = "",
    source_data: Path | None = None,
    parent: str = "",
    parent_input: list[int] | None = None,
) -> TrainResult:
    """Train a YOLO model on ``data`` (a ``data.yaml`` for detect, a folder-per-class root
    for classify) and leave the run in ``run_dir``.

    ``start_from`` is a ``.pt`` to fine-tune (our own shipped run's weights); ``None``
    trains from scratch from :data:`ARCHITECTURES`. ``resume`` continues ``run_dir``'s
    ``last.pt``. ``command`` (the command line that asked for this run) goes into the run's
    ``train_result.json`` and from there into the model card, with ``source_data`` (the set
    ``data`` was sampled from, when it is a subset) and ``parent`` (the model it starts from,
    in words, for the model card) with ``parent_input`` (its ONNX input size (H, W): what
    ``export`` makes by default). Progress goes to the log and
    to ultralytics' own console output.
    """
    configure_ultralytics(data_dir)
    from ultralytics import YOLO  # noqa: PLC0415 - training only

    last = run_dir / "weights" / "last.pt"
    if resume:
        if not last.is_file():
            raise FileNotFoundError(f"cannot resume: {last} does not exist")
        model = YOLO(str(last))
    else:
        model = YOLO(str(start_from) if start_from else ARCHITECTURES[task], task=task)
    t0 = time.perf_counter()
    args: dict[str, Any] = {
        "data": str(data),
        "epochs": epochs,
        "imgsz": imgsz,
        "batch": batch,
        "workers": workers,
        "device": "cpu",
        "project": str(run_dir.parent.resolve()),
        "name": run_dir.name,
        "exist_ok": True,
        "seed": seed,
        "deterministic": True,
        "amp": False,
        "plots": True,
        "verbose": False,
        **(extra or {}),
    }
    progress = _Progress()
    model.add_callback("on_train_epoch_end", progress.epoch_trained)
    model.add_callback("on_fit_epoch_end", progress.fit_epoch_end)
    results = model.train(resume=True) if resume else model.train(**args)
    seconds = time.perf_counter() - t0
    best = run_dir / "weights" / "best.pt"
    if not best.is_file():
        raise RuntimeError(f"training finished without {best}")
    metrics = {k: float(v) for k, v in (getattr(results, "results_dict", None) or {}).items()}
    result = TrainResult(
        run_dir,
        best,
        task,
        epochs,
        imgsz,
        seconds,
        metrics,
        str(source_data or data),
        command,
        parent,
        parent_input,
    )
    (run_dir / "train_result.json").write_text(json.dumps(asdict(result), default=str, indent=2))
    return result


class _Progress:
    """One progress line per epoch on stderr (ultralytics' own bars are off with
    ``verbose=False``): epoch, elapsed minutes, training losses and the validation metrics; then
    one for the final validation of ``best.pt``, which ultralytics reports through the same hook
    with no epoch trained before it (its epoch number is then one past the last trained, which
    is not the run's last after an early stop)."""

    def __init__(self) -> None:
        self.trained = False

    def epoch_trained(self, trainer: Any) -> None:
        self.trained = True

    def fit_epoch_end(self, trainer: Any) -> None:
        step = f"epoch {trainer.epoch + 1}/{trainer.epochs}" if self.trained else "best.pt"
        self.trained = False
        figures: dict[str, float] = {}
        with contextlib.suppress(AttributeError, TypeError, ValueError):  # progress never fails a run
            figures |= trainer.label_loss_items(trainer.tloss, prefix="train") or {}
        figures |= {k: v for k, v in (trainer.metrics or {}).items() if k.startswith("metrics/")}
        started = getattr(trainer, "train_time_start", None)
        elapsed = (time.time() - started) / 60 if started else 0.0
        shown = "  ".join(f"{k.split('/')[-1].replace('(B)', '')} {float(v):.4f}" for k, v in figures.items())
        print(f"{step}  {elapsed:.1f} min  {shown}", file=sys.stderr, flush=True)


def export_onnx(
    weights: Path,
    out_path: Path,
    *,
    imgsz: int | tuple[int, int],
    data_dir: Path,
    extra_metadata: dict[str, str] | None = None,
    check_images: Sequence[np.ndarray] = (),
    atol: float = 1e-3,
    rtol: float = 1e-5,
) -> Path:
    """Export ``weights`` (.pt) to ONNX at ``out_path`` with ultralytics' metadata plus
    ``extra_metadata``; a detector's DFL softmax is moved to the last axis, an exact rewrite
    (:mod:`vision.train.onnx_graph`). ``imgsz`` is S or (H, W), e.g. (384, 640) for 16:9 frames. When
    ``check_images`` (BGR uint8) are given, run both the torch model and the ONNX file on
    them and raise if an output differs by more than ``atol + rtol * |torch value|`` (box
    coordinates are input pixels, up to 640: float32 rounding alone moves them by about 1e-3).
    The file is written beside ``out_path`` and moved there only once it passed, so a failed
    check never replaces the model that was there.
    """
    configure_ultralytics(data_dir)
    from ultralytics import YOLO  # noqa: PLC0415 - export only

    model = YOLO(str(weights))
    size_hw = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
    exported = Path(
        model.export(format="onnx", imgsz=list(size_hw), simplify=True, dynamic=False, device="cpu")
    )
    proto = onnx.load(str(exported))
    if model.task == "detect":
        from vision.train.onnx_graph import dfl_softmax_last_axis  # noqa: PLC0415

        dfl_softmax_last_axis(proto)
    for key, value in (extra_metadata or {}).items():
        entry = next((p for p in proto.metadata_props if p.key == key), None) or proto.metadata_props.add()
        entry.key, entry.value = key, value
    out_path.parent.mkdir(parents=True, exist_ok=True)
    staged = out_path.with_name(out_path.name + ".partial")
    onnx.save(proto, str(staged))
    try:
        _check_export(weights, model, staged, size_hw, check_images, atol, rtol)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    staged.replace(out_path)
    return out_path


def _check_export(
    weights: Path,
    model: Any,
    onnx_path: Path,
    size_hw: tuple[int, int],
    check_images: Sequence[np.ndarray],
    atol: float,
    rtol: float,
) -> None:
    """Run ``model`` (ultralytics, from ``weights``) and the ONNX file on ``check_images``; raise
    ``RuntimeError`` when an output differs by more than ``atol + rtol * |torch value|``."""
    if not check_images:
        return
    import torch  # noqa: PLC0415 - export only

    from vision.preprocess import letterbox, squash_square, to_tensor  # noqa: PLC0415
    from vision.runtime import OnnxModel  # noqa: PLC0415

    ort_model = OnnxModel(onnx_path, "cpu", warmup=False)
    net: Any = model.model
    net = net.eval().float()
    for img in check_images:
        if model.task == "classify":
            x = to_tensor(squash_square(img, size_hw[0]))
        else:
            x, _ = letterbox(img, size_hw)
        with torch.no_grad():
            ref = net(torch.from_numpy(x))
        want = (ref[0] if isinstance(ref, list | tuple) else ref).numpy()
        got = ort_model.run(x)[0]
        excess = float((np.abs(want - got) - rtol * np.abs(want)).max())
        if excess > atol:
            raise RuntimeError(
                f"ONNX export of {weights} disagrees with torch by {excess:.2e} beyond {rtol:.0e} "
                f"of the value (> {atol})"
            )
    log.info("export check: %d images agree within %.0e + %.0e of the value", len(check_images), atol, rtol)


def write_model_card(path: Path, fields: dict[str, Any]) -> None:
    """Write a model card (Markdown) from ordered fields; values that are dicts become tables."""
    lines = [f"# {fields.get('name', path.stem)}", ""]
    for key, value in fields.items():
        if key == "name":
            continue
        if isinstance(value, dict):
            lines += ["", f"## {key}", "", "| key | value |", "|---|---|"]
            lines += [f"| {k} | {v} |" for k, v in value.items()]
            lines.append("")
        else:
            lines += [f"- **{key}**: {value}"]
    lines += ["", f"_Written {datetime.now(UTC).isoformat(timespec='seconds')}_", ""]
    path.write_text("\n".join(lines))
