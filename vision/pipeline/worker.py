"""One worker per lane: a reader thread takes frames from the source into a bounded queue, a
processing thread runs the lane pipeline and hands passages to the event sink.

For a live source (camera, stream, pushed frames) the reader never waits: when the queue is
full the **oldest** frame is dropped and counted. For a file or folder the reader waits for
room instead (every frame is processed). :meth:`LaneWorker.health` returns a
:class:`LaneHealth` snapshot at any time, from any thread.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from vision.pipeline.lane import FrameResult, LanePipeline
from vision.pipeline.protocols import EventSink, FrameSource
from vision.pipeline.sinks import short_error, worth_logging
from vision.types import Frame, Passage

log = logging.getLogger(__name__)

T = TypeVar("T")

ERROR_SHOWN_S = 60.0
"""A running lane's health shows a failed frame's or passage's error for this long (the counts
stay); a stopped lane's error stays."""


class DropOldestQueue(Generic[T]):
    """A bounded FIFO: :meth:`put` never blocks and drops the oldest item when full
    (``dropped`` counts them); :meth:`put_wait` waits for room instead; :meth:`get` waits up to
    ``timeout_s`` and returns ``None`` when nothing came (or the queue is closed and empty)."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.put_total = 0

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, item: T) -> bool:
        """Add ``item``; returns True when an older item was dropped to make room."""
        with self._cond:
            self.put_total += 1
            dropped = False
            if len(self._items) >= self.maxsize:
                self._items.popleft()
                self.dropped += 1
                dropped = True
            self._items.append(item)
            self._cond.notify()
            return dropped

    def put_wait(self, item: T, stop: threading.Event | None = None) -> bool:
        """Add ``item``, waiting for room; False when ``stop`` was set or the queue closed first."""
        with self._cond:
            while len(self._items) >= self.maxsize:
                if self._closed or (stop is not None and stop.is_set()):
                    return False
                self._cond.wait(0.1)
            self.put_total += 1
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self, timeout_s: float | None = None) -> T | None:
        with self._cond:
            deadline = None if timeout_s is None else time.monotonic() + timeout_s
            while not self._items:
                if self._closed:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def close(self) -> None:
        """No more items: waiting ``get`` calls return once the queue is empty."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


@dataclass(frozen=True, slots=True)
class LaneHealth:
    """One lane at one moment.

    ``frames_in``: frames the source delivered; ``frames_processed``: frames the pipeline
    handled (``frames_detected`` of them went through the detectors; the rest were skipped by
    the motion gate, ``frames_gated``, or by the detection stride); ``frames_dropped``: oldest
    frames dropped because the worker fell behind; ``last_frame_age_ms``: since the source
    last delivered a frame (``None`` before the first); ``plate_read_rate``: share of passages
    with plates whose plates were all read with a committed vote (``None`` before the first
    passage); ``mean_latency_ms``: mean time from a frame's arrival to the end of its
    processing over the last 256 frames; ``reconnects``: stream reconnect attempts;
    ``frames_failed``: frames the pipeline raised on (skipped, the lane goes on);
    ``passages_failed``: passages the sink raised on (not delivered: a sink that must keep them
    retries and spools them itself, :class:`vision.pipeline.spool.RetryingSink`); ``error``: the
    last such error, or why the worker stopped (``state`` ``"failed"``); ``plate_px_p50``: the
    median height (px per line of characters) of the last plates of passages at their tallest
    (read or not; ``None`` before any).
    """

    lane_id: str
    source: str
    state: str
    frames_in: int
    frames_processed: int
    frames_detected: int
    frames_gated: int
    frames_dropped: int
    queue_depth: int
    last_frame_age_ms: int | None
    passages: int
    plate_read_rate: float | None
    mean_latency_ms: float | None
    reconnects: int
    error: str | None = None
    frames_failed: int = 0
    passages_failed: int = 0
    plate_px_p50: float | None = None


FrameCallback = Callable[[Frame, FrameResult], None]


