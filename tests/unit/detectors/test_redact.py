"""Credentials never leave a camera or driver URL: the redaction table, and a failing camera's
status record and logs."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from detectors.health import PublisherHealth, camera_status
from detectors.reader import CameraReader
from detectors.sources import FrameSource, OpenCVSource
from detectors.types import Image
from streams.backoff import Backoff
from streams.contract.records import CameraStatus, decode
from streams.redact import redact

SECRET = "Secr3t"  # noqa: S105 - the password a camera URL must never leak


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rtsp://admin:Secr3t@10.0.0.5:554/Streaming/Channels/101",
            "rtsp://***@10.0.0.5:554/Streaming/Channels/101",
        ),
        ("rtsp://admin@nvr/1", "rtsp://***@nvr/1"),
        ("http://u:p@h/x.mjpg", "http://***@h/x.mjpg"),
        ("RTSPS://u:p@h", "RTSPS://***@h"),
        # an unencoded @ in the password: the userinfo ends at the last @ before the path
        ("rtsp://admin:p@ss@h:554/x", "rtsp://***@h:554/x"),
        (
            "lost rtsp://a:b@h/1: no frame; reconnecting in 2.0s",
            "lost rtsp://***@h/1: no frame; reconnecting in 2.0s",
        ),
        ("two: rtsp://a:b@h1/x and http://c:d@h2/y", "two: rtsp://***@h1/x and http://***@h2/y"),
        ("'rtsp://a:b@h/x'", "'rtsp://***@h/x'"),
        ("rtsp://h/cam?user=admin&password=Secr3t&ch=1", "rtsp://h/cam?user=admin&password=***&ch=1"),
        ("https://h/hook?access_token=abc#frag", "https://h/hook?access_token=***#frag"),
        ("http://h/x?TOKEN=abc", "http://h/x?TOKEN=***"),
        ("pwd=abc;next=1", "pwd=***;next=1"),
        # nothing to hide: unchanged
        ("rtsp://nvr:554/Streaming/Channels/101", "rtsp://nvr:554/Streaming/Channels/101"),
        ("rtsp://h/path@odd", "rtsp://h/path@odd"),
        ("write to ops@example.org", "write to ops@example.org"),
        ("var/demo/cam-hp-01.mp4", "var/demo/cam-hp-01.mp4"),
        ("monkey=3 tokens=2", "monkey=3 tokens=2"),
        ("", ""),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected  # idempotent: redacting twice changes nothing


class FailingSource:
    """A stream source that fails the way OpenCV and FFmpeg do: quoting its URL."""

    live = True
    native_fps: float | None = None

    def __init__(self, url: str, error: Exception) -> None:
        self.description = url  # deliberately unredacted: the reader must not trust its sources
        self._error = error

    def open(self) -> None:
        raise self._error

    def read(self) -> tuple[Image, float] | None:
        raise AssertionError("never opened")

    def close(self) -> None:
        pass


def offline_status(factory: object) -> tuple[CameraReader, CameraStatus]:
    reader = CameraReader(
        "cam-1",
        factory,  # type: ignore[arg-type]
        backoff=Backoff(0.05, 1.0, 0.05),
        wake=threading.Event(),
    ).start()
    try:
        deadline = time.monotonic() + 30
        while reader.health().state != "offline":
            assert time.monotonic() < deadline, "the reader never reported the source offline"
            reader.wait(0.05)
    finally:
        reader.stop()
    status = camera_status("cam-1", reader.health(), PublisherHealth(True), stale_after_s=5)
    return reader, decode(CameraStatus, status.to_bytes())


URL = f"rtsp://admin:{SECRET}@127.0.0.1:9/Streaming/Channels/101"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: OpenCVSource(URL, open_timeout_s=2, read_timeout_s=2), id="opencv"),
        pytest.param(
            lambda: FailingSource(URL, RuntimeError(f"OpenCV(4.10) error: cannot open {URL} in 'open'")),
            id="decoder-crash",
        ),
    ],
)
def test_failing_password_source_reports_and_logs_no_password(
    make: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reader, status = offline_status(make)
    assert status.status == "offline"
    assert "127.0.0.1:9" in status.reason  # the place is still named ...
    assert SECRET not in status.reason  # ... but not the password
    assert SECRET not in status.to_bytes().decode()
    assert all(SECRET not in reason for _, reason in reader.transitions)
    assert caplog.records, "the failure is logged"
    assert SECRET not in caplog.text
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_camera_status_redacts_any_reason() -> None:
    from detectors.health import SourceHealth

    source = SourceHealth("offline", f"cannot open {URL}", 0.0, None, None)
    status = camera_status("cam-1", source, PublisherHealth(True), stale_after_s=5)
    assert SECRET not in status.reason and "rtsp://***@127.0.0.1:9" in status.reason


def test_source_description_is_redacted() -> None:
    src: FrameSource = OpenCVSource(URL)
    assert SECRET not in src.description


@pytest.mark.parametrize(
    "url", [f"http://127.0.0.1:9/play?token={SECRET}", f"http://spk:{SECRET}@127.0.0.1:9/play"]
)
def test_speaker_http_driver_errors_and_logs_carry_no_credentials(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from streams.contract.errors import DriverError
    from streams.speaker.chime import chime
    from streams.speaker.drivers import HttpDriver

    from ...speaker_support import command

    caplog.set_level(logging.DEBUG)
    driver = HttpDriver(url, speaker_id="spk-a", timeout_s=2, retries=1, backoff_s=0, sleep=lambda _s: None)
    with pytest.raises(DriverError) as err:
        driver.play(chime(8000).to_wav(), command())
    assert "127.0.0.1:9" in str(err.value)
    assert SECRET not in str(err.value)
    assert caplog.records and SECRET not in caplog.text
