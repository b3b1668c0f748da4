"""reports: case_dispatches keeps every dispatch record of a case (its first dispatch and each
escalation; cases keeps only the latest), filled from cases for what was stored before; indexes for
an incident's milestones, the incidents that entered a state in a period, and when an incident's
warning played

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S, T, K = sa.String(200), sa.String(40), sa.String(64)
CHUNK = 1000


def _row_key(*parts: str | None) -> str:
    """The store's row key (streams/store/writer.py ``row_key``), frozen here as released."""
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _backfill(dispatches: sa.Table) -> None:
    """One dispatch per stored case: its latest record (the escalations before it are not known)."""
    conn = op.get_bind()
    cases = sa.table(
        "cases",
        *(sa.column(n) for n in ("case_id", "incident_id", "unit_id", "grid_id", "state", "level")),
        sa.column("created_at"),
        sa.column("due_at"),
    )
    rows = conn.execute(sa.select(cases).order_by(cases.c.case_id)).mappings()
    batch: list[dict[str, object]] = []
    for row in rows:
        key = _row_key(row["case_id"], row["created_at"], row["unit_id"], row["level"])
        batch.append({"row_key": key, **row})
        if len(batch) >= CHUNK:
            conn.execute(sa.insert(dispatches), batch)
            batch = []
    if batch:
        conn.execute(sa.insert(dispatches), batch)


def upgrade() -> None:
    dispatches = op.create_table(
        "case_dispatches",
        sa.Column("row_key", K, primary_key=True),
        sa.Column("case_id", S, nullable=False),
        sa.Column("incident_id", S, nullable=False),
        sa.Column("unit_id", S, nullable=False),
        sa.Column("grid_id", S, nullable=True),
        sa.Column("state", K, nullable=False),
        sa.Column("level", K, nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("due_at", T, nullable=False),
    )
    op.create_index("ix_case_dispatches_incident", "case_dispatches", ["incident_id", "created_at"])
    op.create_index("ix_case_dispatches_created", "case_dispatches", ["created_at"])
    op.create_index("ix_incident_events_milestones", "incident_events", ["incident_id", "state", "at"])
    op.create_index("ix_incident_events_state_at", "incident_events", ["state", "at", "incident_id"])
    op.create_index("ix_loudspeaker_acks_incident", "loudspeaker_acks", ["incident_id"])
    _backfill(dispatches)


def downgrade() -> None:
    op.drop_index("ix_loudspeaker_acks_incident", "loudspeaker_acks")
    op.drop_index("ix_incident_events_state_at", "incident_events")
    op.drop_index("ix_incident_events_milestones", "incident_events")
    op.drop_table("case_dispatches")
