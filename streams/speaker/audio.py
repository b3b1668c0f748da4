"""Mono 16-bit PCM in memory, and its WAV form.

Everything the gateway plays is normalised to this shape, so a chime, a
pre-recorded clip and synthesised speech can be joined sample by sample.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from streams.contract.errors import SpeakerError

Samples = npt.NDArray[np.int16]


@dataclass(frozen=True)
class Audio:
    samples: Samples
    rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate

    def then(self, other: Audio) -> Audio:
        """This audio followed by ``other`` (same sample rate)."""
        if other.rate != self.rate:
            raise SpeakerError(f"cannot join audio at {self.rate} Hz and {other.rate} Hz")
        return Audio(np.concatenate([self.samples, other.samples]), self.rate)

    def to_wav(self) -> bytes:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.rate)
            w.writeframes(self.samples.astype("<i2").tobytes())
        return buf.getvalue()


def from_wav(data: bytes, what: str = "audio") -> Audio:
    """Decode a 16-bit PCM WAV (any channel count; mixed down to mono)."""
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise SpeakerError(f"{what} is not a readable WAV file ({exc}); use 16-bit PCM WAV") from None
    if width != 2:
        raise SpeakerError(
            f"{what} has {8 * width}-bit samples; convert it to 16-bit PCM WAV "
            "(e.g. `sox in.wav -b 16 out.wav`)"
        )
    pcm = np.frombuffer(frames, dtype="<i2")
    if channels > 1:
        usable = len(pcm) - len(pcm) % channels
        pcm = pcm[:usable].reshape(-1, channels).mean(axis=1).round().astype(np.int16)
    return Audio(pcm.astype(np.int16), rate)


def read_wav(path: Path) -> Audio:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpeakerError(f"cannot read {path} ({exc.strerror}); check the path") from None
    return from_wav(data, what=str(path))


def silence(seconds: float, rate: int) -> Audio:
    return Audio(np.zeros(round(seconds * rate), dtype=np.int16), rate)
