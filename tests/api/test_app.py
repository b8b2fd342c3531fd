from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
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


def test_openapi_lists_health(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        spec = client.get("/openapi.json").json()
    assert "/health" in spec["paths"]
