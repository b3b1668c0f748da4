"""The model's weights: ``citywatch model info [PATH]`` prints the model's name in records and its
class names (the labels a category may count), for ``PATH`` (.onnx, .pt, OpenVINO directory, or
``yolo11n``), else ``model.name`` of the configuration, without running it.

``citywatch model quantize`` makes the INT8 OpenVINO model of ``model.name`` that
``model.precision: int8`` runs: NNCF calibrates it on frames of the configured cameras' sources
(or of ``--source`` clips and pictures), spread over each, and it is cached under
``model.cache_dir`` with a record of how it was made (``calibration.yaml``)."""

from __future__ import annotations

import argparse

from streams.commands import add_config_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from detectors.quantize import DEFAULT_FRAMES

    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = sub.add_parser("info", help="the model's class names (no inference)")
    info.add_argument(
        "weights",
        nargs="?",
        default=None,
        metavar="PATH",
        help="'yolo11n', .onnx, .pt or an OpenVINO directory (default: model.name of --config)",
    )
    add_config_argument(info)
    quantize = sub.add_parser(
        "quantize",
        help="make the INT8 OpenVINO model (model.precision: int8) by calibrating on footage",
        description="Quantise model.name of --config to INT8 (NNCF post-training quantisation) and "
        "cache it under model.cache_dir, replacing an older INT8 model of the same weights.",
    )
    add_config_argument(quantize)
    quantize.add_argument(
        "--source",
        action="append",
        default=None,
        metavar="FILE",
        help="calibrate on this clip, picture or stream (repeatable; default: every enabled camera's source)",
    )
    quantize.add_argument(
        "--frames",
        type=int,
        default=DEFAULT_FRAMES,
        metavar="N",
        help=f"calibration frames in all, shared among the sources (default {DEFAULT_FRAMES})",
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "quantize":
        return run_quantize(args)
    from detectors.labels import DETECTOR_LABELS, model_classes
    from detectors.model import resolve_weights
    from streams.config import load_config, resolve_path

    name = args.weights or load_config(resolve_path(args.config)).model.name
    label, classes = model_classes(name)
    print(f"model     {label}  ({resolve_weights(name)})")
    print(f"classes   {len(classes)}")
    for i, cls in enumerate(classes):
        print(f"  {i:>4}  {cls}")
    own = ", ".join(sorted(DETECTOR_LABELS)) or "none"
    print(f"detector's own labels: {own}")
    return 0


def run_quantize(args: argparse.Namespace) -> int:
    import time
    from datetime import UTC, datetime

    from detectors.quantize import CalibrationSource, quantize, require_nncf
    from streams.config import load_config, resolve_path
    from streams.redact import redact

    cfg = load_config(resolve_path(args.config))
    nncf_version = require_nncf()  # before any model work
    if args.source:
        sources = [CalibrationSource(s, "--source") for s in args.source]
    else:
        sources = [CalibrationSource(c.source, f"camera {c.id}") for c in cfg.cameras if c.enabled]
    t0 = time.perf_counter()
    target, counts = quantize(cfg.model, sources, args.frames, now=datetime.now(UTC))
    print(f"calibration {sum(n for _, n in counts)} frames")
    for source, n in counts:
        print(f"  {n:>5}  {redact(source.spec)}  ({source.origin})")
    print(f"int8      {target}  ({time.perf_counter() - t0:.0f} s, nncf {nncf_version})")
    print(
        "use it    model.backend: openvino and model.precision: int8 in the configuration; "
        "`citywatch bench detector --source CLIP` compares it with FP32"
    )
    return 0
