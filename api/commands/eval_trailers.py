"""``hgv-lane eval trailers``: body-type side accuracy on a manifest of whole photographs."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from api.settings import get_settings


def add_trailers_parser(group: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``eval trailers`` in the ``eval`` group."""
    p = group.add_parser(
        "trailers",
        help="trailer body type (hard / soft / other) on a manifest of whole photographs",
        description="Evaluate body-type classification on a manifest (CSV: image_path,label"
        "[,body_type,notes], label hard|soft|other, paths relative to the manifest). The vehicle "
        "detector finds the body in each photograph; the classifier names it.",
    )
    p.add_argument("manifest", type=Path, help="manifest CSV")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--out", type=Path, default=None, help="folder for predictions.csv and confusion.png")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N rows")
    p.add_argument(
        "--no-detector", action="store_true", help="classify the whole photograph (crops as input)"
    )
    p.add_argument(
        "--conf",
        type=float,
        default=0.1,
        help="vehicle detector confidence to accept a body/vehicle box (0-1)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Exit 2 for a bad manifest, 1 if a model cannot load, else 0."""
    from vision.detector import YoloDetector  # noqa: PLC0415 - heavy imports in the handler
    from vision.runtime import ModelLoadError  # noqa: PLC0415
    from vision.trailer.classifier import TrailerClassifier  # noqa: PLC0415
    from vision.trailer.evaluate import evaluate, read_manifest, write_confusion_png, write_csv  # noqa: PLC0415

    settings = get_settings()
    try:
        rows = read_manifest(args.manifest)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.limit:
        rows = rows[: args.limit]
    threads = settings.runtime.intra_op_threads or None
    from api.lane_runner import model_files  # noqa: PLC0415 - the versions in use (registry)

    files = model_files(settings)
    print(
        f"trailer_classifier {files.versions[2]} ({files.classifier}), "
        f"vehicle_detector {files.versions[0]} ({files.vehicle})",
        file=sys.stderr,
    )
    try:
        classifier = TrailerClassifier(
            files.classifier,
            settings.runtime.providers,
            intra_op_threads=threads,
        )
        locator = (
            None
            if args.no_detector
            else YoloDetector(
                files.vehicle,
                settings.runtime.providers,
                intra_op_threads=threads,
                conf_threshold=args.conf,
            )
        )
    except ModelLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    def progress(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            print(f"  {done}/{total}", file=sys.stderr, flush=True)

    results, s = evaluate(rows, locator, classifier, progress)
    for r in results:
        if r.error:
            print(f"row error: {r.error}", file=sys.stderr)
    print(f"images: {s.n} (errors: {s.n_errors})")
    print(
        f"side accuracy {s.accuracy:.3f}, macro F1 {s.macro_f1:.3f}, soft recall {s.soft_recall:.3f}, "
        f"hard recall {s.hard_recall:.3f}, body-type accuracy {s.body_type_accuracy}"
    )
    print(f"ms per image p50 {s.ms_per_image_p50:.1f} (detect + classify)")
    if args.out:
        write_csv(results, args.out / "predictions.csv")
        write_confusion_png(s, args.out / "confusion.png")
        print(f"wrote {args.out / 'predictions.csv'} and {args.out / 'confusion.png'}")
    if args.json:
        d = dataclasses.asdict(s)
        keys = ("n", "accuracy", "macro_f1", "soft_recall", "hard_recall", "ms_per_image_p50")
        print(
            json.dumps(
                {
                    **{k: d[k] for k in keys},
                    "n_errors": s.n_errors,
                    "body_type_accuracy": s.body_type_accuracy,
                }
            )
        )
    return 0
