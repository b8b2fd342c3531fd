"""Lane-bound bearer tokens: ``api_tokens.lane_id``, the one lane a token may push frames to
(``hgv-lane tokens create --lane L``; ``POST /v1/tokens`` with ``lane``). A camera's token bound
to its lane cannot feed another lane's queue if it leaks. Nullable: existing tokens (and
integrations' tokens) stay valid for any lane.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 04:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lane_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("lane_id")
