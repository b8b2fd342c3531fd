"""Officers' feedback on the trailer body type: on ``passages``, what the officer said
(``body_feedback``: confirmed or corrected), the body type they gave (``body_type_officer``),
who and when (``body_feedback_by``, ``body_feedback_ts_ms``, indexed for exports since a time).

Columns on ``passages`` rather than a table: a passage has one current label (the word of the
officer holding its flag; a later word replaces it), the model team's export reads it without a
join, and the history of every confirmation or correction is already kept in ``flag_events`` and
``audit_log`` (never pruned). All columns are nullable, so existing rows need no backfill.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("passages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "body_feedback",
                sa.Enum(
                    "confirmed",
                    "corrected",
                    name="body_feedback",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("body_type_officer", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("body_feedback_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("body_feedback_ts_ms", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_passages_body_feedback_ts_ms"), ["body_feedback_ts_ms"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("passages", schema=None) as batch_op:
        if op.get_bind().dialect.name == "sqlite":  # batch mode copies the CHECK of the enum column
            batch_op.drop_constraint(op.f("ck_passages_body_feedback"), type_="check")
        batch_op.drop_index(batch_op.f("ix_passages_body_feedback_ts_ms"))
        batch_op.drop_column("body_feedback_ts_ms")
        batch_op.drop_column("body_feedback_by")
        batch_op.drop_column("body_type_officer")
        batch_op.drop_column("body_feedback")
