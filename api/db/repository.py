"""Repository functions: every query the domain modules need, in one place.

Functions take a :class:`~sqlalchemy.orm.Session` inside a transaction the caller owns
(see :func:`api.db.session.session_scope`) and never commit themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, selectinload

from api.db.models import (
    OPEN_FLAG_STATUSES,
    ActionListEntry,
    ActionListVersion,
    AuditLog,
    Flag,
    PassagePlateRow,
    PassageRow,
)

CHUNK = 500
"""Rows per ``IN (...)`` list or insert batch (well under SQLite's bound-parameter limit)."""


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- action list -------------------------------------------------------------------------------


def latest_version(session: Session) -> ActionListVersion | None:
    """The newest action-list version (the current list), or ``None`` before the first import."""
    return session.scalars(select(ActionListVersion).order_by(ActionListVersion.id.desc()).limit(1)).first()


def get_version(session: Session, version_id: int) -> ActionListVersion | None:
    """One version by number."""
    return session.get(ActionListVersion, version_id)


def list_versions(session: Session) -> list[ActionListVersion]:
    """Every version, oldest first."""
    return list(session.scalars(select(ActionListVersion).order_by(ActionListVersion.id)))


def entries_at(session: Session, version_id: int | None = None) -> list[ActionListEntry]:
    """The entries of ``version_id`` (default: the current list), ordered by mark."""
    query = select(ActionListEntry).order_by(ActionListEntry.mark)
    if version_id is None:
        query = query.where(ActionListEntry.valid_to_version.is_(None))
    else:
        query = query.where(
            ActionListEntry.valid_from_version <= version_id,
            or_(ActionListEntry.valid_to_version.is_(None), ActionListEntry.valid_to_version > version_id),
        )
    return list(session.scalars(query))


def entries_changed_in(
    session: Session, version_id: int
) -> tuple[list[ActionListEntry], list[ActionListEntry]]:
    """``(opened, closed)``: entries that ``version_id`` added (or changed to) and those it ended."""
    opened = session.scalars(
        select(ActionListEntry)
        .where(ActionListEntry.valid_from_version == version_id)
        .order_by(ActionListEntry.mark)
    )
    closed = session.scalars(
        select(ActionListEntry)
        .where(ActionListEntry.valid_to_version == version_id)
        .order_by(ActionListEntry.mark)
    )
    return list(opened), list(closed)


def add_version(session: Session, **values: Any) -> ActionListVersion:
    """Insert a version row (``values`` are its columns) and return it with its id."""
    version = ActionListVersion(**values)
    session.add(version)
    session.flush()
    return version


def close_entries(session: Session, entry_ids: Sequence[int], version_id: int) -> None:
    """End the given current entries at ``version_id``."""
    for chunk in _chunks(entry_ids):
        session.execute(
            update(ActionListEntry)
            .where(ActionListEntry.id.in_(chunk), ActionListEntry.valid_to_version.is_(None))
            .values(valid_to_version=version_id)
        )


def insert_entries(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Bulk-insert entries (each a mapping of :class:`ActionListEntry` columns)."""
    for chunk in _chunks(rows, 2000):
        session.execute(insert(ActionListEntry), list(chunk))


# --- audit -------------------------------------------------------------------------------------


def audit(session: Session, *, ts_ms: int, actor: str, action: str, detail: Mapping[str, Any]) -> None:
    """Append one row to the store-wide audit log."""
    session.add(AuditLog(ts_ms=ts_ms, actor=actor, action=action, detail=dict(detail)))


def audit_entries(session: Session, action: str | None = None) -> list[AuditLog]:
    """The audit log, oldest first (optionally one action only)."""
    query = select(AuditLog).order_by(AuditLog.id)
    if action is not None:
        query = query.where(AuditLog.action == action)
    return list(session.scalars(query))


# --- passages and flags ------------------------------------------------------------------------


def passage_by_uid(session: Session, passage_uid: str) -> PassageRow | None:
    """A stored passage by the pipeline's ``passage_id``."""
    return session.scalars(select(PassageRow).where(PassageRow.passage_uid == passage_uid)).first()


def passages_with_marks(
    session: Session, marks: Sequence[str], *, from_ts_ms: int, to_ts_ms: int, exclude_id: int | None = None
) -> list[PassageRow]:
    """Passages (newest first) with a plate read as one of ``marks`` that overlap the time window."""
    if not marks:
        return []
    with_mark = select(PassagePlateRow.passage_id).where(PassagePlateRow.text.in_(list(marks)))
    query = (
        select(PassageRow)
        .where(
            PassageRow.id.in_(with_mark),  # a subquery, not DISTINCT: PostgreSQL cannot compare JSON
            PassageRow.last_seen_ts_ms >= from_ts_ms,
            PassageRow.first_seen_ts_ms <= to_ts_ms,
        )
        .options(selectinload(PassageRow.plates), selectinload(PassageRow.flag))
        .order_by(PassageRow.last_seen_ts_ms.desc(), PassageRow.id.desc())
    )
    if exclude_id is not None:
        query = query.where(PassageRow.id != exclude_id)
    return list(session.scalars(query))


def open_flags(session: Session) -> list[Flag]:
    """Flags not yet rejected or disposed, newest activity first."""
    return list(
        session.scalars(
            select(Flag).where(Flag.status.in_(OPEN_FLAG_STATUSES)).order_by(Flag.last_seen_ts_ms.desc())
        )
    )


def get_flag(session: Session, flag_id: int) -> Flag | None:
    """One flag with its reasons, passages and events."""
    return session.get(
        Flag,
        flag_id,
        options=[selectinload(Flag.reasons), selectinload(Flag.passages), selectinload(Flag.events)],
    )


# --- retention ---------------------------------------------------------------------------------


def unflagged_passages_before(session: Session, cutoff_ts_ms: int) -> list[PassageRow]:
    """Passages without a flag whose last sighting is older than ``cutoff_ts_ms``, with their plates."""
    return list(
        session.scalars(
            select(PassageRow)
            .where(and_(PassageRow.flag_id.is_(None), PassageRow.last_seen_ts_ms < cutoff_ts_ms))
            .options(selectinload(PassageRow.plates))
            .order_by(PassageRow.id)
        )
    )


def delete_passages(session: Session, passage_ids: Sequence[int]) -> int:
    """Delete passages (their plates and candidates cascade); returns how many went."""
    deleted = 0
    for chunk in _chunks(passage_ids):
        result = session.execute(delete(PassageRow).where(PassageRow.id.in_(chunk)))
        deleted += result.rowcount  # type: ignore[attr-defined]
    return deleted


def count_passages(session: Session) -> int:
    """How many passages are stored."""
    return int(session.scalar(select(func.count()).select_from(PassageRow)) or 0)
