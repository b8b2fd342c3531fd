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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from api.settings import Settings, get_settings

if TYPE_CHECKING:
    from vision.pipeline.bench import ModelsFor
    from vision.pipeline.config import LaneConfig

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


def _views(s: str) -> tuple[str, ...]:
    views = tuple(v.strip() for v in s.split(",") if v.strip())
    ok = ("front", "side", "high_side", "rear")
    if len(views) < 2 or len(set(views)) != len(views) or any(v not in ok for v in views):
        raise argparse.ArgumentTypeError(f"two or more distinct views from {','.join(ok)}, got {s!r}")
    return views


def add_lane_parser(group: SubParsers) -> None:
    """Register ``bench lane``."""
    p = group.add_parser(
        "lane",
        help="a lane with front, side and rear cameras: one passage per lorry, plates, body type",
        description="Each set is one queue of lorries rendered once on one timeline from each of the "
        "lane's cameras (--views; cached with bench pipeline's clips under <data_dir>/bench/clips), run "
        "at once through one pipeline per camera into the lane merger (pipeline.merge_* settings). "
        "Scored per lorry: one passage, its plates (front plate from the front camera, rear plate and "
        "trailer mark from the rear camera) and its body type.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--sets", type=int, default=4, help="number of lane sets (default 4)")
    p.add_argument(
        "--views",
        type=_views,
        default=("front", "side", "rear"),
        help="the lane's cameras (default front,side,rear; side may be high_side)",
    )
    p.add_argument("--vehicles", type=int, default=3, help="lorries per set (default 3)")
    p.add_argument("--seconds", type=float, default=16.0, help="set length (default 16 s)")
    p.add_argument("--fps", type=float, default=12.5, help="frames per second of each camera (default 12.5)")
    p.add_argument("--seed", type=int, default=5200, help="seed of the first set (default 5200)")
    p.add_argument(
        "--detectors",
        choices=("models", "truth"),
        default="models",
        help="models: the shipped detectors (default); truth: ground-truth boxes",
    )
    p.add_argument("--no-classifier", action="store_true", help="no trailer classifier")
    p.add_argument("--detect-interval-ms", type=int, default=None, help="as for bench pipeline")
    p.add_argument("--quiet", action="store_true", help="no per-set lines on stderr")
    p.set_defaults(func=run_lane)


