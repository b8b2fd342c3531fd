"""``hgv-lane process SOURCE --lane L --out DIR``: run the lane pipeline on a file, folder or URL.

Writes ``DIR/passages.jsonl`` (one passage per line, crops under ``DIR/crops/``), applies the
flag rules in a store of its own (``DIR/store.sqlite3``; ``--action-list CSV`` imports the
action list into it first; flagged passages' evidence under ``DIR/evidence/``), writes an
annotated preview (``DIR/preview.mp4``, or ``DIR/preview/`` frames for a folder) and prints
a summary (passages, flags, read rate; ``--json``: one JSON object as the last line).

With ``--rear-source`` and/or ``--side-source``, SOURCE is the lane's front camera and the
other cameras' recordings run at the same time, each through its own pipeline; the cameras'
passages are merged into one per lorry (``pipeline.merge_*`` settings; a side camera anchors
them, ``docs/pipeline.md``). The recordings must share a clock: files and folders start at
``--start-ts-ms`` (the rear one ``--rear-offset-ms`` later, the side one ``--side-offset-ms``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from api.settings import get_settings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from vision.pipeline.config import CameraView, LaneConfig
    from vision.pipeline.protocols import FrameSource


def _roi(text: str) -> tuple[tuple[float, float], ...]:
    try:
        values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not numbers: {text!r}") from e
    if len(values) < 6 or len(values) % 2:
        raise argparse.ArgumentTypeError("give at least 3 points as x1,y1,x2,y2,x3,y3 (normalised 0-1)")
    return tuple((values[i], values[i + 1]) for i in range(0, len(values), 2))


class FirstFrames:
    """``source`` ending after its first ``n`` frames; every other attribute is the source's."""

    def __init__(self, source: Any, n: int) -> None:
        self._source, self._n = source, n

    def frames(self) -> Iterator[Any]:
        inner = self._source.frames()
        try:
            yield from itertools.islice(inner, self._n)
        finally:  # a stream's capture is released now, not when the run ends
            inner.close()
            self._source.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


