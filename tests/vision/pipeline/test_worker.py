from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

import vision.pipeline.worker as worker_module
from vision.pipeline.config import LaneConfig, TrackingConfig
from vision.pipeline.lane import LanePipeline
from vision.pipeline.protocols import LaneModels
from vision.pipeline.sinks import ListSink
from vision.pipeline.sources import PushedFrames, VideoFileSource
from vision.pipeline.testing import CLIP, ConstReader, ScriptedDetector, blank, fixture_truth
from vision.pipeline.track import ByteTracker
from vision.pipeline.truth import TruthDetector
from vision.pipeline.worker import DropOldestQueue, LaneWorker
from vision.types import BBox, Detection, DetectionSet, Frame, Passage


def test_drop_oldest_queue_counts_drops() -> None:
    q: DropOldestQueue[int] = DropOldestQueue(3)
    assert [q.put(i) for i in range(5)] == [False, False, False, True, True]
    assert q.dropped == 2 and len(q) == 3
    assert [q.get(0), q.get(0), q.get(0), q.get(0)] == [2, 3, 4, None]
    q.close()
    assert q.get(1.0) is None  # closed and empty: no wait


def test_put_wait_blocks_until_room_or_stop() -> None:
    q: DropOldestQueue[int] = DropOldestQueue(1)
    q.put_wait(1)
    stop = threading.Event()
    t = threading.Thread(target=lambda: q.put_wait(2, stop))
    t.start()
    time.sleep(0.05)
    assert t.is_alive() and q.dropped == 0
    assert q.get(0) == 1
    t.join(2)
    assert not t.is_alive() and q.get(0) == 2


