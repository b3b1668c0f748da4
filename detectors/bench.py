"""Detector benchmark: the same frames of one clip (or still) through the model alone and through
the whole edge pipeline (reader, motion gate, YOLO, tracking, zones, evidence, Kafka), in one run.

First the runtimes of the model side by side (``model.backend``): ONNX Runtime, OpenVINO FP32
and, when ``citywatch model quantize`` has made it (or with ``--quantize``), OpenVINO INT8 on the
same frames (the first of the source, of each ``--compare-source`` and ultralytics' sample
photos), called in turn frame by frame so a change in machine load hits all alike: the per-frame
latency of each, the share of ONNX Runtime's detections OpenVINO FP32 finds too, and the share
of OpenVINO FP32's detections INT8 finds too.

Reports pipeline fps, raw model fps and their ratio, per-frame latency from capture to the
broker's acknowledgement of the record (p50/p99, and the part beyond inference), and the
motion gate's skip rate. The gate runs in shadow mode: it decides on every frame and its
skips are counted, but every frame is inferred so both throughputs cover the same work. A
file read as fast as possible has no arrival time; its frames count as captured when the
pipeline takes them.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detectors.quantize import DEFAULT_FRAMES
from streams.commands import add_kafka_argument
from streams.redact import redact

if TYPE_CHECKING:
    from detectors.model import Detector
    from detectors.pipeline import CameraPipeline, CameraStats
    from detectors.types import Boxes, Frame, Image
    from streams.config.models import Config, ModelConfig

logger = logging.getLogger(__name__)

# COCO labels of the violation catalogue (docs/contract.md), published with person
CATALOGUE_LABELS = [
    "chair",
    "dining table",
    "bench",
    "potted plant",
    "umbrella",
    "suitcase",
    "handbag",
    "bottle",
    "car",
    "truck",
    "bus",
    "motorcycle",
    "bicycle",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, help="video file or image to run")
    parser.add_argument("--frames", type=int, default=120, metavar="N", help="frames to run (default 120)")
    parser.add_argument("--model", default="yolo11n", help="model name or weights path (default yolo11n)")
    parser.add_argument("--imgsz", type=int, default=640, help="inference size (default 640)")
    parser.add_argument(
        "--detect-fps",
        type=float,
        default=None,
        metavar="F",
        help="sample the clip at F fps (default: every frame)",
    )
    parser.add_argument(
        "--backend",
        choices=["onnxruntime", "openvino"],
        default="onnxruntime",
        help="runtime of the model in the pipeline run (default onnxruntime)",
    )
    parser.add_argument(
        "--compare-frames",
        type=int,
        default=24,
        metavar="N",
        help="frames of each source for the runtimes' comparison (default 24; 0: skip it)",
    )
    parser.add_argument(
        "--quantize",
        action="store_true",
        help="make the INT8 model first (on the source and each --compare-source), replacing a cached "
        "one; without it the INT8 model is compared when `citywatch model quantize` has made it",
    )
    parser.add_argument(
        "--quantize-frames",
        type=int,
        default=DEFAULT_FRAMES,
        metavar="N",
        help=f"calibration frames for --quantize (default {DEFAULT_FRAMES})",
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="directory of the OpenVINO models (default: model.cache_dir's default, var/models)",
    )
    parser.add_argument(
        "--compare-source",
        action="append",
        default=[],
        metavar="CLIP",
        help="another clip or still for the comparison (repeatable); ultralytics' sample photos always count",
    )
    add_kafka_argument(parser)
    parser.epilog = "Without --kafka an embedded broker is started for the run."


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _bench_config(args: argparse.Namespace, evidence_dir: str) -> Config:
    from streams.config.models import Camera, Category, Config, Evidence, Location, ModelConfig, Site, Zone

    camera = Camera(
        id="bench",
        source=args.source,
        location=Location(address="bench"),
        grid="bench",
        detect_fps=min(60.0, args.detect_fps or 60.0),
        zones=[
            Zone(id="frame", polygon=[[0, 0], [1, 0], [1, 1], [0, 1]], categories=["catalogue"]),
        ],
    )
    return Config(
        site=Site(name="bench"),
        model=ModelConfig(
            name=args.model,
            imgsz=args.imgsz,
            batch=1,
            backend=args.backend,
            **({"cache_dir": args.cache_dir} if args.cache_dir else {}),
        ),
        evidence=Evidence(dir=evidence_dir),
        categories={"catalogue": Category(code="000000", name="catalogue", labels=CATALOGUE_LABELS)},
        cameras=[camera],
    )


def _read_frames(source: str, n: int) -> list[Image]:
    from detectors.sources import open_source

    src = open_source(source)
    src.open()
    frames: list[Image] = []
    try:
        while len(frames) < n:
            got = src.read()
            if got is None:
                break
            frames.append(got[0])
    finally:
        src.close()
    return frames


@dataclass
class Acks:
    """Per-frame latency from capture to the broker's acknowledgement, and the part beyond inference."""

    latencies: list[float] = field(default_factory=list)
    overheads: list[float] = field(default_factory=list)
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_ack(self, frame: Frame, inference_ms: float, ok: bool) -> None:
        ms = (time.monotonic() - frame.mono) * 1000.0
        with self.lock:
            if ok:
                self.latencies.append(ms)
                self.overheads.append(ms - inference_ms)
            else:
                self.failed += 1


