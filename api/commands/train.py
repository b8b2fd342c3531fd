"""``hgv-lane train ...`` and ``hgv-lane export ...``: make the models.

The shipped models are made by exactly these commands (see ``make models`` and each
model card in ``models/``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import sys
from pathlib import Path

from api.settings import get_settings

log = logging.getLogger(__name__)

KINDS = {
    # kind: (task, architecture file in vision/train/cfg, default image size, registry role)
    "plates": ("detect", "hgv-det-pico.yaml", 320, "plate_detector"),
    "detector": ("detect", "hgv-det-pico.yaml", 320, "plate_detector"),  # the name for plates
    "vehicles": ("detect", "hgv-det-pico.yaml", 320, "vehicle_detector"),
    "trailer": ("classify", "hgv-cls-pico.yaml", 128, "trailer_classifier"),
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``train`` and ``export``."""
    p = sub.add_parser("train", help="train a model (ultralytics, offline, on the CPU)")
    p.add_argument(
        "kind", choices=sorted([*KINDS, "reader"]), help="which model ('reader': the CTC plate recogniser)"
    )
    p.add_argument(
        "--data",
        type=Path,
        action="append",
        required=True,
        help="data.yaml (detectors) or folder-per-class root; the reader: a 'synth plates' manifest "
        "(repeat for more than one)",
    )
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--imgsz", type=int, default=None, help="training image size (default per kind)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument(
        "--from",
        dest="start_from",
        default=None,
        help="'current': fine-tune the version in use (the shipped model until one is promoted; "
        "the default for detectors and the trailer classifier); 'scratch': train from the "
        "architecture (the reader's default); or a .pt file",
    )
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument(
        "--subset",
        type=int,
        default=None,
        help="detectors: train on a seeded random sample of N training images (validation: N/5)",
    )
    p.add_argument(
        "--cache",
        choices=("ram", "disk", "none"),
        default="ram",
        help="keep decoded (resized) images in RAM between epochs (default: ram; saves most of the CPU time)",
    )
    p.add_argument(
        "--aug",
        type=_augmentation,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="detectors and the trailer classifier: an ultralytics augmentation setting, e.g. "
        f"hsv_h=0.4 (repeat; keys: {', '.join(AUGMENTATIONS)}; unset keys keep ultralytics' defaults)",
    )
    reader = p.add_argument_group("reader (the CTC plate recogniser, vision/train/recogniser.py)")
    reader.add_argument("--real", type=Path, action="append", default=[], help="real plate manifest (repeat)")
    reader.add_argument("--eval", type=Path, action="append", default=[], help="manifest to report (repeat)")
    reader.add_argument("--n-synth", type=int, default=16000, help="flat synthetic plates to draw")
    reader.add_argument(
        "--n-blank", type=int, default=0, help="text-free lines to add, labelled empty (default 0)"
    )
    reader.add_argument(
        "--lines",
        type=Path,
        default=None,
        help="line cache and held-out rows (default: <data_dir>/train/reader)",
    )
    reader.add_argument(
        "--onnx",
        type=Path,
        default=None,
        help="model to write (default: OUT/plate_reader.onnx; the shipped models/ file only when named)",
    )
    reader.add_argument("--threads", type=int, default=1, help="torch threads")
    reader.add_argument(
        "--channels",
        type=_channels,
        default=None,
        metavar="C1,C2,C3,C4",
        help="the CRNN's conv widths (default: those of the --from weights, else 16,32,64,96)",
    )
    reader.add_argument(
        "--hidden",
        type=int,
        default=None,
        help="the CRNN's BiLSTM width (default: that of the --from weights, else 96)",
    )
    reader.add_argument(
        "--lr", type=float, default=None, help="peak learning rate (default 3e-3, 1e-3 when fine-tuning)"
    )
    p.set_defaults(func=train)

    p = sub.add_parser(
        "export", help="export a training run to ONNX (with metadata) and check it numerically"
    )
    p.add_argument("run", type=Path, help="run folder made by 'hgv-lane train'")
    p.add_argument("--out", type=Path, required=True, help="ONNX file to write (its .pt and .md beside it)")
    p.add_argument(
        "--register",
        action="store_true",
        help="also add the export to the model registry as a candidate "
        "('hgv-lane models promote' puts it in use)",
    )
    p.add_argument(
        "--imgsz", type=int, nargs="+", default=None, help="export size: S or H W (default: training)"
    )
    p.add_argument("--check-dir", type=Path, default=None, help="images to compare torch and ONNX outputs on")
    p.add_argument(
        "--calibrate",
        type=Path,
        default=None,
        help="classifiers: folder-per-class held-out set to fit the temperature",
    )
    p.add_argument(
        "--card", type=Path, default=None, help="model card to write (default: next to --out, .md)"
    )
    p.set_defaults(func=export)


