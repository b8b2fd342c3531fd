"""Service settings: pydantic-settings, validated with bounds, read through :func:`get_settings`.

Sources, highest priority first: keyword arguments, ``HGV_LANE_*`` environment variables
(nested with ``__``, e.g. ``HGV_LANE_SERVER__PORT=8080``), an optional TOML or YAML file
named by ``HGV_LANE_CONFIG`` (or ``--config`` on the command line), then the defaults.
Nothing is built at import time.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from vision.pipeline.roi import MIN_LANE_AREA, roi_problem
from vision.registry import ModelRegistry

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The source tree's root (holds ``models/`` and ``fixtures/`` in an editable install)."""

CONFIG_ENV = "HGV_LANE_CONFIG"
ENV_PREFIX = "HGV_LANE_"


class _Section(BaseModel):
    """A settings section: an unknown key in it is an error, as at the top level (a typo such
    as ``HGV_LANE_SERVER__PROT`` or ``prot = 9000`` under ``[server]`` is not ignored)."""

    model_config = ConfigDict(extra="forbid")


class RuntimeSettings(_Section):
    """How models run."""

    providers: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="ONNX Runtime providers: auto picks CUDA when present, else CPU."
    )
    intra_op_threads: int = Field(
        0, ge=0, le=64, description="ONNX Runtime threads per session; 0 lets ONNX Runtime decide."
    )


class ModelSettings(_Section):
    """Where the shipped models are."""

    dir: Path = Field(PROJECT_ROOT / "models", description="Folder of shipped ONNX models and model cards.")
    plate_detector: str = Field(
        "plate_detector.onnx", description="Plate detector file in the models folder."
    )
    vehicle_detector: str = Field(
        "vehicle_detector.onnx", description="Vehicle and trailer-body detector file in the models folder."
    )
    trailer_classifier: str = Field(
        "trailer_classifier.onnx", description="Trailer body-type classifier file in the models folder."
    )

    registry_dir: Path | None = Field(
        None,
        description="Model registry folder (versions added by 'hgv-lane export' and 'models add'); "
        "empty means <data_dir>/registry.",
    )
    reference: dict[str, Path] = Field(
        default_factory=dict,
        description="Reference data set per model role (plate_detector, vehicle_detector: a YOLO "
        "data.yaml; trailer_classifier: a folder-per-class root) that 'models promote' compares on.",
    )
    promote_tolerance: float = Field(
        0.0,
        ge=0.0,
        le=0.2,
        description="How far below the model in use a candidate's primary metric may be and still "
        "be promoted without --force (a fraction: 0.01 is one point of mAP or accuracy).",
    )
    reload_poll_s: float = Field(
        5.0,
        ge=0.2,
        le=3600.0,
        description="How often the running service checks the registry for a promoted model, seconds.",
    )

    def path(self, name: str) -> Path:
        """A model file's path: ``name`` resolved against :attr:`dir`."""
        return self.dir / name


class ReaderSettings(_Section):
    """Plate reading."""

    engine: Literal["easyocr", "rapidocr", "crnn", "crnn+rapidocr"] = Field(
        "crnn+rapidocr",
        description="Plate reader engine (measured best is the default): crnn is the project's own "
        "recogniser, models/plate_reader.onnx; crnn+rapidocr asks RapidOCR for a second opinion when "
        "crnn's best reading fits no grammar or is unsure.",
    )
    top_n: int = Field(5, ge=1, le=20, description="Candidate strings kept per plate read.")


class StoreSettings(_Section):
    """The database."""

    url: str | None = Field(
        None,
        description="SQLAlchemy URL; empty means SQLite (WAL) at <data_dir>/hgv-lane.sqlite3. "
        "PostgreSQL works by URL.",
    )


class ServerSettings(_Section):
    """The HTTP service."""

    host: str = Field("127.0.0.1", description="Address the service listens on.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port the service listens on.")
    demo: bool = Field(False, description="Run the bundled demo lane (synthetic clip) inside the service.")
    demo_replay: bool = Field(
        False,
        description="With demo: replay the demo clip's GROUND-TRUTH passages through the flag rules "
        "(no vision; for trying the officers' page before the pipeline runs). Implies demo.",
    )
    demo_lane_runner: str = Field(
        "api.lane_runner:run_demo_lane",
        description="'module:callable' of the demo lane runner started in the lifespan with the app "
        "state (default: the lane pipeline playing the bundled synthetic clip); empty: none.",
    )
    forwarded_allow_ips: str = Field(
        "",
        max_length=1000,
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-For is believed "
        "(the client address the log-in throttle and the audit log use); empty: none, the peer's "
        "own address is the client's (uvicorn would otherwise believe 127.0.0.1).",
    )
    max_body_bytes: int = Field(
        1_000_000,
        ge=10_000,
        le=100_000_000,
        description="Largest request body of a JSON route (bytes; 413 over it, before anything is "
        "read). Pushed frames have frames.max_bytes, action-list files their own 50 MB.",
    )


