"""deploy/: the systemd units pass ``systemd-analyze verify``, every compose service and
unit runs a real ``citywatch`` command with real flags, the alert rules pass ``promtool``,
and every metric the rules and the Grafana dashboard name is one citywatch exports."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest

from streams import role_metrics
from streams.cli import build_parser
from streams.role_health import RoleHealth, _Collector
from streams.web.feed import latency_histograms
from streams.web.metrics import Reading, render
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
SYSTEMD = DEPLOY / "systemd"
BINARY = "/opt/citywatch/.venv/bin/citywatch"
UNITS = sorted(p for p in SYSTEMD.iterdir() if p.suffix in (".service", ".target"))


def parses(argv: list[str]) -> None:
    """``citywatch ARGV`` is accepted by the CLI's own parser (argparse exits on a wrong flag)."""
    assert argv[0] == "citywatch", argv
    try:
        args = build_parser().parse_args(argv[1:])
    except SystemExit as exc:
        raise AssertionError(f"not a valid citywatch command: {shlex.join(argv)}") from exc
    assert args.command is not None, argv


def env_file() -> dict[str, str]:
    lines = (SYSTEMD / "citywatch.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_the_roles_all_have_units() -> None:
    names = {p.name for p in UNITS}
    for role in ("worker", "speaker", "store", "notify", "mqtt", "casesync"):
        assert f"citywatch-{role}.service" in names
    for role in ("edge", "capture", "detect"):
        assert f"citywatch-{role}@.service" in names
    assert "citywatch.target" in names


@pytest.mark.parametrize("unit", [p for p in UNITS if p.suffix == ".service"], ids=lambda p: p.name)
def test_unit_runs_a_real_command(unit: Path) -> None:
    exec_start = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
    values = {
        **env_file(),
        "CITYWATCH_CAMERAS": "--camera cam-01 --camera cam-02",
        "CITYWATCH_HEALTH_PORT": "9301",
    }
    command = re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], exec_start.removeprefix("ExecStart="))
    argv = shlex.split(command)
    assert argv[0] == BINARY
    parses(["citywatch", *argv[1:]])


@pytest.mark.sysdeps("systemd-analyze")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """verify needs ExecStart's binary to exist: the units are checked with the path of an
    executable made here in place of the installed one."""
    fake = tmp_path / "bin" / "citywatch"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    for unit in UNITS:
        (tmp_path / unit.name).write_text(unit.read_text().replace(BINARY, str(fake)))
    files = [str(tmp_path / u.name) for u in UNITS]
    run = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *files], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0 and not run.stderr.strip(), run.stderr


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def test_compose_runs_kafka_in_kraft_mode_with_three_brokers() -> None:
    services = compose()["services"]
    brokers = [s for s in services.values() if str(s.get("image", "")).startswith("apache/kafka")]
    assert len(brokers) == 3
    assert sorted(b["environment"]["KAFKA_NODE_ID"] for b in brokers) == [1, 2, 3]
    for b in brokers:
        assert b["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert b["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"].count("@") == 3
    assert {"prometheus", "grafana"} <= set(services)


def test_every_compose_citywatch_service_runs_a_real_command() -> None:
    services = compose()["services"]
    ours = {name: s for name, s in services.items() if s.get("image") == "citywatch:latest"}
    assert {"topics", "worker", "capture", "detect", "edge", "speaker", "store"} <= set(ours)
    for service in ours.values():
        parses([str(a) for a in service["command"]])


@pytest.mark.sysdeps("promtool")
def test_alert_rules_and_prometheus_config_pass_promtool() -> None:
    for args in (["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"]):
        run = subprocess.run(
            ["promtool", *args], cwd=DEPLOY / "prometheus", capture_output=True, text=True, check=False
        )
        assert run.returncode == 0, run.stdout + run.stderr


class _Stats:
    sampled = inferred = skipped = missed = 1


class _Pipeline:
    stats = _Stats()


class _Publisher:
    buffered = 0
    dropped = 0


def exported() -> set[str]:
    """Every sample name citywatch's /metrics endpoints render (the worker's and the roles')."""
    worker = render(
        Reading(
            counters={"deadletters": 1.0},
            incidents_by_state={"overdue": 1},
            incidents_by_category={"x": 1},
            decisions={"sent": 1},
            worker_lag={"t": 1},
            feed_lag={"t": 1},
            histograms=latency_histograms().values(),
        )
    )
    health = RoleHealth("store", "127.0.0.1:1")
    health.lag = {"t": 1}
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    collectors = [
        health.collect,
        role_metrics.detector(
            "edge", lambda: {"c": _Pipeline()}, _Publisher(), lambda: 1.0, lambda: {"c": 1}
        ),
        role_metrics.speaker({"played": 1}, lambda: 0),
        role_metrics.store({"rows": 1}),
    ]
    for collect in collectors:
        registry.register(_Collector(collect))
    text = worker + generate_latest(registry).decode()
    names = {
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")
    }
    return names | {"up"}  # up: Prometheus's own, per scrape target


METRIC = re.compile(r"\b((?:citywatch|process)_[a-z_]+|up(?=\{))")


def exprs() -> Iterator[tuple[str, str]]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield rule["alert"], rule["expr"]
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "citywatch.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target["expr"]


def test_every_expr_names_only_metrics_citywatch_exports() -> None:
    known = exported()
    assert "citywatch_speaker_commands_total" in known and "citywatch_consumer_lag_records" in known
    seen = 0
    for where, expr in exprs():
        names = set(METRIC.findall(expr))
        assert names, f"{where}: names no metric: {expr}"
        unknown = names - known
        assert not unknown, f"{where}: {sorted(unknown)} are not exported by citywatch"
        seen += 1
    assert seen >= 20


def test_the_sysdeps_are_in_the_makefile() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "promtool:prometheus" in makefile and "systemd-analyze:systemd" in makefile