def train(args: argparse.Namespace) -> int:
    """Train one model; prints the run's metrics and time as JSON on the last line."""
    if args.kind == "reader":
        return train_reader(args)
    if len(args.data) != 1:
        raise SystemExit(f"train {args.kind} takes one --data, got {len(args.data)}")
    source = args.data[0]
    from vision.train import CFG_DIR  # noqa: PLC0415
    from vision.train.yolo import train as run_training  # noqa: PLC0415

    task, arch, default_size, role = KINDS[args.kind]
    settings = get_settings()
    if args.resume:
        start_from, parent = CFG_DIR / arch, "(resumed run)"
    else:
        start_from, parent = starting_point(args.start_from or "current", role, CFG_DIR / arch)
    trained_at, exported_at = parent_sizes(start_from)
    imgsz = args.imgsz or trained_at or default_size
    if not args.imgsz and trained_at:
        print(f"image size {imgsz} px: the size {parent} was trained at (--imgsz to change)", file=sys.stderr)
    data = source
    if args.subset:
        if task != "detect":
            raise SystemExit("--subset applies to the detectors' data.yaml sets")
        data = subset_yaml(source, args.out, args.subset)
    result = run_training(
        task,  # type: ignore[arg-type]
        data,
        epochs=args.epochs,
        imgsz=imgsz,
        run_dir=args.out,
        data_dir=settings.data_dir,
        start_from=start_from,
        parent=parent,
        batch=args.batch,
        resume=args.resume,
        extra={"cache": False if args.cache == "none" else args.cache, **dict(args.aug)},
        command="hgv-lane " + " ".join(sys.argv[1:]),
        source_data=source,
        parent_input=exported_at if imgsz == trained_at else None,  # trained as the parent was
    )
    print(
        json.dumps(
            {
                "run": str(result.run_dir),
                "best": str(result.best_weights),
                "train_seconds": round(result.train_seconds, 1),
                **result.metrics,
            }
        )
    )
    return 0


AUGMENTATIONS = (
    "hsv_h",
    "hsv_s",
    "hsv_v",
    "degrees",
    "translate",
    "scale",
    "shear",
    "perspective",
    "flipud",
    "fliplr",
    "mosaic",
    "mixup",
    "erasing",
    "close_mosaic",
)
"""ultralytics training settings ``--aug`` may set (its data augmentation; see its docs)."""


def _augmentation(raw: str) -> tuple[str, float]:
    """``--aug``: ``KEY=VALUE`` with KEY in :data:`AUGMENTATIONS` and a number >= 0."""
    key, _, value = raw.partition("=")
    if key not in AUGMENTATIONS:
        raise argparse.ArgumentTypeError(f"unknown augmentation {key!r}; one of {', '.join(AUGMENTATIONS)}")
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number < 0:
        raise argparse.ArgumentTypeError(f"{key} needs a number >= 0, got {value!r}")
    return key, int(number) if key == "close_mosaic" else number


def _channels(raw: str) -> tuple[int, int, int, int]:
    """``--channels``: four positive conv widths, e.g. ``24,48,96,144``."""
    try:
        widths = tuple(int(x) for x in raw.split(","))
    except ValueError:
        widths = ()
    if len(widths) != 4 or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected four positive widths such as 24,48,96,144, got {raw!r}")
    return widths[0], widths[1], widths[2], widths[3]