class FlagSettings(_Section):
    """Action-list matching, flag rules (risk points add up to a score capped at 100) and retention."""

    max_edit_distance: int = Field(
        1,
        ge=0,
        le=2,
        description="Largest edit distance (characters inserted, deleted or replaced, after look-alike "
        "characters are treated as equal) at which a read still matches an action-list mark; 0 turns "
        "edit matching off.",
    )
    edit_min_length: int = Field(
        5, ge=2, le=10, description="Shortest mark (characters) that may match by edit distance."
    )
    threshold: int = Field(
        20, ge=1, le=100, description="Risk score (0-100) at or above which a passage becomes a flag."
    )
    hit_exact_points: int = Field(80, ge=0, le=100, description="Risk points for an exact action-list hit.")
    hit_lookalike_points: int = Field(
        70, ge=0, le=100, description="Risk points for an action-list hit through look-alike characters."
    )
    hit_edit_points: int = Field(
        50, ge=0, le=100, description="Risk points for an action-list hit within the edit distance."
    )
    soft_sided_points: int = Field(
        25, ge=0, le=100, description="Risk points for a soft-sided trailer (curtainsider, tilt)."
    )
    soft_min_confidence: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description=(
            "Probability (0-1) of a soft-sided body (curtainsider plus tilt, mean over the looks) "
            "needed before soft-sided counts."
        ),
    )
    unread_points: int = Field(
        30, ge=0, le=100, description="Risk points when a lorry's plate is unread (or it shows no plate)."
    )
    low_confidence_points: int = Field(
        20, ge=0, le=100, description="Risk points when a lorry's plate is read with low confidence."
    )
    low_confidence_below: float = Field(
        0.6, ge=0.0, le=1.0, description="A plate read below this confidence (0-1) counts as low confidence."
    )
    repeat_points: int = Field(
        20, ge=0, le=100, description="Risk points when the same vehicle passed within the repeat window."
    )
    repeat_window_min: int = Field(
        30,
        ge=1,
        le=1440,
        description="Minutes within which the same vehicle again updates its open flag instead of "
        "making a new one (and counts as a repeat).",
    )
    unflagged_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Days after which passages without a flag are deleted with their evidence crops "
        "(flags and the audit log are kept).",
    )


class AuthSettings(_Section):
    """Officers' sessions, API tokens and passwords."""

    session_ttl_min: int = Field(
        720, ge=5, le=7 * 24 * 60, description="Minutes a web session (cookie) stays valid after log-in."
    )
    cookie_secure: bool = Field(
        False,
        description="Mark the session cookie Secure (only sent over HTTPS); turn on behind TLS. Off by "
        "default so that the demo works on http://127.0.0.1.",
    )
    min_password_len: int = Field(10, ge=6, le=128, description="Shortest accepted password (characters).")
    person_token_days: int = Field(
        90,
        ge=0,
        le=3650,
        description="Days until a token made for a person (officer, supervisor, admin) expires when "
        "none is asked for; 0: never. A camera's token does not expire unless asked.",
    )
    token_last_used_resolution_s: int = Field(
        60, ge=0, le=3600, description="Seconds between writes of a token's last-used time (0: every use)."
    )


