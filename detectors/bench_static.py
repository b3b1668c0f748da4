"""Cost of the static-object step: milliseconds per frame of ``CameraStatic.update`` on a clip.

    python -m detectors.bench_static --config tests/data/static-cameras.yaml \\
        --camera cam-street-static --clip CLIP.mp4 --width 1920

``CLIP.mp4``: a recording of a street (the README's figures: a 1080p street clip). Its frames
(every ``--every``-th, resized to ``--width``) go through the camera's static step after its
learning period, with two person boxes to mask; the step alone is timed (no model). Prints the
median and p90 and, as its last line, ``RESULT static_ms_p50=… static_ms_p90=…``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from detectors.static_objects import BoxT, CameraStatic
from detectors.types import Image
from streams.config import load_config
from streams.contract.errors import UsageError
from streams.dev.eval_clip import clip_frames

PEOPLE: list[tuple[str, BoxT]] = [("person", (0.84, 0.6, 0.9, 0.85)), ("person", (0.2, 0.3, 0.25, 0.5))]


def measure(static: CameraStatic, pictures: list[Image], rounds: int) -> list[float]:
    """Milliseconds of each update after the first round (which learns)."""
    times: list[float] = []
    t = 0.0
    for r in range(rounds + 1):
        for picture in pictures:
            start = time.perf_counter()
            static.update(picture, 1000.0 + t, PEOPLE)
            if r > 0:
                times.append((time.perf_counter() - start) * 1000)
            t += 0.5
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--camera", required=True, help="a camera with a zone counting static_object")
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--width", type=int, default=1920, help="frame width the step is given")
    parser.add_argument("--every", type=int, default=3, help="take every N-th frame of the clip")
    parser.add_argument("--rounds", type=int, default=2, help="timed passes over the frames")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    static = CameraStatic.for_camera(cfg, cfg.camera(args.camera))
    if static is None:
        raise UsageError(f"camera {args.camera} has no zone counting static_object; pick another --camera")
    if not args.clip.is_file():
        raise UsageError(f"no clip at {args.clip}: give --clip a video file")
    pictures = []
    for i, (_, image) in enumerate(clip_frames(args.clip)):
        if i % args.every == 0:
            h = round(image.shape[0] * args.width / image.shape[1])
            pictures.append(np.ascontiguousarray(cv2.resize(image, (args.width, h)), np.uint8))
    times = np.array(measure(static, pictures, args.rounds))
    p50, p90 = float(np.median(times)), float(np.percentile(times, 90))
    zones = ", ".join(static.zones)
    print(f"{args.camera} ({zones}), {len(times)} frames at width {args.width}:", end=" ")
    print(f"{p50:.2f} ms median, {p90:.2f} ms p90")
    print(f"RESULT static_ms_p50={p50:.2f} static_ms_p90={p90:.2f} frames={len(times)} width={args.width}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
