"""Shared fixtures: small hand-made models and settings pointing at temporary folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from sqlalchemy import Engine

from api.db.session import open_store
from api.settings import ModelSettings, Settings


def write_tiny_detector(path: Path, names: dict[int, str], imgsz: int = 32) -> Path:
    """A real (tiny) ONNX model with ultralytics-style metadata.

    Input ``images`` (1, 3, imgsz, imgsz) float32; output ``output0`` (1, 3) = per-channel
    mean of the input (GlobalAveragePool then Flatten), so results can be checked.
    """
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, imgsz, imgsz])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3])
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny", [inp], [out], initializer=[numpy_helper.from_array(np.zeros(1, np.float32), "unused")]
    )
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
    import shutil
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
