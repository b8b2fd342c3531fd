"""Lanes inside the service: the demo lane (the bundled clip in a loop, at its frame rate) and
the real lanes (a camera URL or file from ``pipeline.lanes``, or JPEG frames pushed to
``POST /v1/lanes/{lane}/frames``), each a :class:`vision.pipeline.worker.LaneWorker` whose
passages go through the flag rules into the store and wake the officers' live queue.

Hooks for the app (:mod:`api.app`):

- ``server.demo_lane_runner = "api.lane_runner:run_demo_lane"``: the demo lane plus the
  configured lanes, started in the lifespan with the app state, stopped when cancelled;
- :func:`run_lanes` (same, without the demo lane) for a service with real lanes only.

Either replaces ``state.frame_sink`` with the runner's :class:`PushedFrameRouter`, so pushed
frames reach a pipeline (a lane not listed in ``pipeline.lanes`` gets one on its first frame,
up to ``pipeline.max_pushed_lanes``), and publishes each lane's health into ``state.lanes``
every second.

A lane listed two or three times in ``pipeline.lanes`` (a front, a side or high side, and a rear
camera, at most one each) runs one pipeline per camera; with ``pipeline.merge_cameras`` (the
default) a :class:`vision.pipeline.merge.LaneMerger` between them and the recorder makes one
passage per lorry from the cameras' passages: plates from the front and rear cameras, the body
type from the side camera (``docs/pipeline.md``).

Nothing is lost when the store is away (locked by another process, a database restarting):
the recorder is wrapped in a :class:`vision.pipeline.spool.RetryingSink` that tries a passage
again for up to ``pipeline.store_retry_s`` on a thread of its own (the lanes never wait on the
store), then keeps it in the spool ``<data_dir>/spool/passages.jsonl``, replayed into the store
when it takes passages again and after the next start. A frame the pipeline fails on is skipped
and counted; the lane goes on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2

from api.schemas.lanes import LaneStatus
from api.settings import LaneSettings, PipelineSettings, Settings
from vision.pipeline.annotate import annotate
from vision.pipeline.config import (
    CameraView,
    LaneConfig,
    MotionGateConfig,
    ReadPolicy,
    RegionOfInterest,
    TrackingConfig,
)
from vision.pipeline.lane import SPEC_PLATE_PX, LanePipeline
from vision.pipeline.merge import LaneMerger, MergeRule
from vision.pipeline.protocols import EventSink, FrameSource, LaneModels
from vision.pipeline.reload import ModelWatcher
from vision.pipeline.sources import (
    FrameRefused,
    ImageFolderSource,
    PushedFrameRouter,
    PushedFrames,
    VideoFileSource,
    open_source,
)
from vision.pipeline.spool import RetryingSink, spool_path
from vision.pipeline.worker import LaneHealth, LaneWorker

if TYPE_CHECKING:
    from api.app import AppState
    from api.events import LaneRegistry
    from vision.pipeline.factory import ModelFiles

log = logging.getLogger(__name__)

STALE_MS = 5_000
"""A running lane with no frame for this long is shown as down."""


def lane_config(
    p: PipelineSettings,
    lane_id: str,
    *,
    camera_id: str = "cam1",
    view: CameraView = "front",
    roi: tuple[tuple[float, float], ...] = (),
    motion_gate: bool = False,
) -> LaneConfig:
    """The vision :class:`LaneConfig` of one lane from the ``pipeline`` settings."""
    return LaneConfig(
        lane_id=lane_id,
        camera_id=camera_id,
        view=view,
        roi=RegionOfInterest(tuple(roi)),
        motion_gate=MotionGateConfig(enabled=motion_gate),
        tracking=TrackingConfig(
            detect_interval_ms=p.detect_interval_ms,
            close_after_ms=p.close_after_ms,
            min_hits=p.min_hits,
            min_track_ms=p.min_track_ms,
        ),
        reads=ReadPolicy(
            min_plate_height_px=p.min_plate_height_px,
            max_reads_per_plate=p.max_reads_per_plate,
            max_body_looks=p.max_body_looks,
        ),
    )


def lane_config_for(p: PipelineSettings, lane: LaneSettings) -> LaneConfig:
    """The :class:`LaneConfig` of a lane listed in ``pipeline.lanes``."""
    return lane_config(
        p,
        lane.lane_id,
        camera_id=lane.camera_id,
        view=lane.view,
        roi=tuple(lane.roi),
        motion_gate=lane.motion_gate,
    )


def merge_rule(p: PipelineSettings) -> MergeRule:
    """The :class:`MergeRule` of two-camera lanes from the ``pipeline`` settings."""
    return MergeRule(
        max_gap_ms=p.merge_max_gap_ms, max_lead_ms=p.merge_max_lead_ms, max_wait_ms=p.merge_max_wait_ms
    )


def lane_mergers(p: PipelineSettings, sink: EventSink) -> dict[str, LaneMerger]:
    """A merger into ``sink`` for each lane of ``pipeline.lanes`` with two or three cameras (front,
    side or high_side, rear; none when ``pipeline.merge_cameras`` is off)."""
    if not p.merge_cameras:
        return {}
    cameras: dict[str, dict[str, CameraView]] = {}
    for lane in p.lanes:
        cameras.setdefault(lane.lane_id, {})[lane.camera_id] = lane.view
    rule = merge_rule(p)
    return {
        lane_id: LaneMerger(lane_id, cams, sink, rule) for lane_id, cams in cameras.items() if len(cams) >= 2
    }


ModelsForRoi = Callable[[RegionOfInterest], LaneModels]
"""Gives a lane its models for its region of interest (e.g. ``SharedModels.for_lane``)."""


@dataclass
class _Published:
    frames: int
    dropped: int
    at: float


WorkerKey = tuple[str, str]
"""A lane worker's key: ``(lane_id, camera_id)``."""


