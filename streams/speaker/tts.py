"""Text to speech: the ``SpeechEngine`` seam and the espeak-ng engine.

espeak-ng is a system package (``apt-get install espeak-ng``; ``make sysdeps``
installs it). Debian's build speaks Mandarin with the ``cmn`` voice.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

from streams.contract.errors import SpeechError
from streams.speaker.audio import Audio, read_wav

logger = logging.getLogger(__name__)

INSTALL_HINT = "install espeak-ng (apt-get install espeak-ng, or `make sysdeps`)"

# command lang -> espeak-ng voice; anything else is passed through as a voice name
VOICES: dict[str, str] = {
    "zh": "cmn",
    "zh-cn": "cmn",
    "zh-hans": "cmn",
    "cmn": "cmn",
    "yue": "yue",
    "zh-hk": "yue",
    "en": "en",
    "en-gb": "en",
    "en-us": "en-us",
}


def voice_for(lang: str, configured: str | None = None) -> str:
    """The speaker's configured voice, else the voice for the command's language."""
    if configured:
        return configured
    return VOICES.get(lang.strip().lower(), lang.strip().lower() or "cmn")


class SpeechEngine(Protocol):
    def synthesize(self, text: str, voice: str, rate_wpm: int) -> Audio:
        """Speak ``text``; raise ``SpeechError`` saying what to fix when it cannot."""
        ...


class EspeakEngine:
    """Runs ``espeak-ng -v VOICE -s WPM -w OUT.wav`` with the text on stdin."""

    def __init__(self, binary: str = "espeak-ng", timeout_s: float = 30.0) -> None:
        self.binary = binary
        self.timeout_s = timeout_s

    def available(self) -> str | None:
        """Path of the executable, or None when it is not installed."""
        return shutil.which(self.binary)

    def synthesize(self, text: str, voice: str, rate_wpm: int) -> Audio:
        exe = self.available()
        if exe is None:
            raise SpeechError(f"text-to-speech engine {self.binary!r} not found; {INSTALL_HINT}")
        with tempfile.TemporaryDirectory(prefix="citywatch-tts-") as tmp:
            out = Path(tmp) / "speech.wav"
            # text on stdin (not argv): a message starting with '-' is not an option
            argv = [exe, "-v", voice, "-s", str(rate_wpm), "-b", "1", "-w", str(out), "--stdin"]
            try:
                proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
                    argv,
                    input=text.encode("utf-8"),
                    capture_output=True,
                    timeout=self.timeout_s,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise SpeechError(
                    f"{self.binary} took more than {self.timeout_s:g} s on a {len(text)}-character text; "
                    "shorten the text"
                ) from None
            stderr = proc.stderr.decode("utf-8", "replace").strip()
            if proc.returncode != 0:
                hint = f"; list voices with `{self.binary} --voices`" if "voice" in stderr.lower() else ""
                why = stderr or "no message"
                raise SpeechError(f"{self.binary} -v {voice} failed (exit {proc.returncode}): {why}{hint}")
            if not out.exists() or out.stat().st_size <= 44:
                raise SpeechError(f"{self.binary} -v {voice} produced no audio for {text!r}")
            audio = read_wav(out)
        if stderr:
            logger.debug("%s said: %s", self.binary, stderr)
        return audio
