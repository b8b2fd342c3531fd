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
    ApiToken,
    AuditLog,
    Flag,
    FlagEvent,
    FlagStatus,
    PassagePlateRow,
    PassageRow,
    PlateCandidateRow,
    User,
    UserRole,
    WebSession,
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


def audit(
    session: Session,
    *,
    ts_ms: int,
    actor: str,
    action: str,
    detail: Mapping[str, Any],
    client_ip: str | None = None,
    user_agent: str | None = None,
) -> None:
    """Append one row to the store-wide audit log (``client_ip``/``user_agent``: where a request
    came from)."""
    session.add(
        AuditLog(
            ts_ms=ts_ms,
            actor=actor,
            action=action,
            detail=dict(detail),
            client_ip=client_ip[:64] if client_ip else None,
            user_agent=user_agent[:256] if user_agent else None,
        )
    )


def search_audit(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    since_ts_ms: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditLog]:
    """The audit log, newest first, filtered (``action`` ending in ``.`` matches a prefix)."""
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if actor is not None:
        query = query.where(AuditLog.actor == actor)
    if action is not None:
        query = query.where(
            AuditLog.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else AuditLog.action == action
        )
    if since_ts_ms is not None:
        query = query.where(AuditLog.ts_ms >= since_ts_ms)
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    return list(session.scalars(query))


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


def recent_unflagged_passages(session: Session, *, since_created_ts_ms: int) -> list[PassageRow]:
    """Passages without a flag stored at or after ``since_created_ts_ms`` (service clock, ms),
    oldest first, with their plates and candidates."""
    query = (
        select(PassageRow)
        .where(PassageRow.flag_id.is_(None), PassageRow.created_ts_ms >= since_created_ts_ms)
        .options(selectinload(PassageRow.plates).selectinload(PassagePlateRow.candidates))
        .order_by(PassageRow.created_ts_ms, PassageRow.id)
    )
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


