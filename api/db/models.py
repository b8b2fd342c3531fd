"""SQLAlchemy 2 declarative models of the store (typed ``Mapped[...]``).

Times are integer milliseconds since the Unix epoch (``*_ts_ms``), as in :mod:`vision.types`.
Evidence crops are files under the data directory; rows keep their path relative to it.
The schema is created and changed only by the Alembic migrations in :mod:`api.migrations`;
``tests/api/db/test_migrations.py`` checks that the migrations and these models agree.
"""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names are explicit so that migrations can alter them on every backend."""

MARK_LEN = 16
"""Longest normalised mark stored (characters)."""


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING)


class MarkKind(enum.StrEnum):
    """What an action-list mark is registered to."""

    VEHICLE = "vehicle"
    TRAILER = "trailer"


class FlagStatus(enum.StrEnum):
    """Officers' workflow states of a flag (the state machine is enforced elsewhere)."""

    NEW = "new"
    CLAIMED = "claimed"
    READ_VERIFIED = "read_verified"
    READ_REJECTED = "read_rejected"
    DIRECTED_TO_SEARCH = "directed_to_search"
    DISPOSED = "disposed"

    @property
    def is_open(self) -> bool:
        """Open flags still take new passages of the same vehicle; rejected or disposed ones do not."""
        return self not in (FlagStatus.READ_REJECTED, FlagStatus.DISPOSED)


OPEN_FLAG_STATUSES: tuple[FlagStatus, ...] = tuple(s for s in FlagStatus if s.is_open)


class UserRole(enum.StrEnum):
    """What a user may do: cameras push frames, officers work flags, supervisors also manage the
    action list and read the audit log, admins also manage users and tokens."""

    CAMERA = "camera"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class BodyFeedback(enum.StrEnum):
    """What an officer said about a passage's trailer body type (a label for the model team)."""

    CONFIRMED = "confirmed"  # the machine's body type is right
    CORRECTED = "corrected"  # it is another body type (``PassageRow.body_type_officer``)


class Outcome(enum.StrEnum):
    """How a disposed flag ended."""

    NO_FIND = "no_find"
    ENTRANTS_FOUND = "entrants_found"
    SECURITY_BREACH = "security_breach"  # the load was breached, no entrants found
    NOT_STOPPED = "not_stopped"


