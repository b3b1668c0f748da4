"""Every topic a deployment needs, with its settings: the plan of ``citywatch topics``.

Three kinds: the public contract's topics, the worker's internal re-keyings and the
changelogs of the worker's Faust tables (``<app id>-<table>-changelog``, app id
``<prefix>worker``). Each gets ``kafka.partitions`` partitions (tables, their source
topics and changelogs must agree), a cleanup policy, a retention and
``min.insync.replicas``.

Compaction keeps only the last record of a key, so a topic is compacted only where
that record is the whole state of its key: a changelog (a table row), an alert (the
whole incident after each change), a camera's status. Every topic whose records are
events (a reading, a command, an ack, a case for a unit) is deleted by age, never
compacted: compacting ``dispatch`` (keyed by unit) would leave each unit its last case.
Pure: no Kafka here (``streams.provision`` talks to the cluster).
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.contract.topics import INTERNAL_SUFFIXES, SUFFIXES, Topics

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

# the worker's Faust tables, in the order they are created (streams/worker/register.py, feeds.py)
WORKER_TABLES: tuple[str, ...] = ("rules", "incidents", "speakers", "cases", "sensors", "camera-health")

COMPACT = "compact"
DELETE = "delete"


@dataclass(frozen=True)
class Policy:
    cleanup: str
    retention_ms: int | None  # None: kept by key (compacted), no age limit
    why: str


# suffix -> policy; every suffix of SUFFIXES and INTERNAL_SUFFIXES has one (tested)
POLICIES: dict[str, Policy] = {
    "frames": Policy(DELETE, 6 * HOUR_MS, "JPEG frames: large and only useful fresh"),
    "detections": Policy(DELETE, 7 * DAY_MS, "events; kept as long as you may replay them"),
    "camera-status": Policy(COMPACT, None, "each record is the camera's whole status"),
    "sensor-readings": Policy(DELETE, 7 * DAY_MS, "a time series: every reading counts"),
    "violations": Policy(DELETE, 7 * DAY_MS, "transitions (started, ongoing, cleared), not state"),
    "alerts": Policy(COMPACT, None, "each record is the whole incident (by revision)"),
    "broadcast-requests": Policy(DELETE, 7 * DAY_MS, "operators' requests: events, worker input"),
    "loudspeaker": Policy(DELETE, 7 * DAY_MS, "commands: events, several per speaker"),
    "loudspeaker-acks": Policy(DELETE, 7 * DAY_MS, "one ack per command: events"),
    "dispatch": Policy(DELETE, 30 * DAY_MS, "keyed by unit: compaction would keep a unit's last case only"),
    "dispatch-updates": Policy(DELETE, 30 * DAY_MS, "accepted, arrived, resolved: each one counts"),
    "deadletter": Policy(DELETE, 30 * DAY_MS, "kept until someone reads it"),
    "broadcast-decisions": Policy(DELETE, 7 * DAY_MS, "one decision per request: events"),
    "camera-commands": Policy(DELETE, 7 * DAY_MS, "operators' commands to the detectors: events"),
    "internal.incident-inputs": Policy(DELETE, 7 * DAY_MS, "worker input: events re-keyed by camera"),
    "internal.speaker-intents": Policy(DELETE, 7 * DAY_MS, "worker input: warnings to decide"),
    "internal.case-index": Policy(DELETE, 30 * DAY_MS, "a case's index and its expiry: both count"),
    "internal.sensor-ticks": Policy(DELETE, 1 * DAY_MS, "deadline ticks: only useful fresh"),
    "internal.camera-ticks": Policy(DELETE, 1 * DAY_MS, "deadline ticks: only useful fresh"),
}
CHANGELOG = Policy(COMPACT, None, "a Faust table's changelog: the last record of a key is its row")


@dataclass(frozen=True)
class TopicSpec:
    name: str
    kind: str  # contract, internal, changelog
    partitions: int
    replication: int
    cleanup: str
    retention_ms: int | None
    min_insync: int
    why: str

    def configs(self) -> dict[str, str]:
        """The topic configs to create it with."""
        out = {"cleanup.policy": self.cleanup, "min.insync.replicas": str(self.min_insync)}
        if self.retention_ms is not None:
            out["retention.ms"] = str(self.retention_ms)
        return out


def min_insync(replication: int) -> int:
    """Writes with acks=all survive one broker down: 2 of 3; a single copy needs itself only."""
    return max(1, min(2, replication - 1))


def changelogs(topics: Topics, app_id: str | None = None) -> list[str]:
    """The changelog topic of every worker table."""
    app = app_id or f"{topics.prefix}worker"
    return [f"{app}-{table}-changelog" for table in WORKER_TABLES]


def plan(topics: Topics, partitions: int, replication: int = 1) -> list[TopicSpec]:
    """Every topic of one deployment (one prefix), with what it should be created with."""

    def spec(name: str, kind: str, policy: Policy) -> TopicSpec:
        return TopicSpec(
            name,
            kind,
            partitions,
            replication,
            policy.cleanup,
            policy.retention_ms,
            min_insync(replication),
            policy.why,
        )

    out = [spec(topics.prefix + s, "contract", POLICIES[s]) for s in SUFFIXES]
    out += [spec(topics.prefix + s, "internal", POLICIES[s]) for s in INTERNAL_SUFFIXES]
    out += [spec(name, "changelog", CHANGELOG) for name in changelogs(topics)]
    return out


@dataclass(frozen=True)
class Existing:
    """What the cluster says of a topic; ``cleanup`` None: not reported (the broker default)."""

    name: str
    partitions: int
    cleanup: str | None
    retention_ms: int | None = None
    min_insync: int | None = None


def differences(want: TopicSpec, have: Existing) -> tuple[list[str], list[str]]:
    """(errors, notes) of an existing topic against its spec. Partitions and cleanup policy
    are errors (tables would be mis-partitioned; records lost or kept wrongly); retention and
    min.insync.replicas are notes (an operator may have chosen them)."""
    errors: list[str] = []
    notes: list[str] = []
    if have.partitions != want.partitions:
        errors.append(
            f"{want.name}: {have.partitions} partitions, the plan has {want.partitions} "
            "(kafka.partitions); a partition count cannot be changed in place: see "
            "docs/operations.md, 'Changing the partition count'"
        )
    cleanup = have.cleanup or DELETE  # Kafka's default log.cleanup.policy
    if set(cleanup.split(",")) != {want.cleanup}:
        shown = have.cleanup or "not set (the broker default, delete)"
        errors.append(
            f"{want.name}: cleanup.policy is {shown}, the plan has {want.cleanup} ({want.why}); "
            f"fix it with kafka-configs.sh --alter --entity-type topics --entity-name {want.name} "
            f"--add-config cleanup.policy={want.cleanup}"
        )
    if (
        want.retention_ms is not None
        and have.retention_ms is not None
        and have.retention_ms != want.retention_ms
    ):
        notes.append(f"{want.name}: retention.ms is {have.retention_ms}, the plan has {want.retention_ms}")
    if have.min_insync is not None and have.min_insync != want.min_insync:
        notes.append(f"{want.name}: min.insync.replicas is {have.min_insync}, the plan has {want.min_insync}")
    return errors, notes


def partition_mismatches(expected: int, existing: dict[str, int]) -> list[str]:
    """One line per existing topic whose partition count is not ``expected``."""
    return [
        f"topic {name} has {count} partitions but kafka.partitions is {expected}"
        for name, count in sorted(existing.items())
        if count != expected
    ]


def human_retention(ms: int | None) -> str:
    if ms is None:
        return "by key"
    if ms % DAY_MS == 0:
        return f"{ms // DAY_MS}d"
    return f"{ms // HOUR_MS}h" if ms % HOUR_MS == 0 else f"{ms}ms"


def table(specs: list[TopicSpec]) -> str:
    """The plan as a text table."""
    rows = [("topic", "kind", "parts", "rf", "min.isr", "cleanup", "retention", "why")]
    rows += [
        (
            s.name,
            s.kind,
            str(s.partitions),
            str(s.replication),
            str(s.min_insync),
            s.cleanup,
            human_retention(s.retention_ms),
            s.why,
        )
        for s in specs
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows
    )
