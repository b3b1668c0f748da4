"""Sensor, sensor rule and health configuration: each error with its line, path and fix."""

from __future__ import annotations

import pytest

from streams.config import parse_config

from ..config_support import edit_sample, problems_for


def test_sample_has_sensors_rules_and_health(sample_config_text: str) -> None:
    cfg = parse_config(sample_config_text)
    assert {s.kind for s in cfg.sensors} == {"pm25", "noise", "bin_fill"}
    assert {r.category for r in cfg.sensor_rules} == {"air_quality", "noise", "bin_overflow"}
    assert cfg.categories["camera_offline"].labels == []
    assert cfg.health.offline_category in cfg.categories and cfg.health.stale_category in cfg.categories


# (name, old text, new text, the line's needle in the new text, path, words of the message)
CASES = [
    (
        "sensor grid undefined",
        "    grid: grid-xh-02\n  - id: bin-xh-01",
        "    grid: grid-xh-2\n  - id: bin-xh-01",
        "grid: grid-xh-2",
        "sensors[1].grid",
        "sensor noise-xh-01 names grid 'grid-xh-2', which is not defined under grids: "
        "(did you mean grid-xh-02?)",
    ),
    (
        "duplicate sensor id",
        "  - id: bin-xh-01",
        "  - id: noise-xh-01",
        "  - id: noise-xh-01",
        "sensors[2].id",
        "duplicate sensor id 'noise-xh-01'",
    ),
    (
        "sensor id is a camera id",
        "  - id: pm-hp-01",
        "  - id: cam-hp-02",
        "  - id: cam-hp-02",
        "sensors[0].id",
        "also a camera id",
    ),
    (
        "rule category undefined",
        "    category: air_quality\n    window_s: 900",
        "    category: air_qualty\n    window_s: 900",
        "category: air_qualty",
        "sensor_rules[0].category",
        "sensor rule pm25-15min opens category 'air_qualty', which is not defined under categories: "
        "(did you mean air_quality?)",
    ),
    (
        "rule kind without a sensor",
        "    kind: noise\n    category: noise",
        "    kind: noize\n    category: noise",
        "kind: noize",
        "sensor_rules[1].kind",
        "no sensor under sensors: has that kind (did you mean noise?)",
    ),
    (
        "clear on the wrong side",
        "    clear: 60              # hysteresis",
        "    clear: 90              # hysteresis",
        "clear: 90",
        "sensor_rules[0].clear",
        "clear (90) must not be above the threshold above: (75)",
    ),
    (
        "two thresholds",
        "    above: 70              # dB(A), night hours, for 10 minutes",
        "    above: 70\n    below: 20",
        "    below: 20",
        "sensor_rules[1].below",
        "needs exactly one threshold",
    ),
    (
        "unknown rule key",
        "    aggregate: mean\n    above: 75",
        "    agregate: mean\n    above: 75",
        "agregate",
        "sensor_rules[0].agregate",
        "did you mean aggregate",
    ),
    (
        "health category undefined",
        "  sensor_stale_after_s: 900",
        "  sensor_stale_after_s: 900\n  offline_category: camera_ofline",
        "offline_category",
        "health.offline_category",
        "(did you mean camera_offline?)",
    ),
    (
        "zone category without labels",
        "        categories: [illegal_parking]\n",
        "        categories: [camera_offline]\n",
        "categories: [camera_offline]",
        "cameras[1].zones[0].categories[0]",
        "uses category 'camera_offline', which has no labels:",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_sensor_error_reported_with_line(sample_config_text: str, case: tuple[str, ...]) -> None:
    name, old, new, needle, path, words = case
    text = edit_sample(sample_config_text, old, new, name)
    problems = problems_for(text)
    assert len(problems) == 1, problems
    (problem,) = problems
    assert problem.path == path
    assert words in problem.message
    # the id clashes point at the later (the sensor's) line
    expected_line = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line][-1]
    assert problem.line == expected_line, str(problem)


def test_health_categories_left_at_defaults_are_optional(sample_config_text: str) -> None:
    text = sample_config_text.replace("  camera_offline:\n", "  camera_offline_x:\n", 1)
    cfg = parse_config(text)
    assert "camera_offline" not in cfg.categories  # the camera-offline incident is simply not opened
