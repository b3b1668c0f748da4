"""Facts about model weights, read from their metadata without running them:
``citywatch model info [PATH]`` prints the model's name in records and its class names (the
labels a category may count), for ``PATH`` (.onnx, .pt, OpenVINO directory, or ``yolo11n``),
else ``model.name`` of the configuration."""

from __future__ import annotations

import argparse

from streams.commands import add_config_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
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


def run(args: argparse.Namespace) -> int:
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
