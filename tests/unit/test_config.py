"""Every kind of configuration error, reported with its line, path and fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams.config import parse_config
from streams.config.timerange import in_range, parse_range
from streams.errors import ConfigError, ConfigProblem

from ..conftest import SAMPLE_CONFIG


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing ``needle``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[occurrence - 1]


def problems_for(text: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "cameras.yaml")
    return info.value.problems


def test_sample_config_is_valid(sample_config_text: str) -> None:
    cfg = parse_config(sample_config_text)
    assert len(cfg.cameras) >= 3
    assert cfg.site.timezone == "Asia/Shanghai"
    assert cfg.categories["out_of_store_business"].code == "200504"
    assert {c.id for c in cfg.cameras} == {"cam-hp-01", "cam-hp-02", "cam-xh-01"}


# (name, old text, new text, the line's needle in the new text, path, words of the message)
CASES = [
    (
        "unknown key",
        "    detect_fps: 1\n",
        "    detectfps: 1\n",
        "detectfps",
        "cameras[2].detectfps",
        "did you mean detect_fps",
    ),
    (
        "wrong type",
        "    stationary_recheck_s: 15",
        "    stationary_recheck_s: fifteen",
        "fifteen",
        "cameras[2].stationary_recheck_s",
        "valid number",
    ),
    (
        "undefined category",
        "categories: [out_of_store_business]\n        active_hours",
        "categories: [out_of_store_busines]\n        active_hours",
        "out_of_store_busines]",
        "cameras[0].zones[0].categories[0]",
        "did you mean out_of_store_business",
    ),
    (
        "undefined speaker",
        "speaker: spk-hp-02",
        "speaker: spk-hp-2",
        "speaker: spk-hp-2",
        "cameras[1].speaker",
        "not defined under speakers",
    ),
    (
        "undefined grid",
        "grid: grid-xh-02\n",
        "grid: grid-xh-2\n",
        "grid: grid-xh-2",
        "cameras[2].grid",
        "did you mean grid-xh-02",
    ),
    (
        "polygon with two points",
        "polygon: [[0.7, 0.3], [0.95, 0.3], [0.95, 0.5], [0.7, 0.5]]",
        "polygon: [[0.7, 0.3], [0.95, 0.3]]",
        "[[0.7, 0.3], [0.95, 0.3]]",
        "cameras[2].zones[1].polygon",
        "at least 3 points",
    ),
    (
        "polygon point outside 0..1",
        "polygon: [[0.0, 0.2], [1.0, 0.2], [1.0, 0.95], [0.0, 0.95]]",
        "polygon: [[0.0, 0.2], [1280, 0.2], [1.0, 0.95], [0.0, 0.95]]",
        "1280",
        "cameras[1].zones[0].polygon[1]",
        "normalised",
    ),
    (
        "self-intersecting polygon",
        "polygon: [[0.0, 0.2], [1.0, 0.2], [1.0, 0.95], [0.0, 0.95]]",
        "polygon: [[0.0, 0.2], [1.0, 0.95], [1.0, 0.2], [0.0, 0.95]]",
        "[[0.0, 0.2], [1.0, 0.95]",
        "cameras[1].zones[0].polygon",
        "cross",
    ),
    (
        "bad time range",
        'quiet_hours: "21:30-07:30"',
        'quiet_hours: "21:30-31:30"',
        "31:30",
        "speakers[2].quiet_hours",
        "not a time of day",
    ),
    (
        "empty time range",
        'active_hours: "07:00-22:00"\n    template: "{shop}',
        'active_hours: "07:00-07:00"\n    template: "{shop}',
        '"07:00-07:00"',
        "categories.out_of_store_business.active_hours",
        "00:00-24:00",
    ),
    (
        "bad timezone",
        "timezone: Asia/Shanghai",
        "timezone: Asia/Shangai",
        "Asia/Shangai",
        "site.timezone",
        "IANA",
    ),
    (
        "duplicate camera id",
        "  - id: cam-xh-01\n    name: 兴华街口",
        "  - id: cam-hp-01\n    name: 兴华街口",
        "  - id: cam-hp-01\n    name: 兴华街口",
        "cameras[2].id",
        "duplicate camera id",
    ),
    (
        "duplicate key",
        "    grace_s: 300\n    verify_s: 60\n    sla_s: 3600\n    active_hours",
        "    grace_s: 300\n    grace_s: 30\n    sla_s: 3600\n    active_hours",
        "grace_s: 30\n",
        "categories.out_of_store_business.grace_s",
        "duplicate key",
    ),
    (
        "missing required key",
        "    grid: grid-hp-01\n    speaker: spk-hp-02",
        "    speaker: spk-hp-02",
        "  - id: cam-hp-02",
        "cameras[1].grid",
        "missing",
    ),
    (
        "unit escalating to an undefined unit",
        'escalates_to: unit-district\n    contact: "138-0000-0002"',
        'escalates_to: unit-distrct\n    contact: "138-0000-0002"',
        "unit-distrct",
        "units[1].escalates_to",
        "did you mean unit-district",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "needle", "path", "words"), CASES, ids=[c[0] for c in CASES])
def test_error_kind_reported_with_line(
    sample_config_text: str, name: str, old: str, new: str, needle: str, path: str, words: str
) -> None:
    assert old in sample_config_text, f"test case {name} no longer matches the sample"
    text = sample_config_text.replace(old, new, 1)
    problems = problems_for(text)
    match = [p for p in problems if p.path == path]
    assert match, f"no problem at {path}; got {[str(p) for p in problems]}"
    problem = match[0]
    assert words in problem.message
    expected_line = text.count("\n", 0, text.index(needle)) + 1
    assert problem.line == expected_line
    assert str(problem).startswith(f"cameras.yaml:{expected_line}: {path}: ")


def test_malformed_yaml_names_its_line(sample_config_text: str) -> None:
    text = sample_config_text.replace("  name: yolo11n", "  name: yolo11n\n   imgsz: [640", 1)
    [problem] = problems_for(text)
    assert "malformed YAML" in problem.message
    assert problem.line == line_of(text, "imgsz: [640")


def test_every_problem_is_reported_not_only_the_first(sample_config_text: str) -> None:
    text = sample_config_text
    for _, old, new, *_rest in (CASES[0], CASES[2], CASES[4], CASES[8]):
        text = text.replace(old, new, 1)
    problems = problems_for(text)
    paths = {p.path for p in problems}
    assert {
        "cameras[2].detectfps",
        "cameras[0].zones[0].categories[0]",
        "cameras[2].grid",
        "speakers[2].quiet_hours",
    } <= paths


def test_not_a_mapping() -> None:
    [problem] = problems_for("- just\n- a list\n")
    assert "must be a mapping" in problem.message


@pytest.mark.parametrize(
    ("text", "minute", "inside"),
    [
        ("08:00-22:00", 8 * 60, True),
        ("08:00-22:00", 22 * 60, False),
        ("08:00-22:00", 7 * 60 + 59, False),
        ("22:00-07:00", 23 * 60, True),
        ("22:00-07:00", 3 * 60, True),
        ("22:00-07:00", 7 * 60, False),
        ("22:00-07:00", 12 * 60, False),
        ("00:00-24:00", 1439, True),
    ],
)
def test_time_ranges(text: str, minute: int, inside: bool) -> None:
    assert in_range(text, minute) is inside


@pytest.mark.parametrize("bad", ["8-22", "08:00-22:60", "25:00-01:00", "09:00-09:00", "24:00-02:00"])
def test_bad_time_ranges(bad: str) -> None:
    with pytest.raises(ValueError, match="time range"):
        parse_range(bad)


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "check", *args], capture_output=True, text=True, timeout=60
    )


def test_check_command_valid_prints_summary() -> None:
    result = run_check(str(SAMPLE_CONFIG))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "cam-hp-01" in result.stdout and "200504" in result.stdout


def test_check_command_invalid_exits_1_with_lines(tmp_path: Path, sample_config_text: str) -> None:
    bad = tmp_path / "cameras.yaml"
    bad.write_text(sample_config_text.replace("speaker: spk-hp-02", "speaker: spk-hp-2", 1), encoding="utf-8")
    result = run_check(str(bad))
    assert result.returncode == 1
    line = line_of(bad.read_text(encoding="utf-8"), "speaker: spk-hp-2")
    assert f"{bad}:{line}: cameras[1].speaker:" in result.stderr
    assert "1 problem" in result.stderr


def test_check_command_missing_file(tmp_path: Path) -> None:
    result = run_check(str(tmp_path / "nope.yaml"))
    assert result.returncode == 1
    assert "file not found" in result.stderr
