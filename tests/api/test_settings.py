from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
from pydantic import ValidationError

from api.settings import ReaderSettings, Settings
from vision.anpr.reader import READER_ENGINES


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HGV_LANE_CONFIG", raising=False)
    s = Settings()
    assert s.server.port == 8000 and s.server.host == "127.0.0.1"
    assert s.data_dir == tmp_path / "data"
    assert s.database_url == f"sqlite:///{tmp_path / 'data' / 'hgv-lane.sqlite3'}"
    assert s.runtime.providers == "auto"


def test_environment_overrides_nested(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HGV_LANE_SERVER__PORT", "8123")
    monkeypatch.setenv("HGV_LANE_STORE__URL", "postgresql+psycopg://u@localhost/hgv")
    s = Settings()
    assert s.server.port == 8123
    assert s.database_url == "postgresql+psycopg://u@localhost/hgv"


def test_bounds_are_enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HGV_LANE_SERVER__PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        Settings()
    monkeypatch.delenv("HGV_LANE_SERVER__PORT")
    monkeypatch.setenv("HGV_LANE_RUNTIME__PROVIDERS", "tpu")
    with pytest.raises(ValidationError, match="providers"):
        Settings()


def test_unknown_keys_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """At the top level and inside every section, from arguments, the environment and a file."""
    with pytest.raises(ValidationError):
        Settings(no_such_setting=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match=r"server\.prot"):
        Settings(server={"prot": 9000})
    monkeypatch.setenv("HGV_LANE_FRAMES__MAX_PIXEL", "100")
    with pytest.raises(ValidationError, match=r"frames\.max_pixel"):
        Settings()
    monkeypatch.delenv("HGV_LANE_FRAMES__MAX_PIXEL")
    f = tmp_path / "s.toml"
    f.write_text("[server]\nport = 9001\nprot = 9000\n")
    monkeypatch.setenv("HGV_LANE_CONFIG", str(f))
    with pytest.raises(ValidationError, match=r"server\.prot"):
        Settings()


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("s.toml", "[server]\nport = 9001\n[reader]\ntop_n = 3\n"),
        ("s.yaml", "server:\n  port: 9001\nreader:\n  top_n: 3\n"),
    ],
)
def test_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, body: str) -> None:
    f = tmp_path / name
    f.write_text(body)
    monkeypatch.setenv("HGV_LANE_CONFIG", str(f))
    s = Settings()
    assert s.server.port == 9001 and s.reader.top_n == 3
    monkeypatch.setenv("HGV_LANE_SERVER__PORT", "9002")  # environment beats the file
    assert Settings().server.port == 9002


def test_missing_or_wrong_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HGV_LANE_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(FileNotFoundError, match=r"absent\.toml"):
        Settings()
    ini = tmp_path / "s.ini"
    ini.write_text("[server]\n")
    monkeypatch.setenv("HGV_LANE_CONFIG", str(ini))
    with pytest.raises(ValueError, match=r"\.toml, \.yaml"):
        Settings()


def test_the_reader_engine_setting_names_exactly_the_engines_the_reader_builds() -> None:
    # the Literal is spelled out for mypy and the schema; the reader's tuple is what it builds
    assert set(get_args(ReaderSettings.model_fields["engine"].annotation)) == set(READER_ENGINES)
    assert ReaderSettings().engine in READER_ENGINES


@pytest.mark.parametrize(
    ("roi", "says"),
    [
        ([(64, 72), (1200, 72), (1200, 700)], "not pixels"),  # pixels of a 1280 x 720 frame
        ([(0.1, 0.1), (0.9, 0.1)], "at least 3 points"),
        ([(0.1, 0.1), (0.5, 0.5), (0.9, 0.9)], "encloses 0.00% of the frame"),  # all on a line
    ],
)
def test_a_region_of_interest_that_cannot_be_a_lanes_is_refused_by_the_settings(
    roi: list[tuple[float, float]], says: str
) -> None:
    # it had passed config show and doctor, then stopped every lane when serve started them
    from api.settings import LaneSettings

    with pytest.raises(ValidationError, match=says):
        LaneSettings(lane_id="P1", roi=roi)
    assert LaneSettings(lane_id="P1", roi=[(0.1, 0.2), (0.9, 0.2), (0.9, 1.0), (0.1, 1.0)]).roi


def test_an_environment_value_that_does_not_parse_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # it had said only 'error parsing value for field "pipeline" from source "EnvSettingsSource"'
    from api.settings import SettingsError, get_settings

    monkeypatch.setenv("HGV_LANE_PIPELINE__LANES", '[{"lane_id": "P1",}]')
    get_settings.cache_clear()
    try:
        with pytest.raises(
            SettingsError, match=r"environment variable HGV_LANE_PIPELINE__LANES: not valid JSON"
        ):
            get_settings()
    finally:
        get_settings.cache_clear()
