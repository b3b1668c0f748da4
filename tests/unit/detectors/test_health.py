"""Backoff, frame rate and the camera-status record."""

from __future__ import annotations

import pytest

from detectors.health import FpsMeter, PublisherHealth, SourceHealth, camera_status
from streams.backoff import Backoff
from streams.contract.records import CameraStatus, decode


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    b = Backoff(initial=0.5, factor=2, cap=5)
    assert [b.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    b.reset()
    assert b.next() == 0.5


def test_fps_meter_over_a_window() -> None:
    m = FpsMeter(window_s=5)
    for i in range(50):
        m.tick(i * 0.1)  # 10 fps for 5 s
    assert m.fps(4.9) == pytest.approx(10, rel=0.05)
    assert m.fps(30.0) == 0.0  # nothing for a long time


T = 1_790_000_000.0
FRESH = SourceHealth("online", "reading x", 10.0, T, 0.1)


@pytest.mark.parametrize(
    ("source", "publisher", "status", "reason_part"),
    [
        (FRESH, PublisherHealth(True), "online", ""),
        (
            SourceHealth("offline", "lost rtsp://cam; reconnecting in 2.0s", 0.0, T, 12.0),
            PublisherHealth(True),
            "offline",
            "reconnecting",
        ),
        (SourceHealth("ended", "end of file", 0.0, T, 1.0), PublisherHealth(True), "offline", "end of file"),
        (SourceHealth("online", "reading x", 0.1, T, 9.0), PublisherHealth(True), "degraded", "no new frame"),
        (FRESH, PublisherHealth(False, "Kafka at h:1 unreachable"), "degraded", "Kafka"),
        # a dead source outranks a dead broker
        (
            SourceHealth("offline", "cannot open", 0.0, None, None),
            PublisherHealth(False, "Kafka"),
            "offline",
            "cannot open",
        ),
    ],
)
def test_camera_status(
    source: SourceHealth, publisher: PublisherHealth, status: str, reason_part: str
) -> None:
    rec = camera_status("cam-1", source, publisher, stale_after_s=5)
    again = decode(CameraStatus, rec.to_bytes())  # the record is valid on the wire
    assert again.status == status
    assert reason_part in again.reason
    assert again.camera_id == "cam-1"
    if source.last_frame_at is None:
        assert again.last_frame_at is None
    else:
        assert again.last_frame_at is not None and again.last_frame_at.endswith("Z")
