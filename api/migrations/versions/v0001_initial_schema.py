"""Initial schema: action list versions and entries, passages with plates and candidates, flags,
flag reasons and events, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 23:45:46.591976
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "action_list_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.Column("previous_version_id", sa.Integer(), nullable=True),
        sa.Column("n_entries", sa.Integer(), nullable=False),
        sa.Column("n_added", sa.Integer(), nullable=False),
        sa.Column("n_removed", sa.Integer(), nullable=False),
        sa.Column("n_changed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["previous_version_id"],
            ["action_list_versions.id"],
            name=op.f("fk_action_list_versions_previous_version_id_action_list_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_list_versions")),
        sa.UniqueConstraint("previous_version_id", name=op.f("uq_action_list_versions_previous_version_id")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_ts_ms"), ["ts_ms"], unique=False)

    op.create_table(
        "action_list_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("valid_from_version", sa.Integer(), nullable=False),
        sa.Column("valid_to_version", sa.Integer(), nullable=True),
        sa.Column("mark", sa.String(length=16), nullable=False),
        sa.Column("mark_as_given", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "vehicle",
                "trailer",
                name=op.f("ck_action_list_entries_mark_kind"),
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("haulier", sa.String(length=200), nullable=False),
        sa.Column("penalty_ref", sa.String(length=64), nullable=False),
        sa.Column("amount_gbp", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("penalty_date", sa.Date(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["valid_from_version"],
            ["action_list_versions.id"],
            name=op.f("fk_action_list_entries_valid_from_version_action_list_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["valid_to_version"],
            ["action_list_versions.id"],
            name=op.f("fk_action_list_entries_valid_to_version_action_list_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_list_entries")),
    )
    with op.batch_alter_table("action_list_entries", schema=None) as batch_op:
        batch_op.create_index("ix_action_list_entries_current", ["valid_to_version", "mark"], unique=False)
        batch_op.create_index("ix_action_list_entries_mark", ["mark"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_action_list_entries_valid_from_version"), ["valid_from_version"], unique=False
        )

    op.create_table(
        "flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "claimed",
                "read_verified",
                "read_rejected",
                "directed_to_search",
                "disposed",
                name=op.f("ck_flags_flag_status"),
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("risk_score", sa.Integer(), nullable=False),
        sa.Column("vehicle_mark", sa.String(length=16), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("first_seen_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("n_passages", sa.Integer(), nullable=False),
        sa.Column("action_list_version_id", sa.Integer(), nullable=True),
        sa.Column("created_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ts_ms", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("risk_score >= 0 AND risk_score <= 100", name=op.f("ck_flags_risk_score_range")),
        sa.ForeignKeyConstraint(
            ["action_list_version_id"],
            ["action_list_versions.id"],
            name=op.f("fk_flags_action_list_version_id_action_list_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flags")),
    )
    with op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.create_index("ix_flags_status_last_seen", ["status", "last_seen_ts_ms"], unique=False)

    op.create_table(
        "passages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("passage_uid", sa.String(length=64), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("first_seen_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("body_type", sa.String(length=32), nullable=False),
        sa.Column("body_side", sa.String(length=16), nullable=False),
        sa.Column("body_confidence", sa.Float(), nullable=False),
        sa.Column("body_n_looks", sa.Integer(), nullable=False),
        sa.Column("read_quality", sa.Float(), nullable=False),
        sa.Column("camera_ids", sa.JSON(), nullable=False),
        sa.Column("body_crop_path", sa.String(length=512), nullable=True),
        sa.Column("flag_id", sa.Integer(), nullable=True),
        sa.Column("created_ts_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["flags.id"], name=op.f("fk_passages_flag_id_flags"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passages")),
        sa.UniqueConstraint("passage_uid", name=op.f("uq_passages_passage_uid")),
    )
    with op.batch_alter_table("passages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_passages_last_seen_ts_ms"), ["last_seen_ts_ms"], unique=False)
        batch_op.create_index("ix_passages_unflagged_last_seen", ["flag_id", "last_seen_ts_ms"], unique=False)

    op.create_table(
        "flag_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "from_status",
            sa.Enum(
                "new",
                "claimed",
                "read_verified",
                "read_rejected",
                "directed_to_search",
                "disposed",
                name=op.f("ck_flag_events_flag_event_from_status"),
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "new",
                "claimed",
                "read_verified",
                "read_rejected",
                "directed_to_search",
                "disposed",
                name=op.f("ck_flag_events_flag_event_to_status"),
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("passage_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["flags.id"], name=op.f("fk_flag_events_flag_id_flags"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["passage_id"],
            ["passages.id"],
            name=op.f("fk_flag_events_passage_id_passages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_events")),
    )
    with op.batch_alter_table("flag_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flag_events_flag_id"), ["flag_id"], unique=False)

    op.create_table(
        "flag_reasons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("passage_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["flags.id"], name=op.f("fk_flag_reasons_flag_id_flags"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["passage_id"],
            ["passages.id"],
            name=op.f("fk_flag_reasons_passage_id_passages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_reasons")),
    )
    with op.batch_alter_table("flag_reasons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flag_reasons_flag_id"), ["flag_id"], unique=False)

    op.create_table(
        "passage_plates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("passage_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("format_valid", sa.Boolean(), nullable=False),
        sa.Column("n_looks", sa.Integer(), nullable=False),
        sa.Column("crop_path", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(
            ["passage_id"],
            ["passages.id"],
            name=op.f("fk_passage_plates_passage_id_passages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passage_plates")),
        sa.UniqueConstraint("passage_id", "position", name=op.f("uq_passage_plates_passage_id_position")),
    )
    with op.batch_alter_table("passage_plates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_passage_plates_passage_id"), ["passage_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_passage_plates_text"), ["text"], unique=False)

    op.create_table(
        "plate_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plate_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("char_confidences", sa.JSON(), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("format_name", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["plate_id"],
            ["passage_plates.id"],
            name=op.f("fk_plate_candidates_plate_id_passage_plates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plate_candidates")),
        sa.UniqueConstraint("plate_id", "rank", name=op.f("uq_plate_candidates_plate_id_rank")),
    )
    with op.batch_alter_table("plate_candidates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plate_candidates_plate_id"), ["plate_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("plate_candidates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plate_candidates_plate_id"))

    op.drop_table("plate_candidates")
    with op.batch_alter_table("passage_plates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passage_plates_text"))
        batch_op.drop_index(batch_op.f("ix_passage_plates_passage_id"))

    op.drop_table("passage_plates")
    with op.batch_alter_table("flag_reasons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flag_reasons_flag_id"))

    op.drop_table("flag_reasons")
    with op.batch_alter_table("flag_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flag_events_flag_id"))

    op.drop_table("flag_events")
    with op.batch_alter_table("passages", schema=None) as batch_op:
        batch_op.drop_index("ix_passages_unflagged_last_seen")
        batch_op.drop_index(batch_op.f("ix_passages_last_seen_ts_ms"))

    op.drop_table("passages")
    with op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.drop_index("ix_flags_status_last_seen")

    op.drop_table("flags")
    with op.batch_alter_table("action_list_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_list_entries_valid_from_version"))
        batch_op.drop_index("ix_action_list_entries_mark")
        batch_op.drop_index("ix_action_list_entries_current")

    op.drop_table("action_list_entries")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_ts_ms"))

    op.drop_table("audit_log")
    op.drop_table("action_list_versions")
