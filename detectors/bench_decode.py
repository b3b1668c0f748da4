"""Decode benchmark: the CPU one camera's reader spends per sampled frame when detection samples
a clip at ``--detect-fps``, for each ``decode:`` mode, in one run (the modes take turns, round
after round, so a change in machine load hits each alike):

- ``all``: every frame decoded and converted to a picture, the sampler choosing afterwards (how
  every camera was read before ``decode: sampled``);
- ``sampled``: every frame grabbed, only the sampled ones retrieved (converted and copied);
- ``keyframes``: only key frames decoded (PyAV), sampled among themselves; it gives fewer
  pictures than asked where the clip's key frames are further apart than the sampling period.

CPU is the process's (every thread), from the reader's start to its stop, over ``--frames``
sampled frames per mode and round; the clip is looped as needed. ``all`` and ``sampled`` must
sample the same media times: the run says so, and fails if they differ.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

from streams.config.camera import DecodeMode
from streams.contract.errors import UsageError

MODES = ("all", "sampled", "keyframes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        required=True,
        metavar="CLIP",
        help="video file to read (e.g. a 1080p recording of one of the district's cameras)",
    )
    parser.add_argument(
        "--detect-fps", type=float, default=1.0, metavar="F", help="sampling rate (default 1)"
    )
    parser.add_argument(
        "--frames",
        type=int,
        default=20,
        metavar="N",
        help="sampled frames per mode and round (default 20)",
    )
    parser.add_argument("--rounds", type=int, default=2, metavar="R", help="rounds of the modes (default 2)")


@dataclass
class Tally:
    """What one mode cost over its rounds."""

    cpu_s: float = 0.0
    wall_s: float = 0.0
    frames_read: int = 0  # frames of the stream the reader went through
    media_s: float = 0.0  # media time from each round's first sampled frame to its last
    times: list[list[float]] = field(default_factory=list)  # each round's sampled media times

    @property
    def sampled(self) -> int:
        return sum(len(t) for t in self.times)

    def ms_per_sampled(self) -> float:
        return 1000.0 * self.cpu_s / max(1, self.sampled)

    def pictures_per_s(self) -> float:
        """Sampled frames per second of media time (gaps between a round's frames)."""
        return (self.sampled - len(self.times)) / self.media_s if self.media_s > 0 else 0.0


def measure(source: str, mode: str, detect_fps: float, frames: int, tally: Tally) -> tuple[int, int]:
    """Read ``source`` in ``mode`` until ``frames`` frames are sampled; add the cost to ``tally``.
    Returns the pictures' size."""
    from detectors.reader import CameraReader
    from detectors.sampling import Sampler
    from detectors.sources import open_source

    decode: DecodeMode = "keyframes" if mode == "keyframes" else "sampled"
    reader = CameraReader(
        f"bench-{mode}",
        lambda: open_source(source, decode),
        realtime=False,
        loop=True,
        sample_fps=None if mode == "all" else detect_fps,
        retry_missing_files=False,
    )
    sampler = Sampler(detect_fps)  # the pipeline's own, as in the edge role
    times: list[float] = []
    size = (0, 0)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    reader.start()
    try:
        while len(times) < frames:
            frame = reader.wait(1.0)
            if frame is None:
                health = reader.health()
                if health.state in ("offline", "ended"):
                    raise UsageError(f"cannot read {source} ({health.reason}); give --source a video file")
                continue
            if sampler.take(frame.media_t, picked=frame.sampled):
                times.append(frame.media_t)
                size = frame.size
    finally:
        reader.stop()
    tally.cpu_s += time.process_time() - cpu0
    tally.wall_s += time.perf_counter() - wall0
    tally.frames_read += reader.last_seq + 1
    tally.media_s += times[-1] - times[0]
    tally.times.append(times)
    return size


def run(args: argparse.Namespace) -> int:
    from streams.commands.bench import result_line

    source = args.source
    if not Path(source).is_file():
        raise UsageError(f"no video file at {source}: give --source a video file")
    if not 0 < args.detect_fps <= 60:
        raise UsageError(f"--detect-fps {args.detect_fps}: give a rate above 0, at most 60")
    if args.frames < 2 or args.rounds < 1:
        raise UsageError("give --frames 2 or more and --rounds 1 or more")
    tallies = {mode: Tally() for mode in MODES}
    size = (0, 0)
    for _ in range(args.rounds):
        for mode in MODES:
            size = measure(source, mode, args.detect_fps, args.frames, tallies[mode]) or size
    full, sampled, keys = tallies["all"], tallies["sampled"], tallies["keyframes"]
    if full.times != sampled.times:
        raise AssertionError(
            f"decode: sampled took other frames than decode: all: {sampled.times} vs {full.times}"
        )
    ratio = sampled.ms_per_sampled() / full.ms_per_sampled()
    print(
        f"clip       {Path(source).name}: {size[0]}x{size[1]}, sampled at {args.detect_fps:g} fps, "
        f"{args.frames} sampled frames per mode in each of {args.rounds} rounds"
    )
    for mode, tally in tallies.items():
        print(
            f"{mode:<10} {tally.ms_per_sampled():8.1f} ms CPU per sampled frame "
            f"({tally.cpu_s:.2f} s CPU, {tally.wall_s:.2f} s wall, {tally.frames_read} frames read, "
            f"{tally.pictures_per_s():.2f} pictures per media second)"
        )
    print(
        f"same       all and sampled took the same {full.sampled} frames (media times); "
        f"sampled costs {ratio:.3f} of all"
    )
    keys_rate = keys.pictures_per_s()
    if keys_rate < 0.9 * args.detect_fps:
        print(
            f"keyframes  the clip's key frames give only {keys_rate:.2f} pictures per second, fewer "
            f"than {args.detect_fps:g} asked: its cost is per key frame, not comparable one for one"
        )
    print(
        result_line(
            full_cpu_ms_per_sampled=full.ms_per_sampled(),
            sampled_cpu_ms_per_sampled=sampled.ms_per_sampled(),
            ratio=ratio,
            keyframes_cpu_ms_per_sampled=keys.ms_per_sampled(),
        )
    )
    return 0
