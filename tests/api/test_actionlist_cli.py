from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli import build_parser, main
from api.db.session import head_revision
from api.settings import get_settings

LIST = (
    "registration,kind,haulier,penalty_ref,amount_gbp,date,notes\n"
    "WGM 1034,trailer,Haulier X,CP-2024-0183,2000,2024-03-01,\n"
    "AB12 CDE,vehicle,\"=cmd|' /C calc'!A0\",CP-2024-0001,1500.50,2024-01-05,\n"
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("HGV_LANE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HGV_LANE_CONFIG", raising=False)
    monkeypatch.delenv("HGV_LANE_STORE__URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def last_json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    out = capsys.readouterr().out
    data: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return data


def test_commands_have_help() -> None:
    parser = build_parser()
    for command in (
        "actionlist import",
        "actionlist list",
        "actionlist versions",
        "actionlist match",
        "db upgrade",
        "db prune",
    ):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([*command.split(), "--help"])
        assert exc.value.code == 0


def test_import_list_versions_match(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = env / "list.csv"
    f.write_text(LIST)
    assert main(["actionlist", "import", str(f), "--json"]) == 1  # header uses 'registration'
    rejected = last_json(capsys)
    assert rejected["ok"] is False and "missing column(s): mark" in str(rejected["errors"])
    assert main(["actionlist", "import", str(f), "--map", "registration=mark", "--dry-run", "--json"]) == 0
    assert last_json(capsys)["version"] is None
    assert main(["actionlist", "import", str(f), "--map", "registration=mark", "--json"]) == 0
    done = last_json(capsys)
    assert done["version"] == 1 and done["entries"] == 2
    assert (env / "data" / "hgv-lane.sqlite3").exists()  # the configured store by default

    assert main(["actionlist", "list", "--json"]) == 0
    listed = last_json(capsys)
    entries = listed["entries"]
    assert isinstance(entries, list)
    assert [e["mark"] for e in entries] == ["AB12CDE", "WGM1034"]
    assert entries[0]["haulier"] == "=cmd|' /C calc'!A0"

    assert main(["actionlist", "versions", "--json", "--diff", "1"]) == 0
    versions = last_json(capsys)
    assert versions["diff"] == {"added": ["AB12CDE", "WGM1034"], "removed": [], "changed": []}

    assert main(["actionlist", "match", "wgm 1o34", "--json"]) == 0
    assert last_json(capsys) == {
        "query": "wgm 1o34",
        "version": 1,
        "matches": [
            {
                "mark": "WGM1034",
                "match_type": "lookalike",
                "distance": 0,
                "haulier": "Haulier X",
                "penalty_ref": "CP-2024-0183",
                "kind": "trailer",
                "candidate": "WGM1O34",
                "candidate_rank": 0,
                "how": "look-alike O/0 at position 5",
            }
        ],
    }
    assert main(["actionlist", "match", "ZZ99ZZZ", "--candidate", "WGM1035", "--json"]) == 0
    matches = last_json(capsys)["matches"]
    assert isinstance(matches, list) and len(matches) == 1
    assert (matches[0]["match_type"], matches[0]["distance"], matches[0]["candidate_rank"]) == ("edit", 1, 1)
    assert main(["actionlist", "match", "WGM1035", "--max-edit", "0", "--json"]) == 0
    assert last_json(capsys)["matches"] == []


def test_db_option_and_db_commands(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = env / "elsewhere.sqlite3"
    url = f"sqlite:///{other}"
    assert main(["db", "upgrade", "--db", url]) == 0
    assert f"revision {head_revision()}" in capsys.readouterr().out and other.exists()
    f = env / "list.csv"
    f.write_text(LIST.replace("registration", "mark"))
    assert main(["actionlist", "import", str(f), "--db", url]) == 0
    capsys.readouterr()
    assert main(["actionlist", "list", "--db", url, "--json"]) == 0
    assert len(last_json(capsys)["entries"]) == 2  # type: ignore[arg-type]
    assert main(["actionlist", "list", "--json"]) == 0  # the default store is a different one
    assert "empty" in capsys.readouterr().out
    assert main(["db", "prune", "--dry-run", "--db", url, "--json"]) == 0
    report = last_json(capsys)
    assert report["passages"] == 0 and report["dry_run"] is True and report["days"] == 30


def test_bad_files_are_reported(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["actionlist", "import", str(env / "missing.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
    f = env / "latin1.csv"
    f.write_bytes(
        "mark,kind,haulier,penalty_ref,amount_gbp,date\nAB12CDE,vehicle,Société,p,1,2024-01-01\n".encode(
            "latin-1"
        )
    )
    assert main(["actionlist", "import", str(f)]) == 1
    said = capsys.readouterr()
    assert "not UTF-8" in said.err and "the action list was not changed" in said.err and not said.out
    assert main(["actionlist", "import", str(f), "--map", "nonsense"]) == 2


def test_help_imports_no_store_libraries() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom api.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "libs = ('sqlalchemy', 'alembic', 'rapidfuzz', 'psycopg')\n"
        "print('LOADED', sorted(m for m in libs if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "LOADED []" in proc.stdout and "actionlist" in proc.stdout and "db" in proc.stdout
