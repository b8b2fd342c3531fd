from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vision.pipeline.sources import (
    Backoff,
    FrameRefused,
    ImageFolderSource,
    LaneDown,
    PushedFrameRouter,
    PushedFrames,
    SourceError,
    StreamSource,
    VideoFileSource,
    open_source,
    probe_source,
    redact_url,
)
from vision.pipeline.testing import CLIP, blank
from vision.types import Frame


def test_video_file_frames_have_file_times_and_indices() -> None:
    src = VideoFileSource(CLIP / "clip.mp4", lane_id="L1", start_ts_ms=1_000)
    frames = list(src.frames())
    assert len(frames) == 40 == src.frame_count
    assert src.fps == pytest.approx(10.0)
    assert [f.index for f in frames[:3]] == [0, 1, 2]
    assert [f.ts_ms for f in frames[:3]] == [1_000, 1_100, 1_200]
    assert frames[0].image.shape == (720, 1280, 3) and frames[0].lane_id == "L1"
    assert not src.live


def test_video_file_loops_with_increasing_times() -> None:
    src = VideoFileSource(CLIP / "clip.mp4", lane_id="L1", start_ts_ms=0, loop=True)
    got: list[Frame] = []
    for f in src.frames():
        got.append(f)
        if len(got) == 45:
            src.close()
    assert len(got) == 45
    assert got[44].index == 44 and got[44].ts_ms == 4_400  # the second loop keeps counting


def test_missing_file_and_empty_folder_are_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        VideoFileSource(tmp_path / "nope.mp4", lane_id="L1")
    with pytest.raises(SourceError, match="no images"):
        ImageFolderSource(tmp_path, lane_id="L1")