def _median(values: tuple[float, ...]) -> float | None:
    return float(statistics.median(values)) if values else None


class LaneWorker:
    """Runs ``pipeline`` over ``source`` on two threads, passages to ``sink`` (see module doc).

    ``on_frame`` (optional) is called on the processing thread after each frame (the
    preview writer, a progress counter). ``start`` returns at once; ``join`` waits for the
    end of a finite source; ``stop`` ends a live one (open tracks are flushed either way).
    """

    def __init__(
        self,
        source: FrameSource,
        pipeline: LanePipeline,
        sink: EventSink,
        *,
        queue_size: int = 32,
        on_frame: FrameCallback | None = None,
    ) -> None:
        self.source = source
        self.pipeline = pipeline
        self.sink = sink
        self.queue: DropOldestQueue[tuple[Frame, float]] = DropOldestQueue(queue_size)
        self.on_frame = on_frame
        self.last: tuple[Frame, FrameResult] | None = None
        self.lane_id = pipeline.config.lane_id
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._state = "created"
        self._error: str | None = None
        self._error_at = 0.0
        self._fatal = False  # the source or the pipeline broke: the lane stopped ("failed")
        self._frames_in = 0
        self._last_frame_at: float | None = None
        self._latencies: deque[float] = deque(maxlen=256)
        self.passages_emitted = 0
        self.frames_failed = 0
        self.passages_failed = 0

    # --- control ------------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            raise RuntimeError(f"lane {self.lane_id}: worker already started")
        self._state = "running"
        reader = threading.Thread(target=self._read_loop, name=f"lane-{self.lane_id}-source", daemon=True)
        proc = threading.Thread(target=self._process_loop, name=f"lane-{self.lane_id}-pipeline", daemon=True)
        self._threads = [reader, proc]
        reader.start()
        proc.start()

    def stop(self, timeout_s: float | None = 10.0) -> bool:
        """Stop reading, process what is queued, flush open tracks, wait up to ``timeout_s``
        (``None``: as long as it takes) for the threads; False (and an error in the log) when
        they are still running."""
        self._stop.set()
        self.source.close()
        if self.join(timeout_s):
            return True
        log.error(
            "lane %s camera %s: still running %.0f s after being told to stop (%d frame(s) queued, "
            "%d passage(s) delivered): what it has not delivered yet may be lost at exit",
            self.lane_id,
            self.pipeline.config.camera_id,
            timeout_s or 0.0,
            len(self.queue),
            self.passages_emitted,
        )
        return False

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait up to ``timeout_s`` in all for both threads; True when they ended."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    # --- threads ------------------------------------------------------------------------

    def _read_loop(self) -> None:
        try:
            for frame in self.source.frames():
                if self._stop.is_set():
                    break
                with self._lock:
                    self._frames_in += 1
                    self._last_frame_at = time.monotonic()
                item = (frame, time.monotonic())
                if self.source.live:
                    if self.queue.put(item):
                        n = self.queue.dropped
                        if worth_logging(n):
                            log.warning("lane %s: behind, %d frame(s) dropped so far", self.lane_id, n)
                elif not self.queue.put_wait(item, self._stop):
                    break
        except Exception as e:  # a source that breaks must show in the lane's health, not vanish
            log.exception("lane %s: source %s failed", self.lane_id, self.source.name)
            self._fatal_error(f"source failed: {short_error(e)}")
        finally:
            self.queue.close()

    def _process_loop(self) -> None:
        """Frames through the pipeline until the queue is closed and empty. A frame the pipeline
        raises on is skipped and a passage the sink raises on is not delivered: both counted and
        logged, and the lane goes on. Open tracks are flushed into passages at the end, also
        when the callback ``on_frame`` failed (that stops the lane: state ``"failed"``)."""
        try:
            while True:
                item = self.queue.get(0.5)
                if item is None:
                    if self.queue.closed and not len(self.queue):
                        break
                    continue
                frame, arrived = item
                try:
                    result = self.pipeline.process(frame)
                except Exception as e:
                    self._failed("frame", "frame", frame.ts_ms, e)
                    continue
                with self._lock:
                    self._latencies.append((time.monotonic() - arrived) * 1000.0)
                self.last = (frame, result)  # what the lane sees now (an installer's snapshot)
                self._emit(result.passages)
                if self.on_frame is not None:
                    self.on_frame(frame, result)
        except Exception as e:
            log.exception("lane %s camera %s: pipeline failed", self.lane_id, self.pipeline.config.camera_id)
            self._fatal_error(f"pipeline failed: {short_error(e)}")
            self._stop.set()
            self.source.close()
        finally:
            try:
                self._emit(self.pipeline.flush())
            except Exception as e:  # the tracker itself broke: its open passages cannot be made
                log.exception("lane %s: open tracks could not be flushed", self.lane_id)
                self._fatal_error(f"pipeline failed: {short_error(e)}")
            with self._lock:
                self._state = "failed" if self._fatal else "stopped"

    def _fatal_error(self, error: str) -> None:
        with self._lock:
            self._error, self._error_at, self._fatal = error, time.monotonic(), True

    def _failed(self, kind: Literal["frame", "passage"], what: str, ts_ms: int, e: Exception) -> None:
        """Count a frame or passage that failed and log it (``what`` names it); the lane's
        health shows the last error."""
        with self._lock:
            if kind == "frame":
                self.frames_failed += 1
                n = self.frames_failed
            else:
                self.passages_failed += 1
                n = self.passages_failed
            if not self._fatal:  # why the lane stopped stays its error
                self._error = f"{what} failed: {short_error(e)}"
                self._error_at = time.monotonic()
        if worth_logging(n):
            log.error(
                "lane %s camera %s: %s at %d ms failed (%d so far): %s",
                self.lane_id,
                self.pipeline.config.camera_id,
                what,
                ts_ms,
                n,
                short_error(e),
                exc_info=e,
            )

    def _emit(self, passages: tuple[Passage, ...]) -> None:
        for p in passages:
            try:
                self.sink.emit(p)
            except Exception as e:
                self._failed("passage", f"passage {p.passage_id}", p.last_seen_ts_ms, e)
                continue
            self.passages_emitted += 1

    # --- health -------------------------------------------------------------------------

    def health(self) -> LaneHealth:
        c = self.pipeline.counters
        with self._lock:
            age = (
                None if self._last_frame_at is None else int((time.monotonic() - self._last_frame_at) * 1000)
            )
            lat = sum(self._latencies) / len(self._latencies) if self._latencies else None
            state, error, frames_in = self._state, self._error, self._frames_in
            if state == "running" and time.monotonic() - self._error_at > ERROR_SHOWN_S:
                error = None  # an old failure of one frame or passage: the lane has gone on
        reconnecting = getattr(self.source, "connected", True) is False and state == "running"
        failure = getattr(self.source, "last_failure", None)
        if reconnecting and error is None and failure:
            error = f"stream {failure}"  # why it is not receiving, for the lane strip
        return LaneHealth(
            lane_id=self.lane_id,
            source=self.source.name,
            state="reconnecting" if reconnecting else state,
            frames_in=frames_in,
            frames_processed=c.frames,
            frames_detected=c.detected,
            frames_gated=c.gated,
            frames_dropped=self.queue.dropped + int(getattr(self.source, "dropped", 0)),
            queue_depth=len(self.queue),
            last_frame_age_ms=age,
            passages=c.passages,
            plate_read_rate=c.passages_all_read / c.passages_with_plates if c.passages_with_plates else None,
            mean_latency_ms=lat,
            reconnects=int(getattr(self.source, "reconnects", 0)),
            error=error,
            frames_failed=self.frames_failed,
            passages_failed=self.passages_failed,
            plate_px_p50=_median(tuple(c.best_plate_px)),  # a copy in one C call: the worker appends
        )
