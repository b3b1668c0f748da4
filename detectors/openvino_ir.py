"""ONNX weights as an OpenVINO model, converted once and cached (``model.backend: openvino``).

``openvino_model(onnx, cache_dir)`` returns ``<cache_dir>/<stem>_openvino_model/``, the layout
ultralytics loads as an OpenVINO model: the IR (``<stem>.xml`` and ``.bin``, FP32) and a
``metadata.yaml`` copied from the ONNX's own metadata (task, names, imgsz, stride, batch, ...).
The cache is used while its IR is newer than the ONNX and it was made from that same file.
A conversion is written to a temporary directory beside the cache and renamed into place,
so a process starting alongside never loads a half-written model.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from streams.contract.errors import ModelError

logger = logging.getLogger(__name__)

SUFFIX = "_openvino_model"  # ultralytics picks its OpenVINO backend by this end of the directory name
SOURCE_FILE = "source.txt"  # which ONNX the IR was made from: its resolved path and SHA-256


def onnx_metadata(path: Path, need: str | None = None) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX model (ultralytics writes task, names, imgsz, ... there);
    ``ModelError`` when the key ``need`` is not among them."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends for a broken file
        raise ModelError(f"cannot read {path} as ONNX ({exc}); check the file") from None
    meta = {p.key: p.value for p in model.metadata_props}
    if need is not None and need not in meta:
        raise ModelError(
            f"{path} has no {need!r} in its metadata; export it with ultralytics "
            "(`yolo export format=onnx`), which writes it"
        )
    return meta


def ir_metadata(meta: dict[str, str]) -> dict[str, Any]:
    """The ONNX metadata as ``metadata.yaml`` values: Python literals ('32', "{0: 'person'}",
    '[640, 640]') as numbers, mappings and lists, any other text (dates, versions) as it is."""
    out: dict[str, Any] = {}
    for key, text in meta.items():
        try:
            out[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            out[key] = text
    return out


def ir_dir(onnx_path: Path, cache_dir: Path) -> Path:
    return cache_dir / f"{onnx_path.stem}{SUFFIX}"


def source_id(onnx_path: Path) -> str:
    """What ``SOURCE_FILE`` holds for ``onnx_path``: its resolved path and the SHA-256 of its
    bytes (the content decides, not file times: a copy with old times is still a change)."""
    digest = hashlib.sha256()
    with onnx_path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return f"{onnx_path.resolve()}\nsha256:{digest.hexdigest()}\n"


def is_fresh(directory: Path, onnx_path: Path) -> bool:
    """Whether ``directory`` holds a complete IR of ``onnx_path`` as it is now."""
    xml = directory / f"{onnx_path.stem}.xml"
    needed = (xml, xml.with_suffix(".bin"), directory / "metadata.yaml", directory / SOURCE_FILE)
    if not all(p.is_file() for p in needed):
        return False
    return (directory / SOURCE_FILE).read_text(encoding="utf-8") == source_id(onnx_path)


def require_openvino() -> None:
    try:
        import openvino  # noqa: F401
    except ImportError:
        raise ModelError(
            "model.backend openvino needs the openvino package: `pip install openvino`, "
            "or set model.backend to onnxruntime"
        ) from None


def openvino_model(onnx_path: Path, cache_dir: Path) -> Path:
    """The cached OpenVINO model of ``onnx_path`` under ``cache_dir``, converted first if needed."""
    require_openvino()
    target = ir_dir(onnx_path, cache_dir)
    if is_fresh(target, onnx_path):
        return target
    meta = onnx_metadata(onnx_path, need="names")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache_dir))
    except OSError as exc:
        raise ModelError(
            f"cannot write the OpenVINO model under {cache_dir} ({exc}); fix model.cache_dir"
        ) from None
    try:
        logger.info("converting %s to OpenVINO IR (FP32) under %s", onnx_path, target)
        _convert(onnx_path, work, meta)
        install(work, target, onnx_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _convert(onnx_path: Path, work: Path, meta: dict[str, str]) -> None:
    import openvino as ov

    try:
        model = ov.convert_model(str(onnx_path))
        ov.save_model(model, str(work / f"{onnx_path.stem}.xml"), compress_to_fp16=False)
    except Exception as exc:  # openvino raises its own kinds (OpConversionFailure, RuntimeError)
        raise ModelError(
            f"OpenVINO cannot convert {onnx_path} ({exc}); set model.backend to onnxruntime"
        ) from None
    with (work / "metadata.yaml").open("w", encoding="utf-8") as f:
        yaml.safe_dump(ir_metadata(meta), f, sort_keys=False, allow_unicode=True)
    (work / SOURCE_FILE).write_text(source_id(onnx_path), encoding="utf-8")


def install(work: Path, target: Path, onnx_path: Path, *, replace: bool = False) -> None:
    """Rename the finished ``work`` directory to ``target``; an older ``target`` is moved aside
    first. When another process put a fresh one there meanwhile, that one is kept, unless
    ``replace`` (a new quantisation replaces the previous one of the same weights)."""
    for _ in range(3):
        try:
            os.rename(work, target)
            return
        except OSError:
            if not replace and is_fresh(target, onnx_path):
                return  # another process converted the same model first
            stale = Path(tempfile.mkdtemp(prefix=f".{target.name}-stale-", dir=target.parent))
            with contextlib.suppress(OSError):  # gone already, or moved by another process
                os.replace(target, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
    raise ModelError(f"cannot put the OpenVINO model in place at {target}; remove it and start again")
