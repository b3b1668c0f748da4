"""The motion gate: skip inference on still frames, but recheck every camera regularly (pure).

The score is the fraction of pixels of a small grey copy of the frame that
differ from the copy taken at the last inference by more than
``pixel_delta`` grey levels. Comparing with the last *inferred* frame (not the
previous one) lets slow changes add up until they count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from detectors.types import Image

Reason = Literal["first", "motion", "recheck", "still"]


@dataclass(frozen=True)
class GateDecision:
    infer: bool
    score: float
    reason: Reason


def small_grey(image: Image, width: int = 160) -> Image:
    """Downscaled, blurred grey copy of a BGR (or grey) picture: the gate's working copy."""
    h, w = image.shape[:2]
    height = max(1, round(h * width / w))
    if w > 4 * width:
        # a cheap nearest-neighbour step first: area-averaging a full HD frame costs milliseconds
        image = np.asarray(
            cv2.resize(image, (4 * width, 4 * height), interpolation=cv2.INTER_NEAREST), np.uint8
        )
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.GaussianBlur(small, (5, 5), 0), dtype=np.uint8)


def motion_score(a: Image, b: Image, pixel_delta: int = 25) -> float:
    """Fraction (0..1) of pixels that differ by more than ``pixel_delta``; 1.0 if shapes differ."""
    if a.shape != b.shape:
        return 1.0
    diff = cv2.absdiff(a, b)
    return float(np.count_nonzero(diff > pixel_delta)) / float(diff.size)


class MotionGate:
    """Decide per sampled frame whether to run the model.

    ``threshold`` is Camera.motion_threshold (fraction of changed pixels);
    ``recheck_s`` is Camera.stationary_recheck_s: goods left on a walkway do
    not move, so a still camera is still re-detected that often.
    """

    def __init__(self, threshold: float, recheck_s: float, *, width: int = 160, pixel_delta: int = 25):
        self.threshold = threshold
        self.recheck_s = recheck_s
        self.width = width
        self.pixel_delta = pixel_delta
        self._reference: Image | None = None
        self._last_infer_t: float | None = None

    def decide(self, image: Image, t: float) -> GateDecision:
        """``t`` is the frame's media time in seconds; an inference decision updates the reference."""
        small = small_grey(image, self.width)
        if self._reference is None or self._last_infer_t is None or t < self._last_infer_t:
            decision = GateDecision(True, 1.0, "first")
        else:
            score = motion_score(small, self._reference, self.pixel_delta)
            if score > self.threshold:
                decision = GateDecision(True, score, "motion")
            elif t - self._last_infer_t >= self.recheck_s:
                decision = GateDecision(True, score, "recheck")
            else:
                decision = GateDecision(False, score, "still")
        if decision.infer:
            self._reference = small
            self._last_infer_t = t
        return decision
