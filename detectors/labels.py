"""Which labels can appear in detection records: the model's classes and the detector's own.

``model_classes`` reads the class names a model can produce from its weights'
metadata, without running it: ONNX metadata ``names`` (as ultralytics exports
it), an OpenVINO directory's ``metadata.yaml``, or a ``.pt`` checkpoint's
``names``. ``DETECTOR_LABELS`` is the one list of labels that other parts of the
detector produce (pseudo-labels such as a class-agnostic ``static_object``):
a part that starts producing a label adds it here, and nowhere else.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml

from detectors.model import model_label, resolve_weights
from detectors.openvino_ir import onnx_metadata
from streams.config.camera import STATIC_LABEL
from streams.contract.errors import ModelError

# Labels the detector produces besides the model's classes: "static_object", something that
# appeared in a zone and stayed (detectors/static_objects.py)
DETECTOR_LABELS: frozenset[str] = frozenset({STATIC_LABEL})


def _names(value: Any, where: str) -> list[str]:
    """Class names, in class-index order, from a ``{index: name}`` mapping (or its text) or a list."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)  # ultralytics writes a Python dict literal
        except (ValueError, SyntaxError):
            raise ModelError(f"{where}: the class names {value[:80]!r} are not readable") from None
    if isinstance(value, dict):
        try:
            return [str(value[k]) for k in sorted(value, key=int)]
        except (TypeError, ValueError):
            raise ModelError(f"{where}: the class names are not keyed by class index") from None
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    raise ModelError(f"{where}: no class names in its metadata")


def _onnx_names(path: Path) -> list[str]:
    meta = onnx_metadata(path, need="names")
    return _names(meta["names"], str(path))


def _openvino_names(directory: Path) -> list[str]:
    meta = directory / "metadata.yaml"
    try:
        data = yaml.safe_load(meta.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ModelError(
            f"cannot read {meta} ({exc}); an OpenVINO model exported by ultralytics has one with its names"
        ) from None
    if not isinstance(data, dict) or "names" not in data:
        raise ModelError(f"{meta} has no 'names'")
    return _names(data["names"], str(meta))


def _pt_names(path: Path) -> list[str]:
    # loading the checkpoint is cheap next to running it; ultralytics knows its formats
    from ultralytics import YOLO  # type: ignore[attr-defined]

    try:
        names = YOLO(str(path), task="detect").names
    except Exception as exc:  # ultralytics raises many kinds; all mean "cannot load"
        raise ModelError(f"cannot load {path} ({exc}); check the file is a YOLO detect model") from None
    return _names(dict(names), str(path))


def read_class_names(path: Path) -> list[str]:
    """The class names of the weights at ``path``, in class-index order (no inference)."""
    if path.is_dir():
        return _openvino_names(path)
    if path.suffix.lower() == ".onnx":
        return _onnx_names(path)
    return _pt_names(path)


def model_classes(name: str) -> tuple[str, list[str]]:
    """(the model's name in records, its class names) for ``model.name``; ``ModelError`` saying
    what to fix when the weights cannot be found or read."""
    return model_label(name), read_class_names(resolve_weights(name))