def run(args: argparse.Namespace) -> int:
    from detectors.model import UltralyticsDetector
    from detectors.pipeline import published_labels
    from detectors.runtime import probe
    from streams.dev.broker import EmbeddedBroker, free_port

    with ExitStack() as stack:
        evidence_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="citywatch-bench-"))
        cfg = _bench_config(args, evidence_dir)
        probe(cfg.cameras[0])
        frames = _read_frames(args.source, args.frames)
        h, w = frames[0].shape[:2]
        print(f"source    {redact(args.source)}  {w}x{h}, {len(frames)} frames")
        # 0. the two runtimes of the model on the same frames
        backends = _compare_backends(args, cfg, frames) if args.compare_frames > 0 else {}
        detector = UltralyticsDetector(cfg.model, published_labels(cfg))
        for _ in range(3):
            detector.warmup()
            detector.detect(frames[:1])
        # 1. the model alone, called directly on the decoded frames; run again after the
        # pipeline and averaged, so a change in machine load hits both sides alike
        raw_before = _raw_pass(detector, frames)
        # 2. the whole edge pipeline on the same frames, records acknowledged by a broker
        bootstrap = args.kafka or stack.enter_context(EmbeddedBroker(port=free_port())).bootstrap
        acks = Acks()
        pipeline, pipe_s = _pipeline_pass(args, cfg, detector, len(frames), bootstrap, acks, stack)
        raw_after = _raw_pass(detector, frames)
        _report(
            args,
            cfg,
            detector.name,
            (raw_before, raw_after, len(frames)),
            pipeline.stats,
            pipe_s,
            acks,
            backends,
        )
    return 0


def _comparison_frames(args: argparse.Namespace, frames: list[Image]) -> list[Image]:
    """The first frames of the source and of each --compare-source, then ultralytics' photos."""
    import cv2
    from ultralytics.utils import ASSETS

    out = frames[: args.compare_frames]
    for source in args.compare_source:
        out += _read_frames(source, args.compare_frames)
    out = list({id(image): image for image in out}.values())  # a still repeats one picture
    for photo in sorted(Path(ASSETS).glob("*.jpg")):
        image = cv2.imread(str(photo))
        if image is not None:
            out.append(np.asarray(image, np.uint8))
    return out


def run_in_turn(
    detectors: Sequence[Detector], images: Sequence[Image]
) -> tuple[list[list[Boxes]], list[list[float]]]:
    """Each picture through every detector, one after another, the first of them rotating from
    picture to picture so none always runs on a cache another warmed; each detector's boxes and
    per-picture milliseconds."""
    from detectors.model import timed_detect

    boxes: list[list[Boxes]] = [[] for _ in detectors]
    times: list[list[float]] = [[] for _ in detectors]
    for n, image in enumerate(images):
        for j in range(len(detectors)):
            k = (n + j) % len(detectors)
            [found], ms = timed_detect(detectors[k], [image])
            boxes[k].append(found)
            times[k].append(ms)
    return boxes, times


