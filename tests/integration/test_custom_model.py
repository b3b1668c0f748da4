"""Custom weights through ``model.name``: a tiny YOLO with its own three classes (box, sack,
stall), built from ultralytics' yolo11n.yaml with ``nc: 3`` (untrained), saved as ``.pt`` and
exported to ONNX offline. ``citywatch model info`` lists its names, ``citywatch check`` holds the
categories' labels to them, and the detector (ONNX Runtime and OpenVINO) publishes records whose
labels are those names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from ultralytics.utils import ASSETS

from detectors.model import UltralyticsDetector
from streams.config.models import ModelConfig
from streams.contract.records import Detection, decode
from streams.kafka_io import read_topic

from ..conftest import KafkaEnv

pytestmark = [pytest.mark.integration, pytest.mark.model, pytest.mark.slow]

NAMES = {0: "box", 1: "sack", 2: "stall"}
IMGSZ = 160


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny model as ``.pt`` and as ONNX (exported at 160 px, without onnxslim)."""
    import torch
    import ultralytics
    from ultralytics import YOLO  # type: ignore[attr-defined]

    root = tmp_path_factory.mktemp("tiny")
    spec = yaml.safe_load((Path(ultralytics.__file__).parent / "cfg/models/11/yolo11.yaml").read_text())
    spec["nc"] = len(NAMES)
    # the file name carries the scale: ultralytics reads 'n' from 'yolo11n-…'
    model_yaml = root / "yolo11n-stalls.yaml"
    model_yaml.write_text(yaml.safe_dump(spec), encoding="utf-8")
    torch.manual_seed(0)
    model = YOLO(str(model_yaml), task="detect")
    model.model.names = dict(NAMES)  # type: ignore[union-attr]
    pt = root / "stalls.pt"
    model.save(str(pt))
    onnx = Path(YOLO(str(pt)).export(format="onnx", imgsz=IMGSZ, simplify=False, dynamic=False))
    assert onnx == root / "stalls.onnx"
    return {"pt": pt, "onnx": onnx, "root": root}


def citywatch(
    *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def config(
    path: Path, model: Path, labels: list[str], *, conf: float = 0.25, evidence: Path | None = None
) -> Path:
    """A one-camera district on ultralytics' bus photo whose piled_materials zone counts ``labels``."""
    site: dict[str, Any] = {
        "version": 1,
        "site": {"name": "test"},
        "model": {"name": str(model), "imgsz": IMGSZ, "conf": conf},
        "evidence": {"dir": str(evidence or path.parent / "evidence"), "retention_days": 1, "max_mb": 50},
        "categories": {
            "piled_materials": {"code": "200507", "name": "乱堆物堆料", "labels": labels, "min_score": conf}
        },
        "grids": [{"id": "g1", "unit": "u1"}],
        "units": [{"id": "u1"}],
        "cameras": [
            {
                "id": "cam-lane",
                "source": str(ASSETS / "bus.jpg"),
                "location": {"address": "back lane"},
                "grid": "g1",
                "detect_fps": 5,
                "stationary_recheck_s": 1,
                "zones": [
                    {
                        "id": "lane",
                        "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
                        "categories": ["piled_materials"],
                        "min_score": conf,
                    }
                ],
            }
        ],
    }
    path.write_text(yaml.safe_dump(site, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["pt", "onnx"])
def test_model_info_prints_the_three_names(tiny: dict[str, Path], kind: str) -> None:
    out = citywatch("model", "info", str(tiny[kind]))
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"model     stalls.{kind}  ({tiny[kind]})" in out.stdout
    assert "classes   3\n     0  box\n     1  sack\n     2  stall\n" in out.stdout


@pytest.mark.parametrize("kind", ["pt", "onnx"])
def test_check_takes_the_models_labels_and_refuses_others(
    tiny: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    good = citywatch("check", str(config(tmp_path / "good.yaml", tiny[kind], ["box", "stall"])))
    assert good.returncode == 0, good.stderr[-3000:]
    assert "OK" in good.stdout and "piled_materials          box 0.25  stall 0.25" in good.stdout

    path = config(tmp_path / "bad.yaml", tiny[kind], ["box", "car"])
    bad = citywatch("check", str(path))
    assert bad.returncode == 1
    line = path.read_text(encoding="utf-8").splitlines().index("    - car") + 1
    assert (
        f"{path}:{line}: categories.piled_materials.labels[1]: category piled_materials counts label "
        "'car', which nothing can detect, so it never fires on the camera zones that use it "
        f"(cam-lane/lane): model stalls.{kind} has 3 classes (box, sack, stall)"
    ) in bad.stderr, bad.stderr
    assert "1 problem in" in bad.stderr


def bus() -> np.ndarray[Any, np.dtype[np.uint8]]:
    return np.asarray(cv2.imread(str(ASSETS / "bus.jpg")), np.uint8)


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_the_detector_labels_boxes_with_the_models_names(
    tiny: dict[str, Path], backend: str, tmp_path: Path
) -> None:
    # untrained weights score every box near 0.004: a very low threshold lets some through
    cfg = ModelConfig(
        name=str(tiny["onnx"]), imgsz=IMGSZ, conf=0.001, backend=backend, cache_dir=str(tmp_path / "models")
    )
    detector = UltralyticsDetector(cfg, set(NAMES.values()))
    assert detector.names == NAMES and detector.name == "stalls.onnx"
    [boxes] = detector.detect([bus()])
    assert len(boxes) > 0 and set(boxes.labels) <= set(NAMES.values())
    if backend == "openvino":
        ir = tmp_path / "models" / "stalls_openvino_model"
        assert (ir / "stalls.xml").is_file()
        out = citywatch("model", "info", str(ir))
        assert out.returncode == 0 and "classes   3\n     0  box\n     1  sack\n     2  stall\n" in out.stdout
        # the OpenVINO directory itself as model.name runs on OpenVINO with the same names
        direct = UltralyticsDetector(ModelConfig(name=str(ir), imgsz=IMGSZ, conf=0.001))
        [again] = direct.detect([bus()])
        assert direct.names == NAMES and again.labels == boxes.labels


def test_edge_publishes_records_labelled_with_the_models_names(
    kafka: KafkaEnv, tiny: dict[str, Path], tmp_path: Path
) -> None:
    path = config(tmp_path / "cameras.yaml", tiny["onnx"], ["box", "sack", "stall"], conf=0.001)
    run = citywatch("edge", "--config", str(path), "--duration", "4", env=kafka.env())
    assert run.returncode == 0, run.stderr[-3000:]
    found = read_topic(kafka.bootstrap, kafka.topics.detections, from_beginning=True, timeout_s=3)
    records = [decode(Detection, json.loads(m.value or b"")) for m in found]
    assert records, "no detection records"
    labels = {o.label for r in records for o in r.objects}
    assert labels and labels <= set(NAMES.values()), labels
    assert {r.model for r in records} == {"stalls.onnx"}
    # the whole picture is the zone, which counts any score: boxes of its labels are in it
    zones = [o.zones for r in records for o in r.objects]
    assert ["lane"] in zones and all(z in ([], ["lane"]) for z in zones), zones
