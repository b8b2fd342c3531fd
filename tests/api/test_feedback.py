"""Officers' feedback exported as labelled samples: flags worked through the real API (claim,
reject with a correction, body type confirmed or corrected), crops on disk, the export's
manifests, copied files and counted problems; the ``hgv-lane dataset export-feedback`` command."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from api.cli import build_parser, main
from api.commands.feedback import parse_since
from api.db import repository as repo
from api.db.models import BodyFeedback, Flag, FlagStatus
from api.db.session import session_scope
from api.feedback import (
    PLATE_COLUMNS,
    TRAILER_COLUMNS,
    FeedbackError,
    export_feedback,
    record_body_feedback,
    resolve_body_feedback,
)
from api.flags import FlagRules, process_passage
from api.matching import Matcher
from api.settings import get_settings
from vision.trailer.evaluate import read_manifest
from vision.train.datasets import read_plate_manifest
from vision.types import (
    BodyType,
    Passage,
    PassagePlate,
    PlateCandidate,
    PlateRole,
    ReadStatus,
    Side,
    TrailerVerdict,
)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class Worked:
    """Flags the officers worked through the API; ids and data-dir paths to check against."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.h = api.auth("officer")
        self.flags: dict[str, int] = {}
        self.passages: dict[str, dict[str, Any]] = {}

    def flag(
        self, name: str, mark: str, body: str, lane: str = "L1", conf: float = 0.5
    ) -> tuple[int, dict[str, Any]]:
        """A flag (low-confidence read: 20 points, enough for a flag on any body) claimed."""
        flag_id = self.api.passage(mark, body=body, lane=lane, conf=conf).flag_id
        assert flag_id is not None
        d = self.post(flag_id, "claim")
        self.flags[name], self.passages[name] = flag_id, d["passages"][0]
        return flag_id, d["passages"][0]

    def post(self, flag_id: int, path: str, **body: Any) -> dict[str, Any]:
        r = self.api.client.post(f"/v1/flags/{flag_id}/{path}", json=body, headers=self.h)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def crop(self, name: str, which: str) -> Path:
        """The data-dir file of passage ``name``'s ``body`` or ``plate-<position>`` crop."""
        with session_scope(self.api.state.engine) as s:
            row = repo.get_passage(s, self.passages[name]["id"])
            assert row is not None
            rel = row.body_crop_path if which == "body" else row.plates[int(which.split("-")[1])].crop_path
        assert rel
        path: Path = self.api.state.settings.data_dir / rel
        return path


@pytest.fixture
def worked(api: Any) -> Worked:
    """Five flags:

    - ``misread``: AB12CDK read, rejected with the correction ``ab12 cde``; body box confirmed;
    - ``tilt``: the machine said box, the officer corrected it to tilt;
    - ``no_fix``: rejected without a correction (no plate label); body not touched;
    - ``gone``: lane L2, body corrected to flatbed, then its body crop file deleted;
    - ``gone_plate``: rejected with a correction, then its plate crop file deleted.
    """
    w = Worked(api)
    f, p = w.flag("misread", "AB12CDK", "box")
    w.post(f, "reject", reason="last letter is E", corrected_mark="ab12 cde")
    w.post(f, f"passages/{p['id']}/body-type", action="confirm")
    f, p = w.flag("tilt", "XY99ZZZ", "box")
    w.post(f, f"passages/{p['id']}/body-type", action="correct", body_type="tilt")
    f, p = w.flag("no_fix", "CD34EFG", "curtainsider")
    w.post(f, "reject", reason="plate obscured")
    f, p = w.flag("gone", "GH56IJK", "box", lane="L2")
    w.post(f, f"passages/{p['id']}/body-type", action="correct", body_type="flatbed")
    w.crop("gone", "body").unlink()
    f, p = w.flag("gone_plate", "LM78NOP", "curtainsider")
    w.post(f, "reject", reason="misread", corrected_mark="LM78NOR")
    w.crop("gone_plate", "plate-0").unlink()
    return w