def _int8_config(args: argparse.Namespace, cfg: Config) -> ModelConfig | None:
    """The bench model's INT8 configuration when its INT8 model is in the cache (made first with
    --quantize), else None."""
    from detectors.quantize import CalibrationSource, int8_model, quantize
    from streams.contract.errors import ModelError

    int8 = cfg.model.model_copy(update={"backend": "openvino", "precision": "int8"})
    if args.quantize:
        sources = [CalibrationSource(s, "--source") for s in [args.source, *args.compare_source]]
        _, counts = quantize(int8, sources, args.quantize_frames, now=datetime.now(UTC))
        print(
            f"quantize  calibrated on {sum(n for _, n in counts)} frames of the source and --compare-source"
        )
    try:
        int8_model(int8)
    except ModelError as exc:
        print(f"int8      not compared: {exc}")
        return None
    return int8


def _compare_backends(args: argparse.Namespace, cfg: Config, frames: list[Image]) -> dict[str, float | int]:
    """Latency of each runtime, OpenVINO FP32's agreement with ONNX Runtime and, where the INT8
    model is cached, INT8's with OpenVINO FP32; printed and returned as RESULT values."""
    from detectors.agreement import agreement
    from detectors.model import UltralyticsDetector

    images = _comparison_frames(args, frames)
    configs = [cfg.model.model_copy(update={"backend": b}) for b in ("onnxruntime", "openvino")]
    int8 = _int8_config(args, cfg)
    if int8 is not None:
        configs.append(int8)
    detectors = [UltralyticsDetector(c) for c in configs]
    for detector in detectors:
        for _ in range(3):
            detector.warmup()
            detector.detect(images[:1])
    # ultralytics letterboxes to the smallest stride multiple (e.g. 384x640 for 16:9) where the
    # model takes any shape, and to imgsz x imgsz where it does not (INT8 on an AMX CPU runs at
    # a fixed shape): the work per frame differs with it
    sizes = ", ".join(
        f"{d.backend} {'x'.join(map(str, d.model_input(images[0]).shape[2:]))}" for d in detectors
    )
    print(f"input     the first frame as each runtime's network gets it (h x w): {sizes}")
    boxes, times = run_in_turn(detectors, images)
    p50 = [_percentile(t, 50) for t in times]
    p99 = [_percentile(t, 99) for t in times]
    for k, detector in enumerate(detectors):
        print(
            f"backend   {detector.backend:<13} {len(images)} frames: p50 {p50[k]:.1f} ms, "
            f"p99 {p99[k]:.1f} ms, {sum(len(b) for b in boxes[k])} detections"
        )
    agree = agreement(boxes[0], boxes[1])
    print(
        f"agreement openvino finds {agree.matched} of onnxruntime's {agree.total} detections "
        f"(same label, IoU >= 0.5): {agree.share:.3f}; speedup {p50[0] / p50[1]:.2f}x at p50"
    )
    out: dict[str, float | int] = {
        "ort_p50_ms": p50[0],
        "ort_p99_ms": p99[0],
        "ov_p50_ms": p50[1],
        "ov_p99_ms": p99[1],
        "speedup": p50[0] / p50[1],
        "agreement": agree.share,
        "compared": agree.total,
    }
    if int8 is not None:
        agree8 = agreement(boxes[1], boxes[2])
        print(
            f"agreement int8 finds {agree8.matched} of openvino fp32's {agree8.total} detections "
            f"(same label, IoU >= 0.5): {agree8.share:.3f}; speedup {p50[0] / p50[2]:.2f}x over "
            f"onnxruntime, {p50[1] / p50[2]:.2f}x over openvino fp32 at p50"
        )
        out |= {
            "int8_p50_ms": p50[2],
            "int8_p99_ms": p99[2],
            "int8_speedup": p50[0] / p50[2],
            "int8_agreement": agree8.share,
            "int8_compared": agree8.total,
        }
    return out


def _raw_pass(detector: Detector, frames: list[Image]) -> float:
    t0 = time.perf_counter()
    for image in frames:
        detector.detect([image])
    return time.perf_counter() - t0


