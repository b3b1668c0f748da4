"""The one place that reads ultralytics result objects: ``Results`` -> ``Boxes``."""

from __future__ import annotations

from typing import Any

import numpy as np

from detectors.types import Boxes


def boxes_from_ultralytics(result: Any) -> Boxes:
    """Convert one ``ultralytics.engine.results.Results`` of a detect model to ``Boxes`` (pixels)."""
    names = {int(k): str(v) for k, v in dict(result.names).items()}
    boxes = result.boxes
    if boxes is None or len(boxes) == 0:
        return Boxes(
            np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32), (), names
        )
    xyxy = np.asarray(boxes.xyxy.cpu().numpy(), dtype=np.float32).reshape(-1, 4)
    conf = np.asarray(boxes.conf.cpu().numpy(), dtype=np.float32).reshape(-1)
    cls = np.asarray(boxes.cls.cpu().numpy(), dtype=np.float32).reshape(-1)
    labels = tuple(names.get(int(c), str(int(c))) for c in cls)
    return Boxes(xyxy, conf, cls, labels, names)
