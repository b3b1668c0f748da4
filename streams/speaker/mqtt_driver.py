"""The ``mqtt`` speaker driver: a command goes to the device's topic, the device answers on its own.

Published (QoS 1) on ``driver.topic``::

    {"command_id", "speaker_id", "text", "lang", "priority", "volume", "not_after"[, "audio_url"]}

``payload: command`` is for a device that speaks the text itself; ``payload:
audio_url`` also renders the WAV into ``audio_dir`` (served on ``audio_port``
under the path of ``audio_base_url`` when set) and sends where to fetch it.
The device answers on ``ack_topic`` with ``{"command_id", "status":
"played"|"failed", "reason"}``. No answer within ``timeout_s``: the same
command (same id) is sent again after the backoff; the command expires when
its ``not_after`` passes first.
"""

from __future__ import annotations

import functools
import http.server
import json
import logging
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.backoff import doubling
from streams.config.models import Speaker
from streams.config.mqtt import Mqtt
from streams.config.speaker_driver import driver_problems
from streams.contract.errors import CommandExpiredError, DriverError
from streams.contract.records import LoudspeakerCommand
from streams.speaker.delivery import expiry_reason
from streams.speaker.drivers import Delivered, FileDriver
from streams.speaker.mqtt_link import Link, LinkError, PahoLink, broker_settings

logger = logging.getLogger(__name__)

AUDIO_KEEP = 20  # WAV files kept in audio_dir (a device fetches its file before it acks)


@dataclass(frozen=True)
class DeviceAck:
    command_id: str
    status: str  # played | failed
    reason: str


def command_payload(command: LoudspeakerCommand, *, volume: int, audio_url: str | None = None) -> bytes:
    body: dict[str, Any] = {
        "command_id": command.command_id,
        "speaker_id": command.speaker_id,
        "text": command.text,
        "lang": command.lang,
        "priority": command.priority,
        "volume": volume,
        "not_after": command.not_after,
    }
    if audio_url is not None:
        body["audio_url"] = audio_url
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def parse_ack(raw: bytes) -> DeviceAck:
    """A device's answer; ``ValueError`` (what is wrong) when it names no command."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    command_id = body.get("command_id")
    if not isinstance(command_id, str) or not command_id:
        raise ValueError("no command_id")
    status = body.get("status")
    reason = body.get("reason")
    reason = reason if isinstance(reason, str) else ""
    if status not in ("played", "failed"):
        return DeviceAck(
            command_id, "failed", f"the device answered status {status!r}; devices answer played or failed"
        )
    return DeviceAck(command_id, status, reason)


class PendingAcks:
    """The answers awaited, by command id; answers nobody awaits are dropped (nothing piles up)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._slots: dict[str, DeviceAck | None] = {}
        self._cond = threading.Condition()

    def expect(self, command_id: str) -> None:
        with self._cond:
            self._slots[command_id] = None

    def forget(self, command_id: str) -> None:
        with self._cond:
            self._slots.pop(command_id, None)

    def waiting(self) -> int:
        with self._cond:
            return len(self._slots)

    def deliver(self, raw: bytes) -> None:
        try:
            ack = parse_ack(raw)
        except ValueError as exc:
            logger.warning("mqtt %s: ignoring an answer: %s: %r", self.topic, exc, raw[:200])
            return
        with self._cond:
            if ack.command_id in self._slots and self._slots[ack.command_id] is None:
                self._slots[ack.command_id] = ack
                self._cond.notify_all()

    def wait(self, command_id: str, timeout_s: float) -> DeviceAck | None:
        with self._cond:
            self._cond.wait_for(lambda: self._slots.get(command_id) is not None, timeout_s)
            return self._slots.get(command_id)


class AudioShelf:
    """Where ``payload: audio_url`` puts the WAV files, and the URL a device fetches them at.

    Only the newest ``keep`` files of this run stay; files left by an earlier run go at the first put.
    """

    def __init__(self, directory: Path, base_url: str, keep: int = AUDIO_KEEP) -> None:
        self.directory = directory
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.keep = keep
        self._files = FileDriver(directory)
        self._written: deque[Path] | None = None  # None: the directory not tidied yet

    def put(self, wav: bytes, command: LoudspeakerCommand) -> str:
        path = Path(self._files.play(wav, command).output)
        if self._written is None:
            for old in self.directory.glob("*.wav"):
                if old != path:
                    old.unlink(missing_ok=True)
            self._written = deque()
        self._written.append(path)
        while len(self._written) > self.keep:
            self._written.popleft().unlink(missing_ok=True)
        return self.base_url + urllib.parse.quote(path.name)


class _AudioHandler(http.server.SimpleHTTPRequestHandler):
    """GET/HEAD of the files of one directory under a URL path prefix; no listings."""

    prefix = "/"

    def do_GET(self) -> None:
        if self._strip():
            super().do_GET()

    def do_HEAD(self) -> None:
        if self._strip():
            super().do_HEAD()

    def _strip(self) -> bool:
        if not self.path.startswith(self.prefix):
            self.send_error(404, "not an audio file")
            return False
        self.path = "/" + self.path[len(self.prefix) :]
        return True

    def list_directory(self, path: Any) -> None:
        self.send_error(404, "no listing")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("audio server: " + format, *args)  # noqa: G003 - the server's own format


