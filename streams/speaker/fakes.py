"""In-memory stand-ins for the speech engine, a speaker driver and an MQTT link (for tests of the logic)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streams.contract.errors import DriverError, SpeechError
from streams.contract.records import LoudspeakerCommand
from streams.speaker.audio import Audio
from streams.speaker.drivers import Delivered


@dataclass
class FakeEngine:
    """A 440 Hz tone, 50 ms per character of text; ``missing`` acts as if not installed."""

    rate: int = 22050
    missing: bool = False
    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def synthesize(self, text: str, voice: str, rate_wpm: int) -> Audio:
        if self.missing:
            raise SpeechError("text-to-speech engine 'espeak-ng' not found; install espeak-ng")
        self.calls.append((text, voice, rate_wpm))
        t = np.arange(round(0.05 * len(text) * self.rate)) / self.rate
        return Audio((np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16), self.rate)


@dataclass
class FakeDriver:
    """Records what it was asked to play; fails while ``fail`` is set; may block on ``gate``."""

    fail: str | None = None
    gate: threading.Event | None = None
    played: list[tuple[str, bytes]] = field(default_factory=list)
    entered: threading.Event = field(default_factory=threading.Event)  # set once play() was called

    def play(self, wav: bytes, command: LoudspeakerCommand) -> Delivered:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail:
            raise DriverError(self.fail)
        self.played.append((command.command_id, wav))
        return Delivered(f"fake:{command.command_id}")


Device = Callable[
    [dict[str, Any], int], Any
]  # (payload, n-th publish) -> reply (bytes/dict), Exception or None


@dataclass
class FakeLink:
    """A broker and a device in one: ``device`` answers each publish on the ack topic."""

    device: Device = lambda body, n: None  # silent by default
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    handlers: dict[str, Callable[[bytes], None]] = field(default_factory=dict)
    closed: bool = False

    def subscribe(self, topic: str, handler: Callable[[bytes], None]) -> None:
        self.handlers[topic] = handler

    def publish(self, topic: str, payload: bytes, timeout_s: float) -> None:
        body = json.loads(payload)
        reply = self.device(body, len(self.published))
        if isinstance(reply, Exception):
            raise reply
        self.published.append((topic, body))
        if reply is not None:
            self.answer(reply)

    def answer(self, reply: bytes | dict[str, Any]) -> None:
        raw = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
        for handler in self.handlers.values():
            handler(raw)

    def close(self) -> None:
        self.closed = True
