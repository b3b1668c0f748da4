"""the case record: incidents and their events, evidence, cases and their updates, loudspeaker
commands and acks, broadcast decisions

Revision ID: 0001
Revises:
Create Date: 2026-05-26
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# frozen as released: later changes of streams/store/schema.py come as new revisions
S, T, K = sa.String(200), sa.String(40), sa.String(64)


def _key(name: str, kind: sa.types.TypeEngine[str] = S) -> sa.Column[str]:
    return sa.Column(name, kind, primary_key=True)


def _cols(spec: str) -> list[tuple[sa.Column[Any], bool]]:
    """``name:type`` words (id, ts, short, text, json, int, big; ``?`` nullable, ``!`` indexed)."""
    kinds: dict[str, Any] = {
        "id": S,
        "ts": T,
        "short": K,
        "text": sa.Text(),
        "json": sa.JSON(),
        "int": sa.Integer(),
    }
    kinds["big"] = sa.BigInteger()
    out: list[tuple[sa.Column[Any], bool]] = []
    for word in spec.split():
        name, kind = word.split(":")
        flags = kind.lstrip("abcdefghijklmnopqrstuvwxyz")
        out.append((sa.Column(name, kinds[kind.rstrip("?!")], nullable="?" in flags), "!" in flags))
    return out


TABLES: dict[str, tuple[sa.Column[str], str]] = {
    "incidents": (
        _key("incident_id"),
        "version:big revision:int state:short category:id camera_id:id? zone_id:id? opened_at:ts "
        "updated_at:ts history_omitted:int record:json",
    ),
    "incident_events": (_key("row_key", K), "incident_id:id! at:ts state:short actor:id note:text"),
    "evidence": (_key("row_key", K), "incident_id:id! path:text"),
    "cases": (
        _key("case_id"),
        "version:big incident_id:id! unit_id:id grid_id:id? state:short level:short created_at:ts "
        "due_at:ts record:json",
    ),
    "case_updates": (
        _key("row_key", K),
        "case_id:id! unit_id:id status:short note:text at:ts photos:json record:json",
    ),
    "loudspeaker_commands": (
        _key("command_id"),
        "speaker_id:id incident_id:id?! camera_id:id? text:text source:short requested_by:id "
        "requested_at:ts not_after:ts record:json",
    ),
    "loudspeaker_acks": (
        _key("row_key", K),
        "command_id:id! speaker_id:id incident_id:id? status:short reason:text started_at:ts? "
        "finished_at:ts?",
    ),
    "broadcast_decisions": (
        _key("row_key", K),
        "request_id:id! speaker_id:id decision:short reason:text command_id:id? source:short "
        "requested_by:id incident_id:id?! at:ts",
    ),
}


def upgrade() -> None:
    for name, (key, spec) in TABLES.items():
        columns = _cols(spec)
        op.create_table(name, key, *(column for column, _ in columns))
        for column, indexed in columns:
            if indexed:
                op.create_index(f"ix_{name}_{column.name}", name, [column.name])


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
