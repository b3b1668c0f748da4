"""Demo street scenes built from the real photo that the ultralytics wheel ships (bus.jpg).

A scene has two looks: the violation (a bus stopped in the bus lane) and the
street after it has gone (the bus region filled from its surroundings). The
demo switches a camera's scene when the story says so (the driver heard the
warning, the patrol officer arrived), and the detector sees it like any camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from streams.contract.errors import SourceError

Image = npt.NDArray[np.uint8]

# where the bus is in bus.jpg, as fractions of the frame (x1, y1, x2, y2)
BUS_BOX = (0.0, 0.2, 1.0, 0.86)
WIDTH = 540  # frames are scaled to this width (keeps decoding and inference cheap)


def asset(name: str) -> Path:
    from ultralytics.utils import ASSETS

    path = Path(ASSETS) / name
    if not path.is_file():
        raise SourceError(f"demo picture {path} is missing; reinstall ultralytics (`make demo` does)")
    return path


def remove_region(image: Image, box: tuple[float, float, float, float]) -> Image:
    """The image with ``box`` filled in from its surroundings (inpainting at low resolution)."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)
    mask = np.zeros((h, w), np.uint8)
    mask[y1:y2, x1:x2] = 255
    scale = 0.25
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    filled = cv2.resize(cv2.inpaint(small, small_mask, 7, cv2.INPAINT_TELEA), (w, h))
    filled = cv2.GaussianBlur(filled, (0, 0), 3)
    out = image.copy()
    out[mask > 0] = filled[mask > 0]
    return np.asarray(out, dtype=np.uint8)


@dataclass(frozen=True)
class Scene:
    """The two looks of one demo camera."""

    violation: Image
    clear: Image


def bus_scene(mirror: bool = False) -> Scene:
    image = cv2.imread(str(asset("bus.jpg")), cv2.IMREAD_COLOR)
    if image is None:
        raise SourceError("cannot read the demo picture bus.jpg")
    if mirror:
        image = cv2.flip(image, 1)
    h, w = image.shape[:2]
    image = cv2.resize(image, (WIDTH, int(h * WIDTH / w)), interpolation=cv2.INTER_AREA)
    pic = np.asarray(image, dtype=np.uint8)
    return Scene(violation=pic, clear=remove_region(pic, BUS_BOX))
