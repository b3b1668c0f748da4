"""The detector bench runs each picture through every runtime in turn, the first rotating."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detectors.bench import run_in_turn
from detectors.types import Boxes, Image


class Recorder:
    """A detector that notes which picture it was given, and returns its own label once."""

    def __init__(self, name: str, calls: list[tuple[str, int]]) -> None:
        self.batch = 1
        self.names = {0: name}
        self.name = name
        self.calls = calls

    def detect(self, images: Sequence[Image]) -> list[Boxes]:
        [image] = images
        self.calls.append((self.name, int(image[0, 0, 0])))
        xyxy = np.array([[0, 0, 1, 1]], np.float32)
        return [Boxes(xyxy, np.ones(1, np.float32), np.zeros(1, np.float32), (self.name,))]


def test_every_picture_through_every_runtime_the_first_rotating() -> None:
    calls: list[tuple[str, int]] = []
    detectors = [Recorder(n, calls) for n in ("ort", "ov", "int8")]
    images = [np.full((2, 2, 3), i, np.uint8) for i in range(4)]
    boxes, times = run_in_turn(detectors, images)
    assert calls == [
        ("ort", 0), ("ov", 0), ("int8", 0),
        ("ov", 1), ("int8", 1), ("ort", 1),
        ("int8", 2), ("ort", 2), ("ov", 2),
        ("ort", 3), ("ov", 3), ("int8", 3),
    ]  # fmt: skip
    assert [[b.labels for b in per] for per in boxes] == [[("ort",)] * 4, [("ov",)] * 4, [("int8",)] * 4]
    assert [len(t) for t in times] == [4, 4, 4] and all(ms >= 0 for t in times for ms in t)