class LaneRunner:
    """Starts, watches and stops the service's lane workers (see the module doc). Workers are
    keyed by ``(lane_id, camera_id)``; ``mergers`` holds the multi-camera lanes' mergers."""

    def __init__(self, settings: Settings, models_for: ModelsForRoi, sink: EventSink) -> None:
        self.settings = settings
        self.models_for = models_for
        self.sink = sink
        self.workers: dict[WorkerKey, LaneWorker] = {}
        self.mergers = lane_mergers(settings.pipeline, sink)
        self._pushed: set[str] = set()
        self._lock = threading.Lock()
        self._published: dict[WorkerKey, _Published] = {}
        self.not_started: dict[WorkerKey, str] = {}
        self.router = PushedFrameRouter(on_new_lane=self._new_pushed_lane)

    # --- starting lanes -------------------------------------------------------------------

    def _start(self, config: LaneConfig, source: FrameSource) -> LaneWorker:
        key = (config.lane_id, config.camera_id)
        merger = self.mergers.get(config.lane_id)
        feed = merger.feed(config.camera_id) if merger is not None else None
        with self._lock:
            if key in self.workers:
                raise ValueError(f"lane {config.lane_id!r} camera {config.camera_id!r} is already running")
            pipeline = LanePipeline(config, self.models_for(config.roi))
            worker = LaneWorker(
                source,
                pipeline,
                feed if feed is not None else self.sink,
                queue_size=self.settings.pipeline.queue_size,
                on_frame=feed.observe if feed is not None else None,
            )
            self.workers[key] = worker
        worker.start()
        log.info(
            "lane %s: camera %s started on %s (%s view%s)",
            config.lane_id,
            config.camera_id,
            source.name,
            config.view,
            ", passages merged with the lane's other cameras'" if feed is not None else "",
        )
        return worker

    def start_demo(self, *, realtime: bool = True, loop: bool = True) -> LaneWorker:
        """The demo lane: ``pipeline.demo_clip`` played at its frame rate, in a loop, with
        wall-clock times (every loop makes new passages)."""
        p = self.settings.pipeline
        source = VideoFileSource(
            p.demo_clip, lane_id=p.demo_lane_id, camera_id="demo", realtime=realtime, loop=loop
        )
        return self._start(lane_config(p, p.demo_lane_id, camera_id="demo"), source)

    def start_lane(self, lane: LaneSettings) -> LaneWorker:
        """A lane from ``pipeline.lanes``: its ``source`` (file, folder, URL) or pushed frames."""
        config = lane_config_for(self.settings.pipeline, lane)
        source: FrameSource
        if lane.source:
            source = open_source(
                lane.source, lane_id=lane.lane_id, camera_id=lane.camera_id, realtime=True, loop=lane.loop
            )
        else:
            two = sum(other.lane_id == lane.lane_id for other in self.settings.pipeline.lanes) > 1
            pushed = PushedFrames(
                lane.lane_id,
                camera_id=lane.camera_id if two else None,
                max_queue=self.settings.frames.queue_per_lane,
            )
            self.router.add(pushed)
            with self._lock:
                self._pushed.add(lane.lane_id)
            source = pushed
        return self._start(config, source)

    def _new_pushed_lane(self, lane_id: str) -> PushedFrames:
        """A pipeline for pushed frames of a lane not configured (called by the router), when
        ``pipeline.lanes`` lists none; raises :class:`FrameRefused` for a lane that runs another
        source, a lane ``pipeline.lanes`` does not list (a typo in a camera's URL must not start
        a lane of its own), or one lane too many."""
        with self._lock:
            n_pushed = len(self._pushed)
            running = any(key[0] == lane_id for key in self.workers)
        limit = self.settings.pipeline.max_pushed_lanes
        listed = sorted({lane.lane_id for lane in self.settings.pipeline.lanes})
        reason = None
        failed = [why for (lane, _), why in self.not_started.items() if lane == lane_id]
        if failed:
            reason = f"lane {lane_id!r} {failed[0]}"
        elif running:
            reason = f"lane {lane_id!r} runs another source (a file or stream), not pushed frames"
        elif listed:
            reason = (
                f"no lane {lane_id!r} in pipeline.lanes ({', '.join(listed)}): check the lane id in the "
                "camera's URL, or add the lane to the configuration"
            )
        elif n_pushed >= limit:
            reason = (
                f"the service already runs {n_pushed} lanes of pushed frames, as many as "
                f"pipeline.max_pushed_lanes ({limit}) allows"
            )
        if reason is not None:
            log.warning("pushed frames refused: %s", reason)
            raise FrameRefused(reason)
        pushed = PushedFrames(lane_id, max_queue=self.settings.frames.queue_per_lane)
        with self._lock:
            self._pushed.add(lane_id)
        self._start(lane_config(self.settings.pipeline, lane_id, camera_id="pushed"), pushed)
        return pushed

    def start_configured(self) -> dict[WorkerKey, str]:
        """Every lane of ``pipeline.lanes`` that starts; one that does not (its file missing, its
        URL not one) is logged and left out, the others start. Returns why each failed one did
        not (also kept in ``not_started`` for :meth:`publish`)."""
        for lane in self.settings.pipeline.lanes:
            try:
                self.start_lane(lane)
            except Exception as e:
                reason = f"did not start: {e}"
                log.error("lane %s camera %s %s", lane.lane_id, lane.camera_id, reason)
                self.not_started[(lane.lane_id, lane.camera_id)] = reason
                merger = self.mergers.get(lane.lane_id)
                if merger is not None:  # its passages must not wait for a camera that never runs
                    merger.feed(lane.camera_id).close()
        return dict(self.not_started)

    # --- health and stopping --------------------------------------------------------------

    def health(self) -> list[LaneHealth]:
        """Every worker's health (two for a lane with two cameras)."""
        with self._lock:
            workers = list(self.workers.values())
        return [w.health() for w in workers]

    def _camera_status(
        self, key: WorkerKey, h: LaneHealth, now: float
    ) -> tuple[LaneStatus, str, float | None]:
        prev = self._published.get(key)
        fps = None
        if prev is not None and now > prev.at:
            fps = round((h.frames_processed - prev.frames) / (now - prev.at), 2)
        new_drops = prev is not None and h.frames_dropped > prev.dropped
        self._published[key] = _Published(h.frames_processed, h.frames_dropped, now)
        source = getattr(self.workers.get(key), "source", None)
        if h.state == "stopped" and not h.error and isinstance(source, VideoFileSource | ImageFolderSource):
            # a video file or folder played to its end (a configured one plays in real time, so
            # it is "live" to the worker): done, not broken, so the lanes are not down
            again = (
                " (loop = true in the lane's settings plays it again)"
                if isinstance(source, VideoFileSource)
                else ""
            )
            return (
                LaneStatus.UNKNOWN,
                f"ended: {h.frames_processed} frames of {h.source} played to the end, "
                f"{h.passages} passages{again}",
                None,
            )
        if h.state in ("failed", "stopped", "reconnecting") or (
            h.state == "running" and h.last_frame_age_ms is not None and h.last_frame_age_ms > STALE_MS
        ):
            status = LaneStatus.DOWN
        elif h.last_frame_age_ms is None:
            status = LaneStatus.UNKNOWN
        elif new_drops or h.error:  # running, but behind or failing on frames or passages
            status = LaneStatus.DEGRADED
        else:
            status = LaneStatus.OK
        read = "n/a" if h.plate_read_rate is None else f"{h.plate_read_rate:.0%}"
        latency = "n/a" if h.mean_latency_ms is None else f"{h.mean_latency_ms:.0f} ms"
        message = (
            f"{h.state}: {h.frames_processed} frames, {h.frames_dropped} dropped, {h.passages} passages, "
            f"plates read {read}, latency {latency}"
            + (f", {h.reconnects} reconnects" if h.reconnects else "")
            + (f", {h.frames_failed} frames failed" if h.frames_failed else "")
            + (f", {h.passages_failed} passages not delivered" if h.passages_failed else "")
        )
        if h.error:
            message = f"{h.error} ({message})"
        return status, message, fps

    def snapshot(self, lane_id: str, camera_id: str | None = None) -> tuple[str, bytes] | None:
        """The last frame a lane's camera (``camera_id``, default the first that has one) processed, as
        a JPEG with its region of interest, tracks and reads drawn: ``(camera id, bytes)``, or
        ``None`` when that camera has no frame yet (an installer's check of the view and ROI)."""
        with self._lock:
            workers = sorted((k[1], w) for k, w in self.workers.items() if k[0] == lane_id)
        chosen = [(cam, w) for cam, w in workers if camera_id in (None, cam) and w.last is not None]
        if not chosen:  # default: the first camera that has a frame
            return None
        cam, worker = chosen[0]
        assert worker.last is not None
        frame, result = worker.last
        img = annotate(frame, result, max_width_px=1280, roi=worker.pipeline.config.roi)
        ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
        return (cam, bytes(jpeg)) if ok else None

    def cameras(self, lane_id: str) -> list[str]:
        """The camera ids of a lane's running workers."""
        with self._lock:
            return sorted(k[1] for k in self.workers if k[0] == lane_id)

    def tick(self, now_ms: int | None = None) -> None:
        """Two-camera lanes' passages that waited ``merge_max_wait_ms`` (wall clock ``now_ms``,
        default now) go alone even when no camera sends frames. May write to the store."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        for lane_id, merger in self.mergers.items():
            try:
                merger.tick(now_ms)
            except Exception:  # one lane's merger must not stop the others, or the runner
                log.exception("lane %s: the merger's tick failed", lane_id)

    def publish(self, registry: LaneRegistry) -> None:
        """Write every lane's health into the service's lane registry (a two-camera lane: the
        worse camera's status, both cameras' messages and sources, frames summed)."""
        now = time.monotonic()
        with self._lock:
            workers = list(self.workers.items())
        by_lane: dict[str, list[tuple[str, LaneHealth, LaneStatus, str, float | None]]] = {}
        for key, w in workers:
            h = w.health()
            status, message, fps = self._camera_status(key, h, now)
            by_lane.setdefault(h.lane_id, []).append((key[1], h, status, message, fps))
        for lane_id, cams in by_lane.items():
            if len(cams) == 1:
                _, h, status, message, fps = cams[0]
                source = h.source
            else:
                status = max((c[2] for c in cams), key=_STATUS_SEVERITY.__getitem__)
                message = "; ".join(f"camera {cam}: {msg}" for cam, _, _, msg, _ in cams)
                lane_merger = self.mergers.get(lane_id)
                if lane_merger is not None:
                    m = lane_merger.counters
                    message += f"; merged {m.merged}, alone {m.alone}, waiting {lane_merger.waiting}"
                source = " + ".join(h.source for _, h, _, _, _ in cams)
                rates = [c[4] for c in cams if c[4] is not None]
                fps = round(sum(rates), 2) if rates else None
            missing = [
                f"camera {cam} {why}" for (lane, cam), why in self.not_started.items() if lane == lane_id
            ]
            if missing:  # a camera of a lane that runs others did not start: the lane is not whole
                status = max(status, LaneStatus.DEGRADED, key=_STATUS_SEVERITY.__getitem__)
                message = "; ".join([*missing, message])
            fields: dict[str, object] = {
                "status": status,
                "message": message,
                "source": source,
                "fps": fps,
                # the source's drops and the worker's queue's (a pushed lane's endpoint sees only the first)
                "frames_dropped": sum(c[1].frames_dropped for c in cams),
                "reconnects": sum(c[1].reconnects for c in cams),
                "frames_gated": sum(c[1].frames_gated for c in cams),
            }
            sizes = [c[1].plate_px_p50 for c in cams if c[1].plate_px_p50 is not None]
            if sizes:
                fields["plate_height_px_p50"] = round(min(sizes), 1)
                if min(sizes) < SPEC_PLATE_PX:
                    fields["message"] = f"{message}; {_small_plates(min(sizes))}"
            if lane_id not in self._pushed:  # the frames endpoint counts pushed frames and their arrival
                fields["frames_received"] = sum(c[1].frames_in for c in cams)
                ages = [c[1].last_frame_age_ms for c in cams if c[1].last_frame_age_ms is not None]
                if ages:
                    fields["last_frame_ts_ms"] = int(time.time() * 1000) - int(min(ages))
            registry.update(lane_id, **fields)
        for (lane_id, camera_id), reason in self.not_started.items():
            if lane_id not in by_lane:
                registry.update(
                    lane_id,
                    status=LaneStatus.DOWN,
                    message=f"camera {camera_id} {reason}",
                    source="not started",
                )

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop every lane (open tracks are flushed into passages; two-camera lanes' waiting
        passages are then recorded, merged or alone). The lanes wind down together, within
        ``timeout_s`` in all (the sink, a :class:`RetryingSink`, never keeps them waiting; it
        is closed after, by :func:`run_lanes`)."""
        with self._lock:
            workers = list(self.workers.items())
        for _, w in workers:
            w.source.close()
        deadline = time.monotonic() + timeout_s
        for (lane_id, camera_id), w in workers:
            w.stop(max(0.1, deadline - time.monotonic()))
            lane_merger = self.mergers.get(lane_id)
            if lane_merger is not None:
                lane_merger.feed(camera_id).close()
        for merger in self.mergers.values():
            merger.flush()


