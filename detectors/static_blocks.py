"""Block pictures of the static-object step (pure): the grey working copy cut to 8x8 blocks,
per-block dissimilarity, the camera's shift by phase correlation, crops read a shift away,
and block grids of boxes."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from detectors.motion import small_grey
from detectors.types import FloatArray, Image

BLOCK = 8  # pixels of the working copy per compared block
NOISE_VAR = 16.0  # grey-level variance of sensor noise and compression (4 levels)

BoxT = tuple[float, float, float, float]  # normalised x1, y1, x2, y2
BoolGrid = npt.NDArray[np.bool_]


def _block_means(a: FloatArray, gh: int, gw: int) -> FloatArray:
    return np.asarray(a.reshape(gh, BLOCK, gw, BLOCK).mean(axis=(1, 3)), np.float32)


def block_difference(
    current: FloatArray, reference: FloatArray, valid: BoolGrid
) -> tuple[FloatArray, FloatArray]:
    """Per block (structure, luminance) dissimilarity of two aligned pictures of the same size
    (multiples of ``BLOCK``). The zone's light change (the median ratio of means over ``valid``
    blocks) is divided out of the luminance term."""
    gh, gw = current.shape[0] // BLOCK, current.shape[1] // BLOCK
    mc, mr = _block_means(current, gh, gw), _block_means(reference, gh, gw)
    vc = np.maximum(_block_means(current * current, gh, gw) - mc * mc, 0.0)
    vr = np.maximum(_block_means(reference * reference, gh, gw) - mr * mr, 0.0)
    cov = _block_means(current * reference, gh, gw) - mc * mr
    structure = 1.0 - (cov + NOISE_VAR) / np.sqrt((vc + NOISE_VAR) * (vr + NOISE_VAR))
    ratio = np.log((mc + 8.0) / (mr + 8.0))
    gain = float(np.median(ratio[valid])) if valid.any() else 0.0
    luminance = np.abs(ratio - gain)
    return np.asarray(structure, np.float32), np.asarray(luminance, np.float32)


@functools.lru_cache(maxsize=8)
def _window(width: int, height: int) -> FloatArray:
    return np.asarray(cv2.createHanningWindow((width, height), cv2.CV_32F), np.float32)


def _fast_length(n: int) -> int:
    """The largest power of two up to ``n``: OpenCV's DFT is several times faster there (a
    320x176 phase correlation costs about 1.2 ms, its middle 256x128 0.2 ms)."""
    return 1 << (max(1, n).bit_length() - 1)


def shift_between(reference: FloatArray, current: FloatArray) -> tuple[float, float]:
    """(dx, dy) in pixels by which ``current`` is moved against ``reference`` (phase correlation,
    on their middle cut to a size the DFT is fast at)."""
    height, width = reference.shape
    h, w = _fast_length(height), _fast_length(width)
    y, x = (height - h) // 2, (width - w) // 2
    a, b = reference[y : y + h, x : x + w], current[y : y + h, x : x + w]
    # copies: OpenCV (5.0) windows a view it is given in place, which would change the picture
    (dx, dy), _ = cv2.phaseCorrelate(np.array(a, np.float32), np.array(b, np.float32), _window(w, h))
    return float(dx), float(dy)


def shifted_crop(
    grey: FloatArray, rect: tuple[int, int, int, int], dx: int, dy: int
) -> tuple[FloatArray, BoolGrid]:
    """The block ``rect`` (rows y0:y1, columns x0:x1) of ``grey`` read ``dx``, ``dy`` pixels away,
    and its grid of blocks that needed pixels outside the picture (filled with the nearest edge)."""
    y0, y1, x0, x1 = (v * BLOCK for v in rect)
    height, width = grey.shape
    sy0, sy1, sx0, sx1 = y0 + dy, y1 + dy, x0 + dx, x1 + dx
    if sy0 >= 0 and sx0 >= 0 and sy1 <= height and sx1 <= width:
        return grey[sy0:sy1, sx0:sx1], np.zeros((rect[1] - rect[0], rect[3] - rect[2]), np.bool_)
    rows = np.clip(np.arange(sy0, sy1), 0, height - 1)
    cols = np.clip(np.arange(sx0, sx1), 0, width - 1)
    crop = np.asarray(grey[np.ix_(rows, cols)], np.float32)
    row_in = ((np.arange(sy0, sy1) >= 0) & (np.arange(sy0, sy1) < height)).reshape(-1, BLOCK).all(axis=1)
    col_in = ((np.arange(sx0, sx1) >= 0) & (np.arange(sx0, sx1) < width)).reshape(-1, BLOCK).all(axis=1)
    return crop, np.asarray(~(row_in[:, None] & col_in[None, :]), np.bool_)


def pixels(grid: BoolGrid) -> BoolGrid:
    """A block grid as a mask of the working copy's pixels."""
    return np.asarray(np.repeat(np.repeat(grid, BLOCK, axis=0), BLOCK, axis=1), np.bool_)


def masked_blocks(boxes: Sequence[BoxT], width: int, height: int, margin: float) -> BoolGrid:
    """Block grid of a ``width`` x ``height`` working copy: True under any box widened by ``margin``
    (a fraction of the box's size on each side)."""
    gh, gw = height // BLOCK, width // BLOCK
    grid = np.zeros((gh, gw), np.bool_)
    for x1, y1, x2, y2 in boxes:
        mx, my = (x2 - x1) * margin, (y2 - y1) * margin
        bx1 = max(0, math.floor((x1 - mx) * width / BLOCK))
        by1 = max(0, math.floor((y1 - my) * height / BLOCK))
        bx2 = min(gw, math.ceil((x2 + mx) * width / BLOCK))
        by2 = min(gh, math.ceil((y2 + my) * height / BLOCK))
        if bx2 > bx1 and by2 > by1:
            grid[by1:by2, bx1:bx2] = True
    return grid


def working_copy(image: Image, width: int) -> tuple[FloatArray, tuple[int, int]]:
    """The grey working copy of a BGR picture, cut to whole blocks, and its (width, height) before
    the cut: the scale of normalised coordinates (a cut row is not the frame's bottom)."""
    grey = small_grey(image, width)
    h, w = (grey.shape[0] // BLOCK) * BLOCK, (grey.shape[1] // BLOCK) * BLOCK
    return np.asarray(grey[:h, :w], np.float32), (grey.shape[1], grey.shape[0])
