"""Speaker drivers: how rendered audio reaches one speaker.

``SpeakerDriver`` is the seam; ``make_driver`` builds one from the speaker's
``driver:`` section. Failures raise ``DriverError`` with what to check.

- ``file``: writes ``<dir>/<time>-<command_id>.wav`` (the demo default);
- ``http``: POSTs the WAV (``Content-Type: audio/wav``) to ``url``, retrying
  timeouts, connection errors, 5xx, 408 and 429 with doubling backoff;
- ``command``: writes the WAV to a temporary file and runs the configured argv
  with ``{file}`` replaced by its path (a player, an RTSP backchannel tool...);
- ``mqtt``: publishes the command to the device's topic and waits for its ack
  (``mqtt_driver.py``).

A driver whose ``wants_audio`` is False (the text goes to a device that speaks
it) is handed empty audio; one with a ``close()`` is closed when its worker stops.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from streams.backoff import doubling
from streams.config.models import Speaker
from streams.config.mqtt import Mqtt
from streams.contract.errors import DriverError
from streams.contract.records import LoudspeakerCommand
from streams.redact import redact

logger = logging.getLogger(__name__)

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Delivered:
    output: str  # where the audio went: a path, a URL, a command
    attempts: int = 1


class SpeakerDriver(Protocol):
    def play(self, wav: bytes, command: LoudspeakerCommand) -> Delivered:
        """Deliver ``wav`` for ``command``; raise ``DriverError`` when it cannot."""
        ...


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80]


class FileDriver:
    def __init__(self, directory: Path, clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self.clock = clock

    def play(self, wav: bytes, command: LoudspeakerCommand) -> Delivered:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(self.clock()))
        path = self.directory / f"{stamp}-{_safe_name(command.command_id)}.wav"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".wav.part")
            tmp.write_bytes(wav)
            os.replace(tmp, path)  # readers never see half a file
        except OSError as exc:
            raise DriverError(
                f"cannot write {path} ({exc.strerror}); check that driver.dir is a writable directory"
            ) from None
        return Delivered(str(path))


class _Retryable(Exception):
    """One attempt failed in a way worth trying again."""


def _with_retries(
    what: str, retries: int, backoff_s: float, sleep: Sleep, attempt: Callable[[], str]
) -> Delivered:
    errors: list[str] = []
    delays = doubling(backoff_s)
    for n in range(retries + 1):
        if n:
            sleep(delays.next())
        try:
            return Delivered(attempt(), attempts=n + 1)
        except _Retryable as exc:
            errors.append(str(exc))
            logger.warning("%s: attempt %d/%d failed: %s", what, n + 1, retries + 1, exc)
    raise DriverError(f"{what} failed after {retries + 1} attempts; last error: {errors[-1]}")


class HttpDriver:
    def __init__(
        self,
        url: str,
        *,
        speaker_id: str,
        timeout_s: float,
        retries: int,
        backoff_s: float,
        sleep: Sleep = time.sleep,
    ) -> None:
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise DriverError(
                f"speaker {speaker_id}: driver.url {redact(url)!r} must start with http:// or https://"
            )
        self.url = url
        self.shown_url = redact(url)  # for logs and acknowledgements: without its credentials
        self.speaker_id = speaker_id
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.sleep = sleep

    def play(self, wav: bytes, command: LoudspeakerCommand) -> Delivered:
        def attempt() -> str:
            req = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
                self.url,
                data=wav,
                method="POST",
                headers={
                    "Content-Type": "audio/wav",
                    "X-Citywatch-Command-Id": command.command_id,
                    "X-Citywatch-Speaker-Id": command.speaker_id,
                },
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310
                    resp.read()
                    return f"{self.shown_url} (HTTP {resp.status})"
            except urllib.error.HTTPError as exc:
                if exc.code >= 500 or exc.code in (408, 429):
                    raise _Retryable(f"HTTP {exc.code} {exc.reason}") from None
                raise DriverError(
                    f"POST {self.shown_url} was refused: HTTP {exc.code} {exc.reason}; "
                    "check the speaker's driver.url and what audio it accepts"
                ) from None
            except TimeoutError:
                raise _Retryable(f"no answer within {self.timeout_s:g} s (driver.timeout_s)") from None
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, TimeoutError):
                    raise _Retryable(f"no answer within {self.timeout_s:g} s (driver.timeout_s)") from None
                raise _Retryable(f"cannot connect ({redact(str(exc.reason))})") from None
            except OSError as exc:
                raise _Retryable(f"connection failed ({redact(str(exc))})") from None

        return _with_retries(f"POST {self.shown_url}", self.retries, self.backoff_s, self.sleep, attempt)


class CommandDriver:
    def __init__(
        self,
        argv: list[str],
        *,
        timeout_s: float,
        retries: int,
        backoff_s: float,
        sleep: Sleep = time.sleep,
    ) -> None:
        if not argv:
            raise DriverError("driver.command is empty; give the argv to run, with '{file}' for the audio")
        self.argv = argv
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.sleep = sleep

    def play(self, wav: bytes, command: LoudspeakerCommand) -> Delivered:
        with tempfile.TemporaryDirectory(prefix="citywatch-spk-") as tmp:
            path = Path(tmp) / f"{_safe_name(command.command_id)}.wav"
            path.write_bytes(wav)
            argv = [part.replace("{file}", str(path)) for part in self.argv]

            def attempt() -> str:
                try:
                    proc = subprocess.run(  # noqa: S603 - argv from the operator's config, no shell
                        argv, capture_output=True, timeout=self.timeout_s, check=False
                    )
                except FileNotFoundError:
                    raise DriverError(
                        f"driver.command program {argv[0]!r} not found; install it or give its full path"
                    ) from None
                except subprocess.TimeoutExpired:
                    raise _Retryable(f"still running after {self.timeout_s:g} s (driver.timeout_s)") from None
                if proc.returncode != 0:
                    tail = proc.stderr.decode("utf-8", "replace").strip()[-300:]
                    raise _Retryable(f"exit status {proc.returncode}: {tail or 'no message'}")
                return " ".join(self.argv)

            return _with_retries(f"command {self.argv[0]}", self.retries, self.backoff_s, self.sleep, attempt)


def make_driver(speaker: Speaker, mqtt: Mqtt | None = None) -> SpeakerDriver:
    """The driver a speaker's ``driver:`` section describes (``mqtt``: the broker section)."""
    cfg = speaker.driver
    if cfg.type == "mqtt":
        from streams.speaker.mqtt_driver import make_mqtt_driver  # paho only where it is used

        return make_mqtt_driver(speaker, mqtt or Mqtt())
    if cfg.type == "file":
        return FileDriver(Path(cfg.dir or f"var/speaker/{speaker.id}"))
    if cfg.type == "http":
        if not cfg.url:
            raise DriverError(f"speaker {speaker.id} uses the http driver; give it a url:")
        return HttpDriver(
            cfg.url,
            speaker_id=speaker.id,
            timeout_s=cfg.timeout_s,
            retries=cfg.retries,
            backoff_s=cfg.backoff_s,
        )
    if not cfg.command:
        raise DriverError(f"speaker {speaker.id} uses the command driver; give it a command: list")
    return CommandDriver(cfg.command, timeout_s=cfg.timeout_s, retries=cfg.retries, backoff_s=cfg.backoff_s)