def train_reader(args: argparse.Namespace) -> int:
    """``train reader``: the CTC plate recogniser (``--data``: one or more ``synth plates``
    manifests)."""
    if args.aug:
        raise SystemExit("--aug applies to the detectors and the trailer classifier, not the reader")
    from vision.train.recogniser import (  # noqa: PLC0415
        FINE_TUNE_LR,
        TrainConfig,
        checkpoint_shape,
        json_safe,
        run,
    )

    init = reader_start(args.start_from)
    try:
        shape = checkpoint_shape(init) if init is not None else None
    except ValueError as e:
        raise SystemExit(str(e)) from e
    channels = args.channels or (shape[0] if shape else TrainConfig.channels)
    hidden = args.hidden if args.hidden is not None else (shape[1] if shape else TrainConfig.hidden)
    cfg = TrainConfig(
        out=args.out,
        data_dir=args.lines if args.lines is not None else get_settings().data_dir / "train" / "reader",
        synth_manifests=tuple(args.data),
        real_manifests=tuple(args.real),
        eval_manifests=tuple(args.eval),
        onnx_path=args.onnx if args.onnx is not None else args.out / "plate_reader.onnx",
        n_flat=args.n_synth,
        n_blank=args.n_blank,
        epochs=args.epochs,
        batch=args.batch,
        threads=args.threads,
        channels=channels,
        hidden=hidden,
        resume=args.resume,
        init=init,
        lr=args.lr if args.lr is not None else (TrainConfig.lr if init is None else FINE_TUNE_LR),
        command="hgv-lane " + " ".join(sys.argv[1:]),
    )
    print(json.dumps(json_safe(run(cfg))))
    return 0


def reader_start(start_from: str | None) -> Path | None:
    """The weights ``train reader --from`` names: ``None`` for scratch (the default), the
    ``.pt`` beside the reader in use for ``current``, else the given file. Exits with a message
    when the file is missing."""
    if start_from in (None, "scratch"):
        return None
    if start_from == "current":
        current = get_settings().model_registry().current("plate_reader")
        if current.weights is None:
            raise SystemExit(
                f"the reader in use (plate_reader {current.version}, {current.onnx}) has no weights beside "
                "it to fine-tune from: give --from scratch or --from a run's last.pt"
            )
        return current.weights
    path = Path(start_from)
    if not path.is_file():
        raise SystemExit(f"--from {start_from}: no such file (or say 'current' or 'scratch')")
    return path


def starting_point(start_from: str, role: str, architecture: Path) -> tuple[Path, str]:
    """The weights a run starts from and how the model card names them: ``current`` is the
    ``.pt`` of ``role``'s version in use (``"plate_detector shipped"``), ``scratch`` the
    architecture file, anything else a ``.pt`` path. Exits with a message when there is none."""
    if start_from == "scratch":
        return architecture, "none (from scratch)"
    if start_from == "current":
        current = get_settings().model_registry().current(role)
        if current.weights is None:
            raise SystemExit(
                f"{role} {current.version} ({current.onnx}) has no .pt weights beside it to fine-tune "
                "from: give --from scratch or --from a .pt file"
            )
        return current.weights, f"{role} {current.version} ({current.weights})"
    path = Path(start_from)
    if not path.is_file():
        raise SystemExit(f"--from {start_from}: no such file (or say 'current' or 'scratch')")
    return path, str(path)