def _str_enum(cls: type[enum.StrEnum], name: str) -> Enum:
    """A portable string enum column (VARCHAR + CHECK), storing the values."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class ActionListVersion(Base):
    """One import of the action list. Entries are valid from one version until the one that drops them."""

    __tablename__ = "action_list_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_ts_ms: Mapped[int] = mapped_column(BigInteger)
    source_name: Mapped[str] = mapped_column(String(255))
    source_sha256: Mapped[str] = mapped_column(String(64))
    imported_by: Mapped[str] = mapped_column(String(64))
    previous_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("action_list_versions.id"), unique=True
    )  # unique: two concurrent imports on top of the same version cannot both commit
    n_entries: Mapped[int] = mapped_column(Integer)
    n_added: Mapped[int] = mapped_column(Integer)
    n_removed: Mapped[int] = mapped_column(Integer)
    n_changed: Mapped[int] = mapped_column(Integer)


class ActionListEntry(Base):
    """One mark on the action list, current from ``valid_from_version`` until ``valid_to_version``
    (exclusive; ``None`` while still current). A changed entry is closed and a new row opened."""

    __tablename__ = "action_list_entries"
    __table_args__ = (
        Index("ix_action_list_entries_current", "valid_to_version", "mark"),
        Index("ix_action_list_entries_mark", "mark"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    valid_from_version: Mapped[int] = mapped_column(ForeignKey("action_list_versions.id"), index=True)
    valid_to_version: Mapped[int | None] = mapped_column(ForeignKey("action_list_versions.id"))
    mark: Mapped[str] = mapped_column(String(MARK_LEN))  # normalised
    mark_as_given: Mapped[str] = mapped_column(String(64))
    kind: Mapped[MarkKind] = mapped_column(_str_enum(MarkKind, "mark_kind"))
    haulier: Mapped[str] = mapped_column(String(200))
    penalty_ref: Mapped[str] = mapped_column(String(64))
    amount_gbp: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    penalty_date: Mapped[date] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    line_no: Mapped[int] = mapped_column(Integer)  # line in the imported file


class Flag(Base):
    """A vehicle worth stopping: risk score (0-100), status and the reasons (in :class:`FlagReason`)."""

    __tablename__ = "flags"
    __table_args__ = (
        CheckConstraint("risk_score >= 0 AND risk_score <= 100", name="risk_score_range"),
        Index("ix_flags_status_last_seen", "status", "last_seen_ts_ms"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[FlagStatus] = mapped_column(_str_enum(FlagStatus, "flag_status"), default=FlagStatus.NEW)
    risk_score: Mapped[int] = mapped_column(Integer)
    vehicle_mark: Mapped[str] = mapped_column(String(MARK_LEN), default="")  # best read mark, may be ""
    lane_id: Mapped[str] = mapped_column(String(64))
    first_seen_ts_ms: Mapped[int] = mapped_column(BigInteger)
    last_seen_ts_ms: Mapped[int] = mapped_column(BigInteger)
    n_passages: Mapped[int] = mapped_column(Integer, default=1)
    action_list_version_id: Mapped[int | None] = mapped_column(ForeignKey("action_list_versions.id"))
    created_ts_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ts_ms: Mapped[int] = mapped_column(BigInteger)
    # officers' workflow (api/workflow.py); ``version`` grows with every transition, so that a
    # conditional UPDATE ... WHERE status = ? AND version = ? lets exactly one of two racing officers win
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_ts_ms: Mapped[int | None] = mapped_column(BigInteger)
    read_mark: Mapped[str | None] = mapped_column(String(MARK_LEN))  # the machine read an officer rejected
    corrected_mark: Mapped[str | None] = mapped_column(String(MARK_LEN))
    outcome: Mapped[Outcome | None] = mapped_column(_str_enum(Outcome, "flag_outcome"))
    entrants_found: Mapped[int | None] = mapped_column(Integer)
    detection_methods: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    disposed_ts_ms: Mapped[int | None] = mapped_column(BigInteger)

    reasons: Mapped[list[FlagReason]] = relationship(
        back_populates="flag", cascade="all, delete-orphan", order_by="FlagReason.id"
    )
    passages: Mapped[list[PassageRow]] = relationship(back_populates="flag", order_by="PassageRow.id")
    events: Mapped[list[FlagEvent]] = relationship(
        back_populates="flag", cascade="all, delete-orphan", order_by="FlagEvent.id"
    )


class FlagReason(Base):
    """One reason behind a flag, in words an officer reads, with its risk points."""

    __tablename__ = "flag_reasons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"), index=True)
    passage_id: Mapped[int | None] = mapped_column(ForeignKey("passages.id", ondelete="SET NULL"))
    code: Mapped[str] = mapped_column(String(32))
    points: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    flag: Mapped[Flag] = relationship(back_populates="reasons")


class FlagEvent(Base):
    """The audit trail of a flag: creation, updates, status changes. Never pruned."""

    __tablename__ = "flag_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"), index=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[FlagStatus | None] = mapped_column(_str_enum(FlagStatus, "flag_event_from_status"))
    to_status: Mapped[FlagStatus | None] = mapped_column(_str_enum(FlagStatus, "flag_event_to_status"))
    passage_id: Mapped[int | None] = mapped_column(ForeignKey("passages.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    flag: Mapped[Flag] = relationship(back_populates="events")


class AuditLog(Base):
    """Store-wide audit log (action-list imports, pruning). Never pruned."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    client_ip: Mapped[str | None] = mapped_column(String(64))  # requests only (from where)
    user_agent: Mapped[str | None] = mapped_column(String(256))


