"""``model.precision: int8``: `citywatch model quantize` calibrates the packaged model on a few
frames of the street clip, caches the INT8 model with its record, and that model detects the
bus in ultralytics' bus photo (a picture it was not calibrated on)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from ultralytics.utils import ASSETS

from detectors.agreement import agreement
from detectors.model import UltralyticsDetector, packaged_weights
from detectors.openvino_ir import SOURCE_FILE, source_id
from detectors.quantize import RECORD_FILE
from streams.cli import main
from streams.config.models import ModelConfig

from ..conftest import MEDIA, SAMPLE_CONFIG

pytestmark = [pytest.mark.model, pytest.mark.slow]

STREET = MEDIA / "street-shopfronts.mp4"


@pytest.mark.skipif(not STREET.is_file(), reason="needs ../shared/media")
def test_quantize_then_the_int8_model_detects_the_bus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "models"
    config = tmp_path / "cameras.yaml"
    text = SAMPLE_CONFIG.read_text(encoding="utf-8")
    assert "  batch: 4\n" in text
    config.write_text(
        text.replace("  batch: 4\n", f"  batch: 4\n  cache_dir: {cache}\n", 1), encoding="utf-8"
    )

    code = main(["model", "quantize", "--config", str(config), "--source", str(STREET), "--frames", "12"])
    out = capsys.readouterr().out
    assert code == 0, out
    target = cache / "yolo11n_int8_openvino_model"
    assert f"int8      {target}" in out

    onnx = packaged_weights()
    assert (target / SOURCE_FILE).read_text(encoding="utf-8") == source_id(onnx)
    record = yaml.safe_load((target / RECORD_FILE).read_text(encoding="utf-8"))
    assert record["frames"] == 12 and record["imgsz"] == 640
    assert record["sources"] == [{"source": str(STREET), "from": "--source", "frames": 12}]
    assert source_id(onnx).endswith(f"sha256:{record['onnx_sha256']}\n")
    assert record["nncf"] and record["openvino"]
    xml = (target / "yolo11n.xml").read_text(encoding="utf-8")
    assert "FakeQuantize" in xml  # quantised, not a copy of the FP32 IR
    # only the two models are left in the cache, no temporaries
    assert sorted(p.name for p in cache.iterdir()) == [
        "yolo11n_int8_openvino_model",
        "yolo11n_openvino_model",
    ]

    bus = np.asarray(cv2.imread(str(ASSETS / "bus.jpg")), np.uint8)
    cfg = ModelConfig(backend="openvino", precision="int8", cache_dir=str(cache))
    int8 = UltralyticsDetector(cfg)
    assert int8.names[5] == "bus"
    [boxes] = int8.detect([bus])
    assert "bus" in boxes.labels and boxes.labels.count("person") >= 3
    [fp32] = UltralyticsDetector(cfg.model_copy(update={"precision": "fp32"})).detect([bus])
    assert agreement([fp32], [boxes]).matched >= 4  # the bus and at least three of the people
