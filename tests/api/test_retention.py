from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from api.actionlist import build_matcher
from api.db import repository as repo
from api.db.models import Flag, FlagEvent, PassagePlateRow, PlateCandidateRow
from api.db.session import session_scope
from api.flags import FlagAction, FlagRules, process_passage
from api.retention import DAY_MS, prune_passages
from vision.pipeline.sinks import passage_to_json
from vision.pipeline.spool import spool_path
from vision.types import (
    BodyType,
    Passage,
    PassagePlate,
    PlateCandidate,
    PlateRole,
    ReadStatus,
    TrailerVerdict,
)

NOW = 1_740_000_000_000
JPEG = b"\xff\xd8jpeg\xff\xd9"


def passage(uid: str, text: str, days_ago: float, body: BodyType = BodyType.BOX) -> Passage:
    at = int(NOW - days_ago * DAY_MS)
    p = PassagePlate(
        PlateRole.FRONT, text, 0.9, ReadStatus.COMMITTED, (PlateCandidate(text, 0.9),), crop_jpeg=JPEG
    )
    return Passage(uid, "L1", at, at + 1000, (p,), TrailerVerdict(body, 0.9), body_crop_jpeg=JPEG)


def store(engine: Engine, data_dir: Path, *passages: Passage) -> list[FlagAction]:
    actions = []
    for p in passages:
        with session_scope(engine) as s:
            actions.append(
                process_passage(
                    s, p, build_matcher(s), FlagRules(), data_dir=data_dir, now_ms=p.last_seen_ts_ms
                ).action
            )
    return actions


def test_prune_deletes_old_unflagged_passages_and_their_files(engine: Engine, tmp_path: Path) -> None:
    actions = store(
        engine,
        tmp_path,
        passage("old-clean", "AA11AAA", 40),
        passage("old-flagged", "BB22BBB", 40, BodyType.CURTAINSIDER),
        passage("new-clean", "CC33CCC", 2),
    )
    assert actions == [FlagAction.NONE, FlagAction.CREATED, FlagAction.NONE]
    assert len(list(tmp_path.rglob("*.jpg"))) == 6
    dry = prune_passages(engine, tmp_path, older_than_days=30, now_ms=NOW, dry_run=True)
    assert (dry.passages, dry.files, dry.bytes, dry.dry_run) == (1, 2, 2 * len(JPEG), True)
    assert len(list(tmp_path.rglob("*.jpg"))) == 6
    report = prune_passages(engine, tmp_path, older_than_days=30, now_ms=NOW)
    assert (report.passages, report.files, report.missing_files) == (1, 2, 0)
    remaining = sorted(p.parent.name for p in tmp_path.rglob("body.jpg"))
    assert len(remaining) == 2 and not any("old-clean" in r for r in remaining)
    assert not [d for d in (tmp_path / "evidence").rglob("*") if d.is_dir() and not any(d.iterdir())]
    with session_scope(engine) as s:
        assert repo.passage_by_uid(s, "old-clean") is None
        assert (
            repo.passage_by_uid(s, "old-flagged") is not None
            and repo.passage_by_uid(s, "new-clean") is not None
        )
        assert s.scalar(select(func.count()).select_from(PassagePlateRow)) == 2  # cascaded
        assert s.scalar(select(func.count()).select_from(PlateCandidateRow)) == 2
        assert s.scalar(select(func.count()).select_from(Flag)) == 1
        assert s.scalar(select(func.count()).select_from(FlagEvent)) == 1
        (audit,) = repo.audit_entries(s, "db.prune")
        assert audit.detail["passages"] == 1
    again = prune_passages(engine, tmp_path, older_than_days=30, now_ms=NOW)
    assert again.passages == 0


def test_missing_crop_files_do_not_stop_the_prune(engine: Engine, tmp_path: Path) -> None:
    store(engine, tmp_path, passage("old", "AA11AAA", 40))
    next(tmp_path.rglob("body.jpg")).unlink()
    report = prune_passages(engine, tmp_path, older_than_days=30, now_ms=NOW)
    assert (report.passages, report.files, report.missing_files) == (1, 1, 1)
    assert list(tmp_path.rglob("*.jpg")) == []


def test_negative_days_refused(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        prune_passages(engine, tmp_path, older_than_days=-1)


def test_prune_takes_old_lines_of_the_spools_replay_record_and_counts_its_bad_file(
    engine: Engine, tmp_path: Path
) -> None:
    # a replayed passage is in the store, where retention applies: its record in the spool's
    # folder must not keep its plate past the cutoff; a bad line reached no store and is kept
    spool = spool_path(tmp_path)
    spool.parent.mkdir(parents=True)
    lines = [
        json.dumps(passage_to_json(passage(uid, "AA11AAA", days))) for uid, days in (("a", 40), ("b", 2))
    ]
    replayed = spool.with_suffix(".replayed.jsonl")
    replayed.write_text("\n".join([*lines, "{torn"]) + "\n")
    spool.with_suffix(".bad.jsonl").write_text("{torn\n" + lines[0] + "\n")
    dry = prune_passages(engine, tmp_path, older_than_days=30, now_ms=NOW, dry_run=True)
    assert (dry.spool_replayed_lines, dry.spool_bad_lines) == (1, 2)
    assert len(replayed.read_text().splitlines()) == 3
    report = prune_passages(engine, tmp_path, older_than_days=30, now_ms=NOW)
    assert (report.spool_replayed_lines, report.spool_bad_lines) == (1, 2)
    assert replayed.read_text().splitlines() == [lines[1], "{torn"]
    assert len(spool.with_suffix(".bad.jsonl").read_text().splitlines()) == 2


def test_a_full_disk_while_pruning_the_spools_record_still_frees_the_crops(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the record was rewritten before the crops went: ENOSPC there left rows deleted and every
    # crop on disk for good
    import errno

    import api.retention as retention

    def full(*args: object, **kwargs: object) -> object:
        raise OSError(errno.ENOSPC, "No space left on device")

    store(engine, tmp_path, passage("old-clean", "AA11AAA", 40))
    monkeypatch.setattr(retention, "prune_replayed", full)
    report = prune_passages(engine, tmp_path, older_than_days=30, now_ms=NOW)
    assert report.passages == 1 and report.files == 2 and report.spool_replayed_lines == 0
    assert not list(tmp_path.rglob("*.jpg"))