class User(Base):
    """A person or a machine (camera, integration) that uses the service."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[UserRole] = mapped_column(_str_enum(UserRole, "user_role"))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2id; None: tokens only
    active: Mapped[bool] = mapped_column(default=True)
    created_ts_ms: Mapped[int] = mapped_column(BigInteger)


class ApiToken(Base):
    """A bearer token of a user (cameras, integrations). Only the SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the token's first characters, to tell tokens apart
    created_ts_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ts_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_used_ts_ms: Mapped[int | None] = mapped_column(BigInteger)
    revoked_ts_ms: Mapped[int | None] = mapped_column(BigInteger)
    lane_id: Mapped[str | None] = mapped_column(String(64))  # bound to this lane's frames; None: any
    camera_id: Mapped[str | None] = mapped_column(String(64))  # and to this camera of it; None: any

    user: Mapped[User] = relationship()


class WebSession(Base):
    """A logged-in browser (HttpOnly cookie). Only the SHA-256 of the cookie value is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_ts_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ts_ms: Mapped[int] = mapped_column(BigInteger)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    revoked_ts_ms: Mapped[int | None] = mapped_column(BigInteger)

    user: Mapped[User] = relationship()


class PassageRow(Base):
    """A stored :class:`vision.types.Passage` (one lorry through a lane)."""

    __tablename__ = "passages"
    __table_args__ = (Index("ix_passages_unflagged_last_seen", "flag_id", "last_seen_ts_ms"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    passage_uid: Mapped[str] = mapped_column(String(64), unique=True)  # Passage.passage_id
    lane_id: Mapped[str] = mapped_column(String(64))
    first_seen_ts_ms: Mapped[int] = mapped_column(BigInteger)
    last_seen_ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    direction: Mapped[str] = mapped_column(String(16))
    body_type: Mapped[str] = mapped_column(String(32))
    body_side: Mapped[str] = mapped_column(String(16))
    body_confidence: Mapped[float] = mapped_column(Float)
    body_n_looks: Mapped[int] = mapped_column(Integer)
    read_quality: Mapped[float] = mapped_column(Float)
    camera_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    body_crop_path: Mapped[str | None] = mapped_column(String(512))  # relative to the data dir
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("flags.id", ondelete="SET NULL"))
    created_ts_ms: Mapped[int] = mapped_column(BigInteger)
    # an officer's word on the body type (migration 0003): the latest one counts, every one is a
    # flag event and an audit row; ``body_type_officer`` is the machine's type when confirmed
    body_feedback: Mapped[BodyFeedback | None] = mapped_column(_str_enum(BodyFeedback, "body_feedback"))
    body_type_officer: Mapped[str | None] = mapped_column(String(32))
    body_feedback_by: Mapped[str | None] = mapped_column(String(64))
    body_feedback_ts_ms: Mapped[int | None] = mapped_column(BigInteger, index=True)

    plates: Mapped[list[PassagePlateRow]] = relationship(
        back_populates="passage",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="PassagePlateRow.position",
    )
    flag: Mapped[Flag | None] = relationship(back_populates="passages")


class PassagePlateRow(Base):
    """One plate of a stored passage, with its voted text and its reader candidates."""

    __tablename__ = "passage_plates"
    __table_args__ = (UniqueConstraint("passage_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    passage_id: Mapped[int] = mapped_column(ForeignKey("passages.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(MARK_LEN), index=True)  # normalised, "" when unread
    confidence: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    country: Mapped[str | None] = mapped_column(String(8))
    format_valid: Mapped[bool] = mapped_column(default=False)
    n_looks: Mapped[int] = mapped_column(Integer)
    crop_path: Mapped[str | None] = mapped_column(String(512))  # relative to the data dir

    passage: Mapped[PassageRow] = relationship(back_populates="plates")
    candidates: Mapped[list[PlateCandidateRow]] = relationship(
        back_populates="plate",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="PlateCandidateRow.rank",
    )


class PlateCandidateRow(Base):
    """One reader candidate of a plate (``rank`` 0 is the best)."""

    __tablename__ = "plate_candidates"
    __table_args__ = (UniqueConstraint("plate_id", "rank"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plate_id: Mapped[int] = mapped_column(ForeignKey("passage_plates.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(MARK_LEN))
    confidence: Mapped[float] = mapped_column(Float)
    char_confidences: Mapped[list[float]] = mapped_column(JSON, default=list)
    country: Mapped[str | None] = mapped_column(String(8))
    format_name: Mapped[str | None] = mapped_column(String(64))

    plate: Mapped[PassagePlateRow] = relationship(back_populates="candidates")
