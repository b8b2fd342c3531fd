"""Shared fixtures: small hand-made models and settings pointing at temporary folders."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from sqlalchemy import Engine

from api.db.session import open_store
from api.settings import PROJECT_ROOT, ModelSettings, Settings
from vision.anpr.engines import CRNN_MODEL_FILE, default_crnn_model_path


def load_bench(name: str) -> ModuleType:
    """The benchmark script ``bench/<name>.py`` as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TINY_ANCHORS = 4
"""Anchors in :func:`write_tiny_detector`'s output."""


def write_tiny_detector(path: Path, names: dict[int, str], imgsz: int = 32) -> Path:
    """A real (tiny) ONNX model with ultralytics-style metadata and a YOLOv8 detect output.

    Input ``images`` (1, 3, imgsz, imgsz) float32; output ``output0`` (1, 4 + classes,
    :data:`TINY_ANCHORS`), whose first three values (flattened) are the per-channel means of the
    input (GlobalAveragePool, Flatten) and the rest zeros, so results can be checked and every
    class score is 0 (no detections).
    """
    rows = 4 + len(names)
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, imgsz, imgsz])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, rows, TINY_ANCHORS])
    zeros = numpy_helper.from_array(np.zeros((1, rows * TINY_ANCHORS - 3), np.float32), "zeros")
    shape = numpy_helper.from_array(np.array([1, rows, TINY_ANCHORS], np.int64), "shape")
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["means"]),
        helper.make_node("Concat", ["means", "zeros"], ["flat"], axis=1),
        helper.make_node("Reshape", ["flat", "shape"], ["output0"]),
    ]
    graph = helper.make_graph(nodes, "tiny", [inp], [out], initializer=[zeros, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in {"names": str(names), "imgsz": str([imgsz, imgsz]), "task": "detect"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    """Path of a tiny valid ONNX model with class names ``plate, vehicle, body``."""
    return write_tiny_detector(tmp_path / "models" / "tiny.onnx", {0: "plate", 1: "vehicle", 2: "body"})


@pytest.fixture
def reader_only_models(tmp_path: Path) -> Path:
    """A models folder holding only the shipped plate recogniser (the default reader needs it):
    no detectors, so scenes are read from their true box and clips run on truth boxes."""
    models = tmp_path / "models"
    models.mkdir(parents=True, exist_ok=True)
    shutil.copy(default_crnn_model_path(), models / CRNN_MODEL_FILE)
    return models


@pytest.fixture
def settings(tmp_path: Path, tiny_model: Path) -> Settings:
    """Settings with the data dir and models dir in ``tmp_path``."""
    return Settings(data_dir=tmp_path / "data", models=ModelSettings(dir=tiny_model.parent))


# --- PostgreSQL ------------------------------------------------------------------------------------

POSTGRES_URL_ENV = "HGV_LANE_TEST_POSTGRES_URL"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path | None:
    """The newest Debian PostgreSQL ``bin`` folder with ``initdb`` and ``pg_ctl``, if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name),
        reverse=True,
    )
    return found[0].parent if found and (found[0].parent / "pg_ctl").exists() else None


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A SQLAlchemy URL of a PostgreSQL server whose user may create databases.

    From ``HGV_LANE_TEST_POSTGRES_URL`` when set; else a throwaway cluster started from Debian's
    binaries (``/usr/lib/postgresql/*/bin``) in a temporary folder, listening on a unix socket
    only, run as the ``postgres`` user when the tests run as root, stopped at the end of the
    session; else the test is skipped, saying why.
    """
    import os
    import subprocess
    import tempfile

    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        yield url
        return
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip(
            f"no PostgreSQL: set {POSTGRES_URL_ENV} or install Debian's postgresql "
            "(apt-get install postgresql)"
        )
    as_user: list[str] = []
    user = None
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("PostgreSQL refuses to run as root and runuser is missing")
        user = "postgres"
        as_user = ["runuser", "-u", user, "--"]
    root = Path(tempfile.mkdtemp(prefix="hgv-lane-pg-"))
    if user is not None:
        shutil.chown(root, user=user)
    data, port = root / "data", _free_port()
    log = root / "server.log"

    def run(*cmd: str) -> None:
        proc = subprocess.run([*as_user, *cmd], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")

    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        options = f"-c listen_addresses='' -c unix_socket_directories={root} -p {port} -c fsync=off"
        run(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"
        )
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"could not start a throwaway PostgreSQL from {bin_dir}: {exc}")
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={root}&port={port}"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"hgv_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# --- stores: the same tests run on SQLite and on a real PostgreSQL ---------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL: SQLite in ``tmp_path``, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite store URL in ``tmp_path``."""
    return f"sqlite:///{tmp_path / 'store.sqlite3'}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh store, migrated to head (SQLite and PostgreSQL)."""
    eng = open_store(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """An engine on a fresh SQLite store, migrated to head."""
    eng = open_store(sqlite_url)
    yield eng
    eng.dispose()


# --- the HTTP API: app, users with tokens, passages that raise flags ----------------------------

DEMO_LIST_CSV = (
    "mark,kind,haulier,penalty_ref,amount_gbp,date,notes\n"
    "WGM1034,trailer,Haulier X,CP-2024-0183,2000,2024-03-01,\n"
    "AB12CDE,vehicle,Acme Ltd,CP-2024-0001,1500.50,2024-01-05,\n"
)
"""A two-entry action list the API tests import."""


class ApiEnv:
    """A running app (TestClient), its state, and helpers to add users, tokens and passages."""

    def __init__(self, client: object, state: object) -> None:
        from fastapi.testclient import TestClient

        from api.app import AppState

        assert isinstance(client, TestClient) and isinstance(state, AppState)
        self.client: TestClient = client
        self.state: AppState = state
        self.tokens: dict[str, str] = {}
        self._n = 0

    def user(self, name: str, role: str, password: str | None = None, lane: str | None = None) -> str:
        """Add a user with a bearer token (bound to ``lane`` when given); returns the token (also
        in ``tokens[name]``)."""
        from api.auth import create_user, issue_token
        from api.db.models import UserRole
        from api.db.session import session_scope

        with session_scope(self.state.engine) as session:
            user = create_user(session, name, UserRole(role), password, min_password_len=1)
            token, _ = issue_token(session, user, "test", lane_id=lane)
        self.tokens[name] = token
        return token

    def auth(self, name: str) -> dict[str, str]:
        """The Authorization header of ``name``'s token."""
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def import_list(self, csv_text: str = DEMO_LIST_CSV) -> None:
        """Import an action list straight into the store and rebuild the matcher."""
        from api.actionlist import import_action_list
        from api.db.session import session_scope

        with session_scope(self.state.engine) as session:
            import_action_list(session, csv_text.encode(), source_name="list.csv", actor="test")
        self.state.passage_recorder().rebuild_matcher()

    def passage(
        self,
        mark: str = "AB12CDE",
        *,
        lane: str = "L1",
        body: str = "curtainsider",
        conf: float = 0.95,
        at_ms: int | None = None,
        jpeg: bytes | None = None,
    ) -> object:
        """Record one passage (front plate ``mark``) through the flag rules; returns the FlagOutcome."""
        import time

        import cv2

        from vision.types import (
            BodyType,
            Passage,
            PassagePlate,
            PlateCandidate,
            PlateRole,
            ReadStatus,
            TrailerVerdict,
        )

        self._n += 1
        if jpeg is None:
            img = np.full((40, 120, 3), 255, np.uint8)
            cv2.putText(img, mark[:8], (2, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2)
            jpeg = bytes(cv2.imencode(".jpg", img)[1])
        at = at_ms if at_ms is not None else int(time.time() * 1000)
        plate = PassagePlate(
            PlateRole.FRONT,
            mark,
            conf,
            ReadStatus.COMMITTED,
            (PlateCandidate(mark, conf, country="UK"),),
            country="UK",
            format_valid=True,
            n_looks=3,
            crop_jpeg=jpeg,
        )
        p = Passage(
            f"test-{self._n}-{mark}",
            lane,
            at - 5000,
            at,
            (plate,),
            TrailerVerdict(BodyType(body), 0.9, 4),
            body_crop_jpeg=jpeg,
        )
        return self.state.passage_recorder().record(p)


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiEnv]:
    """The app on a fresh SQLite store with users ``officer``, ``officer2``, ``supervisor``,
    ``admin`` and ``camera`` (bearer tokens only) and the two-entry action list."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(settings)) as client:
        env = ApiEnv(client, client.app.state.lane)  # type: ignore[attr-defined]
        for name, role in (
            ("officer", "officer"),
            ("officer2", "officer"),
            ("supervisor", "supervisor"),
            ("admin", "admin"),
            ("camera", "camera"),
        ):
            env.user(name, role)
        env.import_list()
        yield env


class LiveServer:
    """The app served by uvicorn in a thread on a free port (for SSE and the browser)."""

    def __init__(self, url: str, state: object, env: ApiEnv) -> None:
        self.url = url
        self.env = env
        self.state = state


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """``api``'s users and action list, but served over real HTTP by uvicorn in a thread."""
    import threading
    import time

    import uvicorn
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(settings)
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    state = app.state.lane
    env = ApiEnv(TestClient(app), state)  # helpers only: requests go to the live server
    for name, role in (("officer", "officer"), ("supervisor", "supervisor"), ("camera", "camera")):
        env.user(name, role, password=f"{name}-password" if role != "camera" else None)
    env.import_list()
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", state, env)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
