"""One thread per speaker: its commands one at a time, in arrival order.

A slow or failing speaker only delays its own queue; every command ends in
exactly one ack handed to ``on_ack`` (played, failed or expired).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from streams.config.models import Speaker
from streams.contract.errors import CitywatchError, CommandExpiredError
from streams.contract.records import LoudspeakerAck, LoudspeakerCommand
from streams.speaker.delivery import expiry_reason, make_ack
from streams.speaker.drivers import SpeakerDriver
from streams.speaker.render import Rendered, render
from streams.speaker.tts import SpeechEngine

logger = logging.getLogger(__name__)

OnAck = Callable[[LoudspeakerAck, object], None]


@dataclass(frozen=True)
class Job:
    command: LoudspeakerCommand
    token: object  # handed back with the ack (the gateway's record position)


class SpeakerWorker:
    def __init__(
        self,
        speaker: Speaker,
        driver: SpeakerDriver,
        engine: SpeechEngine,
        on_ack: OnAck,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.speaker = speaker
        self.driver = driver
        self.engine = engine
        self.on_ack = on_ack
        self.clock = clock
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._busy = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"speaker-{speaker.id}", daemon=True)

    def start(self) -> SpeakerWorker:
        self._thread.start()
        return self

    def submit(self, command: LoudspeakerCommand, token: object = None) -> None:
        self._queue.put(Job(command, token))

    def idle(self) -> bool:
        return self._queue.empty() and not self._busy.is_set()

    def stop(self, timeout_s: float | None = None) -> None:
        """Finish what is queued, then end the thread and close the driver (if it has a close)."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        close = getattr(self.driver, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # stopping goes on for the other speakers
                logger.exception("%s: closing the driver failed", self.speaker.id)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._busy.set()
            try:
                ack = self.handle(job.command)
                self.on_ack(ack, job.token)
            finally:
                self._busy.clear()

    def handle(self, command: LoudspeakerCommand) -> LoudspeakerAck:
        """Play one command now; never raises."""
        started = self.clock()
        why = expiry_reason(command, started)
        if why is not None:
            logger.info("%s: command %s expired: %s", self.speaker.id, command.command_id, why)
            return make_ack(command, "expired", started_at=started, finished_at=started, reason=why)
        try:
            rendered = self._render(command)
            delivered = self.driver.play(rendered.audio.to_wav() if rendered else b"", command)
        except CommandExpiredError as exc:
            logger.info("%s: command %s expired: %s", self.speaker.id, command.command_id, exc)
            return make_ack(command, "expired", started_at=started, finished_at=self.clock(), reason=str(exc))
        except CitywatchError as exc:
            logger.warning("%s: command %s failed: %s", self.speaker.id, command.command_id, exc)
            return make_ack(command, "failed", started_at=started, finished_at=self.clock(), reason=str(exc))
        except Exception as exc:  # a bug must not end the speaker's thread
            logger.exception("%s: command %s: unexpected error", self.speaker.id, command.command_id)
            return make_ack(
                command,
                "failed",
                started_at=started,
                finished_at=self.clock(),
                reason=f"unexpected error in the gateway: {exc!r}",
            )
        if rendered is None:
            logger.info("%s: played command %s -> %s", self.speaker.id, command.command_id, delivered.output)
            return make_ack(
                command,
                "played",
                started_at=started,
                finished_at=self.clock(),
                audio_source="device",
                output=delivered.output,
                attempts=delivered.attempts,
            )
        logger.info(
            "%s: played command %s (%.1f s of %s) -> %s",
            self.speaker.id,
            command.command_id,
            rendered.audio.duration_s,
            rendered.source,
            delivered.output,
        )
        return make_ack(
            command,
            "played",
            started_at=started,
            finished_at=self.clock(),
            reason=rendered.note,
            audio_s=round(rendered.audio.duration_s, 3),
            audio_source=rendered.source,
            output=delivered.output,
            attempts=delivered.attempts,
        )

    def _render(self, command: LoudspeakerCommand) -> Rendered | None:
        """The audio, or None for a driver that sends the text to a device that speaks it."""
        if not getattr(self.driver, "wants_audio", True):
            return None
        return render(command, self.speaker, self.engine)
