"""The roles' own counters for ``/metrics``, read from the roles' stats at each scrape
(custom collectors, as the worker's: nothing is copied into prometheus_client's objects).

    citywatch_frames_total{role,camera,stage}   sampled / inferred / skipped (still) / missed
                                                (sampling slots no frame was taken for) / queued
    citywatch_inference_seconds_total{role}     time in the detector
    citywatch_frames_dropped_total{role}        records dropped while Kafka did not take them
    citywatch_publish_buffer_records{role}      records waiting for Kafka
    citywatch_camera_commands_total{role,camera,outcome}
                                                operators' camera commands: applied / no_background /
                                                stale / duplicate; not_here (camera "") for cameras
                                                of other processes
    citywatch_speaker_commands_total{status}    played / failed / expired (acks published)
    citywatch_role_deadletters_total{role}      records a role dead-lettered
    citywatch_store_rows_written_total          rows the store wrote
    citywatch_store_records_total{outcome}      read / retried batches / committed batches
    citywatch_notify_messages_total{robot,outcome}
                                                group-chat messages: sent (one event) / digest /
                                                failed (tried again)
    citywatch_notify_events_total{outcome}      derived / queued (new in the outbox) / duplicate /
                                                stale (older than max_age_min) / refused (past
                                                max_waiting) / sent
    citywatch_mqtt_messages_total{direction}    in (readings produced) / out (MQTT messages published)
    citywatch_mqtt_reconnects_total             reconnects to the MQTT broker
    citywatch_mqtt_connected                    1 while the bridge is connected to the MQTT broker
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric


class _Stats(Protocol):
    sampled: int
    inferred: int
    skipped: int
    missed: int


class _Pipeline(Protocol):
    @property
    def stats(self) -> _Stats: ...


class _Publisher(Protocol):
    @property
    def buffered(self) -> int: ...
    @property
    def dropped(self) -> int: ...


def detector(
    role: str,
    pipelines: Callable[[], Mapping[str, _Pipeline]],
    publisher: _Publisher,
    inference_ms: Callable[[], float] | None = None,
    queued: Callable[[], Mapping[str, int]] | None = None,
    commands: Callable[[], Mapping[tuple[str, str], int]] | None = None,
) -> Callable[[], Iterator[Metric]]:
    """edge, capture and detect: frames by camera and stage, inference time, drops, buffer."""

    def collect() -> Iterator[Metric]:
        frames = CounterMetricFamily(
            "citywatch_frames", "Frames by camera and stage", labels=["role", "camera", "stage"]
        )
        for camera, p in sorted(dict(pipelines()).items()):
            s = p.stats
            for stage, value in (
                ("sampled", s.sampled),
                ("inferred", s.inferred),
                ("skipped", s.skipped),
                ("missed", s.missed),
            ):
                frames.add_metric([role, camera, stage], float(value))
        for camera, value in sorted((queued() if queued else {}).items()):
            frames.add_metric([role, camera, "queued"], float(value))
        yield frames
        if inference_ms is not None:
            spent = CounterMetricFamily(
                "citywatch_inference_seconds", "Seconds spent in the detector", labels=["role"]
            )
            spent.add_metric([role], inference_ms() / 1000.0)
            yield spent
        dropped = CounterMetricFamily(
            "citywatch_frames_dropped", "Records dropped while Kafka did not take them", labels=["role"]
        )
        dropped.add_metric([role], float(publisher.dropped))
        yield dropped
        buffer = GaugeMetricFamily(
            "citywatch_publish_buffer_records", "Records waiting for Kafka", labels=["role"]
        )
        buffer.add_metric([role], float(publisher.buffered))
        yield buffer
        if commands is not None:
            handled = CounterMetricFamily(
                "citywatch_camera_commands",
                "Operators' camera commands (background re-captures) by camera and outcome",
                labels=["role", "camera", "outcome"],
            )
            for (camera, outcome), value in sorted(dict(commands()).items()):
                handled.add_metric([role, camera, outcome], float(value))
            yield handled

    return collect


def speaker(acks: Mapping[str, int], deadletters: Callable[[], int]) -> Callable[[], Iterator[Metric]]:
    """The gateway: commands acknowledged by status, dead letters."""

    def collect() -> Iterator[Metric]:
        commands = CounterMetricFamily(
            "citywatch_speaker_commands", "Loudspeaker commands acknowledged, by status", labels=["status"]
        )
        for status in ("played", "failed", "expired"):
            commands.add_metric([status], float(acks.get(status, 0)))
        yield commands
        yield _deadletters("speaker", deadletters())

    return collect


def store(stats: Mapping[str, Any]) -> Callable[[], Iterable[Metric]]:
    """The store: rows written, records read, batches retried and committed, dead letters."""

    def collect() -> Iterator[Metric]:
        rows = CounterMetricFamily(
            "citywatch_store_rows_written", "Rows the store wrote (inserted or updated)"
        )
        rows.add_metric([], float(stats.get("rows", 0)))
        yield rows
        records = CounterMetricFamily(
            "citywatch_store_records", "The store's records and batches", labels=["outcome"]
        )
        for outcome, key in (
            ("read", "records"),
            ("retried_batches", "retries"),
            ("committed_batches", "batches"),
        ):
            records.add_metric([outcome], float(stats.get(key, 0)))
        yield records
        yield _deadletters("store", int(stats.get("deadletters", 0)))

    return collect


def notify(
    stats: Mapping[str, int], by_robot: Mapping[tuple[str, str], int], robots: Iterable[str]
) -> Callable[[], Iterable[Metric]]:
    """The notify role: messages by robot and outcome, events by outcome, dead letters."""

    def collect() -> Iterator[Metric]:
        messages = CounterMetricFamily(
            "citywatch_notify_messages",
            "Group-chat messages by robot and outcome",
            labels=["robot", "outcome"],
        )
        for robot in sorted(robots):
            for outcome in ("sent", "digest", "failed"):
                messages.add_metric([robot, outcome], float(by_robot.get((robot, outcome), 0)))
        yield messages
        events = CounterMetricFamily(
            "citywatch_notify_events", "Notification events by outcome", labels=["outcome"]
        )
        for outcome, key in (
            ("derived", "events"),
            ("queued", "queued"),
            ("duplicate", "duplicates"),
            ("stale", "stale"),
            ("refused", "refused"),
            ("sent", "events_sent"),
        ):
            events.add_metric([outcome], float(stats.get(key, 0)))
        yield events
        yield _deadletters("notify", int(stats.get("deadletters", 0)))

    return collect


def mqtt(stats: Mapping[str, int], connected: Callable[[], bool]) -> Callable[[], Iterator[Metric]]:
    """The MQTT bridge: messages in and out, dead letters, reconnects, the connection."""

    def collect() -> Iterator[Metric]:
        messages = CounterMetricFamily(
            "citywatch_mqtt_messages",
            "Readings produced from MQTT (in) and MQTT messages published (out)",
            labels=["direction"],
        )
        messages.add_metric(["in"], float(stats.get("readings", 0)))
        messages.add_metric(["out"], float(stats.get("published", 0)))
        yield messages
        reconnects = CounterMetricFamily("citywatch_mqtt_reconnects", "Reconnects to the MQTT broker")
        reconnects.add_metric([], float(stats.get("reconnects", 0)))
        yield reconnects
        up = GaugeMetricFamily("citywatch_mqtt_connected", "1 while connected to the MQTT broker")
        up.add_metric([], 1.0 if connected() else 0.0)
        yield up
        yield _deadletters("mqtt", int(stats.get("deadletters", 0)))

    return collect


def _deadletters(role: str, value: int) -> Metric:
    family = CounterMetricFamily(
        "citywatch_role_deadletters", "Records a role dead-lettered", labels=["role"]
    )
    family.add_metric([role], float(value))
    return family


def casesync(stats: Mapping[str, int]) -> Callable[[], Iterable[Metric]]:
    """casesync: cases pushed by outcome, attempts retried, dead letters."""

    def collect() -> Iterator[Metric]:
        pushes = CounterMetricFamily(
            "citywatch_casesync_cases", "Cases pushed to the case system, by outcome", labels=["outcome"]
        )
        for outcome in ("accepted", "duplicates", "skipped"):
            pushes.add_metric([outcome], float(stats.get(outcome, 0)))
        yield pushes
        retries = CounterMetricFamily(
            "citywatch_casesync_retries", "Pushes the case system did not accept and that were tried again"
        )
        retries.add_metric([], float(stats.get("retries", 0)))
        yield retries
        yield _deadletters("casesync", int(stats.get("deadletters", 0)))

    return collect
