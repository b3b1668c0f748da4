"""The topic plan: every topic has a policy, compaction only where a record is the whole
state, the changelog names are the worker's own, and differences are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config import load_config
from streams.contract.topic_policy import (
    COMPACT,
    DELETE,
    POLICIES,
    Existing,
    changelogs,
    differences,
    min_insync,
    partition_mismatches,
    plan,
    table,
)
from streams.contract.topics import INTERNAL_SUFFIXES, SUFFIXES, Topics
from tests.conftest import SAMPLE_CONFIG

TOPICS = Topics("p.")


def test_every_topic_has_a_policy_and_nothing_else() -> None:
    assert set(POLICIES) == set(SUFFIXES) | set(INTERNAL_SUFFIXES)


def test_plan_covers_contract_internal_and_changelogs() -> None:
    specs = plan(TOPICS, 6, 3)
    names = [s.name for s in specs]
    assert names == [*TOPICS.all(), *changelogs(TOPICS)]
    assert {s.partitions for s in specs} == {6}
    assert {s.min_insync for s in specs} == {2}


def test_changelog_names_are_the_worker_tables(tmp_path: Path) -> None:
    from streams.worker import create_worker

    worker = create_worker(
        load_config(SAMPLE_CONFIG), bootstrap="127.0.0.1:1", topics=TOPICS, datadir=tmp_path, web_port=None
    )
    made = sorted(t.changelog_topic.get_topic_name() for t in worker.app.tables.values())
    assert made == sorted(changelogs(TOPICS))


def test_dispatch_is_never_compacted_and_state_topics_are() -> None:
    by_name = {s.name: s for s in plan(TOPICS, 4)}
    assert by_name["p.dispatch"].cleanup == DELETE
    assert by_name["p.dispatch-updates"].cleanup == DELETE
    assert by_name["p.alerts"].cleanup == COMPACT
    assert all(by_name[n].cleanup == COMPACT for n in changelogs(TOPICS))
    assert by_name["p.frames"].retention_ms is not None
    assert "retention.ms" not in by_name["p.alerts"].configs()
    assert by_name["p.dispatch"].configs()["cleanup.policy"] == "delete"


@pytest.mark.parametrize(("replication", "expected"), [(1, 1), (2, 1), (3, 2), (5, 2)])
def test_min_insync(replication: int, expected: int) -> None:
    assert min_insync(replication) == expected


def spec(name: str) -> object:
    return {s.name: s for s in plan(TOPICS, 4, 3)}[name]


@pytest.mark.parametrize(
    ("have", "errors", "notes"),
    [
        (Existing("p.alerts", 4, "compact", None, 2), [], []),
        (Existing("p.alerts", 8, "compact"), ["p.alerts: 8 partitions, the plan has 4"], []),
        (Existing("p.alerts", 4, None), ["cleanup.policy is not set (the broker default, delete)"], []),
        (Existing("p.alerts", 4, "delete"), ["cleanup.policy is delete, the plan has compact"], []),
        (Existing("p.dispatch", 4, "compact"), ["cleanup.policy is compact, the plan has delete"], []),
        (Existing("p.dispatch", 4, None, 1000, 1), [], ["retention.ms is 1000", "min.insync.replicas is 1"]),
    ],
)
def test_differences(have: Existing, errors: list[str], notes: list[str]) -> None:
    got_errors, got_notes = differences(spec(have.name), have)  # type: ignore[arg-type]
    assert len(got_errors) == len(errors)
    for want, got in zip(errors, got_errors, strict=True):
        assert want in got
    assert len(got_notes) == len(notes)
    for want, got in zip(notes, got_notes, strict=True):
        assert want in got


def test_partition_mismatches_name_topic_and_both_counts() -> None:
    assert partition_mismatches(4, {"p.a": 4, "p.b": 2}) == [
        "topic p.b has 2 partitions but kafka.partitions is 4"
    ]


def test_table_has_a_row_per_topic() -> None:
    text = table(plan(TOPICS, 4))
    assert len(text.splitlines()) == len(plan(TOPICS, 4)) + 1
    assert "p.dispatch " in text