def _small_plates(px: float) -> str:
    """An installer's hint for a lane whose plates are a median ``px`` high at their largest."""
    return (
        f"plates small: {px:.0f} px high at their largest (median), under the {SPEC_PLATE_PX:.0f} px "
        "(characters 15 px) plate readers are installed for: zoom in or move the camera closer"
    )


_STATUS_SEVERITY = {LaneStatus.OK: 0, LaneStatus.UNKNOWN: 1, LaneStatus.DEGRADED: 2, LaneStatus.DOWN: 3}


# --- the app's hooks ----------------------------------------------------------------------------


def model_files(settings: Settings) -> ModelFiles:
    """The model files in use: each role's current registry version (the shipped file in
    ``models/`` until another version is promoted)."""
    from vision.pipeline.factory import ModelFiles  # noqa: PLC0415 - ONNX Runtime

    registry = settings.model_registry()
    vehicle, plate, classifier, reader = (
        registry.current(role)
        for role in ("vehicle_detector", "plate_detector", "trailer_classifier", "plate_reader")
    )
    return ModelFiles(
        vehicle.onnx,
        plate.onnx,
        classifier.onnx,
        (vehicle.version, plate.version, classifier.version),
        reader=reader.onnx,
        reader_version=reader.version,
    )


def load_shared_models(settings: Settings) -> tuple[ModelsForRoi, ModelWatcher]:
    """The models in use, loaded once for every lane (raises ``ModelLoadError`` when one is
    missing), and a watcher (not started) that swaps in versions promoted later."""
    from vision.pipeline.factory import DetectorLoaders, load_models  # noqa: PLC0415 - ONNX Runtime, OCR

    threads = settings.runtime.intra_op_threads or None
    shared = load_models(
        model_files(settings),
        reader_engine=settings.reader.engine,
        work_dir=settings.data_dir,
        providers=settings.runtime.providers,
        intra_op_threads=threads,
        models_dir=settings.models.dir,
    )
    watcher = ModelWatcher(settings.model_registry(), settings.models.reload_poll_s)
    shared.watch(watcher, DetectorLoaders(settings.runtime.providers, threads))
    return shared.for_lane, watcher