def _pipeline_pass(
    args: argparse.Namespace,
    cfg: Config,
    detector: Detector,
    n: int,
    bootstrap: str,
    acks: Acks,
    stack: ExitStack,
) -> tuple[CameraPipeline, float]:
    """The edge pipeline over ``n`` frames of the source; returns it and the seconds it took."""
    from detectors.evidence import EvidenceStore
    from detectors.pipeline import DetectionLoop, RunLimits, StatusReporter, run_edge
    from detectors.publish import KafkaPublisher
    from detectors.reader import CameraReader
    from detectors.runtime import camera_pipeline
    from detectors.sources import open_source
    from streams.contract.topics import Topics
    from streams.kafka_io import ensure_topics

    camera = cfg.cameras[0]
    topics = Topics(f"bench-{uuid.uuid4().hex[:8]}.citywatch.")
    ensure_topics(bootstrap, [topics.detections, topics.camera_status], partitions=1)
    publisher = KafkaPublisher(bootstrap, max_records=10 * n + 100)
    stack.callback(publisher.close)
    # warm the producer's connection and metadata so the first record does not pay for them
    publisher.send(topics.camera_status, "bench", b"{}")
    publisher.flush(10)
    evidence = EvidenceStore(cfg.evidence)
    pipeline = camera_pipeline(
        camera, cfg, detector.name, evidence, sample_fps=args.detect_fps, shadow_gate=True
    )
    loop = DetectionLoop({camera.id: pipeline}, detector, publisher, topics, on_ack=acks.on_ack)
    wake = threading.Event()
    reader = CameraReader(camera.id, lambda: open_source(args.source), realtime=False, wake=wake)
    status = StatusReporter({camera.id: reader}, publisher, topics)
    t0 = time.perf_counter()
    reader.start()
    try:
        run_edge({camera.id: reader}, loop, status, RunLimits(max_frames=n), wake, batch_size=1)
        publisher.flush(30)
    finally:
        reader.stop()
    return pipeline, time.perf_counter() - t0


def _report(
    args: argparse.Namespace,
    cfg: Config,
    model_name: str,
    raw: tuple[float, float, int],
    stats: CameraStats,
    pipe_s: float,
    acks: Acks,
    backends: dict[str, float | int],
) -> None:
    from streams.commands.bench import result_line

    camera = cfg.cameras[0]
    raw_before, raw_after, n = raw
    raw_fps = 2 * n / (raw_before + raw_after)
    print(
        f"model     {model_name} ({args.backend}) imgsz={args.imgsz}: {raw_fps:.2f} fps "
        f"({n / raw_before:.2f} before and {n / raw_after:.2f} after the pipeline run)"
    )
    pipeline_fps = stats.sampled / pipe_s
    skip_rate = stats.skipped / max(1, stats.sampled)
    p50, p99 = _percentile(acks.latencies, 50), _percentile(acks.latencies, 99)
    o50, o99 = _percentile(acks.overheads, 50), _percentile(acks.overheads, 99)
    print(
        f"pipeline  {stats.sampled} frames in {pipe_s:.2f}s: {pipeline_fps:.2f} fps "
        f"(ratio {pipeline_fps / raw_fps:.3f} of the model alone)"
    )
    print(
        f"latency   capture -> broker ack: p50 {p50:.1f} ms, p99 {p99:.1f} ms; beyond inference: "
        f"p50 {o50:.1f} ms, p99 {o99:.1f} ms ({len(acks.latencies)} acked, {acks.failed} failed)"
    )
    print(
        f"motion    {stats.skipped} of {stats.sampled} sampled frames still "
        f"(skip rate {skip_rate:.3f}; threshold {camera.motion_threshold}, "
        f"recheck every {camera.stationary_recheck_s:g}s)"
    )
    print(f"evidence  {stats.snapshots} snapshots under {Path(cfg.evidence.dir).name}")
    print(
        result_line(
            pipeline_fps=pipeline_fps,
            raw_fps=raw_fps,
            ratio=pipeline_fps / raw_fps,
            p50_ms=p50,
            p99_ms=p99,
            overhead_p99_ms=o99,
            skip_rate=skip_rate,
            **backends,
        )
    )
