"""Decoding only what is sampled, on the shared 1080p clip: the frames a sampling reader retrieves
(and, with ``decode: keyframes``, the key frames PyAV decodes) are the very frames, at the same
media times and with the same pixels, that reading every frame gave; and `citywatch bench decode`
runs end to end."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys

import pytest

from detectors.reader import CameraReader
from detectors.sampling import Sampler
from detectors.sources import OpenCVSource, open_source
from detectors.types import Frame, Image
from streams.config.camera import DecodeMode

from ..conftest import MEDIA

pytestmark = [pytest.mark.integration]

CLIP = MEDIA / "street-shopfronts.mp4"
needs_clip = pytest.mark.skipif(not CLIP.is_file(), reason=f"needs the shared footage {CLIP}")


def digest(image: Image) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


def every_frame() -> list[tuple[float, str]]:
    """(media time, pixel digest) of every frame, read one by one as before."""
    source = OpenCVSource(str(CLIP))
    source.open()
    out = []
    try:
        while (got := source.read()) is not None:
            image, t = got
            out.append((t, digest(image)))
    finally:
        source.close()
    return out


@pytest.fixture(scope="module")
def frames() -> list[tuple[float, str]]:
    return every_frame()


def read_with(decode: DecodeMode, fps: float) -> tuple[list[Frame], int]:
    """Every frame a sampling reader hands over for the whole clip, and the frames it read."""
    reader = CameraReader("cam", lambda: open_source(str(CLIP), decode), realtime=False, sample_fps=fps)
    got: list[Frame] = []
    reader.start()
    try:
        while True:
            frame = reader.wait(1.0)
            if frame is None and reader.ended:
                frame = reader.take()  # handed over just before the end
                if frame is None:
                    break
            if frame is not None:
                got.append(frame)
    finally:
        reader.stop()
    return got, reader.last_seq + 1


@needs_clip
@pytest.mark.parametrize("fps", [1.0, 7.0])
def test_sampled_frames_are_those_of_reading_every_frame(frames: list[tuple[float, str]], fps: float) -> None:
    sampler = Sampler(fps)
    expected = [(i, t, d) for i, (t, d) in enumerate(frames) if sampler.take(t)]
    assert len(expected) >= 10 * fps  # a 10 s clip
    got, read = read_with("sampled", fps)
    assert read == len(frames)
    assert [(f.seq, f.media_t, digest(f.image)) for f in got] == expected
    assert all(f.sampled and f.size == (1920, 1080) for f in got)


@needs_clip
def test_key_frames_are_those_of_reading_every_frame(frames: list[tuple[float, str]]) -> None:
    got, read = read_with("keyframes", 1.0)
    assert read == len(frames), "every frame is read, only key frames decoded"
    assert len(got) >= 2 and got[0].seq == 0
    for frame in got:
        t, d = frames[frame.seq]
        assert frame.media_t == pytest.approx(t, abs=1e-6), frame.seq
        assert digest(frame.image) == d, f"key frame {frame.seq} differs from the frame read before"


@needs_clip
def test_bench_decode_prints_a_result_line() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "bench",
            "decode",
            "--source",
            str(CLIP),
            "--frames",
            "2",
            "--rounds",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "all and sampled took the same 2 frames" in out.stdout
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT "), out.stdout
    values = {k: float(v) for k, v in (part.split("=", 1) for part in last.split()[1:])}
    assert set(values) == {
        "full_cpu_ms_per_sampled",
        "sampled_cpu_ms_per_sampled",
        "ratio",
        "keyframes_cpu_ms_per_sampled",
    }
    assert all(math.isfinite(v) and v > 0 for v in values.values()), values
