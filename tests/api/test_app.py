from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.schemas.lanes import LaneStatus
from api.settings import Settings
from vision.pipeline.reload import ModelSlot, ModelWatcher
from vision.pipeline.sinks import ListSink
from vision.pipeline.spool import RetryingSink
from vision.runtime import ModelLoadError


def test_health_reports_store_and_models(settings: Settings) -> None:
    settings.models.plate_detector = "tiny.onnx"  # the other roles' files are absent here
    with TestClient(create_app(settings)) as client:
        r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["store"] == "sqlite"
    (model,) = body["models"]
    assert model["role"] == "plate_detector" and model["name"] == "tiny.onnx" and model["task"] == "detect"
    assert model["classes"] == ["plate", "vehicle", "body"]
    assert model["providers"][-1] == "CPUExecutionProvider"
    assert model["version"] is None  # no lanes run in this app, so no version is in use by one
    db = settings.data_dir / "hgv-lane.sqlite3"
    assert db.is_file()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_health_is_degraded_while_a_lane_is_down_or_the_store_refuses_passages(settings: Settings) -> None:
    settings.models.plate_detector = "tiny.onnx"
    with TestClient(create_app(settings)) as client:
        state = client.app.state.lane  # type: ignore[attr-defined]
        state.lanes.update("L1", status=LaneStatus.OK, reconnects=4, frames_gated=7)
        state.lanes.update("L2", status=LaneStatus.DOWN, message="pipeline failed")
        body = client.get("/health").json()
        assert body["status"] == "degraded" and body["lanes_down"] == ["L2"]
        state.lanes.update("L2", status=LaneStatus.OK)
        assert client.get("/health").json()["status"] == "ok"
        sink = RetryingSink(ListSink(), None)
        sink.degraded, sink.counts.spooled = True, 3  # the store refused passages: they are in the spool
        state.passage_sink = sink
        body = client.get("/health").json()
        assert body["status"] == "degraded" and body["passages_spooled"] == 3 and body["passages_lost"] == 0
        sink.degraded, sink.pending = False, 2  # the store is back, the spool not replayed yet
        assert client.get("/health").json()["status"] == "degraded"
        metrics = client.get("/metrics").text
        assert 'hgv_lane_passages_kept_total{outcome="spooled"} 3.0' in metrics
        assert 'hgv_lane_lane_up{lane="L1"} 1.0' in metrics
        assert 'hgv_lane_lane_reconnects_total{lane="L1"} 4.0' in metrics
        assert 'hgv_lane_frames_gated_total{lane="L1"} 7.0' in metrics
        sink.close()


def test_broken_model_fails_startup(settings: Settings) -> None:
    (settings.models.dir / "broken.onnx").write_bytes(b"\x08\x01garbage")
    settings.models.trailer_classifier = "broken.onnx"
    with pytest.raises(ModelLoadError, match=r"broken\.onnx"), TestClient(create_app(settings)):
        pass


def test_a_promoted_version_is_the_one_loaded(settings: Settings) -> None:
    registry = settings.model_registry()
    v = registry.add("plate_detector", settings.models.dir / "tiny.onnx")
    registry.promote("plate_detector", v.version)
    with TestClient(create_app(settings)) as client:
        (model,) = client.get("/health").json()["models"]
    assert model["role"] == "plate_detector" and model["name"] == "model.onnx"


def test_health_describes_the_version_swapped_in_not_the_one_loaded_at_start(settings: Settings) -> None:
    settings.models.plate_detector = "tiny.onnx"
    with TestClient(create_app(settings)) as client:
        state = client.app.state.lane  # type: ignore[attr-defined]
        registry = settings.model_registry()
        slot = ModelSlot(object(), "shipped", settings.models.dir / "tiny.onnx")
        state.model_watcher = ModelWatcher(registry)
        state.model_watcher.watch("plate_detector", slot, lambda path: object())
        registry.promote(
            "plate_detector", registry.add("plate_detector", settings.models.dir / "tiny.onnx").version
        )
        assert state.model_watcher.check() == ["plate_detector"]
        (model,) = client.get("/health").json()["models"]
        assert model["version"] == "v1" and model["path"].endswith("registry/plate_detector/v1/model.onnx")
        registry.rollback("plate_detector")
        assert state.model_watcher.check() == ["plate_detector"]
        (model,) = client.get("/health").json()["models"]
        assert model["version"] == "shipped" and model["path"].endswith("models/tiny.onnx")


def test_openapi_lists_health(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        spec = client.get("/openapi.json").json()
    assert "/health" in spec["paths"]


def test_pushed_frames_are_refused_with_why_until_the_lanes_run(settings: Settings) -> None:
    # a frame taken before the lane runner's pipelines exist was queued where nothing read it
    # (202, then lost); models that do not load must say so to the camera, not swallow frames
    import time

    import cv2
    import numpy as np

    from api.auth import create_user, issue_token
    from api.db.models import UserRole
    from api.db.session import session_scope

    with TestClient(create_app(settings, lane_runner=True)) as client:
        state = client.app.state.lane  # type: ignore[attr-defined]
        with session_scope(state.engine) as s:
            token, _ = issue_token(s, create_user(s, "cam", UserRole.CAMERA, None, min_password_len=1), "t")
        jpeg = bytes(cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))[1])
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"}
        deadline = time.monotonic() + 30
        while True:  # the tiny models are not a lane's: loading them fails at once
            r = client.post("/v1/lanes/P1/frames", content=jpeg, headers=headers)
            assert r.status_code == 503, r.text
            if "did not start" in r.json()["detail"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert "lanes did not start: models did not load" in r.json()["detail"]
        assert state.lanes.get("P1") is None  # nothing counted as received
