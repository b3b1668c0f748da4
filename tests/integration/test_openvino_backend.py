"""``model.backend: openvino``: the packaged ONNX converted to OpenVINO IR once, cached, and
detecting what ONNX Runtime detects on ultralytics' bus photo."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from ultralytics.utils import ASSETS

from detectors.agreement import agreement
from detectors.model import UltralyticsDetector
from streams.config.models import ModelConfig

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_openvino_backend_detects_the_bus_and_reuses_its_cache(tmp_path: Path) -> None:
    bus = np.asarray(cv2.imread(str(ASSETS / "bus.jpg")), np.uint8)
    cfg = ModelConfig(backend="openvino", cache_dir=str(tmp_path / "models"))
    ir = tmp_path / "models" / "yolo11n_openvino_model"

    first = UltralyticsDetector(cfg)
    [boxes] = first.detect([bus])
    assert "bus" in boxes.labels and boxes.labels.count("person") >= 3
    assert first.names[5] == "bus"  # the names come from the ONNX metadata copied beside the IR
    xml = ir / "yolo11n.xml"
    assert xml.is_file() and (ir / "yolo11n.bin").is_file() and (ir / "metadata.yaml").is_file()
    assert [p.name for p in (tmp_path / "models").iterdir()] == [ir.name]  # no temporary left behind
    made = xml.stat().st_mtime_ns

    second = UltralyticsDetector(cfg)
    [again] = second.detect([bus])
    assert xml.stat().st_mtime_ns == made  # loaded from the cache, not converted again
    assert again.labels == boxes.labels

    # FP32 IR agrees with ONNX Runtime on the same picture
    [reference] = UltralyticsDetector(ModelConfig()).detect([bus])
    assert agreement([reference], [boxes]).share == 1.0


def test_a_stale_cache_is_converted_again(tmp_path: Path) -> None:
    import onnx as onnx_lib

    from detectors.model import packaged_weights
    from detectors.openvino_ir import is_fresh, openvino_model

    onnx = tmp_path / "yolo11n.onnx"
    onnx.write_bytes(packaged_weights().read_bytes())
    ir = openvino_model(onnx, tmp_path / "models")
    assert is_fresh(ir, onnx)
    model = onnx_lib.load(str(onnx))  # the weights change after the conversion: new metadata
    model.metadata_props.add(key="retrained", value="2026-12-01")
    onnx_lib.save(model, str(onnx))
    os.utime(onnx, ns=(1, 1))  # with old file times (a `cp -p`)
    assert not is_fresh(ir, onnx)
    assert openvino_model(onnx, tmp_path / "models") == ir
    assert is_fresh(ir, onnx)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [ir.name]
