"""``citywatch topics`` on the embedded broker, and the worker refusing topics whose
partition count is not ``kafka.partitions``.

The embedded broker (tansu) stores the configs a topic is created with and reports them
back (describe_configs); a topic created without configs reports none. It is a single
node: it accepts any replication factor and min.insync.replicas without enforcing them,
so those are checked as stored, not as behaviour."""

from __future__ import annotations

import uuid

import pytest

from streams.contract.topic_policy import changelogs, plan
from streams.contract.topics import Topics
from streams.kafka_io import ensure_topics
from streams.provision import admin_client, describe

from ..conftest import SAMPLE_CONFIG, KafkaEnv
from ..streams_support import citywatch

pytestmark = pytest.mark.integration


def fresh(kafka: KafkaEnv) -> tuple[Topics, dict[str, str]]:
    topics = Topics(f"t{uuid.uuid4().hex[:8]}.prov.")
    return topics, {**kafka.env(), "CITYWATCH_TOPIC_PREFIX": topics.prefix}


def test_apply_creates_every_topic_with_its_configs_then_verifies(kafka: KafkaEnv) -> None:
    topics, env = fresh(kafka)
    first = citywatch(env, "topics", "apply", "--config", str(SAMPLE_CONFIG), "--replication-factor", "3")
    assert first.returncode == 0, first.stdout + first.stderr
    specs = plan(topics, 4, 3)
    assert f"{len(specs)} topics: {len(specs)} created, 0 existing, 0 difference(s)" in first.stdout
    with admin_client(kafka.bootstrap) as admin:
        seen = describe(admin, [s.name for s in specs])
    assert set(seen) == {s.name for s in specs}
    assert {e.partitions for e in seen.values()} == {4}
    assert seen[topics.alerts].cleanup == "compact"
    assert seen[topics.dispatch].cleanup == "delete"
    assert seen[topics.dispatch].retention_ms == 30 * 24 * 3_600_000
    assert all(seen[n].cleanup == "compact" for n in changelogs(topics))
    assert {e.min_insync for e in seen.values()} == {2}

    again = citywatch(env, "topics", "apply", "--config", str(SAMPLE_CONFIG), "--replication-factor", "3")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"0 created, {len(specs)} existing, 0 difference(s)" in again.stdout


def test_apply_reports_wrong_partitions_and_cleanup_and_exits_1(kafka: KafkaEnv) -> None:
    topics, env = fresh(kafka)
    ensure_topics(kafka.bootstrap, [topics.detections], partitions=2)  # no configs: delete
    ensure_topics(kafka.bootstrap, [topics.alerts], partitions=4)  # should be compacted
    dry = citywatch(env, "topics", "apply", "--dry-run", "--config", str(SAMPLE_CONFIG))
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert f"DIFFERS: {topics.detections}: 2 partitions, the plan has 4" in dry.stdout
    assert f"DIFFERS: {topics.alerts}: cleanup.policy is not set (the broker default, delete)" in dry.stdout
    assert f"would create {topics.dispatch}" in dry.stdout
    with admin_client(kafka.bootstrap) as admin:
        assert topics.dispatch not in describe(admin, [topics.dispatch])  # a dry run creates nothing


def test_worker_refuses_topics_with_another_partition_count(kafka: KafkaEnv) -> None:
    topics, env = fresh(kafka)
    ensure_topics(kafka.bootstrap, [topics.detections], partitions=2)
    run = citywatch(env, "worker", "--no-web", "--config", str(SAMPLE_CONFIG), timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"topic {topics.detections} has 2 partitions but kafka.partitions is 4" in run.stderr
    with admin_client(kafka.bootstrap) as admin:
        assert topics.alerts not in describe(admin, [topics.alerts])  # it stopped before creating any


def test_plan_needs_no_broker(kafka: KafkaEnv) -> None:
    _, env = fresh(kafka)
    out = citywatch(
        {**env, "CITYWATCH_KAFKA": "127.0.0.1:1"}, "topics", "plan", "--config", str(SAMPLE_CONFIG)
    )
    assert out.returncode == 0, out.stderr
    assert "worker-camera-health-changelog" in out.stdout
