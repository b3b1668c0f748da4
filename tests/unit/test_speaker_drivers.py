"""Drivers against real sinks: a directory, a local HTTP server (also one that hangs), a command."""

from __future__ import annotations

import http.server
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from streams.config.models import SpeakerDriver as DriverConfig
from streams.contract.errors import DriverError
from streams.speaker.chime import chime
from streams.speaker.drivers import CommandDriver, FileDriver, HttpDriver, make_driver

from ..speaker_support import T0, command, speaker, wav_facts

WAV = chime(22050).to_wav()


@dataclass
class Server:
    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


def _serve(behaviour: Callable[[int], tuple[int, float]]) -> Iterator[Server]:
    """A server on 127.0.0.1 whose n-th request (0-based) gets ``behaviour(n)`` = (status, delay)."""
    state: Server = Server("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            n = len(state.requests)
            state.requests.append((dict(self.headers), body))
            status, delay = behaviour(n)
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the client gave up waiting

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/play"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def ok_server() -> Iterator[Server]:
    yield from _serve(lambda n: (200, 0.0))


@pytest.fixture
def flaky_server() -> Iterator[Server]:
    yield from _serve(lambda n: (503, 0.0) if n == 0 else (200, 0.0))


@pytest.fixture
def hanging_server() -> Iterator[Server]:
    yield from _serve(lambda n: (200, 0.8))


@pytest.fixture
def refusing_server() -> Iterator[Server]:
    yield from _serve(lambda n: (415, 0.0))


def http_driver(url: str, *, retries: int = 2, timeout_s: float = 2.0) -> tuple[HttpDriver, list[float]]:
    sleeps: list[float] = []
    return HttpDriver(
        url, speaker_id="spk-a", timeout_s=timeout_s, retries=retries, backoff_s=0.1, sleep=sleeps.append
    ), sleeps


def test_file_driver_writes_the_wav(tmp_path: Path) -> None:
    out = tmp_path / "spk-a"
    delivered = FileDriver(out, clock=lambda: T0).play(WAV, command("cmd/../x"))
    path = Path(delivered.output)
    assert path.parent == out  # the command id cannot escape the directory
    assert path.read_bytes() == WAV
    assert wav_facts(path)[0] == 22050
    assert list(out.iterdir()) == [path]  # no partial file left behind


def test_file_driver_unwritable_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(DriverError, match="writable directory"):
        FileDriver(blocker / "spk").play(WAV, command())


def test_http_driver_posts_the_audio(ok_server: Server) -> None:
    driver, sleeps = http_driver(ok_server.url)
    delivered = driver.play(WAV, command("cmd-7"))
    assert delivered.attempts == 1
    assert sleeps == []
    [(headers, body)] = ok_server.requests
    assert body == WAV
    assert headers["Content-Type"] == "audio/wav"
    assert headers["X-Citywatch-Command-Id"] == "cmd-7"
    assert headers["X-Citywatch-Speaker-Id"] == "spk-a"


def test_http_driver_retries_a_server_error(flaky_server: Server) -> None:
    driver, sleeps = http_driver(flaky_server.url)
    delivered = driver.play(WAV, command())
    assert delivered.attempts == 2
    assert len(flaky_server.requests) == 2
    assert sleeps == [0.1]


def test_http_driver_gives_up_on_a_server_that_times_out(hanging_server: Server) -> None:
    driver, sleeps = http_driver(hanging_server.url, retries=2, timeout_s=0.3)
    with pytest.raises(DriverError, match=r"after 3 attempts.*no answer within 0.3 s"):
        driver.play(WAV, command())
    assert len(hanging_server.requests) == 3
    assert sleeps == [0.1, 0.2]  # doubling backoff


def test_http_driver_does_not_retry_a_refusal(refusing_server: Server) -> None:
    driver, _ = http_driver(refusing_server.url)
    with pytest.raises(DriverError, match="HTTP 415"):
        driver.play(WAV, command())
    assert len(refusing_server.requests) == 1


def test_http_driver_nobody_listening() -> None:
    driver, sleeps = http_driver("http://127.0.0.1:9/play", retries=1)
    with pytest.raises(DriverError, match=r"after 2 attempts.*cannot connect"):
        driver.play(WAV, command())
    assert sleeps == [0.1]


def test_http_driver_rejects_other_schemes() -> None:
    with pytest.raises(DriverError, match="http:// or https://"):
        HttpDriver("file:///etc/passwd", speaker_id="spk-a", timeout_s=1, retries=0, backoff_s=0)


def test_command_driver_runs_the_command_with_the_file(tmp_path: Path) -> None:
    dest = tmp_path / "copied.wav"
    argv = [
        sys.executable,
        "-c",
        "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])",
        "{file}",
        str(dest),
    ]
    delivered = CommandDriver(argv, timeout_s=10, retries=0, backoff_s=0).play(WAV, command())
    assert dest.read_bytes() == WAV
    assert delivered.attempts == 1


def test_command_driver_failure_is_retried_then_reported(tmp_path: Path) -> None:
    sleeps: list[float] = []
    argv = [
        sys.executable,
        "-c",
        "import sys; print('no sound card', file=sys.stderr); sys.exit(3)",
        "{file}",
    ]
    driver = CommandDriver(argv, timeout_s=10, retries=1, backoff_s=0.1, sleep=sleeps.append)
    with pytest.raises(DriverError, match=r"after 2 attempts.*exit status 3: no sound card"):
        driver.play(WAV, command())
    assert sleeps == [0.1]


def test_command_driver_timeout_and_missing_program() -> None:
    slow = CommandDriver(
        [sys.executable, "-c", "import time; time.sleep(5)"], timeout_s=0.3, retries=0, backoff_s=0
    )
    with pytest.raises(DriverError, match=r"still running after 0\.3 s"):
        slow.play(WAV, command())
    missing = CommandDriver(["no-such-player", "{file}"], timeout_s=1, retries=3, backoff_s=0)
    with pytest.raises(DriverError, match="not found; install it"):
        missing.play(WAV, command())


def test_make_driver_follows_the_config(tmp_path: Path) -> None:
    file_spk = speaker(driver=DriverConfig(type="file", dir=str(tmp_path)))
    assert isinstance(make_driver(file_spk), FileDriver)
    http_spk = speaker(driver=DriverConfig(type="http", url="http://127.0.0.1:1/x", retries=4))
    drv = make_driver(http_spk)
    assert isinstance(drv, HttpDriver)
    assert drv.retries == 4
    with pytest.raises(DriverError, match="give it a url"):
        make_driver(speaker(driver=DriverConfig(type="http")))
    cmd_spk = speaker(driver=DriverConfig(type="command", command=["aplay", "{file}"]))
    assert isinstance(make_driver(cmd_spk), CommandDriver)
