"""``hgv-lane process SOURCE --lane L --out DIR``: run the lane pipeline on a file, folder or URL.

Writes ``DIR/passages.jsonl`` (one passage per line, crops under ``DIR/crops/``), applies the
flag rules in a store of its own (``DIR/store.sqlite3``; ``--action-list CSV`` imports the
action list into it first; flagged passages' evidence under ``DIR/evidence/``), writes an
annotated preview (``DIR/preview.mp4``, or ``DIR/preview/`` frames for a folder) and prints
a summary (passages, flags, read rate; ``--json``: one JSON object as the last line).

With ``--rear-source``, SOURCE is the lane's front camera and the rear camera's recording runs
at the same time through its own pipeline; the two cameras' passages are merged into one per
lorry (``pipeline.merge_*`` settings). Both recordings must share a clock: files and folders
start at ``--start-ts-ms`` (the rear one ``--rear-offset-ms`` later).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from api.settings import get_settings


def _roi(text: str) -> tuple[tuple[float, float], ...]:
    try:
        values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not numbers: {text!r}") from e
    if len(values) < 6 or len(values) % 2:
        raise argparse.ArgumentTypeError("give at least 3 points as x1,y1,x2,y2,x3,y3 (normalised 0-1)")
    return tuple((values[i], values[i + 1]) for i in range(0, len(values), 2))


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``process``."""
    p = sub.add_parser(
        "process",
        help="run the lane pipeline on a video file, image folder or stream URL",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("source", metavar="SOURCE", help="video file, folder of images, or rtsp:// / http:// URL")
    p.add_argument("--lane", required=True, help="lane id the passages carry")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--action-list", type=Path, default=None, metavar="CSV", help="action list to match against"
    )
    p.add_argument("--camera", default="cam1", help="camera id (default cam1)")
    p.add_argument(
        "--view", choices=("front", "rear"), default="front", help="what the camera sees (default front)"
    )
    p.add_argument(
        "--roi", type=_roi, default=(), help="region of interest: x1,y1,x2,y2,x3,y3[,...] normalised 0-1"
    )
    p.add_argument("--motion-gate", action="store_true", help="skip frames where nothing moves in the region")
    p.add_argument("--fps", type=float, default=None, help="frame rate of a folder of images (default 25)")
    p.add_argument(
        "--start-ts-ms", type=int, default=None, help="time of the first frame (ms since epoch; default now)"
    )
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames (streams)")
    p.add_argument("--preview-every", type=int, default=1, help="keep one preview frame in N (default 1)")
    p.add_argument("--no-preview", action="store_true", help="write no annotated preview")
    p.add_argument(
        "--truth",
        type=Path,
        default=None,
        metavar="TRUTH_JSON",
        help="TEST DOUBLE: take vehicle and plate boxes from a synthetic clip's truth.json instead of the "
        "detector models (reader and classifier still run)",
    )
    p.add_argument(
        "--no-classifier", action="store_true", help="run without the trailer classifier (body type unknown)"
    )
    p.add_argument(
        "--rear-source",
        default=None,
        metavar="SOURCE",
        help="the same lane's rear camera (file, folder or URL): its passages are merged with SOURCE's "
        "(SOURCE is then the front camera)",
    )
    p.add_argument("--rear-camera", default="rear", help="the rear camera's id (default rear)")
    p.add_argument(
        "--rear-offset-ms", type=int, default=0, help="the rear recording starts this long after SOURCE's"
    )
    p.add_argument(
        "--rear-truth",
        type=Path,
        default=None,
        metavar="TRUTH_JSON",
        help="TEST DOUBLE: the rear clip's truth.json (with --truth)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=run)


class _Progress:
    """A frame counter on stderr, at most every 0.5 s."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.t0 = time.monotonic()
        self.last = 0.0
        self.frames = 0
        self.passages = 0

    def __call__(self, frame: Any, result: Any) -> None:
        self.frames += 1
        self.passages += len(result.passages)
        now = time.monotonic()
        if now - self.last >= 0.5:
            self.last = now
            self.show()

    def show(self, end: str = "") -> None:
        rate = self.frames / max(1e-9, time.monotonic() - self.t0)
        of = f"/{self.total}" if self.total else ""
        print(
            f"\rframes {self.frames}{of}  {rate:5.1f} fps  passages {self.passages}",
            end=end,
            file=sys.stderr,
            flush=True,
        )


def run(args: argparse.Namespace) -> int:
    """Run ``process``; exit 2 for bad input, 1 when a model cannot load or the pipeline fails."""
    from api.actionlist import ImportRejected, build_matcher, import_action_list  # noqa: PLC0415
    from api.db.session import open_store, session_scope  # noqa: PLC0415
    from api.flags import FlagRules  # noqa: PLC0415
    from api.lane_runner import lane_config, merge_rule, model_files  # noqa: PLC0415
    from api.sinks import StoreSink  # noqa: PLC0415
    from vision.pipeline.annotate import PreviewWriter  # noqa: PLC0415
    from vision.pipeline.factory import FrameDetector, TrailerBodyClassifier, load_detectors  # noqa: PLC0415
    from vision.pipeline.lane import LanePipeline  # noqa: PLC0415
    from vision.pipeline.merge import LaneMerger  # noqa: PLC0415
    from vision.pipeline.protocols import (  # noqa: PLC0415
        BodyClassifier,
        EventSink,
        LaneModels,
        PlateDetector,
        VehicleDetector,
    )
    from vision.pipeline.reload import ModelSlot  # noqa: PLC0415
    from vision.pipeline.sinks import FanoutSink, JsonlSink  # noqa: PLC0415
    from vision.pipeline.sources import ImageFolderSource, SourceError, StreamSource, open_source  # noqa: PLC0415
    from vision.pipeline.truth import TruthDetector, load_clip_truth  # noqa: PLC0415
    from vision.pipeline.worker import LaneWorker  # noqa: PLC0415
    from vision.runtime import ModelLoadError  # noqa: PLC0415
    from vision.trailer.classifier import TrailerClassifier  # noqa: PLC0415

    settings = get_settings()
    out: Path = args.out
    try:
        config = lane_config(
            settings.pipeline,
            args.lane,
            camera_id=args.camera,
            view=args.view,
            roi=args.roi,
            motion_gate=args.motion_gate,
        )
        start_ts_ms = args.start_ts_ms if args.start_ts_ms is not None else int(time.time() * 1000)
        source = open_source(
            args.source, lane_id=args.lane, camera_id=args.camera, start_ts_ms=start_ts_ms, fps=args.fps
        )
        rear_config = rear_source = None
        if args.rear_source is not None:
            if args.view != "front" or args.rear_camera == args.camera:
                raise ValueError(
                    "with --rear-source, SOURCE is the front camera (--view front, another --camera)"
                )
            if (args.truth is None) != (args.rear_truth is None):
                raise ValueError("--truth and --rear-truth go together")
            rear_config = lane_config(
                settings.pipeline, args.lane, camera_id=args.rear_camera, view="rear", roi=args.roi
            )
            rear_source = open_source(
                args.rear_source,
                lane_id=args.lane,
                camera_id=args.rear_camera,
                start_ts_ms=start_ts_ms + args.rear_offset_ms,
                fps=args.fps,
            )
    except (SourceError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    jsonl = out / "passages.jsonl"
    if jsonl.exists():
        print(f"error: {jsonl} exists: choose a new --out folder", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)

    # models
    from vision.anpr.reader import build_reader  # noqa: PLC0415

    try:
        vehicle: VehicleDetector
        plate: PlateDetector
        rear_detectors: tuple[VehicleDetector, PlateDetector] | None = None
        classifier: BodyClassifier | None = None
        if args.truth is not None:
            truth = load_clip_truth(args.truth)
            vehicle, plate = TruthDetector(truth, "vehicle"), TruthDetector(truth, "plate")
            detectors = f"ground truth ({args.truth})"
            if args.rear_truth is not None:
                rear_truth = load_clip_truth(args.rear_truth)
                rear_detectors = (TruthDetector(rear_truth, "vehicle"), TruthDetector(rear_truth, "plate"))
            if not args.no_classifier:
                classifier = TrailerBodyClassifier(
                    ModelSlot(TrailerClassifier(model_files(settings).classifier, settings.runtime.providers))
                )
        else:
            yv, yp, yc = load_detectors(
                model_files(settings),
                providers=settings.runtime.providers,
                intra_op_threads=settings.runtime.intra_op_threads or None,
                require_classifier=not args.no_classifier,
            )
            vehicle, plate = FrameDetector(yv, config.roi), FrameDetector(yp, config.roi)
            rear_detectors = (FrameDetector(yv, config.roi), FrameDetector(yp, config.roi))
            classifier = TrailerBodyClassifier(yc) if yc is not None and not args.no_classifier else None
            detectors = f"{yv.model.name} {yv.version}, {yp.model.name} {yp.version}"
        reader = build_reader(
            settings.reader.engine,
            work_dir=settings.data_dir,
            providers=settings.runtime.providers,
            models_dir=settings.models.dir,
        )
    except ModelLoadError as e:
        print(f"error: a model could not load: {e}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    models = LaneModels(vehicle, plate, reader, classifier)

    # store with the action list, flag rules
    engine = open_store(f"sqlite:///{out / 'store.sqlite3'}")
    try:
        with session_scope(engine) as session:
            if args.action_list is not None:
                import_action_list(session, args.action_list.read_bytes(), source_name=str(args.action_list))
            matcher = build_matcher(
                session,
                max_edit_distance=settings.flags.max_edit_distance,
                edit_min_length=settings.flags.edit_min_length,
            )
    except ImportRejected as e:
        print(f"error: action list rejected: {e}", file=sys.stderr)
        engine.dispose()
        return 2
    except OSError as e:
        print(f"error: cannot read the action list: {e}", file=sys.stderr)
        engine.dispose()
        return 2
    store = StoreSink(engine, matcher, FlagRules.from_settings(settings.flags), data_dir=out)
    jsonl_sink = JsonlSink(jsonl)
    lane_sink: EventSink = FanoutSink([jsonl_sink, store])
    merger: LaneMerger | None = None
    if rear_config is not None:
        merger = LaneMerger(
            args.lane,
            {args.camera: "front", args.rear_camera: "rear"},
            lane_sink,
            merge_rule(settings.pipeline),
        )
    total = getattr(source, "frame_count", None) or None
    if args.max_frames:
        total = min(total or args.max_frames, args.max_frames)
    progress = _Progress(total)
    preview: PreviewWriter | None = None
    if not args.no_preview:
        fps = getattr(source, "fps", None) or 25.0
        target = out / "preview" if isinstance(source, ImageFolderSource) else out / "preview.mp4"
        preview = PreviewWriter(target, fps=fps, every=args.preview_every)

    pipeline = LanePipeline(config, models)
    stop = threading.Event()
    front_feed = merger.feed(args.camera) if merger is not None else None

    def on_frame(frame: Any, result: Any) -> None:
        progress(frame, result)
        if preview is not None:
            preview(frame, result)
        if front_feed is not None:
            front_feed.observe(frame, result)
        if args.max_frames and progress.frames >= args.max_frames:
            stop.set()

    worker = LaneWorker(source, pipeline, front_feed or lane_sink, on_frame=on_frame)
    workers = [worker]
    rear_pipeline: LanePipeline | None = None
    if (
        merger is not None
        and rear_config is not None
        and rear_source is not None
        and rear_detectors is not None
    ):
        rear_feed = merger.feed(args.rear_camera)
        rear_pipeline = LanePipeline(rear_config, LaneModels(*rear_detectors, reader, classifier))
        workers.append(LaneWorker(rear_source, rear_pipeline, rear_feed, on_frame=rear_feed.observe))

    def interrupt(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    old = signal.signal(signal.SIGINT, interrupt)
    print(
        f"lane {args.lane}: {source.name} ({'stream' if isinstance(source, StreamSource) else 'file'}), "
        f"detectors: {detectors}, reader: {reader.name}, classifier: {'yes' if classifier else 'none'}",
        file=sys.stderr,
    )
    t0 = time.monotonic()
    for w in workers:
        w.start()
    try:
        while any(w.running for w in workers):
            if stop.wait(0.2):
                for w in workers:
                    w.stop()
                break
    finally:
        signal.signal(signal.SIGINT, old)
        for w in workers:
            w.join()
        if merger is not None:
            for camera in (args.camera, args.rear_camera):
                merger.feed(camera).close()
            merger.flush()
        jsonl_sink.close()
        if preview is not None:
            preview.close()
        engine.dispose()
    wall = time.monotonic() - t0
    progress.show(end="\n")
    health = worker.health()
    c = pipeline.counters
    read_rate = c.passages_all_read / c.passages_with_plates if c.passages_with_plates else None
    rear_health = workers[1].health() if len(workers) > 1 else None
    counts = store.counts
    summary: dict[str, object] = {
        "lane": args.lane,
        "source": source.name,
        "frames": health.frames_processed,
        "frames_detected": c.detected,
        "frames_gated": c.gated,
        "frames_dropped": health.frames_dropped,
        "seconds": round(wall, 2),
        "fps": round(health.frames_processed / wall, 2) if wall else 0.0,
        "passages": c.passages,
        "plate_read_rate": None if read_rate is None else round(read_rate, 4),
        "flags_created": counts.created,
        "flags_updated": counts.updated,
        "flagged_passages": len(counts.flagged_passages),
        "passages_jsonl": str(jsonl),
        "preview": str(preview.path) if preview is not None else None,
        "detectors": detectors,
        "error": health.error or (rear_health.error if rear_health is not None else None),
    }
    if merger is not None and rear_pipeline is not None and rear_health is not None:
        m = merger.counters
        summary.update(
            rear_frames=rear_health.frames_processed,
            rear_passages=rear_pipeline.counters.passages,
            lane_passages=jsonl_sink.count,
            merged=m.merged,
            alone=m.alone,
        )
    rr = "n/a" if read_rate is None else f"{read_rate:.1%}"
    print(
        f"{c.passages} passage(s) from {health.frames_processed} frames in {wall:.1f} s "
        f"({summary['fps']} fps; {c.detected} detected, {c.gated} gated, {health.frames_dropped} dropped)"
    )
    if merger is not None and rear_health is not None:
        print(
            f"rear camera: {summary['rear_passages']} passage(s) from {rear_health.frames_processed} frames; "
            f"lane: {jsonl_sink.count} passage(s), {merger.counters.merged} merged front + rear, "
            f"{merger.counters.alone} from one camera only"
        )
    print(f"plates all read (committed): {rr}; flags: {counts.created} new, {counts.updated} updated")
    print(f"passages: {jsonl}")
    if preview is not None:
        print(f"preview: {preview.path} ({preview.written} frames)")
    if summary["error"]:
        print(f"error: {summary['error']}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary))
    return 1 if summary["error"] else 0
