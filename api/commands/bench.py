"""``hgv-lane bench pipeline``: the lane pipeline end to end on synthetic 1280x720 lane clips.

Clips (front and rear views alternating, lorries with ground truth) are rendered by the
project's generator on first use and cached in ``<data_dir>/bench/clips``; the same options
give the same clips. Each runs through a lane worker (decoding on one thread, the pipeline on
another, no frame dropped) and its passages are scored against the ground truth.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from api.settings import get_settings

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_parser(sub: SubParsers) -> None:
    """Register the ``bench`` group."""
    p = sub.add_parser("bench", help="benchmarks that print their figures (pipeline, ...)")
    group = p.add_subparsers(dest="bench_command", metavar="WHAT", required=True)
    for register in SUBCOMMANDS:
        register(group)


def add_pipeline_parser(group: SubParsers) -> None:
    """Register ``bench pipeline``."""
    p = group.add_parser(
        "pipeline",
        help="the lane pipeline on synthetic lane clips: fps, ms per frame, passages, read rate, body type",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--clips", type=int, default=4, help="number of clips (default 4)")
    p.add_argument("--vehicles", type=int, default=3, help="lorries per clip (default 3)")
    p.add_argument("--seconds", type=float, default=12.0, help="clip length (default 12 s at 25 fps)")
    p.add_argument("--seed", type=int, default=5100, help="seed of the first clip (default 5100)")
    p.add_argument(
        "--fixture", action="store_true", help="use only the bundled fixture clip (40 frames, 10 fps)"
    )
    p.add_argument(
        "--detectors",
        choices=("models", "truth"),
        default="models",
        help="models: the shipped detectors (default); truth: ground-truth boxes (measures the rest)",
    )
    p.add_argument("--no-classifier", action="store_true", help="no trailer classifier (body accuracy null)")
    p.add_argument(
        "--min-frames", type=int, default=0, help="repeat the clips until this many frames ran (memory check)"
    )
    p.add_argument(
        "--detect-interval-ms",
        type=int,
        default=None,
        help="run the detectors at most this often (default: setting pipeline.detect_interval_ms)",
    )
    p.add_argument("--quiet", action="store_true", help="no per-clip lines on stderr")
    p.set_defaults(func=run_pipeline)


SUBCOMMANDS: tuple[Callable[[SubParsers], None], ...] = (add_pipeline_parser,)


def run_pipeline(args: argparse.Namespace) -> int:
    """Run ``bench pipeline``; exit 1 when a model cannot load."""
    from dataclasses import replace  # noqa: PLC0415

    from api.lane_runner import lane_config, model_files  # noqa: PLC0415
    from vision.anpr.reader import build_reader  # noqa: PLC0415
    from vision.pipeline.bench import (  # noqa: PLC0415
        BenchClip,
        ModelsFor,
        benchmark_clips,
        run_benchmark,
        truth_detectors,
    )
    from vision.pipeline.config import LaneConfig  # noqa: PLC0415
    from vision.pipeline.factory import FrameDetector, TrailerBodyClassifier, load_detectors  # noqa: PLC0415
    from vision.pipeline.protocols import BodyClassifier, LaneModels  # noqa: PLC0415
    from vision.pipeline.reload import ModelSlot  # noqa: PLC0415
    from vision.pipeline.truth import ClipTruthData  # noqa: PLC0415
    from vision.runtime import ModelLoadError  # noqa: PLC0415
    from vision.trailer.classifier import TrailerClassifier  # noqa: PLC0415

    settings = get_settings()
    say: Callable[[str], None] | None = (
        None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    )
    if args.fixture:
        root = Path(__file__).resolve().parents[2]
        clips = [BenchClip(root / "fixtures" / "synth" / "clip", "front")]
    else:
        if say:
            say(f"clips: {args.clips} x {args.seconds:g} s, {args.vehicles} lorries (rendered once, cached)")
        clips = benchmark_clips(
            settings.data_dir / "bench" / "clips",
            n_clips=args.clips,
            seed=args.seed,
            vehicles=args.vehicles,
            seconds=args.seconds,
            progress=not args.quiet,
        )
    config = lane_config(settings.pipeline, "bench")
    if args.detect_interval_ms is not None:
        config = replace(
            config, tracking=replace(config.tracking, detect_interval_ms=args.detect_interval_ms)
        )
    threads = settings.runtime.intra_op_threads or None
    try:
        reader = build_reader(
            settings.reader.engine, work_dir=settings.data_dir, providers=settings.runtime.providers
        )
        classifier: BodyClassifier | None = None
        if args.detectors == "truth":
            if not args.no_classifier:
                classifier = TrailerBodyClassifier(
                    ModelSlot(
                        TrailerClassifier(
                            model_files(settings).classifier,
                            settings.runtime.providers,
                            intra_op_threads=threads,
                        )
                    )
                )
            models_for: ModelsFor = truth_detectors(reader, classifier)
            detectors = "ground truth"
        else:
            yv, yp, yc = load_detectors(
                model_files(settings),
                providers=settings.runtime.providers,
                intra_op_threads=threads,
                require_classifier=not args.no_classifier,
            )
            classifier = TrailerBodyClassifier(yc) if yc is not None and not args.no_classifier else None

            def models_for(truth: ClipTruthData, cfg: LaneConfig) -> LaneModels:
                return LaneModels(FrameDetector(yv, cfg.roi), FrameDetector(yp, cfg.roi), reader, classifier)

            detectors = f"{yv.model.name} {yv.version} + {yp.model.name} {yp.version}"
    except ModelLoadError as e:
        print(f"error: a model could not load: {e}", file=sys.stderr)
        return 1
    summary = run_benchmark(
        clips,
        config,
        models_for,
        detectors=detectors,
        classifier="trailer_classifier.onnx" if classifier is not None else "none",
        min_frames=args.min_frames,
        progress=say,
    )
    j = summary.as_json()
    body = "null (no classifier)" if j["body_type_accuracy"] is None else f"{j['body_type_accuracy']:.1%}"
    print(
        f"{j['frames']} frames of {j['clips']} clip(s) at 1280x720: {j['fps']} fps end to end; ms per frame "
        f"p50 {j['ms_per_frame_p50']} / p95 {j['ms_per_frame_p95']} (detected frames: p50 "
        f"{j['ms_per_detected_frame_p50']} / p95 {j['ms_per_detected_frame_p95']}); "
        f"load average {j['load_average']}"
    )
    print(
        f"passages: {j['passages_found']} found / {j['passages_expected']} expected "
        f"({j['duplicates']} duplicate, {j['spurious']} spurious); read rate {j['passage_read_rate']:.1%}; "
        f"body type accuracy {body}; RSS {j['rss_start_mb']} -> {j['rss_end_mb']} MB"
    )
    print(f"detectors: {detectors}; classifier: {j['classifier']}; reader: {reader.name}")
    misses = summary.score.misses
    for m in misses[:20]:
        print(f"  miss: {m}")
    if len(misses) > 20:
        print(f"  ... and {len(misses) - 20} more")
    if args.json:
        print(json.dumps(j))
    return 0