def test_export_writes_the_import_formats_and_counts_missing_crops(worked: Worked, tmp_path: Path) -> None:
    api = worked.api
    out = tmp_path / "export"
    report = export_feedback(api.state.engine, api.state.settings.data_dir, out)
    s = report.summary()
    assert s["plates"] == 1 and s["trailers"] == 2
    assert s["trailer_classes"] == {"box": 1, "tilt": 1} and s["trailer_labels"] == {"hard": 1, "soft": 1}
    assert s["body_confirmed"] == 1 and s["body_corrected"] == 1
    assert s["problems"] == {"missing_crop": 2}
    assert {(p.what, p.passage_uid) for p in report.problems} == {
        ("trailer", worked.passages["gone"]["passage_uid"]),
        ("plate", worked.passages["gone_plate"]["passage_uid"]),
    }

    # plates: the ../shared/data/README.md manifest + group, the crop copied (not moved)
    uid = worked.passages["misread"]["passage_uid"]
    manifest = out / "plates" / "manifest.csv"
    assert manifest.read_text().splitlines()[0] == ",".join(PLATE_COLUMNS)
    (row,) = _rows(manifest)
    assert row["image_path"] == f"crops/{uid}-0.jpg"
    assert row["plate_text"] == "AB12CDE" and row["country"] == "UK" and row["group"] == uid
    assert row["bbox_x"] == row["bbox_y"] == row["bbox_w"] == row["bbox_h"] == ""
    assert f"flag {worked.flags['misread']}" in row["notes"] and "lane L1" in row["notes"]
    assert "machine read AB12CDK" in row["notes"]
    src = worked.crop("misread", "plate-0")
    assert src.is_file() and (manifest.parent / row["image_path"]).read_bytes() == src.read_bytes()
    ((path, text, box),) = read_plate_manifest(manifest)  # the project's own reader takes it
    assert path.is_file() and text == "AB12CDE" and box is None

    # trailers: folder per class + image_path,label,body_type,notes
    trailers = out / "trailers"
    rows = _rows(trailers / "manifest.csv")
    assert list(rows[0]) == list(TRAILER_COLUMNS)
    tilt_uid = worked.passages["tilt"]["passage_uid"]
    assert [(r["image_path"], r["label"], r["body_type"]) for r in rows] == [
        (f"box/{uid}.jpg", "hard", "box"),
        (f"tilt/{tilt_uid}.jpg", "soft", "tilt"),
    ]
    assert "confirmed box" in rows[0]["notes"] and "corrected box to tilt" in rows[1]["notes"]
    assert sorted(p.name for p in trailers.iterdir()) == ["box", "groups.csv", "manifest.csv", "tilt"]
    assert _rows(trailers / "groups.csv") == [
        {"image_path": f"box/{uid}.jpg", "group": uid},
        {"image_path": f"tilt/{tilt_uid}.jpg", "group": tilt_uid},
    ]
    assert (trailers / "tilt" / f"{tilt_uid}.jpg").read_bytes() == worked.crop("tilt", "body").read_bytes()
    assert worked.crop("tilt", "body").is_file()
    parsed = read_manifest(trailers / "manifest.csv")  # eval trailers reads it
    assert [r.label for r in parsed] == [Side.HARD, Side.SOFT] and parsed[1].body_type == "tilt"

    record = json.loads((out / "feedback.json").read_text())
    assert record["plates"] == 1 and len(record["problem_list"]) == 2


