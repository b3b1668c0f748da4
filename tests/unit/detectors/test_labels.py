"""The model's class names, read from its weights without running it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from detectors.labels import DETECTOR_LABELS, model_classes, read_class_names
from streams.contract.errors import ModelError


def test_packaged_model_names_its_80_coco_classes() -> None:
    name, classes = model_classes("yolo11n")
    assert name == "yolo11n"
    assert len(classes) == 80 and classes[0] == "person" and classes[-1] == "toothbrush"
    assert "garbage" not in classes and "static_object" not in classes
    assert set(DETECTOR_LABELS) == {"static_object"}  # the static-object step's pseudo-label


def test_openvino_metadata_and_its_errors(tmp_path: Path) -> None:
    (tmp_path / "metadata.yaml").write_text("names: {1: box, 0: garbage}\n", encoding="utf-8")
    assert read_class_names(tmp_path) == ["garbage", "box"]  # in class-index order
    (tmp_path / "metadata.yaml").write_text("stride: 32\n", encoding="utf-8")
    with pytest.raises(ModelError, match="no 'names'"):
        read_class_names(tmp_path)


def test_onnx_without_names_says_how_to_export_it(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ModelError, match="yolo export format=onnx"):
        read_class_names(path)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot read"):
        read_class_names(broken)


def test_model_info_command_prints_the_classes() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "streams.cli", "model", "info", "yolo11n"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "classes   80" in out.stdout and "toothbrush" in out.stdout
