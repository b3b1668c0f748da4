"""INT8 OpenVINO models by NNCF post-training quantisation (``model.precision: int8``).

``citywatch model quantize`` calibrates the FP32 IR of ``detectors.openvino_ir`` on frames of
the cameras' sources (or of given files), each made into the network's input by the detector's
own preprocessing, and writes ``<cache_dir>/<stem>_int8_openvino_model/``:

- ``<stem>.xml`` / ``.bin``: the IR with INT8 weights and quantised activations;
- ``metadata.yaml``: the FP32 model's (class names, stride, ...), for ultralytics' loader;
- ``source.txt``: which ONNX it was made from (path and SHA-256), the freshness record of
  ``openvino_ir``: weights changed since mean the INT8 model is stale and is not loaded;
- ``calibration.yaml``: how it was made: the ONNX's SHA-256, the calibration sources and frame
  count, inference size, nncf and openvino versions, and when.

Quantising takes a minute or more, so it is an explicit command and never happens on first use.
The detection head's box decoding (distribution focal loss, anchor arithmetic, the final concat
of pixel coordinates with 0..1 class scores) stays in floating point: one INT8 scale over
values of such different ranges would wipe out the scores' precision.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from detectors.openvino_ir import SOURCE_FILE, SUFFIX, install, is_fresh, openvino_model, source_id
from detectors.types import Image
from streams.config.models import ModelConfig
from streams.contract.errors import ModelError, SourceError
from streams.redact import redact

logger = logging.getLogger(__name__)

INT8_SUFFIX = f"_int8{SUFFIX}"  # still ends in _openvino_model: ultralytics loads it as OpenVINO
RECORD_FILE = "calibration.yaml"
DEFAULT_FRAMES = 150
Array = npt.NDArray[Any]
LIVE_STRIDE = 10  # a stream's consecutive frames are near-duplicates: keep one in ten


@dataclass(frozen=True)
class CalibrationSource:
    spec: str  # a video file, an image, or a stream URL
    origin: str  # where it was named: '--source' or 'camera cam-01'


def int8_dir(onnx_path: Path, cache_dir: Path) -> Path:
    return cache_dir / f"{onnx_path.stem}{INT8_SUFFIX}"


def require_nncf() -> str:
    """The installed nncf version; ``ModelError`` saying how to install it otherwise."""
    try:
        import nncf
    except ImportError:
        raise ModelError(
            "INT8 quantisation needs the nncf package: `pip install nncf`, or keep model.precision at fp32"
        ) from None
    return str(nncf.__version__)


def onnx_weights(cfg: ModelConfig) -> Path:
    """The ONNX that ``cfg``'s INT8 model is made from; ``ModelError`` for other weights."""
    from detectors.model import resolve_weights

    path = resolve_weights(cfg.name)
    if path.is_dir() or path.suffix.lower() != ".onnx":
        raise ModelError(
            f"INT8 quantisation starts from ONNX weights, and model.name is {path}: set it to "
            "'yolo11n' or an .onnx (`yolo export model=WEIGHTS.pt format=onnx`), or keep "
            "model.precision at fp32"
        )
    return path


def int8_model(cfg: ModelConfig) -> Path:
    """The cached INT8 model of ``cfg``'s weights, made from them as they are now; ``ModelError``
    saying to run ``citywatch model quantize`` when there is none."""
    onnx = onnx_weights(cfg)
    target = int8_dir(onnx, Path(cfg.cache_dir))
    if not is_fresh(target, onnx):
        state = "is made from other weights" if target.exists() else "is missing"
        raise ModelError(
            f"model.precision int8: the INT8 model {target} {state}; make it with "
            "`citywatch model quantize` (same --config; it calibrates on the cameras' footage, "
            "or on --source FILE), or set model.precision to fp32"
        )
    return target


# -- calibration frames -------------------------------------------------------------------