def serve_audio(
    directory: Path,
    port: int,
    prefix: str = "/",
    bind: str = "0.0.0.0",  # noqa: S104 - the speakers on the street's network fetch from it
) -> http.server.ThreadingHTTPServer:
    """Serve ``directory``'s files at ``http://HOST:port<prefix><name>`` on a thread of its own."""
    directory.mkdir(parents=True, exist_ok=True)
    handler_class = type(
        "AudioHandler", (_AudioHandler,), {"prefix": prefix if prefix.endswith("/") else prefix + "/"}
    )
    handler = functools.partial(handler_class, directory=str(directory))
    try:
        server = http.server.ThreadingHTTPServer((bind, port), handler)
    except OSError as exc:
        raise DriverError(
            f"cannot serve the audio on port {port} ({exc.strerror}); choose another driver.audio_port"
        ) from None
    threading.Thread(target=server.serve_forever, name=f"audio-{port}", daemon=True).start()
    return server


class MqttDriver:
    def __init__(
        self,
        link: Link,
        *,
        speaker_id: str,
        volume: int,
        topic: str,
        ack_topic: str | None,
        timeout_s: float,
        retries: int,
        backoff_s: float,
        shelf: AudioShelf | None = None,
        server: http.server.ThreadingHTTPServer | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.link = link
        self.speaker_id = speaker_id
        self.volume = volume
        self.topic = topic
        self.ack_topic = ack_topic
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.shelf = shelf
        self.server = server
        self.clock = clock
        self.sleep = sleep
        self.wants_audio = shelf is not None  # payload: command needs no rendering
        self.acks = PendingAcks(ack_topic or "")
        if ack_topic:
            link.subscribe(ack_topic, self.acks.deliver)

    def play(self, wav: bytes, command: LoudspeakerCommand) -> Delivered:
        audio_url = self.shelf.put(wav, command) if self.shelf is not None else None
        payload = command_payload(command, volume=self.volume, audio_url=audio_url)
        cid = command.command_id
        self.acks.expect(cid)
        try:
            return self._attempts(command, payload, audio_url)
        finally:
            self.acks.forget(cid)

    def _attempts(self, command: LoudspeakerCommand, payload: bytes, audio_url: str | None) -> Delivered:
        cid = command.command_id
        delays = doubling(self.backoff_s)
        problem = ""
        for n in range(self.retries + 1):
            if n:
                self.sleep(delays.next())
                late = self.acks.wait(cid, 0)  # the answer to an earlier attempt, come during the backoff
                if late is not None:
                    return self._answered(late, n, audio_url)
            why = expiry_reason(command, self.clock())
            if why is not None:
                raise CommandExpiredError(f"{why}; {problem}" if problem else why)
            try:
                self.link.publish(self.topic, payload, self.timeout_s)
            except LinkError as exc:
                problem = str(exc)
            else:
                if not self.ack_topic:
                    return Delivered(f"mqtt {self.topic} (taken by the broker; no ack_topic)", attempts=n + 1)
                ack = self.acks.wait(cid, self.timeout_s)
                if ack is not None:
                    return self._answered(ack, n + 1, audio_url)
                problem = f"no ack from the device in {self.timeout_s:g} s on {self.ack_topic}"
            logger.warning("%s: attempt %d/%d failed: %s", self.speaker_id, n + 1, self.retries + 1, problem)
        raise DriverError(f"mqtt {self.topic}: {problem} (after {self.retries + 1} attempts)")

    def _answered(self, ack: DeviceAck, attempts: int, audio_url: str | None) -> Delivered:
        if ack.status != "played":
            raise DriverError(
                f"the device on {self.topic} answered failed: {ack.reason or 'no reason given'}"
            )
        where = f"mqtt {self.topic}" + (f" ({audio_url})" if audio_url else "")
        return Delivered(where, attempts=attempts)

    def close(self) -> None:
        self.link.close()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def make_mqtt_driver(speaker: Speaker, mqtt: Mqtt, link: Link | None = None) -> MqttDriver:
    """The driver of an ``mqtt`` speaker (``link``: another connection than the configured broker's)."""
    cfg = speaker.driver
    problems = [message for _, message in driver_problems(cfg)]
    if problems or not cfg.topic:
        raise DriverError(f"speaker {speaker.id} {'; '.join(problems)}")
    link = link or PahoLink(broker_settings(mqtt), f"speaker-{speaker.id}")
    shelf = server = None
    if cfg.payload == "audio_url":
        directory = Path(cfg.audio_dir or f"var/speaker/{speaker.id}/audio")
        shelf = AudioShelf(directory, cfg.audio_base_url or "")
        if cfg.audio_port is not None:
            prefix = urllib.parse.urlsplit(cfg.audio_base_url or "").path or "/"
            server = serve_audio(directory, cfg.audio_port, prefix)
    return MqttDriver(
        link,
        speaker_id=speaker.id,
        volume=speaker.volume,
        topic=cfg.topic,
        ack_topic=cfg.ack_topic,
        timeout_s=cfg.timeout_s,
        retries=cfg.retries,
        backoff_s=cfg.backoff_s,
        shelf=shelf,
        server=server,
    )
