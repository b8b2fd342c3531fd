"""Retention: passages without a flag are deleted after a number of days, with their crop files.

Flags (and the passages that belong to them), flag events and the audit log are kept. The
spool's record of passages replayed into the store (``<data_dir>/spool/passages.replayed.jsonl``)
loses its lines older than the cutoff too; its ``.bad`` file (passages that reached no store) is
counted, never deleted.
Rows go first, in one transaction; the files are removed only after it commits, so a
failed prune leaves both the rows and their evidence in place.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from api.db import repository as repo
from api.db.session import session_scope
from vision.pipeline.spool import SpoolPrune, prune_replayed, spool_path

log = logging.getLogger(__name__)

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What a prune deleted (or, for a dry run, would delete)."""

    cutoff_ts_ms: int
    passages: int
    files: int
    bytes: int
    missing_files: int = 0
    dry_run: bool = False
    spool_replayed_lines: int = 0
    spool_bad_lines: int = 0


def _crop_paths(data_dir: Path, rel_paths: list[str | None]) -> list[Path]:
    """Absolute crop paths, ignoring any that would point outside ``data_dir``."""
    root = data_dir.resolve()
    out = []
    for rel in rel_paths:
        if not rel:
            continue
        path = (root / rel).resolve()
        if path.is_relative_to(root):
            out.append(path)
        else:
            log.warning("not deleting %s: outside the data dir", rel)
    return out


def prune_passages(
    engine: Engine,
    data_dir: Path,
    *,
    older_than_days: int,
    now_ms: int | None = None,
    dry_run: bool = False,
    actor: str = "system",
) -> PruneReport:
    """Delete passages without a flag last seen more than ``older_than_days`` ago, and their crops."""
    if older_than_days < 0:
        raise ValueError("older_than_days must be >= 0")
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    cutoff = now - older_than_days * DAY_MS
    with session_scope(engine) as session:
        rows = repo.unflagged_passages_before(session, cutoff)
        paths = _crop_paths(
            data_dir, [r.body_crop_path for r in rows] + [p.crop_path for r in rows for p in r.plates]
        )
        existing = [p for p in paths if p.is_file()]
        size = sum(p.stat().st_size for p in existing)
        if not dry_run and rows:
            repo.delete_passages(session, [r.id for r in rows])
            repo.audit(
                session,
                ts_ms=now,
                actor=actor,
                action="db.prune",
                detail={"cutoff_ts_ms": cutoff, "passages": len(rows), "files": len(existing), "bytes": size},
            )
    if not dry_run:
        _remove_crops(existing, data_dir)
    # last, and never failing the prune: rewriting the record needs disk, which a full disk (the
    # reason for a prune) may not have; the rows and crops are gone by then either way
    spool = _prune_spool_record(data_dir, cutoff, dry_run=dry_run)
    return PruneReport(
        cutoff,
        len(rows),
        len(existing),
        size,
        len(paths) - len(existing),
        dry_run,
        spool.replayed_removed,
        spool.bad_lines,
    )


def _remove_crops(files: list[Path], data_dir: Path) -> None:
    """Delete ``files`` and the evidence folders they leave empty (upwards, not past
    ``<data_dir>/evidence``)."""
    folders = set()
    for path in files:
        path.unlink(missing_ok=True)
        folders.add(path.parent)
    evidence = (data_dir / "evidence").resolve()
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        while folder != evidence and folder.is_relative_to(evidence):  # remove emptied folders upwards
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent


def _prune_spool_record(data_dir: Path, cutoff: int, *, dry_run: bool) -> SpoolPrune:
    try:
        return prune_replayed(spool_path(data_dir), cutoff, dry_run=dry_run)
    except (OSError, ValueError) as e:  # a full disk; a record that does not decode
        log.warning("the spool's replay record was not pruned: %s", e)
        return SpoolPrune()