class FrameSettings(_Section):
    """JPEG frames pushed by lane cameras (``POST /v1/lanes/{lane}/frames``)."""

    max_bytes: int = Field(
        8_000_000, ge=1_000, le=100_000_000, description="Largest accepted JPEG body (bytes)."
    )
    max_pixels: int = Field(
        16_000_000,
        ge=64,
        le=200_000_000,
        description="Largest accepted image (width x height pixels), checked before decoding.",
    )
    queue_per_lane: int = Field(
        8,
        ge=1,
        le=10_000,
        description="Pushed frames waiting per lane (camera) before its pipeline takes them; when full the "
        "oldest is dropped and counted. Each is held decoded (2.7 MB at 1280x720, up to 48 MB at "
        "frames.max_pixels): keep it small.",
    )
    max_ahead_s: float = Field(
        5.0,
        ge=0.0,
        le=3600.0,
        description="A pushed frame's X-Frame-Ts-Ms may be at most this far ahead of the service's clock "
        "(s; 422 beyond): a lane's frames must keep increasing times, so one frame dated in the future "
        "would hold the lane's clock there.",
    )
    max_behind_s: float = Field(
        600.0,
        ge=1.0,
        le=86_400.0,
        description="... and at most this far behind it (s; 422 beyond): a camera sending seconds, or a "
        "clock that was never set.",
    )


class LiveSettings(_Section):
    """The officers' live flag queue (Server-Sent Events)."""

    poll_s: float = Field(
        1.0,
        ge=0.1,
        le=10.0,
        description="Seconds between store checks of a live stream when no in-process notification "
        "arrives (catches flags written by other processes).",
    )
    ping_s: int = Field(15, ge=1, le=300, description="Seconds between keep-alive comments on a live stream.")
    replay_max: int = Field(
        5000,
        ge=10,
        le=1_000_000,
        description="Most missed events replayed to a client reconnecting with Last-Event-ID.",
    )
    auth_recheck_s: float = Field(
        5.0,
        ge=0.0,
        le=300.0,
        description="Seconds between checks that a live stream's log-in still holds (logged out, "
        "expired, revoked, disabled: the stream sends 'ended' and stops).",
    )


class LaneSettings(_Section):
    """One lane camera of the pipeline."""

    lane_id: str = Field(
        ..., pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Lane id (letters, digits, _ . -)."
    )
    camera_id: str = Field("cam1", min_length=1, max_length=64, description="Camera id within the lane.")
    view: Literal["front", "rear", "side", "high_side"] = Field(
        "front",
        description="front: sees tractors' front plates; rear: trailers' rear plates and UK marks; side / "
        "high_side: the trailer's body broadside (its body type; no plates read).",
    )
    source: str = Field(
        "",
        description="Video file, image folder or stream URL (rtsp://, http://); empty: the camera pushes "
        "JPEG frames to POST /v1/lanes/{lane}/frames.",
    )
    roi: list[tuple[float, float]] = Field(
        default_factory=list,
        description="Region of interest: polygon of (x, y) points normalised to [0, 1] of the frame; "
        "empty: the whole frame.",
    )
    motion_gate: bool = Field(False, description="Skip frames where nothing moves inside the region.")
    loop: bool = Field(
        False,
        description="A video-file source plays again from the start when it ends (a bench lane or a "
        "commissioning test); a file lane that ended without it shows 'ended', not down.",
    )

    @field_validator("roi")
    @classmethod
    def _roi_inside_the_frame(cls, roi: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """At least 3 points, each in [0, 1] (fractions of the frame, not pixels), enclosing at
        least 1 % of the frame: refused here, by ``config show``, ``doctor`` and ``serve`` alike,
        not when the lane starts."""
        problem = roi_problem(roi, min_area=MIN_LANE_AREA)
        if problem is not None:
            raise ValueError(problem)
        return roi
        if len(roi) < 3:
            raise ValueError("a region of interest needs at least 3 points (or none for the whole frame)")
        outside = [p for p in roi if not (0.0 <= p[0] <= 1.0 and 0.0 <= p[1] <= 1.0)]
        if outside:
            raise ValueError(
                f"point {outside[0]} is outside the frame: points are fractions of its width and height "
                "in [0, 1], not pixels (x 640 of 1280 is 0.5)"
            )
        area = (
            abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(roi, roi[1:] + roi[:1], strict=True))) / 2
        )
        if area < 0.01:
            raise ValueError(
                f"the region encloses {area:.2%} of the frame: a lane needs at least 1 % (are two points the "
                "same, or all on a line?)"
            )
        return roi