def test_image_folder_in_name_order_skipping_bad_files(tmp_path: Path) -> None:
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), blank(value=10 * i))
    (tmp_path / "003.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    src = open_source(tmp_path, lane_id="L1", fps=5.0, start_ts_ms=0)
    assert isinstance(src, ImageFolderSource)
    frames = list(src.frames())
    assert [int(f.image[0, 0, 0]) for f in frames] == [0, 10, 20]
    assert [f.ts_ms for f in frames] == [0, 200, 400]
    (tmp_path / "001.png").write_bytes(b"")  # a damaged image in the middle keeps its time slot
    frames = list(open_source(tmp_path, lane_id="L1", fps=5.0, start_ts_ms=0).frames())
    assert [f.ts_ms for f in frames] == [0, 400] and [f.index for f in frames] == [0, 1]
    assert src.skipped == 1


def test_open_source_picks_stream_for_urls() -> None:
    assert isinstance(open_source("rtsp://cam.example/lane1", lane_id="L1"), StreamSource)
    assert isinstance(open_source("http://cam.example/mjpeg", lane_id="L1"), StreamSource)


class FakeCapture:
    """Opens when told to; yields ``n`` frames then fails (stream loss)."""

    def __init__(self, opens: bool, n: int) -> None:
        self.opens, self.n, self.released = opens, n, False

    def isOpened(self) -> bool:
        return self.opens

    def read(self) -> tuple[bool, Any]:
        if self.n <= 0:
            return False, None
        self.n -= 1
        return True, blank()

    def release(self) -> None:
        self.released = True


def test_backoff_doubles_up_to_the_cap() -> None:
    b = Backoff(initial_s=0.5, factor=2.0, max_s=3.0)
    assert [b.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_stream_reconnects_with_backoff_and_counts() -> None:
    # open fails twice, then gives 3 frames and drops, then fails once, then 2 frames
    script = [
        FakeCapture(False, 0),
        FakeCapture(False, 0),
        FakeCapture(True, 3),
        FakeCapture(False, 0),
        FakeCapture(True, 2),
    ]
    opened: list[FakeCapture] = []

    def open_fn(url: str) -> FakeCapture:
        cap = script[len(opened)] if len(opened) < len(script) else FakeCapture(False, 0)
        opened.append(cap)
        return cap

    waits: list[float] = []
    src = StreamSource(
        "rtsp://cam/lane1",
        lane_id="L1",
        backoff=Backoff(initial_s=0.001, factor=2.0, max_s=0.004),
        open_fn=open_fn,
        clock_ms=lambda: 42,
        max_failures=3,
    )
    real_wait = src._stop.wait

    def recording_wait(timeout: float | None = None) -> bool:
        waits.append(float(timeout or 0))
        return real_wait(0)

    src._stop.wait = recording_wait  # type: ignore[method-assign]
    frames = list(src.frames())
    assert len(frames) == 5 and [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert all(f.ts_ms == 42 and f.lane_id == "L1" for f in frames)
    # open fails, fails, 3 frames then loss (back to the first delay), fails, 2 frames, loss, 3 fails: give up
    assert waits[:3] == [0.001, 0.002, 0.001]
    assert max(waits) <= 0.004
    assert src.reconnects == len(opened) - 1
    assert all(c.released for c in opened)


def test_stream_close_ends_a_waiting_source() -> None:
    src = StreamSource(
        "rtsp://cam/down",
        lane_id="L1",
        backoff=Backoff(initial_s=30.0),
        open_fn=lambda u: FakeCapture(False, 0),
    )
    out: list[Frame] = []
    t = threading.Thread(target=lambda: out.extend(src.frames()))
    t.start()
    src.close()
    t.join(5)
    assert not t.is_alive() and out == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "rtsp://camadmin:Sup3r%40S3cret@10.0.0.7:554/Streaming/101",
            "rtsp://camadmin:***@10.0.0.7:554/Streaming/101",
        ),
        ("rtsp://admin@cam/lane1", "rtsp://admin@cam/lane1"),
        (
            "http://cam/video.cgi?user=admin&Password=hunter2&res=hd",
            "http://cam/video.cgi?user=admin&Password=***&res=hd",
        ),
        ("rtsp://cam/lane1", "rtsp://cam/lane1"),
    ],
)
def test_a_streams_password_is_never_shown_or_logged(
    url: str, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    src = StreamSource(
        url,
        lane_id="L1",
        open_fn=lambda u: FakeCapture(False, 0),
        max_failures=1,
        backoff=Backoff(initial_s=0.001),
    )
    with caplog.at_level(logging.INFO):
        assert list(src.frames()) == []
    assert src.name == redact_url(url) == shown and src.url == url  # the real URL still opens the camera
    assert caplog.messages and all(shown in m for m in caplog.messages)
    assert not any(secret in caplog.text for secret in ("Sup3r", "hunter2"))
    # a camera that never answered is said to be unreachable, not "lost"; the lane shows why
    assert src.last_failure is not None and src.last_failure.startswith("did not open")
    assert "did not open" in caplog.text and "lost" not in caplog.text


def test_a_lanes_source_is_probed_for_an_installer(tmp_path: Path) -> None:
    ok, detail = probe_source(CLIP / "clip.mp4")
    assert ok and detail.endswith("1280x720, 40 frames at 10 fps")
    assert probe_source(tmp_path / "missing.mp4") == (
        False,
        f"video file not found: {tmp_path / 'missing.mp4'}",
    )
    ok, detail = probe_source("rstp://cam/1")
    assert not ok and "unknown URL scheme 'rstp'" in detail
    ok, detail = probe_source("rtsp://admin:pw@127.0.0.1:9/stream")  # nothing listens: refused at once
    assert not ok and "did not open" in detail and "admin:***@" in detail and "pw@" not in detail


def test_a_camera_clock_that_steps_is_timed_by_arrival_and_comes_back() -> None:
    # squeezed 1 ms apart after a 590 s step back, 600 frames made no passage: time stood still;
    # a shift kept forever had then put the lane ahead once the clock stepped forward again
    arrivals = iter([1_000_050, 1_000_150, 1_000_350, 1_000_450, 1_000_650, 1_000_750, 1_000_850, 1_000_950])
    src = PushedFrames("L1", max_queue=100, clock_ms=lambda: next(arrivals))
    img = blank()
    sent = [1_000_000, 1_000_100, 410_300, 410_400, 1_000_600, 997_000, 1_000_800, 1_000_900]
    for ts in sent:  # normal, normal, a 590 s step back, on, NTP forward again, a 3 s straggler, normal
        src.submit(Frame("L1", "c", ts, img))
    out = [f.ts_ms for _, f in zip(range(len(sent)), src.frames(), strict=False)]
    assert out[:2] == [1_000_000, 1_000_100]  # the camera's own times while they agree
    assert out[2:4] == [1_000_350, 1_000_450]  # stepped back: by arrival, 100 ms apart as sent
    assert out[4] == 1_000_650  # forward again: not 590 s ahead of the service
    assert out[5] == 1_000_750 and out[6:] == [1_000_850, 1_000_950]  # a straggler costs nothing after


def test_pushed_frames_drop_oldest_and_count() -> None:
    src = PushedFrames("L1", max_queue=2)
    img = blank()
    results = [src.submit(Frame("L1", "cam", ts, img)) for ts in (10, 20, 30, 25)]
    assert results == [True, True, False, False]
    assert src.dropped == 2 and src.received == 4
    src.close()
    assert list(src.frames()) == []  # closed: ends at once
    with pytest.raises(LaneDown, match="lane 'L1' is not running"):  # not "queued", then "dropped"
        src.submit(Frame("L1", "cam", 40, img))
    assert src.received == 4
    src2 = PushedFrames("L1", max_queue=4)
    for ts in (10, 30, 30, 20):
        src2.submit(Frame("L1", "cam", ts, img))
    got: list[Frame] = []
    for f in src2.frames():
        got.append(f)
        if len(got) == 4:
            src2.close()
    assert [f.ts_ms for f in got] == [10, 30, 31, 32]  # times made strictly increasing
    with pytest.raises(ValueError, match="lane"):
        src2.submit(Frame("L2", "cam", 1, img))


def test_router_starts_lanes_on_demand_and_refuses_when_told() -> None:
    made: list[str] = []

    def new_lane(lane: str) -> PushedFrames | None:
        if lane == "closed":
            return None
        made.append(lane)
        return PushedFrames(lane)

    router = PushedFrameRouter(on_new_lane=new_lane)
    img = np.zeros((8, 8, 3), np.uint8)
    assert router.submit(Frame("A", "c", 1, img))
    assert router.submit(Frame("A", "c", 2, img))
    with pytest.raises(FrameRefused, match="lane 'closed' takes no pushed frames"):
        router.submit(Frame("closed", "c", 1, img))
    assert made == ["A"] and router.lanes() == ("A",) and router.refused == 1


def test_a_two_camera_lane_refuses_a_third_camera_with_the_reason() -> None:
    router = PushedFrameRouter(on_new_lane=lambda lane: PushedFrames(lane))
    router.add(PushedFrames("L1", camera_id="front"))
    router.add(PushedFrames("L1", camera_id="rear"))
    img = np.zeros((8, 8, 3), np.uint8)
    assert router.submit(Frame("L1", "front", 1, img)) and router.submit(Frame("L1", "rear", 1, img))
    with pytest.raises(
        FrameRefused,
        match="cameras front, rear only, not 'side': send X-Camera-Id: front or rear",
    ):
        router.submit(Frame("L1", "side", 1, img))
    assert router.refused == 1 and router.lanes() == ("L1",)
