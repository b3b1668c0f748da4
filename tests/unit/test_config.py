"""Every kind of configuration error, reported with its line, path and fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams.config import parse_config
from streams.config.timerange import in_range, parse_range

from ..config_support import edit_sample, problems_for
from ..conftest import SAMPLE_CONFIG


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing ``needle``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[occurrence - 1]


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
        "polygon: [[0.6, 0.55], [1.0, 0.55], [1.0, 1.0], [0.6, 1.0]]",
        "polygon: [[0.6, 0.55], [1.0, 0.55]]",
        "[[0.6, 0.55], [1.0, 0.55]]",
        "cameras[0].zones[1].polygon",
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
        'escalates_to: unit-xh-office\n    contact: "138-0000-0002"',
        'escalates_to: unit-xh-ofice\n    contact: "138-0000-0002"',
        "unit-xh-ofice",
        "units[1].escalates_to",
        "did you mean unit-xh-office",
    ),
    (
        "unknown model backend",
        "  batch: 4\n",
        "  batch: 4\n  backend: openvnio\n",
        "openvnio",
        "model.backend",
        "should be 'onnxruntime' or 'openvino' (got 'openvnio': did you mean openvino?)",
    ),
    (
        "substream the same as the source",
        "    source: var/demo/cam-hp-02.mp4\n",
        "    source: var/demo/cam-hp-02.mp4\n    substream: var/demo/cam-hp-02.mp4\n",
        "substream: var/demo/cam-hp-02.mp4",
        "cameras[1].substream",
        "camera cam-hp-02: substream is the same as its source; give the camera's lower-resolution",
    ),
    (
        "substream of another kind than the source",
        "    source: var/demo/cam-hp-02.mp4\n",
        "    source: var/demo/cam-hp-02.mp4\n    substream: rtsp://nvr:554/Streaming/Channels/102\n",
        "substream: rtsp://nvr",
        "cameras[1].substream",
        "substream is a stream but its source is a file",
    ),
    (
        "substream of a local device",
        "    source: var/demo/cam-hp-02.mp4\n",
        "    source: device:0\n    substream: device:1\n",
        "substream: device:1",
        "cameras[1].substream",
        "a local device (device:N) has no substream; remove substream",
    ),
    (
        "unknown decode mode",
        "    source: var/demo/cam-hp-02.mp4\n",
        "    source: var/demo/cam-hp-02.mp4\n    decode: sample\n",
        "    decode: sample\n",
        "cameras[1].decode",
        "should be 'all', 'sampled' or 'keyframes' (got 'sample': did you mean sampled?)",
    ),
    (
        "camera id of a folder evidence.dir keeps for something else",
        "  - id: cam-hp-02\n",
        "  - id: live\n",
        "  - id: live\n",
        "cameras[1].id",
        "camera id 'live' is reserved (evidence.dir/live/ holds the live pictures); rename the camera",
    ),
    (
        "live pictures of no interval",
        "    source: var/demo/cam-hp-02.mp4\n",
        "    source: var/demo/cam-hp-02.mp4\n    live_snapshot_s: 0\n",
        "    live_snapshot_s: 0\n",
        "cameras[1].live_snapshot_s",
        "greater than 0",
    ),
    (
        "key frames of a local device",
        "    source: var/demo/cam-hp-02.mp4\n",
        "    source: device:0\n    decode: keyframes\n",
        "    decode: keyframes\n",
        "cameras[1].decode",
        "decode: keyframes reads video files and streams, not a local device (device:N)",
    ),
    (
        "PyTorch weights on openvino",
        "  name: yolo11n ",
        "  backend: openvino\n  name: weights/best.pt ",
        "model:",
        "model",
        "export them first (`yolo export model=WEIGHTS.pt format=onnx`)",
    ),
    (
        "unknown model precision",
        "  batch: 4\n",
        "  batch: 4\n  backend: openvino\n  precision: int9\n",
        "int9",
        "model.precision",
        "should be 'fp32' or 'int8' (got 'int9': did you mean int8?)",
    ),
    (
        "int8 without the openvino backend",
        "  batch: 4\n",
        "  batch: 4\n  precision: int8\n",
        "model:",
        "model",
        "model.precision int8 runs on OpenVINO, and model.backend is onnxruntime: set model.backend to "
        "openvino (then make the INT8 model with `citywatch model quantize`), or set model.precision to fp32",
    ),
    (
        "int8 of an OpenVINO directory",
        "  name: yolo11n ",
        "  backend: openvino\n  precision: int8\n  name: var/models/best_openvino_model ",
        "model:",
        "model",
        "model.precision int8 quantises ONNX weights, and model.name is var/models/best_openvino_model",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "needle", "path", "words"), CASES, ids=[c[0] for c in CASES])
def test_error_kind_reported_with_line(
    sample_config_text: str, name: str, old: str, new: str, needle: str, path: str, words: str
) -> None:
    text = edit_sample(sample_config_text, old, new, name)
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


# -- labels the model cannot produce (`citywatch check` reads the model's class names) --------


def with_custom_labels(text: str) -> str:
    """The sample with a custom model's labels for piled materials and garbage (no static_object)."""
    piled = text.index("  piled_materials:\n")
    text = text[:piled] + text[piled:].replace("labels: [static_object]", "labels: [goods, box]", 1)
    garbage = text.index("  exposed_garbage:\n")
    text = text[:garbage] + text[garbage:].replace("labels: [static_object]", "labels: [garbage]", 1)
    # a zone's own static-object settings need a category counting static_object
    settings = "        static_objects: {learn_s: 30, static_after_s: 300, min_area: 0.01}\n"
    assert settings in text
    return text.replace(settings, "")


