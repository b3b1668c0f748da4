"""Speaker settings in cameras.yaml: the gateway's keys, and the checks that name the fix."""

from __future__ import annotations

import pytest

from streams.config import parse_config
from streams.contract.errors import ConfigError

SPEAKER_A = "    driver: {type: file, dir: var/speaker/spk-hp-01}\n"


def with_speaker_lines(sample: str, lines: str) -> str:
    assert sample.count(SPEAKER_A) == 1
    return sample.replace(SPEAKER_A, lines)


def test_gateway_keys_have_defaults_and_parse(sample_config_text: str) -> None:
    cfg = parse_config(sample_config_text)
    spk = cfg.speaker("spk-hp-01")
    assert (spk.chime, spk.voice, spk.rate_wpm, spk.clips) == (True, None, 175, {})
    text = with_speaker_lines(
        sample_config_text,
        "    driver: {type: http, url: 'http://10.0.0.8/play', timeout_s: 3, retries: 1, backoff_s: 1}\n"
        "    chime: false\n    voice: cmn\n    rate_wpm: 170\n"
        "    clips: {shop_warning: var/clips/not-yet-there.wav}\n",
    )
    spk = parse_config(text).speaker("spk-hp-01")
    assert spk.driver.url == "http://10.0.0.8/play"
    assert spk.driver.backoff_s == 1
    assert (spk.chime, spk.voice, spk.rate_wpm) == (False, "cmn", 170)
    assert spk.clips == {"shop_warning": "var/clips/not-yet-there.wav"}  # a missing file is fine


@pytest.mark.parametrize(
    ("lines", "path", "words"),
    [
        ("    driver: {type: http}\n", "speakers[0].driver.url", "give it a url"),
        ("    driver: {type: command, command: [aplay]}\n", "speakers[0].driver.command", "'{file}'"),
        ("    clips: {shop_warning: clips/shop.mp3}\n", "speakers[0].clips.shop_warning", "16-bit PCM WAV"),
        ("    rate_wpm: 20\n", "speakers[0].rate_wpm", "greater than or equal to 80"),
        ("    chimes: false\n", "speakers[0].chimes", "did you mean chime?"),
    ],
)
def test_speaker_problems_name_the_fix(sample_config_text: str, lines: str, path: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(with_speaker_lines(sample_config_text, lines), "cameras.yaml")
    [problem] = info.value.problems
    assert problem.path == path
    assert words in problem.message
    assert problem.line is not None
