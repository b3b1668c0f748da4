"""camera commands: operators' commands to a camera's detector (re-capturing a zone's
static-object background), who asked, when and why

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S, T, K = sa.String(200), sa.String(40), sa.String(64)


def upgrade() -> None:
    op.create_table(
        "camera_commands",
        sa.Column("command_id", S, primary_key=True),
        sa.Column("camera_id", S, nullable=False),
        sa.Column("zone_id", S, nullable=True),
        sa.Column("action", K, nullable=False),
        sa.Column("requested_by", S, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_at", T, nullable=False),
    )
    op.create_index("ix_camera_commands_camera_id", "camera_commands", ["camera_id"])


def downgrade() -> None:
    op.drop_index("ix_camera_commands_camera_id", "camera_commands")
    op.drop_table("camera_commands")
