from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from api.actionlist import import_action_list
from api.app import AppState
from api.db.models import Flag, PassageRow
from api.db.session import session_scope
from api.events import EventHub, LaneRegistry, PassageRecorder
from api.flags import FlagRules
from api.lane_runner import LaneRunner, lane_config, lane_config_for, run_lanes
from api.matching import Matcher
from api.schemas.lanes import LaneStatus
from api.settings import LaneSettings, PipelineSettings, Settings
from api.sinks import StoreSink
from vision.pipeline.config import RegionOfInterest
from vision.pipeline.protocols import LaneModels
from vision.pipeline.sinks import JsonlSink
from vision.pipeline.sources import FrameRefused
from vision.pipeline.testing import CLIP, ConstClassifier, ConstReader, fixture_truth
from vision.pipeline.truth import TruthDetector
from vision.types import BodyType, Frame, Passage, PassagePlate, PlateRole, ReadStatus, TrailerVerdict

LIST = (
    b"mark,kind,haulier,penalty_ref,amount_gbp,date,notes\nAB12CDE,vehicle,Acme Ltd,CP-1,1500,2024-01-05,\n"
)


def truth_models(roi: RegionOfInterest) -> LaneModels:
    truth = fixture_truth()
    return LaneModels(
        TruthDetector(truth, "vehicle"),
        TruthDetector(truth, "plate"),
        ConstReader("AB12CDE"),
        ConstClassifier(BodyType.TILT),
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        pipeline=PipelineSettings(demo_clip=CLIP / "clip.mp4", detect_interval_ms=0, close_after_ms=300),
    )


def wait_for(cond: object, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)
    assert cond(), "timed out"  # type: ignore[operator]


def test_lane_config_from_settings() -> None:
    p = PipelineSettings(detect_interval_ms=40, close_after_ms=900, min_plate_height_px=15)
    lane = LaneSettings(lane_id="L7", view="rear", roi=[(0.1, 0.0), (0.9, 0.0), (0.9, 1.0)], motion_gate=True)
    cfg = lane_config_for(p, lane)
    assert cfg.lane_id == "L7" and cfg.view == "rear" and cfg.motion_gate.enabled
    assert cfg.roi.polygon == ((0.1, 0.0), (0.9, 0.0), (0.9, 1.0))
    assert cfg.tracking.detect_interval_ms == 40 and cfg.tracking.close_after_ms == 900
    assert cfg.reads.min_plate_height_px == 15
    assert lane_config(p, "X").roi.whole_frame


def test_demo_lane_stores_passages_and_flags(settings: Settings, sqlite_engine: Engine) -> None:
    """The demo clip through the lane runner: one passage per lorry in the store, an action-list
    flag for the plate, evidence crops on disk, lane health published."""
    with session_scope(sqlite_engine) as s:
        import_action_list(s, LIST, source_name="list.csv")
        from api.actionlist import build_matcher

        matcher = build_matcher(s)
    outcomes: list[str] = []
    sink = StoreSink(
        sqlite_engine,
        matcher,
        FlagRules.from_settings(settings.flags),
        data_dir=settings.data_dir,
        on_outcome=lambda p, o: outcomes.append(o.action.value),
    )
    runner = LaneRunner(settings, truth_models, sink)
    worker = runner.start_demo(realtime=False, loop=False)
    assert worker.join(60)
    registry = LaneRegistry()
    runner.publish(registry)
    with session_scope(sqlite_engine) as s:
        rows = s.scalars(select(PassageRow)).all()
        assert len(rows) == 2 and {r.lane_id for r in rows} == {"demo"}
        assert all(r.body_type == "tilt" and r.plates[0].text == "AB12CDE" for r in rows)
        assert all((settings.data_dir / str(r.body_crop_path)).is_file() for r in rows)
        assert s.scalar(select(func.count()).select_from(Flag)) == 1  # the second passage joins the open flag
    assert outcomes == ["created", "updated"]
    health = registry.get("demo")
    assert health is not None and health.frames_received == 40
    assert health.status is LaneStatus.UNKNOWN and health.message.startswith("ended:")  # not down: done
    assert "2 passages" in health.message
    assert health.plate_height_px_p50 is not None and health.plate_height_px_p50 > 21  # large enough
    assert "plates small" not in health.message