def _source_problems(cameras: list[tuple[str, Any, Any]], *, stopped: bool) -> list[str]:
    """What went wrong with each camera's source, as errors for the summary: a stream that never
    delivered a frame, a video file that ended before the frames its header counts (truncated
    or damaged; not when the run was stopped early), a folder of images none of which read."""
    from vision.pipeline.sources import ImageFolderSource, StreamSource, VideoFileSource  # noqa: PLC0415

    out = []
    for camera, source, h in cameras:
        short = source.frame_count - h.frames_in if isinstance(source, VideoFileSource) else 0
        if h.state == "failed":  # its own error says why it stopped reading
            continue
        if isinstance(source, StreamSource) and h.frames_in == 0:
            out.append(f"{camera}: no frame received from {source.name} ({h.reconnects} reconnects)")
        elif (
            isinstance(source, VideoFileSource) and not stopped and short > max(2, source.frame_count // 100)
        ):
            out.append(
                f"{camera}: {source.path} ended after {h.frames_in} of the {source.frame_count} frames its "
                "header counts (truncated or damaged?)"
            )
        elif isinstance(source, ImageFolderSource) and source.skipped:
            log.warning("%s: %d unreadable image(s) skipped in %s", camera, source.skipped, source.folder)
            if h.frames_in == 0:
                out.append(f"{camera}: no image in {source.folder} could be read")
    return out


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    """An argparse type: ``kind(text)`` when it is over 0, else a usage error (0 is not a default)."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text} is not over 0")
        return value

    return parse


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
    p.add_argument(
        "--fps", type=_positive(float), default=None, help="frame rate of a folder of images (default 25)"
    )
    p.add_argument(
        "--start-ts-ms", type=int, default=None, help="time of the first frame (ms since epoch; default now)"
    )
    p.add_argument(
        "--max-frames", type=_positive(int), default=None, help="stop after this many frames (streams)"
    )
    p.add_argument(
        "--preview-every", type=_positive(int), default=1, help="keep one preview frame in N (default 1)"
    )
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
    _add_other_camera(p, "rear", "rear camera")
    _add_other_camera(p, "side", "side camera (it sees the trailer's side: the body type)")
    p.add_argument(
        "--side-view", choices=("side", "high_side"), default="side", help="level or high side camera"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class _OtherCamera:
    """A camera of the lane besides SOURCE (the front one): its option slot (``rear``, ``side``:
    ``--{slot}-source`` and the summary's ``{slot}_*`` keys), view, id, pipeline config, frame
    source and, as a test double, its clip's truth.json."""

    slot: str
    view: CameraView
    camera_id: str
    config: LaneConfig
    source: FrameSource
    truth: Path | None


_PASSING_ORDER = ("front", "side", "high_side", "rear")
"""The cameras in the order a lorry passes them."""


def _options_without_source(args: argparse.Namespace, slot: str) -> list[str]:
    """The options of camera ``slot`` (``rear``, ``side``) set away from their defaults: they mean
    nothing when its ``--{slot}-source`` is not given."""
    set_: dict[str, bool] = {
        "camera": getattr(args, f"{slot}_camera") != slot,
        "roi": bool(getattr(args, f"{slot}_roi")),
        "offset-ms": getattr(args, f"{slot}_offset_ms") != 0,
        "truth": getattr(args, f"{slot}_truth") is not None,
        "view": slot == "side" and args.side_view != "side",
    }
    return [f"--{slot}-{name}" for name, on in set_.items() if on]


def _add_other_camera(p: argparse.ArgumentParser, slot: str, what: str) -> None:
    """``--{slot}-source``, ``-camera``, ``-roi``, ``-offset-ms`` and ``-truth``: a camera of the
    lane besides SOURCE (which is then the front camera)."""
    p.add_argument(
        f"--{slot}-source",
        default=None,
        metavar="SOURCE",
        help=f"the same lane's {what} (file, folder or URL): its passages are merged with SOURCE's "
        "(SOURCE is then the front camera)",
    )
    p.add_argument(f"--{slot}-camera", default=slot, help=f"its camera id (default {slot})")
    p.add_argument(
        f"--{slot}-roi",
        type=_roi,
        default=(),
        help="its region of interest, as --roi (default the whole frame: --roi is SOURCE's own)",
    )
    later = f"the {slot} recording starts this long after SOURCE's"
    p.add_argument(f"--{slot}-offset-ms", type=int, default=0, help=later)
    p.add_argument(
        f"--{slot}-truth",
        type=Path,
        default=None,
        metavar="TRUTH_JSON",
        help=f"TEST DOUBLE: the {slot} clip's truth.json (with --truth)",
    )


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
    from api.commands.actionlist import print_rejection  # noqa: PLC0415
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
        extras: list[_OtherCamera] = []
        slots: tuple[tuple[str, CameraView], ...] = (("rear", "rear"), ("side", args.side_view))
        for slot, view in slots:
            where = getattr(args, f"{slot}_source")
            if where is None:
                given = _options_without_source(args, slot)
                if given:
                    raise ValueError(f"{', '.join(given)} without --{slot}-source")
                continue
            camera_id, truth_json = getattr(args, f"{slot}_camera"), getattr(args, f"{slot}_truth")
            if args.view != "front" or camera_id in (args.camera, *(x.camera_id for x in extras)):
                raise ValueError(
                    f"with --{slot}-source, SOURCE is the front camera (--view front) and each camera "
                    "has its own id (--camera, --rear-camera, --side-camera)"
                )
            if (args.truth is None) != (truth_json is None):
                raise ValueError(f"--truth and --{slot}-truth go together")
            extras.append(
                _OtherCamera(
                    slot,
                    view,
                    camera_id,
                    lane_config(
                        settings.pipeline,
                        args.lane,
                        camera_id=camera_id,
                        view=view,
                        roi=getattr(args, f"{slot}_roi"),
                    ),
                    open_source(
                        where,
                        lane_id=args.lane,
                        camera_id=camera_id,
                        start_ts_ms=start_ts_ms + getattr(args, f"{slot}_offset_ms"),
                        fps=args.fps,
                    ),
                    truth_json,
                )
            )
    except (SourceError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    jsonl = out / "passages.jsonl"
    if jsonl.exists():
        print(f"error: {jsonl} exists: choose a new --out folder", file=sys.stderr)
        return 2
    try:  # before the models load: a folder that cannot be written is said at once
        out.mkdir(parents=True, exist_ok=True)
        (out / ".write-check").touch()
        (out / ".write-check").unlink()
    except OSError as e:
        print(f"error: cannot write to --out {out}: {e.strerror or e}", file=sys.stderr)
        return 2

    # models
    from vision.anpr.reader import build_reader  # noqa: PLC0415

    files = model_files(settings)  # each role's version in use (the registry's)
    try:
        vehicle: VehicleDetector
        plate: PlateDetector
        other_detectors: list[tuple[VehicleDetector, PlateDetector]] = []
        classifier: BodyClassifier | None = None
        if args.truth is not None:
            truth = load_clip_truth(args.truth)
            vehicle, plate = TruthDetector(truth, "vehicle"), TruthDetector(truth, "plate")
            detectors = f"ground truth ({args.truth})"
            for x in extras:
                assert x.truth is not None  # checked with the arguments: --truth goes with each
                seen = load_clip_truth(x.truth)
                other_detectors.append((TruthDetector(seen, "vehicle"), TruthDetector(seen, "plate")))
            if not args.no_classifier:
                classifier = TrailerBodyClassifier(
                    ModelSlot(TrailerClassifier(files.classifier, settings.runtime.providers))
                )
        else:
            yv, yp, yc = load_detectors(
                files,
                providers=settings.runtime.providers,
                intra_op_threads=settings.runtime.intra_op_threads or None,
                require_classifier=not args.no_classifier,
            )
            vehicle, plate = FrameDetector(yv, config.roi), FrameDetector(yp, config.roi)
            other_detectors = [
                (FrameDetector(yv, x.config.roi), FrameDetector(yp, x.config.roi)) for x in extras
            ]
            classifier = TrailerBodyClassifier(yc) if yc is not None and not args.no_classifier else None
            detectors = f"{yv.model.name} {yv.version}, {yp.model.name} {yp.version}"
        reader = build_reader(
            settings.reader.engine,
            work_dir=settings.data_dir,
            providers=settings.runtime.providers,
            models_dir=settings.models.dir,
            crnn_model=files.reader,
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
        print_rejection(e, args.action_list, sys.stderr)
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
    if extras:
        merger = LaneMerger(
            args.lane,
            {args.camera: "front", **{x.camera_id: x.view for x in extras}},
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

    # --max-frames: the source itself ends after them (stopping when that many were processed
    # had let the frames already queued through: 113 for --max-frames 80)
    first = FirstFrames(source, args.max_frames) if args.max_frames else source
    worker = LaneWorker(first, pipeline, front_feed or lane_sink, on_frame=on_frame)
    workers = [worker]
    other_pipelines: list[LanePipeline] = []
    for x, dets in zip(extras, other_detectors, strict=True):
        assert merger is not None  # made above whenever there are other cameras
        feed = merger.feed(x.camera_id)
        other_pipelines.append(LanePipeline(x.config, LaneModels(*dets, reader, classifier)))
        workers.append(LaneWorker(x.source, other_pipelines[-1], feed, on_frame=feed.observe))

    def interrupt(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    # Ctrl-C or a service manager's stop: end the run as at the end of the source (open tracks
    # flushed into passages, the summary printed), not die with passages unwritten.
    old = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    print(
        f"lane {args.lane}: {source.name} ({'stream' if isinstance(source, StreamSource) else 'file'}), "
        f"detectors: {detectors}, reader: {reader.name}, classifier: {'yes' if classifier else 'none'}",
        file=sys.stderr,
    )
    t0 = time.monotonic()
    cameras = (args.camera, *(x.camera_id for x in extras))
    ended: set[str] = set()

    def close_ended() -> None:
        """Tell the merger at once of a camera whose worker has ended (its recording is over, or
        its pipeline failed): the other cameras' passages waiting for it go on (a stream's would
        otherwise wait until the run ends)."""
        for camera, w in zip(cameras, workers, strict=True):
            if merger is not None and camera not in ended and not w.running:
                ended.add(camera)
                merger.feed(camera).close()

    for w in workers:
        w.start()
    try:
        while any(w.running for w in workers):
            close_ended()
            if stop.wait(0.2):
                for w in workers:
                    w.stop(timeout_s=None)  # a batch run waits for its last passages
                break
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for w in workers:
            w.join()
        if merger is not None:
            close_ended()
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
    other_health = [w.health() for w in workers[1:]]
    healths = (health, *other_health)
    errors = [f"{camera}: {h.error}" for camera, h in zip(cameras, healths, strict=True) if h.error]
    if merger is not None and merger.counters.failed:
        errors.append(
            f"lane: {merger.counters.failed} passage(s) not delivered: {merger.counters.last_error}"
        )
    unwrapped = [source, *(x.source for x in extras)]  # not FirstFrames: its kind is checked
    sources = [(camera, s, h) for camera, s, h in zip(cameras, unwrapped, healths, strict=True)]
    limited = bool(args.max_frames) and health.frames_in >= args.max_frames  # ended by --max-frames
    errors += _source_problems(sources, stopped=stop.is_set() or limited)
    counts = store.counts
    summary: dict[str, object] = {
        "lane": args.lane,
        "source": source.name,
        "frames": health.frames_processed,
        "frames_detected": c.detected,
        "frames_gated": c.gated,
        "frames_dropped": health.frames_dropped,
        "frames_failed": sum(h.frames_failed for h in healths),
        "frames_skipped": sum(int(getattr(w.source, "skipped", 0)) for w in workers),
        "reconnects": sum(h.reconnects for h in healths),
        "seconds": round(wall, 2),
        "fps": round(health.frames_processed / wall, 2) if wall else 0.0,
        "passages": c.passages,
        "passages_written": jsonl_sink.count,
        "passages_stored": counts.stored + counts.duplicates,
        "plate_read_rate": None if read_rate is None else round(read_rate, 4),
        "flags_created": counts.created,
        "flags_updated": counts.updated,
        "flagged_passages": len(counts.flagged_passages),
        "passages_jsonl": str(jsonl),
        "preview": str(preview.path) if preview is not None else None,
        "detectors": detectors,
        "error": "; ".join(errors) or None,
    }
    if merger is not None:
        for x, other, h in zip(extras, other_pipelines, other_health, strict=True):
            summary[f"{x.slot}_frames"] = h.frames_processed
            summary[f"{x.slot}_passages"] = other.counters.passages
        m = merger.counters
        summary.update(lane_passages=jsonl_sink.count, merged=m.merged, alone=m.alone)
    rr = "n/a" if read_rate is None else f"{read_rate:.1%}"
    print(
        f"{c.passages} passage(s) from {health.frames_processed} frames in {wall:.1f} s "
        f"({summary['fps']} fps; {c.detected} detected, {c.gated} gated, {health.frames_dropped} dropped)"
    )
    if merger is not None:
        for x, other, h in zip(extras, other_pipelines, other_health, strict=True):
            print(f"{x.view} camera: {other.counters.passages} passage(s) from {h.frames_processed} frames")
        views = " + ".join(sorted(("front", *(x.view for x in extras)), key=_PASSING_ORDER.index))
        print(
            f"lane: {jsonl_sink.count} passage(s), {merger.counters.merged} merged ({views}), "
            f"{merger.counters.alone} from one camera only"
        )
    print(f"plates all read (committed): {rr}; flags: {counts.created} new, {counts.updated} updated")
    print(
        f"passages: {jsonl} ({jsonl_sink.count} written, "
        f"{summary['passages_stored']} in {out / 'store.sqlite3'})"
    )
    if preview is not None:
        print(f"preview: {preview.path} ({preview.written} frames)")
    if summary["error"]:
        print(f"error: {summary['error']}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary))
    return 1 if summary["error"] else 0
