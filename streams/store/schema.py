"""The tables of the case record (SQLAlchemy Core).

Times are the contract's ISO-8601 UTC strings with milliseconds (``2026-05-26T02:14:03.120Z``):
one fixed format, so they sort as text on every dialect. Rows that only accumulate (events,
updates, acks, decisions, evidence) are keyed by ``row_key``: a digest of their identifying
fields, so a redelivered record finds its row. Rows that are replaced by newer records
(incidents, cases) carry a numeric ``version`` and only a larger one overwrites them.

A change here comes with a new revision under ``migrations/versions``
(tests/unit/streams/test_store.py checks that the migrated database matches these tables).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table, Text

ID = 200  # longest id kept (incident, case, unit, speaker, command, request ids)
KEY = 64  # a row_key: sha256 in hex
TS = 40  # a contract timestamp
SHORT = 64  # states, levels, statuses, sources

metadata = MetaData()


def _id(name: str, *, primary_key: bool = False, nullable: bool = False, index: bool = False) -> Column[str]:
    return Column(name, String(ID), primary_key=primary_key, nullable=nullable, index=index)


def _ts(name: str, nullable: bool = False) -> Column[str]:
    return Column(name, String(TS), nullable=nullable)


incidents = Table(
    "incidents",
    metadata,
    _id("incident_id", primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("state", String(SHORT), nullable=False),
    _id("category", nullable=False),
    _id("camera_id", nullable=True),
    _id("zone_id", nullable=True),
    _ts("opened_at"),
    _ts("updated_at"),
    Column("history_omitted", Integer, nullable=False),
    Column("record", JSON, nullable=False),
)

incident_events = Table(
    "incident_events",
    metadata,
    Column("row_key", String(KEY), primary_key=True),
    _id("incident_id", nullable=False, index=True),
    _ts("at"),
    Column("state", String(SHORT), nullable=False),
    _id("actor", nullable=False),
    Column("note", Text, nullable=False),
)
Index("ix_incident_events_at", incident_events.c.at)  # the board's history: a time range first
# reports: when an incident's history entered a state (accepted, resolved, ...), one seek each
Index(
    "ix_incident_events_milestones",
    incident_events.c.incident_id,
    incident_events.c.state,
    incident_events.c.at,
)
# reports: which incidents entered a state (warned) in a period, from the index alone
Index(
    "ix_incident_events_state_at",
    incident_events.c.state,
    incident_events.c.at,
    incident_events.c.incident_id,
)

evidence = Table(
    "evidence",
    metadata,
    Column("row_key", String(KEY), primary_key=True),
    _id("incident_id", nullable=False, index=True),
    Column("path", Text, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    _id("case_id", primary_key=True),
    Column("version", BigInteger, nullable=False),
    _id("incident_id", nullable=False, index=True),
    _id("unit_id", nullable=False),
    _id("grid_id", nullable=True),
    Column("state", String(SHORT), nullable=False),
    Column("level", String(SHORT), nullable=False),
    _ts("created_at"),
    _ts("due_at"),
    Column("record", JSON, nullable=False),
)

# every dispatch record of a case, as sent: its first dispatch and each escalation (a case keeps
# its id when escalated; a rework round is a new case id). ``cases`` keeps only the latest.
case_dispatches = Table(
    "case_dispatches",
    metadata,
    Column("row_key", String(KEY), primary_key=True),
    _id("case_id", nullable=False),
    _id("incident_id", nullable=False),
    _id("unit_id", nullable=False),
    _id("grid_id", nullable=True),
    Column("state", String(SHORT), nullable=False),
    Column("level", String(SHORT), nullable=False),
    _ts("created_at"),
    _ts("due_at"),
)
# reports: an incident's dispatches in order; the dispatches of a period
Index("ix_case_dispatches_incident", case_dispatches.c.incident_id, case_dispatches.c.created_at)
Index("ix_case_dispatches_created", case_dispatches.c.created_at)

case_updates = Table(
    "case_updates",
    metadata,
    Column("row_key", String(KEY), primary_key=True),
    _id("case_id", nullable=False, index=True),
    _id("unit_id", nullable=False),
    Column("status", String(SHORT), nullable=False),
    Column("note", Text, nullable=False),
    _ts("at"),
    Column("photos", JSON, nullable=False),
    Column("record", JSON, nullable=False),
)

loudspeaker_commands = Table(
    "loudspeaker_commands",
    metadata,
    _id("command_id", primary_key=True),
    _id("speaker_id", nullable=False),
    _id("incident_id", nullable=True, index=True),
    _id("camera_id", nullable=True),
    Column("text", Text, nullable=False),
    Column("source", String(SHORT), nullable=False),
    _id("requested_by", nullable=False),
    _ts("requested_at"),
    _ts("not_after"),
    Column("record", JSON, nullable=False),
)

loudspeaker_acks = Table(
    "loudspeaker_acks",
    metadata,
    Column("row_key", String(KEY), primary_key=True),
    _id("command_id", nullable=False, index=True),
    _id("speaker_id", nullable=False),
    _id("incident_id", nullable=True),
    Column("status", String(SHORT), nullable=False),
    Column("reason", Text, nullable=False),
    _ts("started_at", nullable=True),
    _ts("finished_at", nullable=True),
)
Index("ix_loudspeaker_acks_incident", loudspeaker_acks.c.incident_id)  # reports: when a warning played

broadcast_decisions = Table(
    "broadcast_decisions",
    metadata,
    Column("row_key", String(KEY), primary_key=True),
    _id("request_id", nullable=False, index=True),
    _id("speaker_id", nullable=False),
    Column("decision", String(SHORT), nullable=False),
    Column("reason", Text, nullable=False),
    _id("command_id", nullable=True),
    Column("source", String(SHORT), nullable=False),
    _id("requested_by", nullable=False),
    _id("incident_id", nullable=True, index=True),
    _ts("at"),
)

# operators' commands to a camera's detector (re-capturing a zone's background): who, when, why
camera_commands = Table(
    "camera_commands",
    metadata,
    _id("command_id", primary_key=True),
    _id("camera_id", nullable=False, index=True),
    _id("zone_id", nullable=True),  # null: every zone of the camera
    Column("action", String(SHORT), nullable=False),
    _id("requested_by", nullable=False),
    Column("reason", Text, nullable=False),
    _ts("requested_at"),
)

# what retention keeps of the incidents it prunes (``retention.prune``): incidents per day (of
# their events), category, camera, zone and state; and which incidents it has counted
incident_daily = Table(
    "incident_daily",
    metadata,
    Column("day", String(10), primary_key=True),
    _id("category", primary_key=True),
    _id("camera_id", primary_key=True),  # "" where the incident has none
    _id("zone_id", primary_key=True),
    Column("state", String(SHORT), primary_key=True),
    Column("incidents", Integer, nullable=False),
)

pruned_incidents = Table(
    "pruned_incidents",
    metadata,
    _id("incident_id", primary_key=True),
    _ts("pruned_at"),
)

# tables whose rows a newer record replaces: name -> the column that orders them
VERSIONED: dict[str, str] = {"incidents": "version", "cases": "version"}
