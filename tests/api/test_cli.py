from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli import build_parser, main
from api.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]


def test_help_is_fast_and_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from api.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "heavy = [m for m in ('torch', 'ultralytics', 'easyocr', 'onnxruntime') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout
    assert "doctor" in proc.stdout and "serve" in proc.stdout and "synth" in proc.stdout
    assert elapsed < 5.0


def test_every_command_has_help() -> None:
    parser = build_parser()
    for command in ("config show", "doctor", "serve", "synth", "train", "dataset", "export"):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([*command.split(), "--help"])
        assert exc.value.code == 0


@pytest.fixture
def env_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model: Path) -> Iterator[None]:
    monkeypatch.setenv("HGV_LANE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HGV_LANE_MODELS__DIR", str(tiny_model.parent))
    monkeypatch.delenv("HGV_LANE_CONFIG", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("env_settings")
def test_config_show_prints_effective_settings(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["config", "show"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["data_dir"] == str(tmp_path / "data")
    assert data["server"]["port"] == 8000
    assert data["database_url"].startswith("sqlite:///")
    assert main(["config", "show", "--schema"]) == 0
    schema = capsys.readouterr().out
    assert "server.port (HGV_LANE_SERVER__PORT)" in schema and "le=65535" in schema.replace(" ", "")


@pytest.mark.usefixtures("env_settings")
def test_doctor_probes_each_configured_lanes_source(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a missing file had passed doctor, then stopped every lane when serve started them
    lanes = [
        {"lane_id": "F1", "source": str(ROOT / "fixtures" / "synth" / "clip" / "clip.mp4")},
        {"lane_id": "F2", "source": "/nowhere/lane2.mp4"},
        {"lane_id": "P1"},
    ]
    monkeypatch.setenv("HGV_LANE_PIPELINE__LANES", json.dumps(lanes))
    get_settings.cache_clear()
    main(["doctor", "--skip-ocr", "--json"])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [(lane["lane_id"], lane["ok"]) for lane in report["lanes"]] == [
        ("F1", True),
        ("F2", False),
        ("P1", True),
    ]
    assert "video file not found" in report["lanes"][1]["detail"] and report["ok"] is False


@pytest.mark.usefixtures("env_settings")
def test_config_show_prints_no_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HGV_LANE_STORE__URL", "postgresql+psycopg://lane:db-S3cret@db.port/hgv")
    monkeypatch.setenv(
        "HGV_LANE_PIPELINE__LANES", '[{"lane_id": "S1", "source": "rtsp://camadmin:cam-S3cret@10.0.0.7/1"}]'
    )
    get_settings.cache_clear()
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "S3cret" not in out and "lane:***@db.port" in out and "camadmin:***@10.0.0.7" in out


@pytest.mark.usefixtures("env_settings")
def test_doctor_passes_then_fails_on_a_broken_model(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a models folder without the files the settings name fails: the pipeline needs them
    assert main(["doctor", "--skip-ocr", "--json"]) == 1
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    missing = {m["name"] for m in report["models"] if not m["ok"]}
    assert missing == {
        "plate_detector.onnx",
        "vehicle_detector.onnx",
        "trailer_classifier.onnx",
        "plate_reader.onnx",
    }
    for role in ("PLATE_DETECTOR", "VEHICLE_DETECTOR", "TRAILER_CLASSIFIER"):
        monkeypatch.setenv(f"HGV_LANE_MODELS__{role}", tiny_model.name)
    monkeypatch.setenv("HGV_LANE_READER__ENGINE", "rapidocr")
    get_settings.cache_clear()
    # tiny.onnx loads and runs, but it is a detector: the lanes cannot use it as the classifier
    assert main(["doctor", "--skip-ocr", "--json"]) == 1
    out = capsys.readouterr().out
    assert "cannot be used as trailer_classifier" in out and "expected 'classify'" in out
    shutil.copy(ROOT / "models" / "trailer_classifier.onnx", tiny_model.parent / "classifier.onnx")
    monkeypatch.setenv("HGV_LANE_MODELS__TRAILER_CLASSIFIER", "classifier.onnx")
    get_settings.cache_clear()
    assert main(["doctor", "--skip-ocr", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["ok"] is True
    files = {m["name"]: m for m in report["models"] if m["kind"] == "onnx"}
    assert set(files) == {"tiny.onnx", "classifier.onnx"} and len(files["tiny.onnx"]["sha256"]) == 64
    roles = [m["name"] for m in report["models"] if m["kind"] == "role"]
    assert roles == ["vehicle_detector shipped", "plate_detector shipped", "trailer_classifier shipped"]
    (tiny_model.parent / "zz-truncated.onnx").write_bytes(tiny_model.read_bytes()[:40])
    assert main(["doctor", "--skip-ocr", "--json"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "zz-truncated.onnx" in out
    assert json.loads(out.strip().splitlines()[-1])["ok"] is False


def test_config_flag_sets_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "s.toml"
    f.write_text("[server]\nport = 8111\n")
    monkeypatch.delenv("HGV_LANE_CONFIG", raising=False)
    get_settings.cache_clear()
    try:
        assert main(["--config", str(f), "config", "show"]) == 0
        assert json.loads(capsys.readouterr().out)["server"]["port"] == 8111
    finally:
        os.environ.pop("HGV_LANE_CONFIG", None)
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("env", "file", "said"),
    [
        ({"HGV_LANE_SERVER__PORT": "abc"}, None, "server.port: Input should be a valid integer"),
        (
            {"HGV_LANE_SERVER__PORT": "99999"},
            None,
            "server.port: Input should be less than or equal to 65535",
        ),
        ({"HGV_LANE_SERVER__PROT": "1"}, None, "server.prot: Extra inputs are not permitted"),
        ({}, "absent.toml", "absent.toml (--config or HGV_LANE_CONFIG): no such file"),
        ({}, "bad.toml", "bad.toml: Expected ']'"),
        ({}, "bad.yaml", "bad.yaml: while parsing"),
    ],
    ids=["not_a_number", "out_of_bounds", "unknown_key", "no_file", "bad_toml", "bad_yaml"],
)
def test_bad_settings_are_a_message_and_exit_code_2_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    file: str | None,
    said: str,
) -> None:
    (tmp_path / "bad.toml").write_text("[server\nport = 1\n")
    (tmp_path / "bad.yaml").write_text("server: [1\n")
    monkeypatch.delenv("HGV_LANE_CONFIG", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    args = ["--config", str(tmp_path / file)] if file else []
    get_settings.cache_clear()
    try:
        assert main([*args, "config", "show"]) == 2
    finally:
        os.environ.pop("HGV_LANE_CONFIG", None)
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("hgv-lane: ") and said in err and "Traceback" not in err


def test_a_secret_looking_setting_is_not_echoed_and_serve_checks_its_port(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HGV_LANE_CONFIG", raising=False)
    monkeypatch.setenv("HGV_LANE_STORE__URLL", "postgresql://u:s3cret@db/x")
    get_settings.cache_clear()
    try:
        assert main(["config", "show"]) == 2
        err = capsys.readouterr().err
        assert "store.urll: Extra inputs are not permitted" in err and "s3cret" not in err
        monkeypatch.delenv("HGV_LANE_STORE__URLL")
        get_settings.cache_clear()
        assert main(["serve", "--port", "99999"]) == 2  # before uvicorn starts
        assert "server.port: Input should be less than or equal to 65535" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


@pytest.mark.usefixtures("env_settings")
def test_doctor_checks_the_versions_promoted_in_the_registry(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each role's version in use is what the pipeline loads: promoted in the registry, it is
    checked where it is, and no shipped file of that name is needed in the models folder."""
    monkeypatch.setenv("HGV_LANE_READER__ENGINE", "rapidocr")
    get_settings.cache_clear()
    registry = get_settings().model_registry()
    classifier = ROOT / "models" / "trailer_classifier.onnx"
    for role, onnx in (
        ("plate_detector", tiny_model),
        ("vehicle_detector", tiny_model),
        ("trailer_classifier", classifier),
    ):
        registry.promote(role, registry.add(role, onnx).version)
    assert main(["doctor", "--skip-ocr", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    promoted = sorted(m["path"] for m in report["models"] if m["name"] == "model.onnx")
    assert len(promoted) == 3 and all("/registry/" in p for p in promoted)
    assert report["ok"] is True
    roles = {m["name"] for m in report["models"] if m["kind"] == "role" and m["ok"]}
    assert roles == {"vehicle_detector v1", "plate_detector v1", "trailer_classifier v1"}
    # a version the lanes cannot load as its role, put in place behind the CLI's back: doctor says so
    registry.promote("trailer_classifier", registry.add("trailer_classifier", tiny_model).version)
    assert main(["doctor", "--skip-ocr", "--json"]) == 1
    assert "trailer_classifier v2 (role)" in capsys.readouterr().out
