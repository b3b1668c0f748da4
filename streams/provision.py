"""The Kafka edge of ``citywatch topics``: read what exists, create what is missing.

``describe`` returns each existing topic's partition count and the configs the cluster
reports (``describe_configs`` with every config, so defaults are included on Apache
Kafka; the embedded broker reports only the configs a topic was created with).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaConfigurationError, KafkaError, TopicAlreadyExistsError

from streams import kafka_security
from streams.contract.errors import BrokerError, CitywatchError
from streams.contract.topic_policy import Existing, TopicSpec, differences, partition_mismatches
from streams.kafka_reach import check_reachable, explain

logger = logging.getLogger(__name__)


def _admin(bootstrap: str, client_id: str, timeout_ms: int | None = None) -> KafkaAdminClient:
    timeouts = (
        {} if timeout_ms is None else {"request_timeout_ms": timeout_ms, "bootstrap_timeout_ms": timeout_ms}
    )
    # the process's security settings, as every client's (streams/kafka_security.py)
    security = kafka_security.kafka_python()
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id, **timeouts, **security)


def probe_topics(bootstrap: str, timeout_s: float) -> set[str] | None:
    """The broker's topic names over a fresh connection, or None when it does not answer in time
    (the roles' health probe; blocking)."""
    try:
        admin = _admin(bootstrap, "citywatch-probe", int(timeout_s * 1000))
    except KafkaConfigurationError:
        raise  # a mistake here, not an unreachable broker
    except (KafkaError, OSError):
        return None
    try:
        return set(admin.list_topics())
    except (KafkaError, OSError):
        return None
    finally:
        with contextlib.suppress(Exception):  # closing a client whose connection broke
            admin.close()


@contextlib.contextmanager
def admin_client(bootstrap: str) -> Iterator[KafkaAdminClient]:
    check_reachable(bootstrap)  # a wrong address or TLS/SASL setting: one line naming it
    try:
        admin = _admin(bootstrap, "citywatch-topics")
    except (KafkaError, OSError) as exc:
        raise explain(bootstrap, exc) from None
    try:
        yield admin
    finally:
        with contextlib.suppress(Exception):
            admin.close()


def _int(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def partition_counts(admin: KafkaAdminClient, names: Iterable[str]) -> dict[str, int]:
    """The partition count of each of ``names`` that exists."""
    wanted = set(names)
    existing = [n for n in admin.list_topics() if n in wanted]
    if not existing:
        return {}
    return {
        t["name"]: len(t["partitions"]) for t in admin.describe_topics(existing) if not t.get("error_code")
    }


def describe(admin: KafkaAdminClient, names: Iterable[str]) -> dict[str, Existing]:
    """What the cluster says of each of ``names`` that exists."""
    counts = partition_counts(admin, names)
    if not counts:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in counts]
    described = admin.describe_configs(resources, config_filter="all").get("topic", {})
    out = {}
    for name, count in counts.items():
        values = {k: v.get("value") for k, v in described.get(name, {}).items()}
        out[name] = Existing(
            name,
            count,
            values.get("cleanup.policy"),
            _int(values.get("retention.ms")),
            _int(values.get("min.insync.replicas")),
        )
    return out


@dataclass
class Outcome:
    created: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def verify(specs: list[TopicSpec], existing: dict[str, Existing]) -> Outcome:
    """Compare every existing topic with its spec (pure)."""
    outcome = Outcome()
    for spec in specs:
        have = existing.get(spec.name)
        if have is not None:
            errors, notes = differences(spec, have)
            outcome.errors += errors
            outcome.notes += notes
    return outcome


def apply(bootstrap: str, specs: list[TopicSpec], *, dry_run: bool = False) -> Outcome:
    """Create the missing topics of ``specs`` with their configs; verify the existing ones."""
    with admin_client(bootstrap) as admin:
        existing = describe(admin, [s.name for s in specs])
        outcome = verify(specs, existing)
        missing = [s for s in specs if s.name not in existing]
        if missing and not dry_run:
            new = {
                s.name: {
                    "num_partitions": s.partitions,
                    "replication_factor": s.replication,
                    "configs": s.configs(),
                }
                for s in missing
            }
            try:
                result = admin.create_topics(new, timeout_ms=30_000, raise_errors=False)
            except KafkaError as exc:
                raise BrokerError(f"creating {len(new)} topics failed: {exc}") from None
            for topic in (result or {}).get("topics", []):
                # a race with another creator is fine: it is verified on the next run
                if topic.get("error_code") and topic["error_code"] != TopicAlreadyExistsError.errno:
                    outcome.errors.append(
                        f"{topic['name']}: not created: {topic.get('error_message') or topic['error_code']}"
                    )
        outcome.created = [
            s.name for s in missing if not any(e.startswith(s.name + ":") for e in outcome.errors)
        ]
        if outcome.created and not dry_run:
            logger.info("created %d topics", len(outcome.created))
        return outcome


def refuse_mismatched_partitions(bootstrap: str, specs: list[TopicSpec], expected: int) -> None:
    """Raise a ``CitywatchError`` naming every existing topic of ``specs`` whose partition
    count is not ``expected``: a worker on them would put keys where their table state is not."""
    with admin_client(bootstrap) as admin:
        counts = partition_counts(admin, [s.name for s in specs])
    problems = partition_mismatches(expected, counts)
    if problems:
        raise CitywatchError(
            "; ".join(problems)
            + ". Tables, their source topics and changelogs must have the same partition count: set "
            "kafka.partitions to the topics' count, or move to a new CITYWATCH_TOPIC_PREFIX with "
            "`citywatch topics apply` (docs/operations.md, 'Changing the partition count')"
        )
