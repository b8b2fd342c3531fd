from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest

from api.cli import main
from api.settings import get_settings
from vision.pipeline.sinks import read_passages
from vision.pipeline.testing import CLIP

LIST = "mark,kind,haulier,penalty_ref,amount_gbp,date,notes\nEM59PPL,vehicle,Acme Ltd,CP-1,1500,2024-01-05,\n"


@pytest.fixture(autouse=True)
def _settings(tmp_path: Path, reader_only_models: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HGV_LANE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HGV_LANE_MODELS__DIR", str(reader_only_models))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.slow
def test_process_fixture_clip_with_truth_boxes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``process`` on the fixture clip (ground-truth boxes as the detectors, the real plate reader):
    passages.jsonl with one passage per lorry and their crops, a store with flags, a preview."""
    out = tmp_path / "run"
    (tmp_path / "list.csv").write_text(LIST)
    argv = [
        "process",
        str(CLIP / "clip.mp4"),
        "--lane",
        "L1",
        "--out",
        str(out),
        "--truth",
        str(CLIP / "truth.json"),
        "--no-classifier",
        "--action-list",
        str(tmp_path / "list.csv"),
        "--start-ts-ms",
        "1735689600000",
        "--json",
    ]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["frames"] == 40 and summary["passages"] == 2 and summary["error"] is None
    assert summary["flags_created"] >= 1  # no body type and uncertain reads are flagged at least
    passages = read_passages(out / "passages.jsonl")
    assert len(passages) == 2 and all(p.lane_id == "L1" for p in passages)
    assert all(p.plates and p.body_crop_jpeg.startswith(b"\xff\xd8") for p in passages)
    assert min(p.first_seen_ts_ms for p in passages) == 1735689600000
    cap = cv2.VideoCapture(str(out / "preview.mp4"))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 40
    assert (out / "store.sqlite3").is_file()
    # the same folder again is refused (passages.jsonl would be appended to)
    assert main(argv) == 2


def test_max_frames_processes_that_many_frames_not_the_queue_after_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the frames already queued when the count was reached had been processed too (113 for 80)
    argv = ["process", str(CLIP / "clip.mp4"), "--lane", "L1", "--out", str(tmp_path / "run")]
    argv += [
        "--truth",
        str(CLIP / "truth.json"),
        "--no-classifier",
        "--no-preview",
        "--max-frames",
        "10",
        "--json",
    ]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["frames"] == 10 and summary["error"] is None  # not "ended after 10 of 40 frames"


def test_process_folder_source_with_preview_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HGV_LANE_PIPELINE__MIN_TRACK_MS", "0")  # 3 frames: the lorry is in view 200 ms
    get_settings.cache_clear()
    frames = tmp_path / "frames"
    frames.mkdir()
    cap = cv2.VideoCapture(str(CLIP / "clip.mp4"))
    for i in range(3):
        ok, img = cap.read()
        assert ok
        cv2.imwrite(str(frames / f"{i:04d}.jpg"), img)
    out = tmp_path / "run"
    argv = [
        "process",
        str(frames),
        "--lane",
        "L2",
        "--out",
        str(out),
        "--truth",
        str(CLIP / "truth.json"),
        "--no-classifier",
        "--fps",
        "10",
        "--json",
    ]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["frames"] == 3 and summary["passages"] == 1  # lorry 1, seen in all three frames
    assert sorted(p.name for p in (out / "preview").iterdir()) == ["000000.jpg", "000001.jpg", "000002.jpg"]


def test_process_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["process", str(tmp_path / "missing.mp4"), "--lane", "L1", "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
    # no models shipped in the (empty) models dir: a clear error, exit 1
    assert main(["process", str(CLIP / "clip.mp4"), "--lane", "L1", "--out", str(tmp_path / "o2")]) == 1
    assert "could not load" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "process",
                str(CLIP / "clip.mp4"),
                "--lane",
                "L1",
                "--out",
                str(tmp_path / "o3"),
                "--roi",
                "0,0,1",
            ]
        )
    assert exc.value.code == 2


@pytest.mark.slow
def test_process_a_front_and_a_rear_recording_of_one_lane(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--rear-source``: the rear camera's recording runs beside the front one (here the fixture
    clip plays both, ground-truth boxes): one lane passage per lorry, carrying both cameras."""
    out = tmp_path / "run"
    argv = [
        "process",
        str(CLIP / "clip.mp4"),
        "--lane",
        "L1",
        "--camera",
        "front",
        "--out",
        str(out),
        "--truth",
        str(CLIP / "truth.json"),
        "--rear-source",
        str(CLIP / "clip.mp4"),
        "--rear-truth",
        str(CLIP / "truth.json"),
        "--rear-offset-ms",
        "500",
        "--no-classifier",
        "--no-preview",
        "--start-ts-ms",
        "1735689600000",
        "--json",
    ]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["passages"], summary["rear_passages"], summary["lane_passages"]) == (2, 2, 2)
    assert (summary["merged"], summary["alone"], summary["error"]) == (2, 0, None)
    passages = read_passages(out / "passages.jsonl")
    assert [p.camera_ids for p in passages] == [("front", "rear")] * 2
    assert all({pl.role.value for pl in p.plates} <= {"front", "rear", "trailer_mark"} for p in passages)