def test_a_lane_whose_plates_are_small_tells_the_installer(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", pipeline=PipelineSettings(lanes=[LaneSettings(lane_id="P1")])
    )
    runner = LaneRunner(settings, truth_models, StoreSinkStub())
    runner.start_configured()
    worker = runner.workers[("P1", "cam1")]
    worker.pipeline.counters.best_plate_px.extend([14.0, 16.0, 17.0, 30.0])
    registry = LaneRegistry()
    runner.publish(registry)
    lane = registry.get("P1")
    assert lane is not None and lane.plate_height_px_p50 == 16.5
    assert "plates small: 16 px high" in lane.message and "zoom in" in lane.message
    runner.stop()


def test_pushed_frames_start_a_lane_on_demand(settings: Settings) -> None:
    stored: list[str] = []

    class Sink:
        def emit(self, passage: Passage) -> None:
            stored.append(passage.lane_id)

        def close(self) -> None:
            pass

    runner = LaneRunner(settings, truth_models, Sink())
    from vision.pipeline.sources import VideoFileSource

    frames = list(VideoFileSource(CLIP / "clip.mp4", lane_id="P1", start_ts_ms=0).frames())
    for f in frames:
        # the router is what the frames endpoint calls (state.frame_sink.submit)
        while not runner.router.submit(Frame("P1", "cam9", f.ts_ms, f.image, f.index)):
            time.sleep(0.01)  # the pushed queue was full: the oldest was dropped; slow down for the test
    assert runner.router.lanes() == ("P1",)
    wait_for(lambda: runner.workers[("P1", "pushed")].health().frames_processed >= 30)
    runner.stop()
    assert stored and set(stored) == {"P1"}
    registry = LaneRegistry()
    runner.publish(registry)
    lane = registry.get("P1")
    assert lane is not None and lane.source == "push:P1"


def test_too_many_pushed_lanes_are_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", pipeline=PipelineSettings(max_pushed_lanes=1))
    runner = LaneRunner(settings, truth_models, StoreSinkStub())
    img = np.zeros((72, 128, 3), np.uint8)
    assert runner.router.submit(Frame("A", "c", 1, img))
    with pytest.raises(FrameRefused, match=r"already runs 1 lanes of pushed frames.*max_pushed_lanes \(1\)"):
        runner.router.submit(Frame("B", "c", 1, img))
    runner.stop()


def test_with_lanes_configured_a_lane_not_listed_is_refused_not_started(tmp_path: Path) -> None:
    # a typo in a camera's URL had started a lane of its own, which then stayed down for good
    settings = Settings(
        data_dir=tmp_path / "data", pipeline=PipelineSettings(lanes=[LaneSettings(lane_id="P1")])
    )
    runner = LaneRunner(settings, truth_models, StoreSinkStub())
    runner.start_configured()
    img = np.zeros((72, 128, 3), np.uint8)
    assert runner.router.submit(Frame("P1", "c", 1, img))
    with pytest.raises(FrameRefused, match=r"no lane 'P11' in pipeline.lanes \(P1\): check the lane id"):
        runner.router.submit(Frame("P11", "c", 1, img))
    assert runner.router.lanes() == ("P1",)
    runner.stop()


def test_a_lane_that_cannot_start_is_down_with_why_and_the_others_run(tmp_path: Path) -> None:
    lanes = [
        LaneSettings(lane_id="F1", source=str(tmp_path / "missing.mp4")),
        LaneSettings(lane_id="S1", source="rstp://cam/lane1"),  # a typo, not a file of that name
        LaneSettings(lane_id="P1"),
    ]
    settings = Settings(data_dir=tmp_path / "data", pipeline=PipelineSettings(lanes=lanes))
    runner = LaneRunner(settings, truth_models, StoreSinkStub())
    failed = runner.start_configured()
    assert (
        set(failed) == {("F1", "cam1"), ("S1", "cam1")}
        and "unknown URL scheme 'rstp'" in failed[("S1", "cam1")]
    )
    img = np.zeros((72, 128, 3), np.uint8)
    assert runner.router.submit(Frame("P1", "c", 1, img))  # the pushed lane runs
    registry = LaneRegistry()
    runner.publish(registry)
    f1, s1 = registry.get("F1"), registry.get("S1")
    assert f1 is not None and f1.status is LaneStatus.DOWN and "did not start" in f1.message
    assert s1 is not None and s1.status is LaneStatus.DOWN and "rstp" in s1.message
    runner.stop()


