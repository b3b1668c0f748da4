"""The ``model:`` section: the weights, inference settings, runtime and precision."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from streams.config.base import Base


class ModelConfig(Base):
    name: str = Field(
        "yolo11n",
        description="'yolo11n' (the packaged YOLO11n ONNX) or a path to .pt/.onnx/OpenVINO weights",
    )
    imgsz: int = Field(640, ge=32, le=4096, description="Inference size in pixels")
    conf: float = Field(0.25, gt=0, lt=1, description="Minimum detection confidence")
    iou: float = Field(0.45, gt=0, lt=1, description="NMS IoU threshold")
    batch: int = Field(4, ge=1, le=64, description="Most frames of several cameras per call")
    labels: list[str] | None = Field(
        None, description="Only keep these labels (default: every label a category uses)"
    )
    backend: Literal["onnxruntime", "openvino"] = Field(
        "onnxruntime",
        description="Runtime of an .onnx model: 'onnxruntime', or 'openvino' (converted to OpenVINO IR, "
        "FP32, on first use and cached under cache_dir). An OpenVINO directory runs on OpenVINO either way",
    )
    precision: Literal["fp32", "int8"] = Field(
        "fp32",
        description="Precision on OpenVINO: 'fp32', or 'int8' (the model quantised by `citywatch model "
        "quantize`, cached under cache_dir as <name>_int8_openvino_model/; needs backend openvino)",
    )
    cache_dir: str = Field(
        "var/models",
        description="Directory of the converted OpenVINO models, one <name>_openvino_model/ each "
        "(and <name>_int8_openvino_model/ when quantised; created with its parents; relative to the "
        "working directory)",
    )

    @model_validator(mode="after")
    def verify_backend_weights(self) -> ModelConfig:
        if self.backend == "openvino" and self.name.lower().endswith(".pt"):
            raise ValueError(
                f"model.backend openvino runs ONNX or OpenVINO models, not the PyTorch weights {self.name}: "
                "export them first (`yolo export model=WEIGHTS.pt format=onnx`) and set model.name to the "
                ".onnx, or set model.backend to onnxruntime"
            )
        return self

    @model_validator(mode="after")
    def verify_precision_backend(self) -> ModelConfig:
        if self.precision == "fp32":
            return self
        if self.backend != "openvino":
            raise ValueError(
                f"model.precision int8 runs on OpenVINO, and model.backend is {self.backend}: set "
                "model.backend to openvino (then make the INT8 model with `citywatch model quantize`), "
                "or set model.precision to fp32"
            )
        if self.name != "yolo11n" and not self.name.lower().endswith(".onnx"):
            raise ValueError(
                f"model.precision int8 quantises ONNX weights, and model.name is {self.name}: set it to "
                "'yolo11n' or an .onnx file, or set model.precision to fp32"
            )
        return self