class PipelineSettings(_Section):
    """The lane pipeline: tracking, which crops are read, queues, and the lanes."""

    detect_interval_ms: int = Field(
        80,
        ge=0,
        le=2000,
        description="Run the detectors at most this often per lane (ms; 0: every frame). 80 ms is every "
        "second frame at 25 fps; frames in between are counted, not detected.",
    )
    close_after_ms: int = Field(
        1500, ge=100, le=60_000, description="A vehicle unseen this long (ms) has left: its passage closes."
    )
    min_hits: int = Field(3, ge=1, le=100, description="Detections a vehicle needs to count as a passage.")
    min_track_ms: int = Field(
        500,
        ge=0,
        le=60_000,
        description="A vehicle seen for less than this (ms, first to last sighting) with no plate read that "
        "fits a plate grammar is noise, not a passage (a piece of a passing trailer seen for a few frames).",
    )
    min_plate_height_px: float = Field(
        12.0, ge=4.0, le=200.0, description="Plate crops shorter than this (pixels) are not read."
    )
    max_reads_per_plate: int = Field(8, ge=1, le=100, description="Most reads per plate track.")
    max_body_looks: int = Field(8, ge=0, le=100, description="Most body-type looks per vehicle.")
    queue_size: int = Field(
        32,
        ge=1,
        le=10_000,
        description="Frames queued per lane; when full the oldest is dropped and counted.",
    )
    store_retry_s: float = Field(
        60.0,
        ge=0.0,
        le=3600.0,
        description="How long a passage the store refuses (locked, away) is tried again before it "
        "goes to the spool <data_dir>/spool/passages.jsonl (replayed when the store is back).",
    )
    max_pushed_lanes: int = Field(
        16,
        ge=0,
        le=256,
        description="Lanes started on demand for pushed frames of lanes not listed in lanes.",
    )
    demo_clip: Path = Field(
        PROJECT_ROOT / "fixtures" / "synth" / "clip" / "clip.mp4",
        description="Video the demo lane plays in a loop at its frame rate.",
    )
    demo_lane_id: str = Field("demo", description="Lane id of the demo lane.")
    lanes: list[LaneSettings] = Field(
        default_factory=list,
        description="The lane cameras (see LaneSettings). A lane may have two or three entries (same "
        "lane_id, distinct camera_id): a front, a side (or high_side) and a rear camera, at most one each.",
    )
    merge_cameras: bool = Field(
        True,
        description="A lane with several cameras (front, side or high_side, rear) makes one passage per "
        "lorry (the cameras' passages joined by time and plates; body type from the side camera); false: "
        "one passage per camera.",
    )
    merge_max_gap_ms: int = Field(
        10_000,
        ge=0,
        le=600_000,
        description="Two-camera lanes: the rear camera first sees a lorry at most this long (ms) after the "
        "front camera last saw it (the lane's geometry, a stop between the cameras included).",
    )
    merge_max_lead_ms: int = Field(
        2_000,
        ge=0,
        le=60_000,
        description="Two-camera lanes: the rear camera first sees a lorry at most this long (ms) before the "
        "front camera first saw it (clocks a little apart, fields of view overlapping).",
    )
    merge_max_wait_ms: int = Field(
        60_000,
        ge=0,
        le=3_600_000,
        description="Two-camera lanes: a passage waits at most this long (ms) after its last sighting for "
        "the other camera's, then is recorded alone.",
    )

    @model_validator(mode="after")
    def _cameras_per_lane(self) -> PipelineSettings:
        seen: dict[str, list[LaneSettings]] = {}
        for lane in self.lanes:
            seen.setdefault(lane.lane_id, []).append(lane)
        for lane_id, cams in seen.items():
            if len(cams) == 1:
                continue
            slots = [{"high_side": "side"}.get(c.view, c.view) for c in cams]
            if len(set(slots)) != len(slots):
                raise ValueError(
                    f"lane {lane_id}: a lane has one camera, or at most one front, one side (or high_side) "
                    "and one rear camera"
                )
            if len({c.camera_id for c in cams}) != len(cams):
                raise ValueError(f"lane {lane_id}: its cameras need different camera_id values")
        return self


