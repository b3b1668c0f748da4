"""Which frames a sampling reader makes into pictures, on a fake source (pure frame-choice logic)
and small real files (the substream)."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.reader import CameraReader
from detectors.runtime import probe, start_readers, stop_readers
from detectors.sampling import Sampler
from detectors.sources import StillSource, open_source
from detectors.types import Frame, Image
from streams.config.models import Camera, Location
from streams.contract.errors import SourceError


class NumberedSource:
    """``frames`` frames at ``fps`` whose pictures carry their index; records what was retrieved."""

    live = False

    def __init__(self, frames: int, fps: float, key_every: int = 1) -> None:
        self.description = "numbered"
        self.native_fps: float | None = fps
        self.frames = frames
        self.key_every = key_every  # > 1: only every n-th frame can be retrieved (key frames)
        self.picture_ready = False
        self.grabbed: list[int] = []
        self.retrieved: list[int] = []
        self._i = -1

    def open(self) -> None:
        self._i = -1

    def grab(self) -> float | None:
        if self._i + 1 >= self.frames:
            return None
        self._i += 1
        self.grabbed.append(self._i)
        self.picture_ready = self._i % self.key_every == 0
        return self._i / (self.native_fps or 1.0)

    def retrieve(self) -> Image | None:
        if not self.picture_ready:
            return None
        self.retrieved.append(self._i)
        image = np.zeros((2, 2, 3), np.uint8)
        image[0, 0, 0], image[0, 0, 1] = self._i % 256, self._i // 256
        return image

    def read(self) -> tuple[Image, float] | None:
        t = self.grab()
        image = None if t is None else self.retrieve()
        return None if t is None or image is None else (image, t)

    def close(self) -> None:
        pass


def index_of(frame: Frame) -> int:
    return int(frame.image[0, 0, 0]) + 256 * int(frame.image[0, 0, 1])


def drain(reader: CameraReader, limit: int = 10_000) -> list[Frame]:
    """Every frame a started lossless reader hands over until its source ended (at most
    ``limit``); the reader is stopped."""
    frames: list[Frame] = []
    try:
        while len(frames) < limit:
            frame = reader.wait(0.5)
            if frame is None and reader.ended:
                frame = reader.take()  # handed over just before it ended
                if frame is None:
                    break
            if frame is not None:
                frames.append(frame)
    finally:
        reader.stop()
    return frames


def sampled_indices(frames: int, native: float, fps: float | None) -> list[int]:
    """What reading every frame and sampling afterwards takes (the behaviour before)."""
    sampler = Sampler(fps)
    return [i for i in range(frames) if sampler.take(i / native)]


@pytest.mark.parametrize(
    ("fps", "native", "expected"),
    [
        (2.0, 30.0, [0, 15, 30, 45, 60, 75]),
        (5.0, 12.5, [0, 3, 5, 8, 10, 13, 15, 18, 20, 23, 25, 28, 30, 33, 35, 38, 40, 43, 45, 48]),
        (1.0, 25.0, [0, 25, 50, 75]),
    ],
)
def test_reader_retrieves_only_the_frames_it_samples(fps: float, native: float, expected: list[int]) -> None:
    frames = 90 if native == 30.0 else 50 if native == 12.5 else 100
    assert sampled_indices(frames, native, fps) == expected  # the same frames as before
    source = NumberedSource(frames, native)
    got = drain(CameraReader("cam", lambda: source, realtime=False, sample_fps=fps).start())
    assert source.grabbed == list(range(frames))  # every frame is still grabbed ...
    assert source.retrieved == expected  # ... but only the sampled ones become pictures
    assert [index_of(f) for f in got] == expected
    assert [f.seq for f in got] == expected  # seq still counts every frame of the source
    assert [f.media_t for f in got] == pytest.approx([i / native for i in expected])
    assert all(f.sampled for f in got)


def test_reader_without_a_rate_retrieves_every_frame() -> None:
    source = NumberedSource(40, 30.0)
    got = drain(CameraReader("cam", lambda: source, realtime=False).start())
    assert source.retrieved == list(range(40))
    assert [index_of(f) for f in got] == list(range(40))
    assert not any(f.sampled for f in got)


def test_reader_samples_among_key_frames_only(caplog: pytest.LogCaptureFixture) -> None:
    # key frames every 10 frames of 30 fps (3 a second), sampled at 2 fps
    source = NumberedSource(90, 30.0, key_every=10)
    got = drain(CameraReader("cam", lambda: source, realtime=False, sample_fps=2.0).start())
    keys = list(range(0, 90, 10))
    sampler = Sampler(2.0)
    expected = [i for i in keys if sampler.take(i / 30.0)]
    assert expected == [0, 20, 30, 50, 60, 80]
    assert source.grabbed == list(range(90))
    assert source.retrieved == expected
    assert [f.seq for f in got] == expected
    assert "pictures come" not in caplog.text  # key frames closer than the sampling period


def test_sparse_key_frames_are_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    # a key frame every 4 s, sampled at 1 fps: every key frame is taken, and the log says why
    # detection gets fewer pictures than asked
    source = NumberedSource(300, 30.0, key_every=120)
    got = drain(CameraReader("cam-k", lambda: source, realtime=False, sample_fps=1.0).start())
    assert [f.seq for f in got] == [0, 120, 240]
    warnings = [r.getMessage() for r in caplog.records if "pictures come" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("cam-k: pictures come 4.00s apart")


def test_a_slow_source_is_not_taken_for_sparse_key_frames(caplog: pytest.LogCaptureFixture) -> None:
    # a 1 fps camera sampled at 2 fps: every frame is a picture, and nothing to say about key frames
    source = NumberedSource(10, 1.0)
    got = drain(CameraReader("cam", lambda: source, realtime=False, sample_fps=2.0).start())
    assert [f.seq for f in got] == list(range(10))
    assert "pictures come" not in caplog.text


def test_frames_not_sampled_count_for_sequence_and_last_seq() -> None:
    source = NumberedSource(90, 30.0)
    reader = CameraReader("cam", lambda: source, realtime=False, sample_fps=1.0).start()
    got = drain(reader)
    assert [f.seq for f in got] == [0, 30, 60]
    assert reader.last_seq == 89


def test_looped_file_keeps_one_media_clock_and_the_schedule() -> None:
    # 20 frames at 10 fps looped: the second loop continues at 2.0 s; sampled at 3 fps
    source = NumberedSource(20, 10.0)
    reader = CameraReader("cam", lambda: source, realtime=False, loop=True, sample_fps=3.0).start()
    got = drain(reader, limit=15)
    expected = sampled_indices(200, 10.0, 3.0)[:15]  # the same schedule on one continuous clock
    assert [f.media_t for f in got] == pytest.approx([i / 10.0 for i in expected])
    assert [index_of(f) for f in got] == [i % 20 for i in expected]


def test_frame_rate_counts_frames_not_sampled() -> None:
    # played in real time at 30 fps and sampled at 2 fps: the camera still reports ~30 fps
    source = NumberedSource(10_000, 30.0)
    reader = CameraReader("cam", lambda: source, realtime=True, sample_fps=2.0).start()
    try:
        taken: list[Frame] = []
        while len(taken) < 2:
            frame = reader.wait(5.0)
            if frame is not None:
                taken.append(frame)
        health = reader.health()
    finally:
        reader.stop()
    assert taken[1].seq >= 15
    assert health.fps > 5.0, health  # 2 fps if only the sampled frames counted
    assert health.last_frame_age_s is not None


def test_downstream_sampler_takes_every_picked_frame_even_after_drops() -> None:
    # the reader picks on its schedule; a slow consumer misses some picked frames, and the
    # pipeline's sampler on the same rate must still take each one it gets
    picked = sampled_indices(300, 30.0, 7.0)
    received = [i for n, i in enumerate(picked) if n % 3 != 1]  # every third one lost
    plain = Sampler(7.0)
    judged = [plain.take(i / 30.0) for i in received]
    assert not all(judged), "without the flag a picked frame after a drop is refused"
    sampler = Sampler(7.0)
    assert all(sampler.take(i / 30.0, picked=True) for i in received)
    assert sampler.taken == len(received)


def test_picked_frames_after_a_restart_of_the_clock() -> None:
    sampler = Sampler(2.0)
    assert [sampler.take(t, picked=True) for t in (0.0, 0.5, 1.0, 0.0, 0.5)] == [True] * 5
    assert not sampler.take(0.6)  # the schedule went on from the last picked frame


# -- the substream, on small real files ---------------------------------------------------------


def write_clip(path: Path, size: tuple[int, int], frames: int = 12, fps: float = 6.0) -> str:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    assert writer.isOpened(), "OpenCV cannot write MJPG AVI here"
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 20 * i, np.uint8))
    writer.release()
    return str(path)


def camera(source: str, substream: str | None = None, decode: str = "sampled") -> Camera:
    return Camera.model_validate(
        {
            "id": "cam-1",
            "source": source,
            "substream": substream,
            "location": Location(address="here"),
            "grid": "g",
            "detect_fps": 2,
            "decode": decode,
        }
    )


def first_frames(cam: Camera, n: int) -> list[Frame]:
    readers = start_readers([cam], realtime=False, loop=False, wake=threading.Event())
    try:
        return drain(readers[cam.id], limit=n)
    finally:
        stop_readers(readers)


def test_detection_reads_the_substream(tmp_path: Path) -> None:
    main = write_clip(tmp_path / "main.avi", (128, 96))
    sub = write_clip(tmp_path / "sub.avi", (64, 48))
    frames = first_frames(camera(main, sub), 2)
    assert [f.size for f in frames] == [(64, 48), (64, 48)]
    assert [f.seq for f in frames] == [0, 3]  # 6 fps sampled at 2 fps
    assert all(f.sampled for f in frames)
    assert [f.size for f in first_frames(camera(main), 1)] == [(128, 96)]


def test_decode_all_hands_over_every_frame(tmp_path: Path) -> None:
    main = write_clip(tmp_path / "main.avi", (64, 48), frames=6)
    frames = first_frames(camera(main, decode="all"), 6)
    assert [f.seq for f in frames] == list(range(6))
    assert not any(f.sampled for f in frames)


def test_missing_substream_file_is_named_at_start(tmp_path: Path) -> None:
    main = write_clip(tmp_path / "main.avi", (64, 48), frames=2)
    with pytest.raises(SourceError, match=r"cannot open substream .*fix its substream:"):
        probe(camera(main, str(tmp_path / "no-such-sub.avi")))


def test_key_frames_need_a_file_or_stream(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a local device; use decode: sampled"):
        open_source("device:0", "keyframes")
    with pytest.raises(SourceError, match="not found"):
        open_source(str(tmp_path / "missing.mp4"), "keyframes").open()
    assert isinstance(open_source(str(tmp_path / "still.jpg"), "keyframes"), StillSource)


def test_key_frame_source_reads_every_frame_of_an_all_key_clip(tmp_path: Path) -> None:
    # every MJPG frame is a key frame: each one grabbed is a picture, at the clip's media times
    clip = write_clip(tmp_path / "keys.avi", (64, 48), frames=6, fps=6.0)
    source = open_source(clip, "keyframes")
    source.open()
    try:
        got = []
        while (frame := source.read()) is not None:
            got.append((frame[1], frame[0].shape, int(frame[0][0, 0, 0])))
    finally:
        source.close()
    assert [t for t, _, _ in got] == pytest.approx([i / 6.0 for i in range(6)])
    assert {shape for _, shape, _ in got} == {(48, 64, 3)}
    assert [v for _, _, v in got] == sorted(v for _, _, v in got)  # grey levels rise frame by frame