async def run_lanes(
    state: AppState, *, demo: bool = False, models_for: ModelsForRoi | None = None, publish_s: float = 1.0
) -> None:
    """Run the service's lanes until cancelled (the lifespan cancels it at shutdown).

    Loads the models (unless ``models_for`` is given), replaces ``state.frame_sink`` with the
    runner's router, starts the demo lane when ``demo`` and every lane of ``pipeline.lanes``,
    and publishes lane health into ``state.lanes`` every ``publish_s`` seconds.
    """
    from api.events import LanesStarting  # noqa: PLC0415
    from api.sinks import RecorderSink  # noqa: PLC0415

    settings = state.settings
    watcher: ModelWatcher | None = None
    if models_for is None:
        try:
            loaded, new_watcher = await asyncio.to_thread(load_shared_models, settings)
        except Exception as e:  # surfaces on the lane strip, then in the log via the supervisor
            lane = settings.pipeline.demo_lane_id if demo else "pipeline"
            state.lanes.update(lane, status=LaneStatus.DOWN, message=f"models did not load: {e}")
            if isinstance(state.frame_sink, LanesStarting):  # pushed frames: 503 with the reason
                state.frame_sink.reason = f"the service's lanes did not start: models did not load: {e}"
            raise
        models_for, watcher = loaded, new_watcher
        state.model_watcher = watcher
        watcher.start()
    sink = RetryingSink(
        RecorderSink(state.passage_recorder()),
        spool_path(settings.data_dir),
        retry_s=settings.pipeline.store_retry_s,
    )
    state.passage_sink = sink  # it replays a spool left from before on its own thread
    runner = LaneRunner(settings, models_for, sink)
    state.frame_sink = runner.router
    state.lane_runner = runner
    try:
        if demo:
            runner.start_demo()
        runner.start_configured()
        while True:
            runner.publish(state.lanes)
            if runner.mergers:
                await asyncio.to_thread(runner.tick)  # may record passages: off the event loop
            await asyncio.sleep(publish_s)
    finally:
        if watcher is not None:
            await asyncio.to_thread(watcher.stop)
        await asyncio.to_thread(runner.stop)
        await asyncio.to_thread(sink.close)  # the last passages stored, or spooled if the store hangs
        runner.publish(state.lanes)


async def run_demo_lane(state: AppState) -> None:
    """The demo lane runner (``server.demo_lane_runner = "api.lane_runner:run_demo_lane"``)."""
    await run_lanes(state, demo=True)