def test_export_is_deterministic_filters_and_never_mixes_folders(worked: Worked, tmp_path: Path) -> None:
    api = worked.api
    engine, data_dir = api.state.engine, api.state.settings.data_dir
    export_feedback(engine, data_dir, tmp_path / "a")
    export_feedback(engine, data_dir, tmp_path / "b")
    for rel in ("plates/manifest.csv", "trailers/manifest.csv", "feedback.json"):
        a, b = (tmp_path / "a" / rel).read_text(), (tmp_path / "b" / rel).read_text()
        assert a == b.replace(str(tmp_path / "b"), str(tmp_path / "a")), rel

    later = int(time.time() * 1000) + 60_000
    none = export_feedback(engine, data_dir, tmp_path / "later", since_ts_ms=later).summary()
    assert none["plates"] == none["trailers"] == 0 and none["problems"] == {}
    assert _rows(tmp_path / "later" / "plates" / "manifest.csv") == []

    l2 = export_feedback(engine, data_dir, tmp_path / "l2", lane="L2").summary()
    assert l2["plates"] == 0 and l2["trailers"] == 0 and l2["problems"] == {"missing_crop": 1}
    l1 = export_feedback(engine, data_dir, tmp_path / "l1", lane="L1").summary()
    assert l1["plates"] == 1 and l1["trailers"] == 2 and l1["problems"] == {"missing_crop": 1}

    taken = tmp_path / "taken"  # never mixes with (or overwrites) other files
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        export_feedback(engine, data_dir, taken)
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]


def test_resolve_body_feedback() -> None:
    assert resolve_body_feedback("box", "confirm", None) == (BodyFeedback.CONFIRMED, BodyType.BOX)
    assert resolve_body_feedback("box", "correct", BodyType.TILT) == (BodyFeedback.CORRECTED, BodyType.TILT)
    assert resolve_body_feedback("box", "correct", BodyType.BOX) == (BodyFeedback.CONFIRMED, BodyType.BOX)
    assert resolve_body_feedback("unknown", "correct", BodyType.OTHER)[1] is BodyType.OTHER
    for args in (
        ("unknown", "confirm", None),
        ("box", "confirm", BodyType.TILT),
        ("box", "correct", None),
        ("box", "correct", BodyType.UNKNOWN),
    ):
        with pytest.raises(FeedbackError):
            resolve_body_feedback(*args)


def _store(engine: Engine, data_dir: Path) -> None:
    """Two soft-sided passages (flags by the rules), one body corrected, one read corrected."""
    now = int(time.time() * 1000)
    rules = FlagRules()
    with session_scope(engine) as s:
        for i, mark in enumerate(("AB12CDE", "XY99ZZZ")):
            plate = PassagePlate(
                PlateRole.FRONT,
                mark,
                0.9,
                ReadStatus.COMMITTED,
                (PlateCandidate(mark, 0.9, country="UK"),),
                country="UK",
                n_looks=2,
                crop_jpeg=b"\xff\xd8plate",
            )
            passage = Passage(
                f"p{i}",
                "L1",
                now - 1000,
                now,
                (plate,),
                TrailerVerdict(BodyType.CURTAINSIDER, 0.9, 3),
                body_crop_jpeg=b"\xff\xd8body",
            )
            process_passage(s, passage, Matcher([]), rules, data_dir=data_dir, now_ms=now)
    with session_scope(engine) as s:
        p0 = repo.passage_by_uid(s, "p0")
        p1 = repo.passage_by_uid(s, "p1")
        assert p0 is not None and p1 is not None and p0.flag_id and p1.flag_id
        record_body_feedback(p0, BodyFeedback.CORRECTED, BodyType.BOX, "alice", now)
        flag = s.get(Flag, p1.flag_id)
        assert flag is not None
        flag.status, flag.read_mark, flag.corrected_mark = FlagStatus.READ_REJECTED, "XY99ZZZ", "XY99ZZE"
        repo.add_flag_event(
            s,
            flag_id=flag.id,
            ts_ms=now,
            actor="alice",
            kind="reject_read",
            detail={"passage": "p1", "plate_position": 0, "read_mark": "XY99ZZZ"},
        )