def parent_sizes(start_from: Path) -> tuple[int | None, list[int] | None]:
    """The image size the weights ``start_from`` (an ultralytics ``.pt``) were trained at, and
    the input size (H, W) of the ONNX file beside them (the role's version in use was exported at
    it); ``None`` for what is not known (an architecture file, a ``.pt`` without training args)."""
    if start_from.suffix != ".pt" or not start_from.is_file():
        return None, None
    import torch  # noqa: PLC0415 - training only

    from vision.offline import OfflineSetupError, configure_ultralytics  # noqa: PLC0415

    with contextlib.suppress(OfflineSetupError):  # already imported and set up: unpickling works
        configure_ultralytics(get_settings().data_dir)  # unpickling a checkpoint imports ultralytics

    try:
        ckpt = torch.load(start_from, map_location="cpu", weights_only=False)
        trained = (ckpt.get("train_args") or {}).get("imgsz") if isinstance(ckpt, dict) else None
    except Exception as e:  # a checkpoint of another kind: the kind's default then
        log.warning("%s: no training image size read (%s)", start_from, e)
        trained = None
    exported: list[int] | None = None
    onnx = start_from.with_suffix(".onnx")
    if onnx.is_file():
        from vision.runtime import OnnxModel  # noqa: PLC0415

        shape = OnnxModel(onnx, "cpu", warmup=False).info.imgsz
        exported = list(shape) if shape else None
    return (int(trained) if isinstance(trained, int | float) else None), exported


def subset_yaml(data_yaml: Path, run_dir: Path, n_train: int, seed: int = 0) -> Path:
    """A data.yaml in ``run_dir`` listing a seeded random sample of ``n_train`` training images
    (and ``n_train // 5`` validation images) of ``data_yaml``'s set."""
    import numpy as np  # noqa: PLC0415
    import yaml  # noqa: PLC0415

    spec = yaml.safe_load(data_yaml.read_text())
    root = (data_yaml.parent / (spec.get("path") or "")).resolve()  # no path: the yaml's own folder
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", max(1, n_train // 5))):
        images = _listed_images(root / spec[split])
        chosen = sorted(rng.choice(len(images), size=min(n, len(images)), replace=False))
        (run_dir / f"{split}.txt").write_text("".join(f"{images[i]}\n" for i in chosen))
        spec[split] = str((run_dir / f"{split}.txt").resolve())
    spec["path"] = str(root)
    out = run_dir / "data.yaml"
    out.write_text(yaml.safe_dump(spec))
    return out


def _listed_images(where: Path) -> list[Path]:
    """The images of one split of a YOLO set: a folder's ``.jpg``/``.png`` files, or the lines of
    a ``.txt`` list (``dataset lane-frames --merge`` writes one; relative lines are taken from
    the list's folder, as ultralytics does), sorted."""
    if where.is_file():
        lines = (line.strip() for line in where.read_text().splitlines())
        return sorted(
            p if p.is_absolute() else (where.parent / p).resolve() for p in map(Path, lines) if p.name
        )
    return sorted(p for p in where.glob("*") if p.suffix.lower() in (".jpg", ".png"))