def test_sample_claims_no_category_the_model_cannot_produce(sample_config_text: str) -> None:
    from detectors.labels import DETECTOR_LABELS, model_classes
    from streams.config.verify import verify_labels_producible

    cfg = parse_config(sample_config_text)
    model, classes = model_classes(cfg.model.name)
    assert model == "yolo11n" and len(classes) == 80 and "car" in classes  # read from the ONNX metadata
    assert list(verify_labels_producible(cfg, model=model, classes=classes, own=DETECTOR_LABELS)) == []
    used = {k for cam in cfg.cameras for z in cam.zones for k in z.categories}
    assert {"exposed_garbage", "piled_materials"} <= used  # on a camera, through static_object
    assert cfg.categories["exposed_garbage"].labels == ["static_object"]
    # the model alone cannot produce them: the detector's own label is what makes them count
    found = {loc for loc, _ in verify_labels_producible(cfg, model=model, classes=classes)}
    assert found == {("categories", k, "labels", 0) for k in ("exposed_garbage", "piled_materials")}


def test_check_reports_every_label_the_model_cannot_produce(tmp_path: Path, sample_config_text: str) -> None:
    bad = tmp_path / "cameras.yaml"
    text = with_custom_labels(sample_config_text)
    text = text.replace("  batch: 4\n", "  batch: 4\n  labels: [car, bicycel]\n", 1)
    bad.write_text(text, encoding="utf-8")
    parse_config(text)  # valid but for the labels: only the model says which can be produced
    result = run_check(str(bad))
    assert result.returncode == 1, result.stdout
    err = result.stderr
    assert "4 problems" in err
    for label, needle, path, zone in [
        ("garbage", "labels: [garbage]", "categories.exposed_garbage.labels[0]", "bin-corner"),
        ("goods", "labels: [goods, box]", "categories.piled_materials.labels[0]", "wall-side"),
        ("box", "labels: [goods, box]", "categories.piled_materials.labels[1]", "wall-side"),
    ]:
        line = f"{bad}:{line_of(text, needle)}: {path}:"
        [msg] = [m for m in err.splitlines() if m.startswith(line)]
        assert f"label {label!r}" in msg and f"cam-xh-01/{zone}" in msg
        assert "model yolo11n has 80 classes (person, bicycle, car" in msg  # the model and its classes
        assert "toothbrush" in msg
    [model_msg] = [m for m in err.splitlines() if f"{bad}:{line_of(text, 'bicycel')}: model.labels[1]:" in m]
    assert "'bicycel'" in model_msg and "did you mean bicycle" in model_msg
    assert run_check("--no-model", str(bad)).returncode == 0  # the model check skipped on request


def test_labels_of_the_detector_itself_count_as_producible(sample_config_text: str) -> None:
    from streams.config.verify import verify_labels_producible

    cfg = parse_config(with_custom_labels(sample_config_text))
    classes = ["person", "car"]
    found = {loc for loc, _ in verify_labels_producible(cfg, model="m", classes=classes, own=["garbage"])}
    assert ("categories", "exposed_garbage", "labels", 0) not in found
    assert ("categories", "piled_materials", "labels", 0) in found
    # a category on no camera zone may keep another model's labels
    assert not any(loc[:2] == ("categories", "air_quality") for loc in found)


def test_check_names_the_model_when_its_weights_are_missing(tmp_path: Path, sample_config_text: str) -> None:
    bad = tmp_path / "cameras.yaml"
    text = sample_config_text.replace("  name: yolo11n ", f"  name: {tmp_path / 'nope.onnx'} ", 1)
    bad.write_text(text, encoding="utf-8")
    result = run_check(str(bad))
    assert result.returncode == 1
    assert f"{bad}:{line_of(text, 'nope.onnx')}: model.name:" in result.stderr
    assert "not found" in result.stderr and "--no-model" in result.stderr


def test_class_names_of_an_openvino_directory(tmp_path: Path) -> None:
    from detectors.labels import read_class_names

    (tmp_path / "m.xml").write_text("<net/>", encoding="utf-8")
    (tmp_path / "metadata.yaml").write_text("names:\n  0: garbage\n  1: box\n  2: goods\n", encoding="utf-8")
    assert read_class_names(tmp_path) == ["garbage", "box", "goods"]
