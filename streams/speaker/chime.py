"""The two-tone chime ("ding-dong") that announces a message, synthesised at any rate."""

from __future__ import annotations

import numpy as np

from streams.speaker.audio import Audio, silence

# a falling major third, the usual public-address attention signal
TONES_HZ = (659.25, 523.25)
TONE_S = 0.35
GAP_S = 0.25  # quiet between chime and message
LEVEL = 0.5  # of full scale


def chime(rate: int) -> Audio:
    """Two decaying sine tones then a short gap, mono 16-bit at ``rate`` Hz."""
    n = round(TONE_S * rate)
    t = np.arange(n) / rate
    attack = np.minimum(1.0, t / 0.01)  # 10 ms ramp: no click at the start
    envelope = attack * np.exp(-4.0 * t / TONE_S)
    parts = [np.sin(2 * np.pi * hz * t) * envelope for hz in TONES_HZ]
    wave_ = np.concatenate(parts) * (LEVEL * 32767)
    tones = Audio(wave_.round().astype(np.int16), rate)
    return tones.then(silence(GAP_S, rate))