def test_export_queries_run_on_sqlite_and_postgresql(engine: Engine, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _store(engine, data_dir)
    s = export_feedback(engine, data_dir, tmp_path / "out").summary()
    assert s["plates"] == 1 and s["trailers"] == 1 and s["trailer_classes"] == {"box": 1}
    assert s["body_corrected"] == 1 and s["problems"] == {}
    (row,) = _rows(tmp_path / "out" / "plates" / "manifest.csv")
    assert row["plate_text"] == "XY99ZZE" and row["group"] == "p1"
    assert (tmp_path / "out" / "trailers" / "box" / "p0.jpg").read_bytes() == b"\xff\xd8body"


def test_problems_are_counted_by_kind(sqlite_engine: Engine, tmp_path: Path) -> None:
    """No crop stored, a path outside the data dir, a correction whose plate is not stored."""
    data_dir = tmp_path / "data"
    _store(sqlite_engine, data_dir)
    with session_scope(sqlite_engine) as s:
        p0, p1 = repo.passage_by_uid(s, "p0"), repo.passage_by_uid(s, "p1")
        assert p0 is not None and p1 is not None and p0.flag_id is not None
        p0.body_crop_path = None
        p1.plates[0].crop_path = "../outside.jpg"
        (tmp_path / "outside.jpg").write_bytes(b"\xff\xd8")
        flag = s.get(Flag, p0.flag_id)
        assert flag is not None
        flag.read_mark, flag.corrected_mark = "NOT1SEEN", "NOT1SEEM"
        repo.add_flag_event(s, flag_id=flag.id, ts_ms=1, actor="alice", kind="reject_read", detail={})
    report = export_feedback(sqlite_engine, data_dir, tmp_path / "out")
    assert report.summary()["problems"] == {"no_crop": 1, "no_plate": 1, "outside_data_dir": 1}
    assert report.plates == report.trailers == 0
    assert not (tmp_path / "out" / "plates" / "crops").exists()
    problems = json.loads((tmp_path / "out" / "feedback.json").read_text())["problem_list"]
    assert sorted(p["kind"] for p in problems) == ["no_crop", "no_plate", "outside_data_dir"]


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("HGV_LANE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HGV_LANE_CONFIG", raising=False)
    monkeypatch.delenv("HGV_LANE_STORE__URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_export_feedback_command(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from api.db.session import open_store

    data_dir = cli_env / "data"
    db = f"sqlite:///{data_dir / 'hgv-lane.sqlite3'}"
    data_dir.mkdir()
    engine = open_store(db)
    try:
        _store(engine, data_dir)
    finally:
        engine.dispose()
    (data_dir / "evidence").rename(data_dir / "moved")  # every crop goes missing: counted, no crash
    out = cli_env / "out"
    assert main(["dataset", "export-feedback", "--out", str(out), "--lane", "L1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["plates"] == 0 and summary["trailers"] == 0 and summary["problems"] == {"missing_crop": 2}
    assert summary["lane"] == "L1" and any(line.startswith("problem (missing_crop)") for line in lines)
    (data_dir / "moved").rename(data_dir / "evidence")
    assert main(["dataset", "export-feedback", "--out", str(out), "--db", db]) == 2  # not empty
    assert "not an empty folder" in capsys.readouterr().err
    again = cli_env / "again"
    argv = ["dataset", "export-feedback", "--out", str(again), "--db", db, "--data-dir", str(data_dir)]
    assert main([*argv, "--since", "2000-01-01"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["plates"] == 1 and summary["trailers"] == 1 and summary["problems"] == {}
    assert summary["since_ts_ms"] == 946_684_800_000


def test_since_parsing_and_help() -> None:
    assert parse_since("2026-11-30") == parse_since("2026-11-30T00:00:00Z")
    assert parse_since("2026-11-30T01:00+01:00") == parse_since("2026-11-30T00:00")
    with pytest.raises(Exception, match="ISO 8601"):
        parse_since("yesterday")
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["dataset", "export-feedback", "--help"])
    assert exc.value.code == 0
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["dataset", "export-feedback", "--out", "x", "--since", "soon"])
    assert exc.value.code == 2
