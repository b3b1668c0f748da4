"""retention: incident_daily keeps the counts of pruned incidents, pruned_incidents which ones;
incident_events indexed by time (the board's history)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = sa.String(200)


def upgrade() -> None:
    op.create_index("ix_incident_events_at", "incident_events", ["at"])
    op.create_table(
        "incident_daily",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("category", S, primary_key=True),
        sa.Column("camera_id", S, primary_key=True),
        sa.Column("zone_id", S, primary_key=True),
        sa.Column("state", sa.String(64), primary_key=True),
        sa.Column("incidents", sa.Integer(), nullable=False),
    )
    op.create_table(
        "pruned_incidents",
        sa.Column("incident_id", S, primary_key=True),
        sa.Column("pruned_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pruned_incidents")
    op.drop_table("incident_daily")
    op.drop_index("ix_incident_events_at", "incident_events")
