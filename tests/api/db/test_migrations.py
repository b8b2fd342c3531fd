from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from api.db.errors import StoreError
from api.db.models import Base
from api.db.session import current_revision, downgrade, head_revision, open_store, upgrade
from api.settings import PROJECT_ROOT

TABLES = {
    "action_list_versions",
    "action_list_entries",
    "passages",
    "passage_plates",
    "plate_candidates",
    "flags",
    "flag_reasons",
    "flag_events",
    "audit_log",
}


def test_upgrade_creates_the_schema_the_models_describe(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == [], f"models and migrations disagree: {diffs}"


def test_upgrade_is_idempotent_and_downgrade_reverses_it(engine: Engine) -> None:
    upgrade(engine)  # at head already: nothing to do
    downgrade(engine, "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_sqlite_store_uses_wal(sqlite_url: str) -> None:
    eng = open_store(sqlite_url)
    try:
        with eng.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        eng.dispose()


def test_alembic_command_line_works_from_the_repository_root(tmp_path: Path) -> None:
    db = tmp_path / "by-hand.sqlite3"
    env = {**os.environ, "HGV_LANE_DATA_DIR": str(tmp_path)}
    alembic = Path(sys.executable).parent / "alembic"
    proc = subprocess.run(
        [str(alembic), "-x", f"url=sqlite:///{db}", "upgrade", "head"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    eng = open_store(f"sqlite:///{db}", migrate=False)
    try:
        assert current_revision(eng) == head_revision()
    finally:
        eng.dispose()


def test_migrations_ship_with_the_package() -> None:
    migrations = PROJECT_ROOT / "api" / "migrations"
    assert (migrations / "__init__.py").exists() and (migrations / "versions" / "__init__.py").exists()
    assert (migrations / "alembic.ini").exists() and (migrations / "script.py.mako").exists()
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    assert '"*.ini"' in pyproject and '"*.mako"' in pyproject


def test_a_store_made_by_a_newer_hgv_lane_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.cli import main

    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    open_store(url).dispose()
    engine = open_store(url, migrate=False)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(StoreError, match="revision '0099', which this hgv-lane does not know"):
        open_store(url)
    assert main(["db", "prune", "--dry-run", "--db", url]) == 2  # no alembic traceback
    assert "hgv-lane: the store is at schema revision '0099'" in capsys.readouterr().err


def test_a_file_that_is_no_database_is_a_store_error(tmp_path: Path) -> None:
    junk = tmp_path / "store.sqlite3"
    junk.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StoreError, match="file is not a database"):
        open_store(f"sqlite:///{junk}")


def test_a_store_that_cannot_be_created_says_where(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match=r"cannot open the store sqlite:///.*file/store\.sqlite3"):
        open_store(f"sqlite:///{blocker / 'store.sqlite3'}")
