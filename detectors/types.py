"""Plain data passed between the detector stages (no I/O, no ultralytics)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Frame:
    """One decoded picture of one camera."""

    camera_id: str
    seq: int
    image: Image  # BGR, height x width x 3; never modified in place
    captured_at: float  # wall-clock epoch seconds (goes into the record)
    mono: float  # time.monotonic() at capture (latency measurements)
    media_t: float  # seconds on the source's own clock (sampling)
    # picked by its reader at the camera's detect_fps (frames between were not decoded):
    # samplers downstream take it without judging it again
    sampled: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])


@dataclass(frozen=True)
class Boxes:
    """The model's detections for one picture, in pixels.

    Exposes ``xywh``/``conf``/``cls``, ``len`` and boolean indexing, which is
    all the ByteTrack tracker reads.
    """

    xyxy: FloatArray  # (N, 4) x1, y1, x2, y2 pixels
    conf: FloatArray  # (N,)
    cls: FloatArray  # (N,) class ids
    labels: tuple[str, ...]  # (N,) label of each box
    names: dict[int, str] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Boxes:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32), (), {})

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Boxes:
        idx = np.flatnonzero(index) if np.asarray(index).dtype == np.bool_ else np.asarray(index)
        return Boxes(
            self.xyxy[idx], self.conf[idx], self.cls[idx], tuple(self.labels[i] for i in idx), self.names
        )

    @property
    def xywh(self) -> FloatArray:
        out = np.empty_like(self.xyxy)
        out[:, 0] = (self.xyxy[:, 0] + self.xyxy[:, 2]) / 2
        out[:, 1] = (self.xyxy[:, 1] + self.xyxy[:, 3]) / 2
        out[:, 2] = self.xyxy[:, 2] - self.xyxy[:, 0]
        out[:, 3] = self.xyxy[:, 3] - self.xyxy[:, 1]
        return out


class BackgroundModel(Protocol):
    """A camera's static-object reference backgrounds, one per zone that counts ``static_object``."""

    def recapture(self, zone_id: str | None, at: float) -> None:
        """Take the background of ``zone_id`` (None: every zone) again from the frames after ``at``
        (wall-clock epoch seconds): an operator said the zone is clean now."""
        ...