def test_a_two_camera_lane_one_of_whose_cameras_did_not_start_is_degraded_with_why(tmp_path: Path) -> None:
    lanes = [
        LaneSettings(lane_id="L2", camera_id="front", view="front"),
        LaneSettings(lane_id="L2", camera_id="rear", view="rear", source=str(tmp_path / "rear.mp4")),
        LaneSettings(lane_id="T1", source="rstp://cam/1"),
    ]
    settings = Settings(data_dir=tmp_path / "data", pipeline=PipelineSettings(lanes=lanes))
    runner = LaneRunner(settings, truth_models, StoreSinkStub())
    assert set(runner.start_configured()) == {("L2", "rear"), ("T1", "cam1")}
    registry = LaneRegistry()
    runner.publish(registry)
    l2 = registry.get("L2")
    assert l2 is not None and l2.status is LaneStatus.DEGRADED  # it had shown ok, each passage waiting 60 s
    assert l2.message.startswith("camera rear did not start: video file not found")
    # the merger does not wait for the camera that never runs (each passage had waited 60 s)
    assert runner.mergers["L2"]._cameras["rear"].finished
    img = np.zeros((72, 128, 3), np.uint8)
    with pytest.raises(FrameRefused, match=r"lane 'T1' did not start: .*unknown URL scheme"):
        runner.router.submit(Frame("T1", "c", 1, img))  # not "no lane 'T1' in pipeline.lanes (..., T1)"
    runner.stop()


