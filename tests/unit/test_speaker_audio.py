"""Real speech from espeak-ng (Mandarin and English), the chime, clips, and a missing engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streams.contract.errors import SpeechError
from streams.speaker.audio import Audio, from_wav, read_wav
from streams.speaker.chime import chime
from streams.speaker.fakes import FakeDriver, FakeEngine
from streams.speaker.render import render
from streams.speaker.tts import EspeakEngine, voice_for
from streams.speaker.worker import SpeakerWorker

from ..speaker_support import EN, T0, ZH, assert_speech_wav, command, speaker, wav_facts

ESPEAK = pytest.mark.sysdeps("espeak-ng")  # skipped, with the reason, where espeak-ng is missing


@pytest.fixture(scope="module")
def espeak() -> EspeakEngine:
    return EspeakEngine()


@ESPEAK
@pytest.mark.parametrize(("text", "lang", "voice"), [(ZH, "zh", "cmn"), (EN, "en", "en")])
def test_espeak_renders_a_sentence(
    espeak: EspeakEngine, tmp_path: Path, text: str, lang: str, voice: str
) -> None:
    assert voice_for(lang) == voice
    audio = espeak.synthesize(text, voice, 150)
    path = tmp_path / f"{lang}.wav"
    path.write_bytes(audio.to_wav())
    duration = assert_speech_wav(path, min_s=1.5)
    # about 3-6 syllables a second for both languages
    assert duration < len(text) * 0.5


@ESPEAK
def test_chinese_is_spoken_not_spelled_out(espeak: EspeakEngine) -> None:
    # the cmn voice reads hanzi as syllables; a voice without them would say "Chinese letter" per character
    zh = espeak.synthesize("请不要占道经营", "cmn", 150)
    en_voice = espeak.synthesize("请不要占道经营", "en", 150)
    assert zh.duration_s < en_voice.duration_s


@ESPEAK
def test_unknown_voice_is_a_clear_error(espeak: EspeakEngine) -> None:
    with pytest.raises(SpeechError, match=r"--voices"):
        espeak.synthesize("hello", "nosuchvoice", 150)


@ESPEAK
def test_text_starting_with_a_dash_is_spoken(espeak: EspeakEngine) -> None:
    assert espeak.synthesize("-v is not an option here", "en", 150).duration_s > 0.5


def test_missing_engine_says_how_to_install_it() -> None:
    engine = EspeakEngine(binary="espeak-ng-not-installed")
    with pytest.raises(SpeechError, match=r"install espeak-ng \(apt-get install espeak-ng"):
        engine.synthesize(ZH, "cmn", 150)
    # the worker turns it into a failed ack instead of dying
    worker = SpeakerWorker(speaker(), FakeDriver(), engine, on_ack=lambda a, t: None, clock=lambda: T0)
    ack = worker.handle(command())
    assert ack.status == "failed"
    assert "apt-get install espeak-ng" in ack.reason
    assert ack.incident_id == "inc-cmd-1"


def test_chime_is_two_audible_tones_then_a_gap() -> None:
    c = chime(22050)
    assert c.rate == 22050
    assert 0.8 <= c.duration_s <= 1.2
    tone = c.samples[: int(0.3 * 22050)].astype(np.float64)
    assert np.sqrt(np.mean(tone**2)) > 2000
    assert abs(int(c.samples[0])) < 200  # ramps in: no click
    assert not c.samples[-int(0.2 * 22050) :].any()  # silent gap before the message
    # the two tones differ in pitch: zero crossings per second
    half = int(0.35 * 22050)
    crossings = [
        np.count_nonzero(np.diff(np.sign(seg)) != 0) for seg in (c.samples[:half], c.samples[half : 2 * half])
    ]
    assert crossings[0] > crossings[1] * 1.15


def test_render_puts_the_chime_before_speech_at_the_same_rate() -> None:
    engine = FakeEngine(rate=16000)
    with_chime = render(command(), speaker(chime=True), engine)
    without = render(command(), speaker(chime=False), engine)
    assert with_chime.audio.rate == without.audio.rate == 16000
    extra = with_chime.audio.duration_s - without.audio.duration_s
    assert extra == pytest.approx(chime(16000).duration_s, abs=1e-3)
    assert with_chime.source == "tts:cmn"
    assert engine.calls[0] == (ZH, "cmn", 175)


def test_speaker_voice_overrides_the_language() -> None:
    engine = FakeEngine()
    render(command(lang="en"), speaker(voice="en-us", rate_wpm=120), engine)
    assert engine.calls == [(ZH, "en-us", 120)]


def _write_clip(path: Path, rate: int = 8000, channels: int = 2) -> None:
    import wave

    t = np.arange(rate) / rate
    tone = (np.sin(2 * np.pi * 300 * t) * 10000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(tone, channels).tobytes())


def test_template_with_a_clip_plays_the_clip(tmp_path: Path) -> None:
    clip = tmp_path / "warn.wav"
    _write_clip(clip)
    engine = FakeEngine()
    out = render(command(template="shop_warning"), speaker(clips={"shop_warning": str(clip)}), engine)
    assert out.source == "clip:shop_warning"
    assert engine.calls == []
    assert out.audio.rate == 8000  # the chime follows the clip's rate
    assert out.audio.duration_s == pytest.approx(chime(8000).duration_s + 1.0, abs=1e-3)
    assert read_wav(clip).samples.shape == (8000,)  # stereo mixed down to mono


@pytest.mark.parametrize("clips", [{}, {"shop_warning": "does/not/exist.wav"}])
def test_template_without_a_usable_clip_speaks_the_text(clips: dict[str, str]) -> None:
    engine = FakeEngine()
    out = render(command(template="shop_warning"), speaker(clips=clips), engine)
    assert out.source == "tts:cmn"
    assert "shop_warning" in out.note
    assert len(engine.calls) == 1


def test_wav_round_trip_and_bad_wav() -> None:
    audio = Audio(np.array([0, 1000, -1000, 32767], dtype=np.int16), 22050)
    again = from_wav(audio.to_wav())
    assert again.rate == 22050
    assert again.samples.tolist() == [0, 1000, -1000, 32767]
    with pytest.raises(Exception, match="16-bit PCM WAV"):
        from_wav(b"RIFF....not a wav")


def test_wav_facts_of_a_written_file(tmp_path: Path) -> None:
    p = tmp_path / "x.wav"
    p.write_bytes(chime(22050).to_wav())
    rate, duration, rms = wav_facts(p)
    assert (rate, round(duration, 2)) == (22050, round(chime(22050).duration_s, 2))
    assert rms > 0.01
