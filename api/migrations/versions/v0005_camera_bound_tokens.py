"""Camera-bound bearer tokens: ``api_tokens.camera_id``, the one camera of its lane a lane-bound
token pushes frames as (``hgv-lane tokens create --lane L --camera C``; ``POST /v1/tokens`` with
``camera``). A lane's front camera's token cannot feed its rear camera's pipeline if it leaks.
Nullable: existing tokens keep naming their camera by ``X-Camera-Id``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 19:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("camera_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("camera_id")