def test_a_pushed_lanes_drops_in_its_pipelines_queue_are_counted(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", pipeline=PipelineSettings(queue_size=1))
    gate = threading.Event()

    def slow_models(roi: RegionOfInterest) -> LaneModels:
        m = truth_models(roi)

        class Held:
            def detect(self, frame: Frame) -> object:
                gate.wait(10)
                return m.vehicle_detector.detect(frame)

        return LaneModels(Held(), m.plate_detector, m.plate_reader, m.body_classifier)  # type: ignore[arg-type]

    runner = LaneRunner(settings, slow_models, StoreSinkStub())
    img = np.zeros((72, 128, 3), np.uint8)
    for i in range(40):  # the pipeline holds its first frame: the queues fill and drop
        runner.router.submit(Frame("P1", "c", 1 + i, img))
        time.sleep(0.005)
    registry = LaneRegistry()
    runner.publish(registry)
    lane = registry.get("P1")
    health = runner.workers[("P1", "pushed")].health()
    assert lane is not None and health.frames_dropped > 0 and lane.frames_dropped == health.frames_dropped
    gate.set()
    runner.stop()


def test_a_file_lane_played_to_its_end_is_ended_not_down(tmp_path: Path) -> None:
    # it had stayed "down", and /health degraded, until a restart; configured, it plays in real
    # time (4 s here), as the service plays it
    lane = LaneSettings(lane_id="F1", source=str(CLIP / "clip.mp4"))
    settings = Settings(data_dir=tmp_path / "data", pipeline=PipelineSettings(lanes=[lane]))
    runner = LaneRunner(settings, truth_models, StoreSinkStub())
    assert runner.start_configured() == {}
    worker = runner.workers[("F1", "cam1")]
    wait_for(lambda: worker.health().state == "stopped", 60)
    registry = LaneRegistry()
    runner.publish(registry)
    f1 = registry.get("F1")
    assert f1 is not None and f1.status is LaneStatus.UNKNOWN and f1.message.startswith("ended:")
    assert "loop = true" in f1.message
    runner.stop()


class StoreSinkStub:
    def emit(self, passage: object) -> None:
        pass

    def close(self) -> None:
        pass


def test_run_lanes_hook_feeds_the_recorder_and_the_registry(
    settings: Settings, sqlite_engine: Engine
) -> None:
    """The app's hook: started with the app state, replaces the frame sink, publishes health,
    passages go through the recorder (store + live-queue notification); cancel stops it."""
    hub, lanes = EventHub(), LaneRegistry()
    recorder = PassageRecorder(engine=sqlite_engine, settings=settings, hub=hub, lanes=lanes)
    recorder.matcher = Matcher(())
    state = AppState(settings=settings, engine=sqlite_engine, hub=hub, lanes=lanes, recorder=recorder)

    async def main() -> None:
        task = asyncio.create_task(run_lanes(state, demo=True, models_for=truth_models, publish_s=0.05))
        deadline = time.monotonic() + 60
        while recorder.counts["none"] + recorder.counts["created"] + recorder.counts["updated"] < 2:
            assert time.monotonic() < deadline and not task.done()
            await asyncio.sleep(0.05)
        assert state.frame_sink is not None and hasattr(state.frame_sink, "lanes")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    demo = lanes.get("demo")
    assert demo is not None and demo.passages >= 2 and demo.source.endswith("clip.mp4")
    assert hub.notifications >= 1  # soft-sided (tilt) lorries are flagged, the live queue woken


def test_passages_a_locked_store_refused_are_spooled_then_replayed_and_the_lane_goes_on(
    settings: Settings, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store refuses the first passage (another process holds it locked past the busy
    timeout): the passage goes to the spool, the lane goes on, and the spool is replayed once
    the store takes passages again. A lane used to stop for good on one store error and lose
    every lorry after it."""
    settings = settings.model_copy(
        update={"pipeline": settings.pipeline.model_copy(update={"store_retry_s": 0.0})}
    )
    hub, lanes = EventHub(), LaneRegistry()
    recorder = PassageRecorder(engine=sqlite_engine, settings=settings, hub=hub, lanes=lanes)
    state = AppState(settings=settings, engine=sqlite_engine, hub=hub, lanes=lanes, recorder=recorder)
    real_record = recorder.record
    refused: list[str] = []

    def locked_once(passage: Passage) -> object:
        if not refused:
            refused.append(passage.passage_id)
            raise OperationalError("INSERT INTO passages ...", {}, Exception("database is locked"))
        return real_record(passage)

    monkeypatch.setattr(recorder, "record", locked_once)

    def stored() -> set[str]:
        with session_scope(sqlite_engine) as s:
            return set(s.scalars(select(PassageRow.passage_uid)))

    async def main() -> None:
        task = asyncio.create_task(run_lanes(state, demo=True, models_for=truth_models, publish_s=0.05))
        deadline = time.monotonic() + 60
        while not (refused and refused[0] in stored()):
            assert time.monotonic() < deadline and not task.done()
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    kept = state.passage_sink
    assert (
        kept is not None and kept.counts.spooled == 1 and kept.counts.replayed == 1 and kept.counts.lost == 0
    )
    assert len(stored()) >= 2  # the refused lorry and the one whose storing brought the spool back
    spool = settings.data_dir / "spool"
    assert not (spool / "passages.jsonl").exists() and (spool / "passages.replayed.jsonl").is_file()


def test_an_action_list_imported_by_another_process_is_used_for_the_next_passage(
    settings: Settings, sqlite_engine: Engine
) -> None:
    """``hgv-lane actionlist import`` writes the store from another process; the running
    service's matcher must not go on matching the old list (it had: a mark added that way never
    raised a flag, one removed went on raising them)."""
    hub, lanes = EventHub(), LaneRegistry()
    recorder = PassageRecorder(engine=sqlite_engine, settings=settings, hub=hub, lanes=lanes)
    recorder.rebuild_matcher()  # the service's start: an empty list

    def lorry(pid: str) -> Passage:
        plate = PassagePlate(PlateRole.FRONT, "AB12CDE", 0.95, ReadStatus.COMMITTED, country="UK", n_looks=3)
        return Passage(pid, "L1", 1_000, 2_000, (plate,), TrailerVerdict(BodyType.BOX, 0.9, 3))

    assert recorder.record(lorry("L1-a")).flag_id is None
    with session_scope(sqlite_engine) as s:  # the CLI, another process: the service is not told
        import_action_list(s, LIST, source_name="list.csv")
    outcome = recorder.record(lorry("L1-b"))
    assert outcome.flag_id is not None and recorder.matcher.version_id is not None


def test_a_spool_left_from_before_is_replayed_at_start(settings: Settings, sqlite_engine: Engine) -> None:
    left = JsonlSink(settings.data_dir / "spool" / "passages.jsonl")
    left.emit(Passage("L9-old-1", "L9", 1_000, 2_000, (), TrailerVerdict(BodyType.TILT, 0.9, 3)))
    left.close()
    hub, lanes = EventHub(), LaneRegistry()
    recorder = PassageRecorder(engine=sqlite_engine, settings=settings, hub=hub, lanes=lanes)
    state = AppState(settings=settings, engine=sqlite_engine, hub=hub, lanes=lanes, recorder=recorder)

    async def main() -> None:
        task = asyncio.create_task(run_lanes(state, models_for=truth_models, publish_s=0.05))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    with session_scope(sqlite_engine) as s:
        assert s.scalars(select(PassageRow.passage_uid)).all() == ["L9-old-1"]
    assert state.passage_sink is not None and state.passage_sink.counts.replayed == 1


def test_a_lane_with_a_front_and_a_rear_camera_makes_one_passage_per_lorry(tmp_path: Path) -> None:
    """Lane L2 listed twice (front camera f, rear camera r, each playing the fixture clip in real
    time): one pipeline per camera, their passages merged, one passage per lorry with both
    cameras' ids; the strip shows one lane."""
    lanes = [
        LaneSettings(lane_id="L2", camera_id="f", view="front", source=str(CLIP / "clip.mp4")),
        LaneSettings(lane_id="L2", camera_id="r", view="rear", source=str(CLIP / "clip.mp4")),
    ]
    settings = Settings(
        data_dir=tmp_path / "data",
        pipeline=PipelineSettings(detect_interval_ms=0, close_after_ms=300, lanes=lanes),
    )
    stored: list[Passage] = []

    class Sink:
        def emit(self, passage: Passage) -> None:
            stored.append(passage)

        def close(self) -> None:
            pass

    runner = LaneRunner(settings, truth_models, Sink())
    assert set(runner.mergers) == {"L2"}
    runner.start_configured()
    assert set(runner.workers) == {("L2", "f"), ("L2", "r")}
    wait_for(lambda: all(not w.running for w in runner.workers.values()), 60)
    runner.stop()
    assert len(stored) == 2
    assert all(p.camera_ids == ("f", "r") for p in stored)
    assert all({pl.role.value for pl in p.plates} == {"front", "rear"} for p in stored)
    merger = runner.mergers["L2"]
    assert (merger.counters.merged, merger.counters.alone, merger.waiting) == (2, 0, 0)
    registry = LaneRegistry()
    runner.publish(registry)
    lane = registry.get("L2")
    assert lane is not None and "camera f:" in lane.message and "camera r:" in lane.message
    assert "merged 2" in lane.message and lane.source.count("clip.mp4") == 2


def test_two_camera_lanes_in_settings() -> None:
    front = LaneSettings(lane_id="L2", camera_id="f", view="front")
    PipelineSettings(lanes=[front, LaneSettings(lane_id="L2", camera_id="r", view="rear")])
    with pytest.raises(ValueError, match="at most one front"):
        PipelineSettings(lanes=[front, LaneSettings(lane_id="L2", camera_id="g", view="front")])
    side, high = (LaneSettings(lane_id="L2", camera_id=c, view=c) for c in ("side", "high_side"))
    with pytest.raises(ValueError, match="at most one front"):
        PipelineSettings(lanes=[front, side, high])
    three = PipelineSettings(lanes=[front, side, LaneSettings(lane_id="L2", camera_id="r", view="rear")])
    merger = LaneRunner(Settings(pipeline=three), truth_models, StoreSinkStub()).mergers["L2"]
    assert merger.feed("side").camera_id == "side"
    with pytest.raises(ValueError, match="different camera_id"):
        PipelineSettings(lanes=[front, LaneSettings(lane_id="L2", camera_id="f", view="rear")])
    off = PipelineSettings(
        lanes=[front, LaneSettings(lane_id="L2", camera_id="r", view="rear")], merge_cameras=False
    )
    assert LaneRunner(Settings(pipeline=off), truth_models, StoreSinkStub()).mergers == {}


def test_pushed_frames_of_a_two_camera_lane_reach_each_cameras_pipeline(tmp_path: Path) -> None:
    lanes = [
        LaneSettings(lane_id="L3", camera_id="f", view="front"),
        LaneSettings(lane_id="L3", camera_id="r", view="rear"),
    ]
    settings = Settings(data_dir=tmp_path / "data", pipeline=PipelineSettings(lanes=lanes))
    runner = LaneRunner(settings, truth_models, StoreSinkStub())
    runner.start_configured()
    img = np.zeros((72, 128, 3), np.uint8)
    assert runner.router.submit(Frame("L3", "f", 1, img)) and runner.router.submit(Frame("L3", "r", 1, img))
    with pytest.raises(FrameRefused, match="from cameras f, r only"):  # neither of the lane's cameras
        runner.router.submit(Frame("L3", "x", 1, img))
    assert runner.router.lanes() == ("L3",)
    wait_for(lambda: all(w.health().frames_processed == 1 for w in runner.workers.values()))
    runner.stop()


def test_a_lane_snapshot_shows_what_the_camera_sees_with_its_region(tmp_path: Path) -> None:
    # an installer had no way to see whether the region of interest covers the lane
    lane = LaneSettings(lane_id="P1", roi=[(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)])
    settings = Settings(data_dir=tmp_path / "data", pipeline=PipelineSettings(lanes=[lane]))
    runner = LaneRunner(settings, truth_models, StoreSinkStub())
    runner.start_configured()
    assert runner.snapshot("P1") is None  # no frame yet
    img = np.zeros((72, 128, 3), np.uint8)
    runner.router.submit(Frame("P1", "c", 1, img))
    wait_for(lambda: runner.snapshot("P1") is not None, 10)
    shot = runner.snapshot("P1")
    assert shot is not None and shot[0] == "cam1"
    drawn = cv2.imdecode(np.frombuffer(shot[1], np.uint8), cv2.IMREAD_COLOR)
    assert drawn is not None and drawn.shape == (72, 128, 3)
    assert drawn[36, 13, 1] > 120 and drawn[36, 13, 2] < 80  # the green region's left edge at x = 0.1
    assert runner.snapshot("P1", "other") is None and runner.snapshot("P2") is None
    runner.stop()


def test_a_lanes_gated_frames_are_published_for_the_installer(tmp_path: Path) -> None:
    # nothing had shown whether the motion gate works
    lane = LaneSettings(lane_id="P1", motion_gate=True)
    settings = Settings(
        data_dir=tmp_path / "data", pipeline=PipelineSettings(lanes=[lane], detect_interval_ms=0)
    )
    runner = LaneRunner(settings, truth_models, StoreSinkStub())
    runner.start_configured()
    img = np.zeros((72, 128, 3), np.uint8)
    for i in range(30):  # an empty lane: nothing moves
        runner.router.submit(Frame("P1", "c", 1 + 100 * i, img))
        time.sleep(0.01)
    worker = runner.workers[("P1", "cam1")]
    wait_for(lambda: worker.health().frames_processed >= 20, 10)
    registry = LaneRegistry()
    runner.publish(registry)
    p1 = registry.get("P1")
    assert p1 is not None and p1.frames_gated > 0 and p1.frames_gated == worker.health().frames_gated
    runner.stop()