def export(args: argparse.Namespace) -> int:
    """Export a run's best weights to ONNX, checked against torch on sample images."""
    from vision.train.datasets import load_image  # noqa: PLC0415
    from vision.train.yolo import export_onnx  # noqa: PLC0415

    weights = args.run / "weights" / "best.pt"
    if not weights.is_file():
        raise SystemExit(f"no trained weights at {weights}")
    run_args = (
        json.loads((args.run / "train_result.json").read_text())
        if (args.run / "train_result.json").is_file()
        else {}
    )
    imgsz = args.imgsz or run_args.get("parent_input") or [int(run_args.get("imgsz", 320))]
    if not args.imgsz and run_args.get("parent_input"):
        print(f"export size {imgsz}: the parent model's input (--imgsz to change)", file=sys.stderr)
    checks = []
    if args.check_dir:
        files = sorted(p for p in args.check_dir.rglob("*") if p.suffix.lower() in (".jpg", ".png"))[:4]
        checks = [load_image(p) for p in files]
    size = imgsz[0] if len(imgsz) == 1 else (imgsz[0], imgsz[1])
    out = export_onnx(weights, args.out, imgsz=size, data_dir=get_settings().data_dir, check_images=checks)
    calibration: dict[str, float | str] = {}
    if args.calibrate:
        from vision.trailer.calibrate import calibrate_onnx  # noqa: PLC0415

        cal = calibrate_onnx(out, args.calibrate)
        calibration = {
            "temperature": cal.temperature,
            "ece_before": cal.ece_before,
            "ece_after": cal.ece_after,
            "calibration_images": cal.n,
        }
        if not cal.applied:
            calibration |= {"temperature_fitted": cal.fitted, "not_applied": cal.reason}
            print(
                f"warning: the calibration on {args.calibrate} was not applied ({cal.reason}; the fit "
                f"gave {cal.fitted:.3g}): the temperature stays 1. Calibrate on at least a few hundred "
                "held-out crops the model gets some wrong.",
                file=sys.stderr,
            )
    shutil.copy2(weights, out.with_suffix(".pt"))  # what the next run fine-tunes from
    card = write_card(args, out, run_args, size, calibration, len(checks))
    registered: dict[str, str] = {}
    if args.register:
        from vision.pipeline.factory import check_for_role  # noqa: PLC0415
        from vision.registry import role_for_model  # noqa: PLC0415
        from vision.runtime import ModelLoadError, OnnxModel  # noqa: PLC0415

        info = OnnxModel(out, "cpu", warmup=False).info
        registry = get_settings().model_registry()
        role = role_for_model(info.task or "", info.class_names)
        try:
            check_for_role(role, out)
        except ModelLoadError as e:
            print(f"error: not registered: {e}", file=sys.stderr)
            print(json.dumps({"onnx": str(out), "card": str(card), "registered": None, "error": str(e)}))
            return 1
        version = registry.add(
            role,
            out,
            weights=out.with_suffix(".pt"),
            card=card,
            meta={"run": str(args.run.resolve()), "trained_from": run_args.get("parent", "")},
        )
        registered = {"role": role, "version": version.version}
        print(
            f"registered as {role} {version.version} (a candidate: 'hgv-lane models promote {role} "
            f"{version.version}' puts it in use)",
            file=sys.stderr,
        )
    print(
        json.dumps(
            {"onnx": str(out), "card": str(card), "checked_images": len(checks), **calibration, **registered}
        )
    )
    return 0


def write_card(
    args: argparse.Namespace,
    onnx_path: Path,
    run_args: dict[str, object],
    size: int | tuple[int, int],
    calibration: dict[str, float | str],
    n_checked: int,
) -> Path:
    """The model card next to the ONNX file: classes, input, data, metrics, commands, time."""
    from vision.runtime import OnnxModel  # noqa: PLC0415
    from vision.train.yolo import data_fingerprint, write_model_card  # noqa: PLC0415

    model = OnnxModel(onnx_path, "cpu", warmup=False)
    data = Path(str(run_args.get("data", "")))
    fingerprint, n_files = data_fingerprint(data) if data.exists() else ("(data not present)", 0)
    card = args.card or onnx_path.with_suffix(".md")
    metrics = run_args.get("metrics") or {}
    write_model_card(
        card,
        {
            "name": onnx_path.name,
            "task": model.info.task,
            "classes": ", ".join(model.info.class_names),
            "input": f"{model.info.input_shape} float32 RGB in [0, 1] ({size} px)",
            "sha256": model.info.sha256,
            "training data": f"{data} ({n_files} files, sha256 {fingerprint[:16]}...)",
            "parent model": run_args.get("parent") or "(not recorded)",
            "training command": run_args.get("command", "(unknown)"),
            "export command": "hgv-lane " + " ".join(sys.argv[1:]) if sys.argv else "",
            "epochs / image size": f"{run_args.get('epochs')} / {run_args.get('imgsz')}",
            "training time": f"{float(str(run_args.get('train_seconds', 0))) / 60:.1f} min on 2 CPU cores",
            "export check": f"torch and ONNX outputs agree within 1e-3 on {n_checked} images",
            "validation metrics (ultralytics, last epoch)": metrics,
            **({"calibration": calibration} if calibration else {}),
        },
    )
    return card
