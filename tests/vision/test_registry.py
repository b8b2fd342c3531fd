"""The model registry: versions, promotion history, rollback, role guessing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vision.registry import SHIPPED, ModelRegistry, RegistryError, is_not_worse, role_for_model


def _registry(tmp_path: Path) -> ModelRegistry:
    shipped = tmp_path / "models"
    shipped.mkdir()
    (shipped / "trailer_classifier.onnx").write_bytes(b"shipped")
    (shipped / "trailer_classifier.pt").write_bytes(b"shipped-pt")
    return ModelRegistry(tmp_path / "registry", shipped)


def _candidate(tmp_path: Path, name: str) -> Path:
    p = tmp_path / "exports" / f"{name}.onnx"
    p.parent.mkdir(exist_ok=True)
    p.write_bytes(name.encode())
    return p


def test_shipped_is_in_use_until_a_promotion(tmp_path: Path) -> None:
    reg = _registry(tmp_path)
    current = reg.current("trailer_classifier")
    assert current.version == SHIPPED and current.onnx.read_bytes() == b"shipped"
    assert current.weights is not None and current.weights.name == "trailer_classifier.pt"
    assert [v.version for v in reg.versions("trailer_classifier")] == [SHIPPED]


def test_add_keeps_files_and_meta_and_is_only_a_candidate(tmp_path: Path) -> None:
    reg = _registry(tmp_path)
    onnx = _candidate(tmp_path, "a")
    pt = onnx.with_suffix(".pt")
    pt.write_bytes(b"weights")
    v1 = reg.add("trailer_classifier", onnx, weights=pt, meta={"run": "runs/x"})
    v2 = reg.add("trailer_classifier", _candidate(tmp_path, "b"))
    assert (v1.version, v2.version) == ("v1", "v2")
    assert v1.onnx.read_bytes() == b"a" and v1.weights is not None and v1.weights.read_bytes() == b"weights"
    assert v2.weights is None
    assert v1.meta["parent"] == SHIPPED and v1.meta["run"] == "runs/x"
    assert reg.current("trailer_classifier").version == SHIPPED
    onnx.write_bytes(b"changed later")  # the registry holds its own copy
    assert reg.get("trailer_classifier", "v1").onnx.read_bytes() == b"a"
    assert not list((tmp_path / "registry" / "trailer_classifier").glob(".adding-*"))


def test_promote_and_rollback_follow_the_history(tmp_path: Path) -> None:
    reg = _registry(tmp_path)
    for name in ("a", "b"):
        reg.add("trailer_classifier", _candidate(tmp_path, name))
    reg.promote("trailer_classifier", "v1", note={"reason": "better"})
    reg.promote("trailer_classifier", "v2")
    assert reg.current("trailer_classifier").version == "v2"
    assert reg.rollback("trailer_classifier").version == "v1"
    assert reg.rollback("trailer_classifier").version == SHIPPED
    with pytest.raises(RegistryError, match="nothing to roll back"):
        reg.rollback("trailer_classifier")
    state = json.loads((tmp_path / "registry" / "trailer_classifier" / "current.json").read_text())
    assert [(e["action"], e["to"]) for e in state["history"]] == [
        ("promote", "v1"),
        ("promote", "v2"),
        ("rollback", "v1"),
        ("rollback", SHIPPED),
    ]
    assert state["history"][0]["reason"] == "better"
    # versions are never deleted
    assert [v.version for v in reg.versions("trailer_classifier")] == [SHIPPED, "v1", "v2"]


def test_errors_name_what_exists(tmp_path: Path) -> None:
    reg = _registry(tmp_path)
    with pytest.raises(RegistryError, match="roles: plate_detector"):
        reg.current("ocr")
    with pytest.raises(RegistryError, match="versions: shipped"):
        reg.promote("trailer_classifier", "v9")
    with pytest.raises(RegistryError, match="does not exist"):
        reg.add("trailer_classifier", tmp_path / "missing.onnx")


def test_role_for_model_and_is_not_worse() -> None:
    assert role_for_model("classify", ["box", "tilt"]) == "trailer_classifier"
    assert role_for_model("detect", ["plate"]) == "plate_detector"
    assert role_for_model("detect", ["vehicle", "body"]) == "vehicle_detector"
    with pytest.raises(RegistryError, match="give --role"):
        role_for_model("detect", ["dog"])
    assert is_not_worse({"m": 0.80}, {"m": 0.80}, "m", 0.0)
    assert not is_not_worse({"m": 0.79}, {"m": 0.80}, "m", 0.0)
    assert is_not_worse({"m": 0.79}, {"m": 0.80}, "m", 0.02)
