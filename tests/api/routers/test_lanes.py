"""Lane health and pushed JPEG frames: validation, the non-blocking sink, roles."""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np
import pytest

from api.events import QueueFrameSink
from api.schemas.lanes import LaneStatus
from vision.pipeline.sources import FrameRefused, PushedFrameRouter, PushedFrames


def _jpeg(w: int = 64, h: int = 48) -> bytes:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2] = (0, 0, 255)  # red left half (BGR)
    return bytes(cv2.imencode(".jpg", img)[1])


def _push(
    api: Any, body: bytes, who: str = "camera", ctype: str = "image/jpeg", lane: str = "L1", **h: str
) -> Any:
    return api.client.post(
        f"/v1/lanes/{lane}/frames", content=body, headers={**api.auth(who), "Content-Type": ctype, **h}
    )


def test_a_camera_pushes_a_frame_into_the_sink(api: Any) -> None:
    taken = int(time.time() * 1000) - 1500  # captured 1.5 s before it arrives
    r = _push(api, _jpeg(), **{"X-Camera-Id": "cam-front", "X-Frame-Ts-Ms": str(taken)})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["width_px"] == 64 and body["height_px"] == 48 and body["queued"] is True
    assert body["camera_id"] == "cam-front" and body["ts_ms"] == taken
    lane = api.client.get("/v1/lanes/L1", headers=api.auth("officer")).json()
    assert lane["last_frame_ts_ms"] >= taken + 1500  # when it arrived: what an installer checks
    sink = api.state.frame_sink
    assert isinstance(sink, QueueFrameSink)
    frame = sink.get("L1")
    assert frame is not None and frame.image.shape == (48, 64, 3) and frame.image.dtype == np.uint8
    assert frame.image[24, 5, 2] > 200 and frame.image[24, 5, 0] < 60  # BGR: red is channel 2
    lanes = api.client.get("/v1/lanes", headers=api.auth("officer")).json()
    assert lanes[0]["lane_id"] == "L1" and lanes[0]["frames_received"] == 1 and lanes[0]["status"] == "ok"


def test_a_frame_tagged_to_be_turned_is_queued_as_shown(api: Any) -> None:
    # a camera mounted on its side stores frames turned and tags them "turn 90 clockwise to
    # show" (EXIF orientation 6): queued as shown, as files are read
    import io

    from PIL import Image

    shown = np.zeros((48, 64, 3), np.uint8)
    shown[:, :32] = (0, 0, 255)  # red left half as shown (BGR)
    stored = np.ascontiguousarray(np.rot90(shown, 1)[:, :, ::-1])  # RGB, turned back
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes())
    r = _push(api, buf.getvalue())
    assert r.status_code == 202, r.text
    assert (r.json()["width_px"], r.json()["height_px"]) == (64, 48)
    frame = api.state.frame_sink.get("L1")
    assert frame is not None and frame.image.shape == (48, 64, 3)
    assert frame.image[24, 5, 2] > 200 and frame.image[24, 60, 2] < 60