class SlowDetector:
    """A detector that takes ``delay_s`` per frame and sees nothing."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def detect(self, frame: Frame) -> DetectionSet:
        time.sleep(self.delay_s)
        return DetectionSet((), frame.width_px, frame.height_px)


class BurstSource:
    """A live source that delivers ``n`` frames as fast as it can."""

    live = True
    name = "burst"

    def __init__(self, n: int) -> None:
        self.n = n

    def frames(self) -> Iterator[Frame]:
        for i in range(self.n):
            yield Frame("L1", "cam1", 1_000 + 40 * i, blank(), index=i)

    def close(self) -> None:
        pass


def test_live_source_faster_than_the_pipeline_drops_oldest_and_counts() -> None:
    models = LaneModels(SlowDetector(0.01), ScriptedDetector(lambda i: []), ConstReader(), None)
    worker = LaneWorker(BurstSource(200), LanePipeline(LaneConfig("L1"), models), ListSink(), queue_size=4)
    worker.start()
    assert worker.join(30)
    h = worker.health()
    assert h.frames_in == 200
    assert h.frames_dropped > 0
    assert h.frames_processed + h.frames_dropped == 200  # every frame is either processed or counted
    assert h.state == "stopped" and h.error is None and h.queue_depth == 0
    assert h.mean_latency_ms is not None and h.last_frame_age_ms is not None


def test_file_source_loses_no_frame_and_makes_passages() -> None:
    truth = fixture_truth()
    models = LaneModels(TruthDetector(truth, "vehicle"), TruthDetector(truth, "plate"), ConstReader(), None)
    sink = ListSink()
    seen: list[int] = []
    source = VideoFileSource(CLIP / "clip.mp4", lane_id="L1", start_ts_ms=0)
    worker = LaneWorker(
        source,
        LanePipeline(LaneConfig("L1"), models),
        sink,
        queue_size=2,
        on_frame=lambda f, r: seen.append(f.index),
    )
    worker.start()
    assert worker.join(60)
    h = worker.health()
    assert (h.frames_in, h.frames_processed, h.frames_dropped) == (40, 40, 0)
    assert seen == list(range(40))
    assert len(sink.passages) == 2 and h.passages == 2
    assert h.plate_read_rate == 1.0


def test_a_frame_the_pipeline_fails_on_is_skipped_counted_and_shown() -> None:
    class Broken:
        def detect(self, frame: Frame) -> DetectionSet:
            raise RuntimeError("model exploded\nwith a long second line")

    models = LaneModels(Broken(), ScriptedDetector(lambda i: []), ConstReader(), None)
    worker = LaneWorker(BurstSource(5), LanePipeline(LaneConfig("L1"), models), ListSink(), queue_size=8)
    worker.start()
    assert worker.join(10)
    h = worker.health()
    assert h.state == "stopped" and h.frames_failed == 5  # every frame tried, the lane went on
    assert h.error == "frame failed: RuntimeError: model exploded"  # one line, no traceback


class FlakySink(ListSink):
    """Raises on the first ``n_bad`` passages (a store that is locked), then takes them."""

    def __init__(self, n_bad: int) -> None:
        super().__init__()
        self.n_bad = n_bad

    def emit(self, passage: Passage) -> None:
        if self.n_bad > 0:
            self.n_bad -= 1
            raise OSError("database is locked")
        super().emit(passage)


def test_a_passage_the_sink_fails_on_does_not_stop_the_lane() -> None:
    """The first lorry's passage is refused; the lane goes on and the second lorry's arrives
    (a worker used to end for good on one sink error, losing every lorry after it)."""
    truth = fixture_truth()
    models = LaneModels(TruthDetector(truth, "vehicle"), TruthDetector(truth, "plate"), ConstReader(), None)
    sink = FlakySink(1)
    worker = LaneWorker(
        VideoFileSource(CLIP / "clip.mp4", lane_id="L1", start_ts_ms=0),
        LanePipeline(LaneConfig("L1"), models),
        sink,
    )
    worker.start()
    assert worker.join(60)
    h = worker.health()
    assert len(sink.passages) == 1 and h.passages == 2 and h.passages_failed == 1
    assert worker.passages_emitted == 1 and h.state == "stopped"
    assert h.error is not None and "OSError: database is locked" in h.error


def test_open_tracks_are_flushed_even_when_the_frame_callback_fails() -> None:
    det = Detection(BBox(10, 10, 60, 50), 0, "vehicle", 0.9)
    models = LaneModels(
        ScriptedDetector(lambda i: [det]), ScriptedDetector(lambda i: []), ConstReader(), None
    )
    sink = ListSink()
    cfg = LaneConfig("L1", tracking=TrackingConfig(min_track_ms=0))

    def preview(frame: Frame, result: object) -> None:
        if frame.index == 3:
            raise OSError("No space left on device")

    worker = LaneWorker(BurstSource(5), LanePipeline(cfg, models), sink, on_frame=preview)
    worker.start()
    assert worker.join(10)
    h = worker.health()
    assert h.state == "failed" and h.error == "pipeline failed: OSError: No space left on device"
    assert len(sink.passages) == 1  # the lorry in view when it broke: its passage was made
    # the same, into a sink that refuses that passage too: why the lane stopped stays its error
    refusing = FlakySink(1)
    worker = LaneWorker(BurstSource(5), LanePipeline(cfg, models), refusing, on_frame=preview)
    worker.start()
    assert worker.join(10)
    h = worker.health()
    assert h.passages_failed == 1 and h.error == "pipeline failed: OSError: No space left on device"


def test_a_failure_shows_for_a_minute_on_a_running_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    det = Detection(BBox(10, 10, 60, 50), 0, "vehicle", 0.9)
    models = LaneModels(
        ScriptedDetector(lambda i: [det]), ScriptedDetector(lambda i: []), ConstReader(), None
    )
    source = PushedFrames("L1")
    worker = LaneWorker(source, LanePipeline(LaneConfig("L1"), models), ListSink())
    worker._failed("frame", "frame", 1_000, RuntimeError("once"))
    assert worker.health().error == "frame failed: RuntimeError: once"
    worker._state = "running"
    monkeypatch.setattr(worker_module, "ERROR_SHOWN_S", 0.0)
    h = worker.health()
    assert h.error is None and h.frames_failed == 1  # gone from the status; still counted


def test_stop_ends_a_pushed_lane_and_flushes_open_tracks() -> None:
    det = Detection(BBox(10, 10, 60, 50), 0, "vehicle", 0.9)
    models = LaneModels(
        ScriptedDetector(lambda i: [det]), ScriptedDetector(lambda i: []), ConstReader(), None
    )
    source = PushedFrames("L1", max_queue=8)
    sink = ListSink()
    cfg = LaneConfig("L1", tracking=TrackingConfig(min_track_ms=0))  # 5 frames: 160 ms in view
    worker = LaneWorker(source, LanePipeline(cfg, models), sink)
    worker.start()
    for i in range(5):
        source.submit(Frame("L1", "cam", 1_000 + 40 * i, blank()))
    deadline = time.monotonic() + 10
    while worker.health().frames_processed < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.passages == []  # the vehicle is still in view
    worker.stop()
    assert len(sink.passages) == 1 and not worker.running


def test_byte_tracker_keeps_ids_and_reports_first_sightings() -> None:
    t = ByteTracker(lost_ms=500)
    boxes = [
        np.array([[10.0 + 5 * k, 10, 60 + 5 * k, 50], [200 - 5 * k, 10, 250 - 5 * k, 50]]) for k in range(4)
    ]
    conf = np.array([0.9, 0.9])
    first = t.update(boxes[0], conf, 0)
    assert first.ids == (-1, -1)  # ByteTrack confirms a track on its second sighting
    second = t.update(boxes[1], conf, 40)
    assert all(i >= 0 for i in second.ids) and len(set(second.ids)) == 2
    assert {second.grew_from[i] for i in second.ids} == {0, 1}  # each grew from its own first box
    assert second.grew_from[second.ids[0]] == 0
    third = t.update(boxes[2], conf, 80)
    assert third.ids == second.ids and third.grew_from == {}
    assert t.update(boxes[3], conf, 80).ids == second.ids  # same time: moved 1 ms on, still tracked