class Settings(BaseSettings):
    """All settings of the lane service and its commands."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(
        Path("data"),
        description="Folder for the store, evidence crops, run artefacts and ultralytics' config "
        "(relative paths are taken from the working directory).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Logging level.")
    runtime: RuntimeSettings = Field(default_factory=lambda: RuntimeSettings())
    models: ModelSettings = Field(default_factory=lambda: ModelSettings())
    reader: ReaderSettings = Field(default_factory=lambda: ReaderSettings())
    store: StoreSettings = Field(default_factory=lambda: StoreSettings())
    server: ServerSettings = Field(default_factory=lambda: ServerSettings())
    flags: FlagSettings = Field(default_factory=lambda: FlagSettings())
    auth: AuthSettings = Field(default_factory=lambda: AuthSettings())
    frames: FrameSettings = Field(default_factory=lambda: FrameSettings())
    live: LiveSettings = Field(default_factory=lambda: LiveSettings())
    pipeline: PipelineSettings = Field(default_factory=lambda: PipelineSettings())

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    def model_registry(self) -> ModelRegistry:
        """The model registry: versions under :attr:`ModelSettings.registry_dir`, shipped ones in
        :attr:`ModelSettings.dir` with the file names these settings give."""
        m = self.models
        return ModelRegistry(
            m.registry_dir or self.data_dir / "registry",
            m.dir,
            {
                "plate_detector": m.plate_detector,
                "vehicle_detector": m.vehicle_detector,
                "trailer_classifier": m.trailer_classifier,
            },
        )

    @property
    def database_url(self) -> str:
        """The store's SQLAlchemy URL (SQLite in ``data_dir`` unless configured)."""
        return self.store.url or f"sqlite:///{self.data_dir / 'hgv-lane.sqlite3'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get(CONFIG_ENV)
        if config:
            path = Path(config)
            if not path.is_file():
                raise FileNotFoundError(f"settings file {config} (--config or {CONFIG_ENV}): no such file")
            if path.suffix.lower() == ".toml":
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            elif path.suffix.lower() in (".yaml", ".yml"):
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
            else:
                raise ValueError(
                    f"settings file {config} (--config or {CONFIG_ENV}): must be .toml, .yaml or .yml"
                )
        return tuple(sources)


class SettingsError(Exception):
    """The settings cannot be built: a bad or out-of-bounds value, an unknown key, or a settings
    file that is missing or does not parse. The message names each problem (the command line
    prints it instead of a traceback, exit code 2). Not a ``ValueError``: commands that catch
    their own bad values must not take it for one of theirs."""


_SECRET_PARTS = ("url", "password", "secret", "token", "key")
"""A settings key with one of these in its name may hold a secret: its value is not echoed."""


def _problem(err: Mapping[str, Any], under: Sequence[str] = ()) -> str:
    loc = [*under, *(str(p) for p in err.get("loc", ()))]
    where = ".".join(loc) or "settings"
    given = err.get("input")
    secret = any(part in k.lower() for k in loc for part in _SECRET_PARTS)
    shown = "" if secret or isinstance(given, Mapping) else f" (given {str(given)[:40]!r})"
    return f"{where}: {err.get('msg', 'invalid')}{shown}"


def settings_error(exc: ValidationError, under: Sequence[str] = ()) -> SettingsError:
    """``exc`` as one message naming each problem (values of secret-looking keys not shown);
    ``under``: the section a section's own validation error is of (``("server",)``)."""
    problems = "\n  ".join(_problem(e, under) for e in exc.errors())
    return SettingsError(f"invalid settings ({exc.error_count()}):\n  {problems}")


def _bad_environment_value(message: str) -> str | None:
    """pydantic-settings' "error parsing value for field X from source EnvSettingsSource" with the
    variable named and why its value does not parse (complex values are JSON), or ``None``."""
    m = re.search(r'field "([^"]+)" from source "EnvSettingsSource"', message)
    if m is None:
        return None
    prefix = f"{ENV_PREFIX}{m.group(1).upper()}"
    for name in sorted(n for n in os.environ if n.upper() == prefix or n.upper().startswith(prefix + "__")):
        try:
            json.loads(os.environ[name])
        except ValueError as e:
            return f"environment variable {name}: not valid JSON ({e}); lists and tables are given as JSON"
    return f"environment variable {prefix} (or one under it, {prefix}__...): its value does not parse"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The effective settings, built once on first use; raises :class:`SettingsError`."""
    try:
        return Settings()
    except ValidationError as exc:
        raise settings_error(exc) from exc
    except (OSError, ValueError) as exc:  # the file: missing, unreadable, bad TOML; a bad env value
        env = _bad_environment_value(str(exc))
        config = os.environ.get(CONFIG_ENV)
        said = str(exc) if not config or config in str(exc) else f"settings file {config}: {exc}"
        raise SettingsError(env or said) from exc
    except yaml.YAMLError as exc:  # a YAML file that does not parse
        raise SettingsError(f"settings file {os.environ.get(CONFIG_ENV)}: {exc}") from exc