@pytest.mark.parametrize(
    ("body", "ctype", "code", "fragment"),
    [
        (b"", "image/jpeg", 400, "empty"),
        (b"GIF89a......", "image/jpeg", 415, "not a JPEG"),
        (b"\x89PNG\r\n\x1a\n", "image/jpeg", 415, "not a JPEG"),
        (None, "image/png", 415, "Content-Type must be image/jpeg"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image/jpeg", 422, "does not decode"),
    ],
)
def test_bad_frames_are_refused_with_a_reason_and_nothing_is_queued(
    api: Any, body: bytes | None, ctype: str, code: int, fragment: str
) -> None:
    r = _push(api, _jpeg() if body is None else body, ctype=ctype)
    assert r.status_code == code and fragment in r.json()["detail"], r.text
    sink = api.state.frame_sink
    assert isinstance(sink, QueueFrameSink) and sink.queued("L1") == 0
    assert api.state.lanes.get("L1") is None


def test_a_bad_frame_is_refused_when_ultralytics_has_patched_pil(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ultralytics, once imported in a process, patches Image.open to import its optional pi-heif
    # plugin for files PIL cannot identify; offline that import fails: still a 422, not a 500
    from PIL import Image, UnidentifiedImageError

    original = Image.open

    def patched(fp: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(fp, *args, **kwargs)
        except UnidentifiedImageError:
            raise ModuleNotFoundError("No module named 'pi_heif'", name="pi_heif") from None

    monkeypatch.setattr(Image, "open", patched)
    r = _push(api, b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    assert r.status_code == 422 and "does not decode" in r.json()["detail"], r.text
    assert api.state.lanes.get("L1") is None


def test_truncated_jpeg_is_refused(api: Any) -> None:
    data = _jpeg(200, 200)
    r = _push(api, data[: len(data) // 2])
    assert r.status_code == 422 and "does not decode" in r.json()["detail"]


def test_huge_frames_are_refused_by_bytes_and_by_pixels(api: Any) -> None:
    api.state.settings.frames.max_bytes = 2000
    r = _push(api, _jpeg(400, 400) + b"\x00" * 3000)
    assert r.status_code == 413 and "over 2000" in r.json()["detail"]
    api.state.settings.frames.max_bytes = 8_000_000
    api.state.settings.frames.max_pixels = 100 * 100
    r = _push(api, _jpeg(200, 100))
    assert r.status_code == 413 and "200x100" in r.json()["detail"]


def test_a_frame_whose_header_claims_a_huge_size_is_refused_as_too_large(api: Any) -> None:
    """A JPEG whose frame header claims 100 to 4,225 Mpx (over PIL's own limit: a warning,
    over twice it an error): 413, not a 500 or a 422."""
    for side in (10_000, 13_000, 65_000):  # PIL warns over 89.5 Mpx and refuses over 179 Mpx
        data = bytearray(_jpeg(64, 48))
        sof = data.index(b"\xff\xc0")
        data[sof + 5 : sof + 9] = side.to_bytes(2, "big") * 2  # height, width
        r = _push(api, bytes(data))
        assert r.status_code == 413 and "too large" in r.json()["detail"], (side, r.text)


def test_only_cameras_and_admins_push_and_bad_lane_ids_are_refused(api: Any) -> None:
    assert _push(api, _jpeg(), who="officer").status_code == 403
    assert _push(api, _jpeg(), who="admin").status_code == 202
    r = api.client.post("/v1/lanes/L1/frames", content=_jpeg(), headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 401
    assert _push(api, _jpeg(), lane="..%2Fetc").status_code in (404, 422)


def test_a_lane_bound_camera_token_pushes_to_its_own_lane_only(api: Any) -> None:
    """A camera's token made with ``--lane L2`` feeds lane L2 and nothing else: a push to L1 is
    refused (403) before the body is read, and nothing is queued or counted for L1. A token
    bound to no lane (an integration's, or one made before lanes were bound) pushes anywhere."""
    api.user("cam-l2", "camera", lane="L2")
    assert _push(api, _jpeg(), who="cam-l2", lane="L2").status_code == 202
    r = _push(api, _jpeg(), who="cam-l2", lane="L1")
    assert r.status_code == 403 and r.json()["detail"] == "this token is bound to lane 'L2', not 'L1'"
    sink = api.state.frame_sink
    assert isinstance(sink, QueueFrameSink) and sink.queued("L1") == 0 and sink.queued("L2") == 1
    assert api.state.lanes.get("L1") is None
    assert _push(api, _jpeg(), who="camera", lane="L3").status_code == 202
    # it sees its own lane's health only (other lanes' sources and states are not its business)
    assert [lane["lane_id"] for lane in api.client.get("/v1/lanes", headers=api.auth("cam-l2")).json()] == [
        "L2"
    ]
    assert api.client.get("/v1/lanes/L3", headers=api.auth("cam-l2")).status_code == 403
    assert api.client.get("/v1/lanes/L2", headers=api.auth("cam-l2")).status_code == 200
    assert len(api.client.get("/v1/lanes", headers=api.auth("camera")).json()) == 2  # unbound: L2, L3


def test_a_lane_bound_token_cannot_unbind_itself_or_touch_other_tokens(api: Any) -> None:
    """A leaked lane-bound token may not make a new token (unbound, or for another lane), sees only
    itself among its user's tokens, and may revoke only itself."""
    api.user("cam-l2", "camera", lane="L2")
    h = api.auth("cam-l2")
    assert api.client.get("/v1/auth/me", headers=h).json()["lane"] == "L2"  # an installer can check it
    for body in ({"name": "x"}, {"name": "x", "lane": "L1"}):
        r = api.client.post("/v1/tokens", json=body, headers=h)
        assert r.status_code == 403 and "bound to lane 'L2'" in r.json()["detail"], r.text
    admin = api.auth("admin")
    sibling = api.client.post("/v1/tokens", json={"user": "cam-l2", "name": "spare"}, headers=admin).json()
    listed = api.client.get("/v1/tokens", headers=h).json()
    assert len(listed) == 1 and listed[0]["lane"] == "L2" and listed[0]["id"] != sibling["id"]
    assert api.client.delete(f"/v1/tokens/{sibling['id']}", headers=h).status_code == 403
    assert api.client.delete(f"/v1/tokens/{listed[0]['id']}", headers=h).status_code == 204
    assert _push(api, _jpeg(), who="cam-l2", lane="L2").status_code == 401  # revoked itself


def test_the_default_sink_drops_the_oldest_and_counts(api: Any) -> None:
    sink = QueueFrameSink(2)
    api.state.frame_sink = sink
    t0 = int(time.time() * 1000)
    results = [_push(api, _jpeg(), **{"X-Frame-Ts-Ms": str(t0 + i)}).json() for i in range(4)]
    assert [r["queued"] for r in results] == [True, True, False, False]
    assert results[-1]["frames_dropped"] == 2 and sink.dropped("L1") == 2
    kept = [sink.get("L1"), sink.get("L1")]
    assert [f.ts_ms - t0 for f in kept if f is not None] == [2, 3]


def test_the_pipeline_updates_lane_health(api: Any) -> None:
    api.state.lanes.update("L7", name="Lane 7", status=LaneStatus.DEGRADED, fps=4.5, message="camera dirty")
    r = api.client.get("/v1/lanes/L7", headers=api.auth("officer"))
    assert r.status_code == 200 and r.json()["status"] == "degraded" and r.json()["fps"] == 4.5
    assert api.client.get("/v1/lanes/L9", headers=api.auth("officer")).status_code == 404


def test_a_frame_for_a_lane_that_takes_no_pushed_frames_is_refused_with_the_reason(api: Any) -> None:
    """The service's sink runs the demo lane from its clip: a frame pushed to it is refused (409,
    the reason), not taken as queued-and-dropped, and nothing is counted for the lane."""

    def runs_a_file(lane: str) -> PushedFrames:
        raise FrameRefused(f"lane {lane!r} runs another source (a file or stream), not pushed frames")

    api.state.frame_sink = PushedFrameRouter(on_new_lane=runs_a_file)
    r = _push(api, _jpeg(), lane="demo")
    assert r.status_code == 409 and "runs another source" in r.json()["detail"]
    assert api.state.lanes.get("demo") is None
    assert "hgv_lane_frames_refused_total 1.0" in api.client.get("/metrics").text


def test_a_frame_for_a_lane_whose_pipeline_stopped_is_503_with_the_reason(api: Any) -> None:
    router = PushedFrameRouter()
    dead = PushedFrames("L1")
    router.add(dead)
    dead.close()  # its worker failed or stopped
    api.state.frame_sink = router
    r = _push(api, _jpeg(), lane="L1")
    assert r.status_code == 503 and "lane 'L1' is not running" in r.json()["detail"]
    assert api.state.lanes.get("L1") is None  # not counted as received or dropped


def test_a_capture_time_far_from_the_services_clock_is_refused_with_how_far(api: Any) -> None:
    # one frame dated in the future held a lane's clock there: 600 frames after it made no passage
    r = _push(api, _jpeg(), **{"X-Frame-Ts-Ms": "99999999999999999999999"})
    assert r.status_code == 422 and "X-Frame-Ts-Ms".lower() in r.text.lower()
    now = int(time.time() * 1000)
    r = _push(api, _jpeg(), **{"X-Frame-Ts-Ms": "4102444800000"})  # 2100-01-01
    assert r.status_code == 422 and "ahead of this service's clock" in r.json()["detail"]
    r = _push(api, _jpeg(), **{"X-Frame-Ts-Ms": str(now // 1000)})  # seconds, not milliseconds
    assert r.status_code == 422 and "looks like seconds" in r.json()["detail"]
    r = _push(api, _jpeg(), **{"X-Frame-Ts-Ms": str(now - 3_600_000)})  # a clock an hour slow
    assert r.status_code == 422 and "3600 s behind" in r.json()["detail"]
    assert api.state.lanes.get("L1") is None  # nothing counted
    for off_ms in (4000, -590_000):  # inside frames.max_ahead_s (5 s) and max_behind_s (600 s)
        assert _push(api, _jpeg(), **{"X-Frame-Ts-Ms": str(now + off_ms)}).status_code == 202


def test_a_supervisor_sees_a_lanes_snapshot_and_it_is_audited(api: Any) -> None:
    from api.db import repository as repo
    from api.db.session import session_scope
    from api.lane_runner import LaneRunner
    from api.settings import LaneSettings, PipelineSettings, Settings
    from tests.api.test_lane_runner import StoreSinkStub, truth_models, wait_for

    assert api.client.get("/v1/lanes/P1/snapshot", headers=api.auth("supervisor")).status_code == 404
    settings = Settings(
        data_dir=api.state.settings.data_dir, pipeline=PipelineSettings(lanes=[LaneSettings(lane_id="P1")])
    )
    runner = LaneRunner(settings, truth_models, StoreSinkStub())
    runner.start_configured()
    api.state.lane_runner, api.state.frame_sink = runner, runner.router
    try:
        r = api.client.get("/v1/lanes/P1/snapshot", headers=api.auth("supervisor"))
        assert (
            r.status_code == 404
            and "no camera of lane 'P1' has a frame yet (cameras: cam1)" in r.json()["detail"]
        )
        assert _push(api, _jpeg(), lane="P1").status_code == 202
        wait_for(lambda: runner.snapshot("P1") is not None, 10)
        assert api.client.get("/v1/lanes/P1/snapshot", headers=api.auth("officer")).status_code == 403
        r = api.client.get("/v1/lanes/P1/snapshot", headers=api.auth("supervisor"))
        assert (
            r.status_code == 200
            and r.headers["content-type"] == "image/jpeg"
            and r.content[:2] == b"\xff\xd8"
        )
        assert r.headers["cache-control"] == "private, no-store"
        with session_scope(api.state.engine) as s:
            (entry,) = repo.audit_entries(s, "lane.snapshot")
            assert entry.actor == "supervisor" and entry.detail == {"lane": "P1", "camera": "cam1"}
    finally:
        runner.stop()


def test_a_camera_bound_token_pushes_as_its_camera_only(api: Any) -> None:
    # a lane's front camera's token had fed its rear camera's pipeline with X-Camera-Id: rear
    r = api.client.post(
        "/v1/tokens",
        json={"user": "camera", "name": "L4 front", "lane": "L4", "camera": "front"},
        headers=api.auth("admin"),
    )
    assert r.status_code == 201 and (r.json()["lane"], r.json()["camera"]) == ("L4", "front")
    api.tokens["front"] = r.json()["token"]
    refused = _push(api, _jpeg(), who="front", lane="L4", **{"X-Camera-Id": "rear"})
    assert (
        refused.status_code == 403
        and "bound to camera 'front' of lane 'L4', not 'rear'" in refused.json()["detail"]
    )
    ok = _push(api, _jpeg(), who="front", lane="L4")
    assert ok.status_code == 202 and ok.json()["camera_id"] == "front"  # not the user's name
    assert _push(api, _jpeg(), who="front", lane="L4", **{"X-Camera-Id": "front"}).status_code == 202
    r = api.client.post(
        "/v1/tokens", json={"user": "camera", "name": "x", "camera": "front"}, headers=api.auth("admin")
    )
    assert r.status_code == 422 and "give the lane too" in r.json()["detail"]
