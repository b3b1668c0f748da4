"""What a command sounds like on one speaker: a clip or speech, the chime first."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from streams.config.models import Speaker
from streams.contract.errors import SpeakerError
from streams.contract.records import LoudspeakerCommand
from streams.speaker.audio import Audio, read_wav
from streams.speaker.chime import chime
from streams.speaker.tts import SpeechEngine, voice_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    audio: Audio
    source: str  # "clip:<template>" or "tts:<voice>"
    note: str = ""  # why a clip was not used, if the command asked for one


def template_of(command: LoudspeakerCommand) -> str | None:
    """The optional ``template`` field a command may carry (the contract welcomes extra fields)."""
    value = (command.model_extra or {}).get("template")
    return value if isinstance(value, str) and value else None


def render(command: LoudspeakerCommand, speaker: Speaker, engine: SpeechEngine) -> Rendered:
    """The audio to play for ``command``: the configured clip of its template, else its text spoken."""
    template = template_of(command)
    note = ""
    body: Audio | None = None
    source = ""
    if template is not None:
        clip = speaker.clips.get(template)
        if clip is None:
            note = f"no clip for template {template!r} under speakers[{speaker.id}].clips; spoke the text"
        else:
            try:
                body = read_wav(Path(clip))
                source = f"clip:{template}"
            except SpeakerError as exc:
                note = f"clip for template {template!r} unusable ({exc}); spoke the text"
        if note:
            logger.warning("%s: command %s: %s", speaker.id, command.command_id, note)
    if body is None:
        voice = voice_for(command.lang, speaker.voice)
        body = engine.synthesize(command.text, voice, speaker.rate_wpm)
        source = f"tts:{voice}"
    audio = chime(body.rate).then(body) if speaker.chime else body
    return Rendered(audio, source, note)
