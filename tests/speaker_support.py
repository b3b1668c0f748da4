"""Helpers shared by the loudspeaker gateway tests: commands, configs, WAV checks."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np

from streams.config.models import Speaker, SpeakerDriver
from streams.contract.records import LoudspeakerCommand
from streams.contract.timeutil import to_iso

ZH = "老王便利店请注意：请将店外经营物品放回店内，不要占道经营。"
EN = "Attention please: move your goods back inside the shop and keep the walkway clear."

T0 = 1_780_000_000.0  # a fixed "now" for the pure-logic tests


def command(
    command_id: str = "cmd-1",
    speaker_id: str = "spk-a",
    *,
    text: str = ZH,
    lang: str = "zh",
    now: float = T0,
    ttl_s: float = 600.0,
    **extra: Any,
) -> LoudspeakerCommand:
    return LoudspeakerCommand(
        command_id=command_id,
        speaker_id=speaker_id,
        camera_id="cam-1",
        incident_id=f"inc-{command_id}",
        text=text,
        lang=lang,
        source="auto",
        requested_by="policy",
        requested_at=to_iso(now),
        not_after=to_iso(now + ttl_s),
        **extra,
    )


def speaker(speaker_id: str = "spk-a", **fields: Any) -> Speaker:
    fields.setdefault("driver", SpeakerDriver(type="file", dir="unused"))
    return Speaker(id=speaker_id, **fields)


def wav_facts(path: Path) -> tuple[int, float, float]:
    """(sample rate, duration in seconds, RMS as a fraction of full scale) of a mono 16-bit WAV."""
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1
        assert w.getsampwidth() == 2
        rate = w.getframerate()
        frames = w.readframes(w.getnframes())
    pcm = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    rms = float(np.sqrt(np.mean(pcm**2))) / 32768 if len(pcm) else 0.0
    return rate, len(pcm) / rate, rms


def assert_speech_wav(path: Path, *, min_s: float = 0.5, max_s: float = 15.0) -> float:
    rate, duration, rms = wav_facts(path)
    assert rate == 22050, f"{path}: {rate} Hz"
    assert min_s <= duration <= max_s, f"{path}: {duration:.2f} s"
    assert rms > 0.01, f"{path}: nearly silent (RMS {rms:.4f})"
    return duration