def test_process_rear_source_needs_a_front_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["process", str(CLIP / "clip.mp4"), "--lane", "L1", "--out", str(tmp_path / "o")]
    assert main([*argv, "--view", "rear", "--rear-source", str(CLIP / "clip.mp4")]) == 2
    assert "front camera" in capsys.readouterr().err
    assert main([*argv, "--rear-source", str(CLIP / "clip.mp4"), "--truth", str(CLIP / "truth.json")]) == 2
    assert "--rear-truth" in capsys.readouterr().err


@pytest.fixture(scope="module")
def three_camera_lane(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lane set of the synthetic generator: two lorries seen by a front, a side and a rear
    camera on one timeline, 10 s at 12.5 fps (about 7 s to render)."""
    lane = tmp_path_factory.mktemp("lane") / "lane"
    argv = ["synth", "clip", "--out", str(lane), "--seed", "5300", "--vehicles", "2"]
    assert main([*argv, "--views", "front,side,rear", "--seconds", "10", "--quiet"]) == 0
    return lane


def _lane_argv(lane: Path, out: Path, views: tuple[str, ...]) -> list[str]:
    """``process`` of ``lane``'s front clip with the other ``views`` (ground-truth boxes)."""
    argv = [
        "process",
        str(lane / "front" / "clip.mp4"),
        "--lane",
        "L1",
        "--camera",
        "front",
        "--out",
        str(out),
    ]
    for view in views:
        clip = lane / view
        argv += [f"--{view}-source", str(clip / "clip.mp4"), f"--{view}-truth", str(clip / "truth.json")]
    truth = ["--truth", str(lane / "front" / "truth.json")]
    return [*argv, *truth, "--no-classifier", "--no-preview", "--start-ts-ms", "1735689600000", "--json"]


@pytest.mark.slow
def test_process_a_front_a_side_and_a_rear_recording_of_one_lane(
    three_camera_lane: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--side-source`` with ``--rear-source``: one lane passage per lorry, carrying all three
    cameras, with a plate from the front camera and one from the rear."""
    capsys.readouterr()
    out = tmp_path / "run"
    assert main(_lane_argv(three_camera_lane, out, ("side", "rear"))) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["passages"], summary["side_passages"], summary["rear_passages"]) == (2, 2, 2)
    assert summary["side_frames"] == summary["rear_frames"] == summary["frames"] == 125
    assert (summary["lane_passages"], summary["merged"], summary["alone"], summary["error"]) == (
        2,
        2,
        0,
        None,
    )
    passages = read_passages(out / "passages.jsonl")
    assert [sorted(p.camera_ids) for p in passages] == [["front", "rear", "side"]] * 2
    # the front camera's front plates and the rear camera's rear plates, one of each per lorry
    assert [sorted(pl.role.value for pl in p.plates) for p in passages] == [["front", "rear"]] * 2


@pytest.mark.slow
def test_process_a_front_and_a_high_side_recording(
    three_camera_lane: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A front and a high side camera, no rear one; the side camera's own region of interest (its
    left 60 %, where the lorries pass), not SOURCE's (the front camera's right half)."""
    capsys.readouterr()
    argv = _lane_argv(three_camera_lane, tmp_path / "run", ("side",))
    roi = ["--side-view", "high_side", "--side-roi", "0,0,0.6,0,0.6,1,0,1", "--roi", "0.5,0,1,0,1,1,0.5,1"]
    assert main([*argv, *roi]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "rear_passages" not in summary and summary["side_frames"] == 125
    assert (summary["lane_passages"], summary["alone"], summary["error"]) == (2, 0, None)
    assert [sorted(p.camera_ids) for p in read_passages(tmp_path / "run" / "passages.jsonl")] == [
        ["front", "side"]
    ] * 2
    # the side camera's region where no lorry passes (its right edge): no side passage, so the
    # option reaches the side camera's pipeline
    argv = _lane_argv(three_camera_lane, tmp_path / "edge", ("side",))
    assert main([*argv, "--side-roi", "0.85,0,1,0,1,1,0.85,1"]) == 0
    edge = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (edge["side_passages"], edge["lane_passages"], edge["alone"]) == (0, 2, 2)


def test_process_each_camera_needs_its_own_id_and_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["process", str(CLIP / "clip.mp4"), "--lane", "L1", "--out", str(tmp_path / "o")]
    side = ["--side-source", str(CLIP / "clip.mp4")]
    assert main([*argv, *side, "--side-camera", "cam1"]) == 2  # the front camera's id
    assert "own id" in capsys.readouterr().err
    assert main([*argv, *side, "--rear-source", str(CLIP / "clip.mp4"), "--rear-camera", "side"]) == 2
    assert "own id" in capsys.readouterr().err
    assert main([*argv, *side, "--truth", str(CLIP / "truth.json")]) == 2
    assert "--side-truth" in capsys.readouterr().err
    assert main([*argv, *side, "--view", "rear"]) == 2
    assert "front camera" in capsys.readouterr().err
    # a camera's options without its source
    assert main([*argv, "--side-camera", "cam9", "--side-view", "high_side"]) == 2
    assert "--side-camera, --side-view without --side-source" in capsys.readouterr().err
    assert main([*argv, "--rear-offset-ms", "500"]) == 2
    assert "--rear-offset-ms without --rear-source" in capsys.readouterr().err


@pytest.mark.slow
def test_a_camera_that_fails_is_named_and_the_others_run_on(
    three_camera_lane: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The side camera's pipeline fails on every frame from its 20th: those frames are skipped
    and counted, the run ends with exit 1 and the summary's error names the side camera; the
    front and rear cameras' passages are still recorded, merged."""
    from vision.pipeline.lane import LanePipeline

    process = LanePipeline.process

    def failing(self: LanePipeline, frame: Any) -> Any:
        if self.config.camera_id == "side" and frame.index >= 20:
            raise RuntimeError("lens fell off")
        return process(self, frame)

    monkeypatch.setattr(LanePipeline, "process", failing)
    capsys.readouterr()
    assert main(_lane_argv(three_camera_lane, tmp_path / "run", ("side", "rear"))) == 1
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["error"] == "side: frame failed: RuntimeError: lens fell off"
    assert summary["frames_failed"] == 105 and summary["side_frames"] == 20
    assert summary["frames"] == summary["rear_frames"] == 125
    assert summary["passages_written"] == summary["passages_stored"] == 2
    passages = read_passages(tmp_path / "run" / "passages.jsonl")
    assert len(passages) == 2 and all({"front", "rear"} <= set(p.camera_ids) for p in passages)


def test_a_bad_action_list_is_reported_row_by_row_and_nothing_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "list.csv"
    bad.write_text(
        "mark,kind,haulier,penalty_ref,amount_gbp,date\nAB12CDE,lorry,H,p,1,2024-01-01\nXY,car,H,p,x,no\n"
    )
    argv = ["process", str(CLIP / "clip.mp4"), "--lane", "L1", "--out", str(tmp_path / "run")]
    argv += ["--truth", str(CLIP / "truth.json"), "--no-classifier", "--action-list", str(bad)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"rejected {bad}: " in err and "the action list was not changed" in err
    assert "rejected: action list rejected" not in err and err.count("line 3") >= 1, err
    assert not (tmp_path / "run" / "passages.jsonl").exists()


@pytest.mark.parametrize("option", [["--fps", "0"], ["--preview-every", "0"], ["--max-frames", "-1"]])
def test_a_count_or_rate_of_zero_or_less_is_a_usage_error_not_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["process", str(CLIP / "clip.mp4"), "--lane", "L1", "--out", str(tmp_path / "run"), *option])
    assert exc.value.code == 2 and "is not over 0" in capsys.readouterr().err


class _Mjpeg(BaseHTTPRequestHandler):
    """The fixture clip as an MJPEG stream at 20 fps, looping (a camera that never ends)."""

    jpegs: ClassVar[list[bytes]] = []

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        with contextlib.suppress(OSError):
            for i in range(20 * 120):
                j = self.jpegs[i % len(self.jpegs)]
                head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(j)
                self.wfile.write(head + j + b"\r\n")
                self.wfile.flush()
                time.sleep(0.05)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
def test_a_stop_from_the_service_manager_writes_the_passages_in_view(tmp_path: Path) -> None:
    """SIGTERM (systemd, docker stop) ends a stream's run as Ctrl-C does: the lorries in view are
    flushed into passages.jsonl and the summary printed (it had died with nothing written)."""
    cap = cv2.VideoCapture(str(CLIP / "clip.mp4"))
    while True:
        ok, img = cap.read()
        if not ok:
            break
        _Mjpeg.jpegs.append(bytes(cv2.imencode(".jpg", img)[1]))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Mjpeg)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = tmp_path / "run"
    url = f"http://127.0.0.1:{server.server_address[1]}/x.mjpg"
    argv = ["process", url, "--lane", "L1", "--out", str(out), "--truth", str(CLIP / "truth.json")]
    cmd = [str(Path(sys.executable).parent / "hgv-lane"), *argv, "--no-classifier", "--no-preview", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the run has started once it names its lane's source
            if line.startswith("lane L1:"):
                break
        time.sleep(2.0)  # about 40 frames: both lorries seen, the second still in view
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
        server.shutdown()
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["frames"] > 0 and summary["passages"] >= 1
    assert len(read_passages(out / "passages.jsonl")) == summary["passages_written"] == summary["passages"]


def test_a_truncated_recording_an_unwritable_out_and_a_bad_folder_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Inputs that are not what they claim end with an error saying so, not exit 0 and silence."""
    writer = cv2.VideoWriter(str(tmp_path / "full.avi"), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(40):
        writer.write(rng.integers(0, 255, (240, 320, 3), np.uint8))
    writer.release()
    data = (tmp_path / "full.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])  # the recorder died half way
    base = ["--lane", "L1", "--truth", str(CLIP / "truth.json"), "--no-classifier", "--no-preview", "--json"]
    assert main(["process", str(tmp_path / "cut.avi"), "--out", str(tmp_path / "a"), *base]) == 1
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 < summary["frames"] < 40 and "of the 40 frames its header counts" in summary["error"]

    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["process", str(tmp_path / "full.avi"), "--out", str(blocker / "out"), *base]) == 2
    assert "cannot write to --out" in capsys.readouterr().err

    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "000.jpg"), np.zeros((48, 64, 3), np.uint8))
    (folder / "001.jpg").write_bytes(b"")
    assert main(["process", str(folder), "--out", str(tmp_path / "c"), *base]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["frames"] == 1 and summary["frames_skipped"] == 1


@pytest.mark.slow
def test_a_stream_that_never_connects_ends_with_an_error(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["process", f"http://127.0.0.1:{port}/x.mjpg", "--lane", "L1", "--out", str(tmp_path / "run")]
    cmd = [
        str(Path(sys.executable).parent / "hgv-lane"),
        *argv,
        "--truth",
        str(CLIP / "truth.json"),
        "--no-classifier",
        "--json",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # (kept to show why, should it end otherwise)
            seen.append(line)
            if "reconnect 1 in" in line:  # tried once, backing off
                break
        proc.send_signal(signal.SIGTERM)
        stdout, rest = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1, rest[-2000:]
    assert stdout.strip(), "".join(seen)[-3000:]
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["frames"] == 0 and "no frame received from http://127.0.0.1" in summary["error"]