def search_passages(
    session: Session,
    *,
    mark: str | None = None,
    lane_id: str | None = None,
    from_ts_ms: int | None = None,
    to_ts_ms: int | None = None,
    flagged: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[PassageRow]:
    """Passages, newest first: ``mark`` (normalised) equals a plate's voted text or any of its reader
    candidates; times overlap ``[from_ts_ms, to_ts_ms]``."""
    query = select(PassageRow).options(
        selectinload(PassageRow.plates).selectinload(PassagePlateRow.candidates)
    )
    if mark:
        by_text = select(PassagePlateRow.passage_id).where(PassagePlateRow.text == mark)
        by_candidate = (
            select(PassagePlateRow.passage_id)
            .join(PlateCandidateRow, PlateCandidateRow.plate_id == PassagePlateRow.id)
            .where(PlateCandidateRow.text == mark)
        )
        query = query.where(or_(PassageRow.id.in_(by_text), PassageRow.id.in_(by_candidate)))
    if lane_id:
        query = query.where(PassageRow.lane_id == lane_id)
    if from_ts_ms is not None:
        query = query.where(PassageRow.last_seen_ts_ms >= from_ts_ms)
    if to_ts_ms is not None:
        query = query.where(PassageRow.first_seen_ts_ms <= to_ts_ms)
    if flagged is not None:
        query = query.where(PassageRow.flag_id.is_not(None) if flagged else PassageRow.flag_id.is_(None))
    query = (
        query.order_by(PassageRow.last_seen_ts_ms.desc(), PassageRow.id.desc()).limit(limit).offset(offset)
    )
    return list(session.scalars(query))


def get_passage(session: Session, passage_id: int) -> PassageRow | None:
    """One passage with its plates and their candidates."""
    return session.get(
        PassageRow,
        passage_id,
        options=[selectinload(PassageRow.plates).selectinload(PassagePlateRow.candidates)],
    )


# --- officers' flag queue ----------------------------------------------------------------------


def search_flags(
    session: Session,
    *,
    statuses: Sequence[FlagStatus] | None = None,
    lane_id: str | None = None,
    mark: str | None = None,
    min_risk: int | None = None,
    claimed_by: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Flag]:
    """Flags with their reasons, highest risk first (then the latest sighting)."""
    query = select(Flag).options(selectinload(Flag.reasons))
    if statuses:
        query = query.where(Flag.status.in_(list(statuses)))
    if lane_id:
        query = query.where(Flag.lane_id == lane_id)
    if mark:
        query = query.where(or_(Flag.vehicle_mark == mark, Flag.corrected_mark == mark))
    if min_risk is not None:
        query = query.where(Flag.risk_score >= min_risk)
    if claimed_by is not None:
        query = query.where(Flag.claimed_by == claimed_by)
    query = query.order_by(Flag.risk_score.desc(), Flag.last_seen_ts_ms.desc(), Flag.id.desc())
    return list(session.scalars(query.limit(limit).offset(offset)))


def flags_by_ids(session: Session, flag_ids: Sequence[int]) -> dict[int, Flag]:
    """Flags (with reasons) by id."""
    out: dict[int, Flag] = {}
    for chunk in _chunks(list(flag_ids)):
        for flag in session.scalars(
            select(Flag).where(Flag.id.in_(chunk)).options(selectinload(Flag.reasons))
        ):
            out[flag.id] = flag
    return out


def get_flag_detail(session: Session, flag_id: int) -> Flag | None:
    """One flag with its reasons, events and passages (with plates and candidates)."""
    return session.get(
        Flag,
        flag_id,
        options=[
            selectinload(Flag.reasons),
            selectinload(Flag.events),
            selectinload(Flag.passages)
            .selectinload(PassageRow.plates)
            .selectinload(PassagePlateRow.candidates),
        ],
    )


def apply_transition(
    session: Session, flag_id: int, *, from_status: FlagStatus, version: int, values: Mapping[str, Any]
) -> bool:
    """Conditionally move a flag on: ``UPDATE flags SET ..., version = version + 1 WHERE id = ? AND
    status = ? AND version = ?``. False when another transaction moved it first (nothing changed).

    Holds on SQLite and PostgreSQL alike: the row is re-checked by the UPDATE itself.
    """
    result = session.execute(
        update(Flag)
        .where(Flag.id == flag_id, Flag.status == from_status, Flag.version == version)
        .values(**values, version=Flag.version + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def add_flag_event(session: Session, **values: Any) -> FlagEvent:
    """Insert a flag event (``values`` are its columns) and return it with its id."""
    event = FlagEvent(**values)
    session.add(event)
    session.flush()
    return event


def events_after(session: Session, after_id: int, limit: int) -> list[FlagEvent]:
    """Flag events with an id above ``after_id``, oldest first."""
    return list(
        session.scalars(select(FlagEvent).where(FlagEvent.id > after_id).order_by(FlagEvent.id).limit(limit))
    )


def last_event_id(session: Session) -> int:
    """The newest flag event's id (0 before any)."""
    return int(session.scalar(select(func.max(FlagEvent.id))) or 0)


def count_flags_by_status(session: Session) -> dict[str, int]:
    """How many flags are in each status."""
    rows = session.execute(select(Flag.status, func.count()).group_by(Flag.status))
    return {str(status): int(n) for status, n in rows}


# --- users, tokens, sessions -------------------------------------------------------------------


def get_user_by_name(session: Session, name: str) -> User | None:
    """A user by name."""
    return session.scalars(select(User).where(User.name == name)).first()


def list_users(session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.scalars(select(User).order_by(User.name)))


def add_user(
    session: Session, *, name: str, role: UserRole, password_hash: str | None, created_ts_ms: int
) -> User:
    """Insert a user (names are unique: a duplicate raises ``IntegrityError`` at flush)."""
    user = User(name=name, role=role, password_hash=password_hash, active=True, created_ts_ms=created_ts_ms)
    session.add(user)
    session.flush()
    return user


def add_token(session: Session, **values: Any) -> ApiToken:
    """Insert an API token row (``values`` are its columns)."""
    token = ApiToken(**values)
    session.add(token)
    session.flush()
    return token


def token_by_sha256(session: Session, digest: str) -> ApiToken | None:
    """A token (with its user) by the SHA-256 of its value."""
    return session.scalars(
        select(ApiToken).where(ApiToken.token_sha256 == digest).options(selectinload(ApiToken.user))
    ).first()


def list_tokens(session: Session, user_id: int | None = None) -> list[ApiToken]:
    """Tokens (with their users), oldest first; one user's when ``user_id`` is given."""
    query = select(ApiToken).options(selectinload(ApiToken.user)).order_by(ApiToken.id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(session.scalars(query))


def get_token(session: Session, token_id: int) -> ApiToken | None:
    """One token by id."""
    return session.get(ApiToken, token_id, options=[selectinload(ApiToken.user)])


def add_web_session(session: Session, **values: Any) -> WebSession:
    """Insert a web session row (``values`` are its columns)."""
    row = WebSession(**values)
    session.add(row)
    session.flush()
    return row


def web_session_by_sha256(session: Session, digest: str) -> WebSession | None:
    """A web session (with its user) by the SHA-256 of the cookie value."""
    return session.scalars(
        select(WebSession).where(WebSession.token_sha256 == digest).options(selectinload(WebSession.user))
    ).first()


def revoke_web_sessions(session: Session, user_id: int, now_ms: int, *, keep: int | None = None) -> int:
    """End every open browser session of ``user_id`` but ``keep`` (an id) (a password
    changed); how many."""
    return _revoke_open(session, WebSession, user_id, now_ms, keep)


def revoke_tokens(session: Session, user_id: int, now_ms: int, *, keep: int | None = None) -> int:
    """Revoke every token of ``user_id`` not revoked yet but ``keep`` (a person's password
    reset); how many."""
    return _revoke_open(session, ApiToken, user_id, now_ms, keep)


def _revoke_open(
    session: Session, model: type[WebSession] | type[ApiToken], user_id: int, now_ms: int, keep: int | None
) -> int:
    query = update(model).where(model.user_id == user_id, model.revoked_ts_ms.is_(None))
    if keep is not None:
        query = query.where(model.id != keep)
    result = session.execute(query.values(revoked_ts_ms=now_ms).execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_expired_web_sessions(session: Session, now_ms: int) -> int:
    """Remove sessions that expired (or were revoked) before ``now_ms``; returns how many."""
    result = session.execute(
        delete(WebSession).where(
            or_(WebSession.expires_ts_ms < now_ms, WebSession.revoked_ts_ms.is_not(None))
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