def run_lane(args: argparse.Namespace) -> int:
    """Run ``bench lane``; exit 1 when a model cannot load."""
    import os  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    from api.lane_runner import merge_rule  # noqa: PLC0415
    from vision.pipeline.bench import LaneScore, lane_sets, rss_mb, run_lane_set  # noqa: PLC0415
    from vision.runtime import ModelLoadError  # noqa: PLC0415

    settings = get_settings()
    say: Callable[[str], None] = (
        (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    )
    say(
        f"sets: {args.sets} queues x {'+'.join(args.views)}, {args.seconds:g} s at {args.fps:g} fps, "
        f"{args.vehicles} lorries (rendered once, cached)"
    )
    sets = lane_sets(
        settings.data_dir / "bench" / "clips",
        n_sets=args.sets,
        seed=args.seed,
        views=args.views,
        vehicles=args.vehicles,
        seconds=args.seconds,
        fps=args.fps,
        progress=not args.quiet,
    )
    config = _base_config(args, settings)
    rule = merge_rule(settings.pipeline)
    try:
        m = _load_models(args, settings)
    except ModelLoadError as e:
        print(f"error: a model could not load: {e}", file=sys.stderr)
        return 1
    rss0 = rss_mb()
    total = LaneScore()
    frames, wall = 0, 0.0
    frame_ms: list[float] = []
    for lane in sets:
        run = run_lane_set(lane, config, m.models_for, rule)
        s = run.score
        total = total + s
        frames += run.frames
        wall += run.wall_s
        frame_ms += run.frame_ms
        say(
            f"{lane.name}: {s.lorries} lorries, {s.passages} passages ({s.merged} merged, {s.merged_wrong} "
            f"wrongly, {s.alone} one camera only), reads ok {s.read_ok}, body ok {s.body_ok}; "
            f"{run.frames} frames in {run.wall_s:.1f} s"
        )
    t = total
    ms = np.array(frame_ms or [0.0])
    n_cams = len(args.views)
    body = round(t.body_ok / t.lorries, 4) if t.lorries and m.classifier != "none" else None
    shown = t.body_accuracy_shown
    body_shown = None if body is None or shown is None else round(shown, 4)
    j: dict[str, object] = {
        "fps": round(frames / wall, 2) if wall else 0.0,
        "fps_per_camera": round(frames / wall / n_cams, 2) if wall else 0.0,
        "ms_per_frame_p50": round(float(np.percentile(ms, 50)), 2),
        "ms_per_frame_p95": round(float(np.percentile(ms, 95)), 2),
        "passages_expected": t.lorries,
        "passages_found": t.passages,
        "lorries_one_passage": t.one_passage,
        "lorries_none": t.none,
        "duplicates": t.duplicates,
        "spurious": t.spurious,
        "merged": t.merged,
        "merged_wrong": t.merged_wrong,
        "alone": t.alone,
        "passage_read_rate": round(t.read_ok / t.lorries, 4) if t.lorries else 0.0,
        "body_type_accuracy": body,
        "body_type_accuracy_shown": body_shown,
        "bodies_hardly_shown": t.lorries - t.body_shown,
        "frames": frames,
        "sets": len(sets),
        "views": list(args.views),
        "merge_max_gap_ms": rule.max_gap_ms,
        "merge_max_lead_ms": rule.max_lead_ms,
        "detectors": m.detectors,
        "classifier": m.classifier,
        "rss_start_mb": round(rss0, 1),
        "rss_end_mb": round(rss_mb(), 1),
        "load_average": round(os.getloadavg()[0], 2),
    }
    print(
        f"{t.lorries} lorries, {t.passages} lane passages: {t.one_passage} lorries with one passage, "
        f"{t.duplicates} duplicate(s), {t.none} with none, {t.spurious} spurious; {t.merged} merged "
        f"({t.merged_wrong} wrongly), {t.alone} of one camera only"
    )
    body_s = (
        "null (no classifier)"
        if body is None
        else f"{body:.1%} ({_percent(body_shown)} of the {t.body_shown} lorries whose body some camera shows)"
    )
    print(f"read rate {j['passage_read_rate']:.1%}; body type accuracy {body_s}")
    print(
        f"{frames} frames ({n_cams} cameras) at {j['fps']} fps ({j['fps_per_camera']} per camera); ms per "
        f"frame p50 {j['ms_per_frame_p50']} / p95 {j['ms_per_frame_p95']}; load average "
        f"{j['load_average']}; detectors: {m.detectors}; classifier: {m.classifier}"
    )
    for miss in t.misses[:20]:
        print(f"  miss: {miss}")
    if args.json:
        print(json.dumps(j))
    return 0


def _percent(share: object) -> str:
    """A share (0-1) as a percentage with one decimal; ``-`` for None (nothing to count)."""
    return "-" if not isinstance(share, float | int) else f"{share:.1%}"


SUBCOMMANDS: tuple[Callable[[SubParsers], None], ...] = (add_pipeline_parser, add_lane_parser)


@dataclass(frozen=True)
class _Models:
    """What a benchmark runs: the lane models per clip and how to name them."""

    models_for: ModelsFor
    detectors: str
    classifier: str
    reader: str


def _load_models(args: argparse.Namespace, settings: Settings) -> _Models:
    """The detectors (``--detectors``), reader and classifier (``--no-classifier``) of a
    benchmark; raises ``ModelLoadError``."""
    from api.lane_runner import model_files  # noqa: PLC0415
    from vision.anpr.reader import build_reader  # noqa: PLC0415
    from vision.pipeline.bench import truth_detectors  # noqa: PLC0415
    from vision.pipeline.factory import FrameDetector, TrailerBodyClassifier, load_detectors  # noqa: PLC0415
    from vision.pipeline.protocols import BodyClassifier, LaneModels  # noqa: PLC0415
    from vision.pipeline.reload import ModelSlot  # noqa: PLC0415
    from vision.pipeline.truth import ClipTruthData  # noqa: PLC0415
    from vision.trailer.classifier import TrailerClassifier  # noqa: PLC0415

    threads = settings.runtime.intra_op_threads or None
    reader = build_reader(
        settings.reader.engine,
        work_dir=settings.data_dir,
        providers=settings.runtime.providers,
        models_dir=settings.models.dir,
        crnn_model=model_files(settings).reader,
    )
    classifier: BodyClassifier | None = None
    if args.detectors == "truth":
        if not args.no_classifier:
            classifier = TrailerBodyClassifier(
                ModelSlot(
                    TrailerClassifier(
                        model_files(settings).classifier, settings.runtime.providers, intra_op_threads=threads
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
    return _Models(
        models_for, detectors, "trailer_classifier.onnx" if classifier is not None else "none", reader.name
    )


def _base_config(args: argparse.Namespace, settings: Settings) -> LaneConfig:
    from dataclasses import replace  # noqa: PLC0415

    from api.lane_runner import lane_config  # noqa: PLC0415

    config = lane_config(settings.pipeline, "bench")
    if args.detect_interval_ms is not None:
        config = replace(
            config, tracking=replace(config.tracking, detect_interval_ms=args.detect_interval_ms)
        )
    return config


def run_pipeline(args: argparse.Namespace) -> int:
    """Run ``bench pipeline``; exit 1 when a model cannot load."""
    from vision.pipeline.bench import BenchClip, benchmark_clips, run_benchmark  # noqa: PLC0415
    from vision.runtime import ModelLoadError  # noqa: PLC0415

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
    config = _base_config(args, settings)
    try:
        m = _load_models(args, settings)
    except ModelLoadError as e:
        print(f"error: a model could not load: {e}", file=sys.stderr)
        return 1
    models_for, detectors = m.models_for, m.detectors
    summary = run_benchmark(
        clips,
        config,
        models_for,
        detectors=detectors,
        classifier=m.classifier,
        min_frames=args.min_frames,
        progress=say,
    )
    j = summary.as_json()
    body = (
        "null (no classifier)"
        if j["body_type_accuracy"] is None
        else f"{j['body_type_accuracy']:.1%} ({_percent(j['body_type_accuracy_shown'])} of the "
        f"{summary.score.body_shown} lorries whose body the clips show)"
    )
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
    print(f"detectors: {detectors}; classifier: {j['classifier']}; reader: {m.reader}")
    misses = summary.score.misses
    for miss in misses[:20]:
        print(f"  miss: {miss}")
    if len(misses) > 20:
        print(f"  ... and {len(misses) - 20} more")
    if args.json:
        print(json.dumps(j))
    return 0