def spread(total: int | None, want: int) -> list[int]:
    """Indices of ``want`` frames spread evenly over a clip of ``total`` frames (every frame of
    a shorter clip); when the length is unknown, one frame in ``LIVE_STRIDE`` from the start."""
    if want <= 0:
        return []
    if total is None or total <= 0:
        return [i * LIVE_STRIDE for i in range(want)]
    if total <= want:
        return list(range(total))
    return [(2 * k + 1) * total // (2 * want) for k in range(want)]


def shares(frames: int, sources: int) -> list[int]:
    """``frames`` split over ``sources``, the first ones taking one more where it does not divide."""
    base, extra = divmod(frames, sources)
    return [base + (1 if i < extra else 0) for i in range(sources)]


def _frame_count(spec: str) -> int | None:
    import cv2

    from streams.config.camera_source import is_stream

    if is_stream(spec) or spec.startswith("device:"):
        return None

    cap = cv2.VideoCapture(spec)
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
    return n if n > 0 else None


def read_source(
    source: CalibrationSource, want: int, prepare: Callable[[Image], Array] = np.asarray
) -> list[Array]:
    """``want`` frames of one source spread over it (a still is one picture however many are
    asked), each turned by ``prepare`` as it is read (so whole frames are not all kept);
    ``SourceError`` naming the source when it cannot be read or gives no frame."""
    from detectors.sources import StillSource, open_source

    reader = open_source(source.spec)
    fix = (
        "fix --source"
        if source.origin == "--source"
        else f"fix the source: of {source.origin} in the configuration, or give --source FILE"
    )
    try:
        reader.open()
    except SourceError as exc:
        raise SourceError(
            f"calibration source {redact(source.spec)!r} ({source.origin}) cannot be read ({exc}); {fix}"
        ) from None
    try:
        out: list[Array] = []
        if isinstance(reader, StillSource):
            got = reader.read()
            return [prepare(got[0])] if got is not None else []
        picks = spread(_frame_count(source.spec), want)
        wanted = set(picks)
        for index in range(picks[-1] + 1 if picks else 0):
            got = reader.read()
            if got is None:
                break  # the clip is shorter than its header said
            if index in wanted:
                out.append(prepare(got[0]))
    except SourceError as exc:
        raise SourceError(f"calibration source {redact(source.spec)!r}: {exc}; {fix}") from None
    finally:
        reader.close()
    if not out:
        raise SourceError(
            f"calibration source {redact(source.spec)!r} ({source.origin}) gave no frame; {fix}"
        )
    return out


def calibration_frames(
    sources: Sequence[CalibrationSource], frames: int, prepare: Callable[[Image], Array] = np.asarray
) -> list[tuple[CalibrationSource, list[Array]]]:
    """About ``frames`` pictures over all ``sources`` (each source's share spread over it, each
    picture turned by ``prepare``), with the source each came from."""
    if not sources:
        raise SourceError(
            "no calibration source: the configuration has no enabled camera; give --source FILE "
            "(a clip or picture of the cameras' scenes)"
        )
    if frames < 1:
        raise SourceError(f"--frames {frames}: calibrate on at least 1 frame (100-300 is usual)")
    return [
        (source, read_source(source, want, prepare))
        for source, want in zip(sources, shares(frames, len(sources)), strict=True)
        if want
    ]


# -- quantisation -------------------------------------------------------------------------


def head_scope(names: Sequence[str]) -> list[str]:
    """Patterns of the names of the detection head's decoding, given the model's op names: the
    ops of the module holding the ``dfl`` convolution that are not in its convolution
    branches (named ``/model.N/cv2.0/...``), and the output. Empty for a model without one."""
    heads = {m.group(1) for name in names if (m := re.match(r"^(.*/)dfl/", name))}
    if len(heads) != 1:
        return []
    prefix = re.escape(heads.pop())
    return [rf"^{prefix}dfl/.*", rf"^{prefix}[A-Za-z]+(_\d+)?$", r"^output\d*$"]


def check_sources(sources: Sequence[CalibrationSource]) -> None:
    """Each source opens (before the minutes of model work); ``SourceError`` naming it otherwise."""
    for source in sources:
        read_source(source, 1)


def quantize(
    cfg: ModelConfig, sources: Sequence[CalibrationSource], frames: int, *, now: datetime
) -> tuple[Path, list[tuple[CalibrationSource, int]]]:
    """Calibrate ``cfg``'s model on about ``frames`` frames of ``sources`` and cache its INT8
    model, replacing an older one; returns it and the frames taken from each source."""
    nncf_version = require_nncf()
    import nncf
    import openvino as ov

    from detectors.model import UltralyticsDetector

    onnx = onnx_weights(cfg)
    check_sources(sources)
    cache_dir = Path(cfg.cache_dir)
    fp32 = openvino_model(onnx, cache_dir)
    reference = UltralyticsDetector(cfg.model_copy(update={"backend": "openvino", "precision": "fp32"}))

    def packed_input(image: Image) -> Array:
        # the network's input as bytes: every value is k/255, so k is exact and a quarter the size
        packed: Array = np.rint(reference.model_input(image) * 255).astype(np.uint8)
        return packed

    calibration = calibration_frames(sources, frames, packed_input)
    inputs = [x for _, packed in calibration for x in packed]
    model = ov.Core().read_model(str(fp32 / f"{onnx.stem}.xml"))
    patterns = head_scope([op.get_friendly_name() for op in model.get_ops()])
    if not patterns:
        logger.warning("%s has no YOLO detection head with a dfl layer; quantising all of it", onnx)
    logger.info("quantising %s to INT8 on %d frames", onnx, len(inputs))
    try:
        quantized = nncf.quantize(
            model,
            nncf.Dataset(inputs, lambda x: x.astype(np.float32) / np.float32(255)),  # as ultralytics divides
            preset=nncf.QuantizationPreset.MIXED,  # asymmetric activations: SiLU outputs are not symmetric
            subset_size=len(inputs),
            fast_bias_correction=False,  # the full correction: a little closer to FP32, twice the time
            ignored_scope=nncf.IgnoredScope(patterns=patterns, validate=False),
        )
    except Exception as exc:  # nncf raises its own kinds and RuntimeError from OpenVINO
        raise ModelError(f"nncf cannot quantise {onnx} ({exc}); keep model.precision at fp32") from None
    counts = [(source, len(packed)) for source, packed in calibration]
    target = int8_dir(onnx, cache_dir)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache_dir))
    try:
        ov.save_model(quantized, str(work / f"{onnx.stem}.xml"), compress_to_fp16=False)
        shutil.copyfile(fp32 / "metadata.yaml", work / "metadata.yaml")
        (work / SOURCE_FILE).write_text(source_id(onnx), encoding="utf-8")
        versions = {"nncf": nncf_version, "openvino": ov.__version__}
        record = calibration_record(onnx, counts, cfg.imgsz, versions, now)
        with (work / RECORD_FILE).open("w", encoding="utf-8") as f:
            yaml.safe_dump(record, f, sort_keys=False, allow_unicode=True)
        install(work, target, onnx, replace=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target, counts


def calibration_record(
    onnx: Path,
    sources: Sequence[tuple[CalibrationSource, int]],
    imgsz: int,
    versions: dict[str, str],
    now: datetime,
) -> dict[str, Any]:
    """What ``calibration.yaml`` says of an INT8 model: made from which ONNX, on which frames."""
    sha = source_id(onnx).rsplit("sha256:", 1)[1].strip()
    return {
        "onnx": str(onnx.resolve()),
        "onnx_sha256": sha,
        "frames": sum(n for _, n in sources),
        "sources": [{"source": redact(s.spec), "from": s.origin, "frames": n} for s, n in sources],
        "imgsz": imgsz,
        **versions,
        "made_at": now.isoformat(timespec="seconds"),
    }


def read_record(directory: Path) -> dict[str, Any]:
    """The ``calibration.yaml`` of an INT8 model directory (empty when it has none)."""
    path = directory / RECORD_FILE
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}
