"""Clips composited onto the shared footage for ``citywatch eval`` (tests/integration/test_eval_*.py).

Every clip is made at test time (never committed): the shared footage sampled at 10 fps and
scaled down, played forwards then backwards until the clip is long enough (no cut, so nothing
jumps), each picture through an ``Edit(t, picture)``. What is pasted is either cut from the
footage itself (people, the bench, a bike) or rendered here: a cardboard box and a black
garbage bag, shaded, textured and with a soft shadow, as a camera would see them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tests.conftest import MEDIA

FPS = 10.0

Box = tuple[float, float, float, float]  # normalised x1, y1, x2, y2
Edit = Callable[[float, np.ndarray], np.ndarray]
Sprite = tuple[np.ndarray, np.ndarray]  # BGR picture, alpha in [0, 1] (float32, same height and width)


@dataclass(frozen=True)
class Footage:
    path: Path
    size: tuple[int, int]  # width, height of the clips made from it


STREET = Footage(MEDIA / "street-shopfronts.mp4", (960, 540))  # 1920x1080, 30 fps, 10 s
LOT = Footage(MEDIA / "parking-lot.mp4", (768, 432))  # 12.5 fps, 30 s, top-down


def read_frames(footage: Footage) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds, picture) of the footage at about ``FPS``, scaled to ``footage.size``."""
    cap = cv2.VideoCapture(str(footage.path))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open {footage.path}")
    rate = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 30.0
    i, due = 0, 0.0
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                return
            t = i / rate
            if t + 0.5 / rate >= due:  # the frame nearest to each 1/FPS step
                yield due, cv2.resize(image, footage.size, interpolation=cv2.INTER_AREA)
                due += 1.0 / FPS
            i += 1
    finally:
        cap.release()


def looped_frames(footage: Footage, seconds: float) -> Iterator[tuple[float, np.ndarray]]:
    """The footage for ``seconds``: forwards, then backwards, then forwards... (no cut)."""
    pictures = [image for _, image in read_frames(footage)]
    if len(pictures) < 2:
        raise ValueError(f"{footage.path} has fewer than two frames")
    period = 2 * (len(pictures) - 1)
    for k in range(round(seconds * FPS)):
        j = k % period
        yield k / FPS, pictures[j if j < len(pictures) else period - j]


def write_clip(path: Path, footage: Footage, seconds: float, edit: Edit) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, footage.size)
    if not writer.isOpened():
        raise OSError(f"cannot write {path}")
    try:
        for t, image in looped_frames(footage, seconds):
            writer.write(edit(t, image))
    finally:
        writer.release()
    return path


def frame_at(footage: Footage, index: int) -> np.ndarray:
    """Frame ``index`` of the footage at its own rate, scaled to ``footage.size``."""
    cap = cv2.VideoCapture(str(footage.path))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = cap.read()
    finally:
        cap.release()
    if not ok:
        raise ValueError(f"cannot read frame {index} of {footage.path}")
    return np.ascontiguousarray(cv2.resize(image, footage.size, interpolation=cv2.INTER_AREA))


def cut(image: np.ndarray, box: Box, scale: float = 1.0) -> np.ndarray:
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (int(v * s) for v, s in zip(box, (w, h, w, h), strict=True))
    crop = image[y1:y2, x1:x2]
    if scale != 1.0:
        crop = cv2.resize(crop, (int(crop.shape[1] * scale), int(crop.shape[0] * scale)))
    return np.ascontiguousarray(crop)


def paste(image: np.ndarray, crop: np.ndarray, at: tuple[float, float]) -> np.ndarray:
    """``crop`` with its top-left corner at ``at`` (normalised), clipped to the picture."""
    h, w = image.shape[:2]
    x, y = int(at[0] * w), int(at[1] * h)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(w, x + crop.shape[1]), min(h, y + crop.shape[0])
    out = image.copy()
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = crop[y0 - y : y1 - y, x0 - x : x1 - x]
    return out


def between(start: float, end: float, crop: np.ndarray, at: tuple[float, float]) -> Edit:
    return lambda t, image: paste(image, crop, at) if start <= t < end else image


# -- rendered objects ------------------------------------------------------------------------


def _texture(shape: tuple[int, int], rng: np.random.Generator, grain: float, blur: int) -> np.ndarray:
    """Zero-mean noise, blurred to ``blur`` px, of standard deviation about ``grain``."""
    noise = rng.normal(0.0, 1.0, shape).astype(np.float32)
    if blur > 1:
        noise = cv2.GaussianBlur(noise, (0, 0), blur / 2)
        noise /= max(float(noise.std()), 1e-6)
    return noise * grain


def cardboard_box(width: int, seed: int = 1, top_view: bool = False) -> Sprite:
    """A closed cardboard box seen from above and in front (``top_view``: straight down), about
    ``width`` px wide: kraft brown faces lit from above, fibre grain, a strip of brown tape
    along the flaps and down the front, darker edges."""
    rng = np.random.default_rng(seed)
    w = width
    front_h = 0 if top_view else int(w * 0.62)
    depth = int(w * (0.7 if top_view else 0.32))  # the top face, foreshortened
    side = 0 if top_view else int(w * 0.22)
    h = depth + front_h
    full_w = w + side
    pic = np.zeros((h, full_w, 3), np.float32)
    alpha = np.zeros((h, full_w), np.float32)
    kraft = np.array([92.0, 142.0, 186.0])  # BGR of brown cardboard
    top = np.array([[side, 0], [full_w - 1, 0], [w - 1, depth], [0, depth]], np.int32)
    if top_view:
        top = np.array([[0, 0], [w - 1, 0], [w - 1, depth - 1], [0, depth - 1]], np.int32)
    faces = [(top, 1.12)]
    if not top_view:
        front = np.array([[0, depth], [w - 1, depth], [w - 1, h - 1], [0, h - 1]], np.int32)
        right = np.array([[w - 1, depth], [full_w - 1, 0], [full_w - 1, front_h], [w - 1, h - 1]], np.int32)
        faces += [(front, 0.9), (right, 0.62)]
    grain = _texture((h, full_w), rng, 6.0, 2) + _texture((h, full_w), rng, 4.0, 14)
    for poly, light in faces:
        mask = np.zeros((h, full_w), np.uint8)
        cv2.fillConvexPoly(mask, poly, 255)
        sel = mask > 0
        pic[sel] = kraft * light
        alpha[sel] = 1.0
    pic += grain[..., None]
    # tape along the middle of the top (where the flaps meet) and down the front
    tape = np.array([70.0, 120.0, 160.0])
    tape_w = max(3, w // 9)
    tape_mask = np.zeros((h, full_w), np.uint8)
    if top_view:
        cv2.rectangle(tape_mask, (0, depth // 2 - tape_w // 2), (w - 1, depth // 2 + tape_w // 2), 255, -1)
    else:
        mid = w // 2
        half = tape_w // 2
        seam = [[mid + side - half, 0], [mid + side + half, 0], [mid + half, depth], [mid - half, depth]]
        cv2.fillConvexPoly(tape_mask, np.array(seam, np.int32), 255)
        cv2.rectangle(
            tape_mask, (mid - tape_w // 2, depth), (mid + tape_w // 2, depth + front_h // 3), 255, -1
        )
    pic[tape_mask > 0] = pic[tape_mask > 0] * 0.35 + tape * 0.75
    # a flap seam and the box's edges, darker
    edge = (40, 70, 100)
    for poly, _ in faces:
        cv2.polylines(pic, [poly], True, edge, 1, cv2.LINE_AA)
    if not top_view:
        cv2.line(
            pic, (side // 2, depth // 2), (w - 1 + side // 2, depth // 2), (60, 100, 140), 1, cv2.LINE_AA
        )
    return np.clip(pic, 0, 255).astype(np.uint8), alpha


def garbage_bag(width: int, seed: int = 2) -> Sprite:
    """A full black plastic bin bag, about ``width`` px wide: a lumpy round body with a tied
    neck, dull black with soft grey sheen along its folds and a few bright creases."""
    rng = np.random.default_rng(seed)
    w = width
    h = int(w * 1.15)
    cx, cy, rx, ry = w / 2, h * 0.6, w * 0.47, h * 0.38
    angles = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    bumps = sum(
        rng.uniform(0.02, 0.06) * np.sin(k * angles + rng.uniform(0, 2 * np.pi)) for k in (2, 3, 5, 7)
    )
    body = np.stack([cx + rx * (1 + bumps) * np.cos(angles), cy + ry * (1 + bumps) * np.sin(angles)], 1)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [body.astype(np.int32)], 255)
    neck = np.array(
        [
            [cx - w * 0.12, cy - ry * 0.9],
            [cx - w * 0.05, h * 0.1],
            [cx + w * 0.07, h * 0.08],
            [cx + w * 0.13, cy - ry * 0.9],
        ],
        np.int32,
    )
    cv2.fillConvexPoly(mask, neck, 255)
    cv2.ellipse(
        mask, (int(cx + w * 0.08), int(h * 0.08)), (max(2, w // 12), max(2, w // 20)), 30, 0, 360, 255, -1
    )
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    # lit from the upper left: a broad sheen, dark towards the ground
    shade = 30.0 - 14.0 * ((ys - cy) / ry) - 8.0 * ((xs - cx) / rx)
    folds = _texture((h, w), rng, 6.0, 5)
    sheen = np.clip(_texture((h, w), rng, 1.0, 9) - 0.8, 0.0, 1.5) * 22.0
    pic = np.clip(shade + folds + sheen, 6, 200)
    for _ in range(4):  # creases catching the light
        x0, y0 = rng.uniform(cx - rx * 0.6, cx + rx * 0.4), rng.uniform(cy - ry * 0.6, cy + ry * 0.4)
        x1, y1 = x0 + rng.uniform(4, w * 0.25), y0 + rng.uniform(-w * 0.1, w * 0.15)
        cv2.line(pic, (int(x0), int(y0)), (int(x1), int(y1)), 75.0, 1, cv2.LINE_AA)
    pic = cv2.GaussianBlur(pic, (0, 0), 0.7)
    bgr = np.stack([pic * 1.06, pic, pic * 0.97], -1)  # black plastic reads a touch blue
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 0.8)
    return np.clip(bgr, 0, 255).astype(np.uint8), alpha


def place(image: np.ndarray, sprite: Sprite, foot: tuple[float, float], shadow: float = 0.45) -> np.ndarray:
    """``sprite`` standing with the middle of its bottom at ``foot`` (normalised), over a soft
    shadow cast down and to the right (``shadow``: how much the ground darkens under it)."""
    pic, alpha = sprite
    h, w = image.shape[:2]
    sh, sw = alpha.shape
    x, y = int(foot[0] * w - sw / 2), int(foot[1] * h - sh)
    out = image.astype(np.float32)
    if shadow > 0:
        dark = np.zeros((h, w), np.float32)
        cv2.ellipse(
            dark,
            (x + sw // 2 + sw // 6, y + sh - sh // 12),
            (int(sw * 0.62), max(3, sh // 6)),
            0,
            0,
            360,
            1.0,
            -1,
        )
        dark = cv2.GaussianBlur(dark, (0, 0), max(2.0, sw / 10))
        out *= 1.0 - shadow * dark[..., None]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + sw), min(h, y + sh)
    if x1 > x0 and y1 > y0:
        a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None]
        src = pic[y0 - y : y1 - y, x0 - x : x1 - x].astype(np.float32)
        out[y0:y1, x0:x1] = out[y0:y1, x0:x1] * (1.0 - a) + src * a
    return np.clip(out, 0, 255).astype(np.uint8)


def placed_from(start: float, sprite: Sprite, foot: tuple[float, float]) -> Edit:
    """``sprite`` put down at ``foot`` at ``start`` s and left there."""
    return lambda t, image: place(image, sprite, foot) if t >= start else image


# -- light and camera ------------------------------------------------------------------------


def gain(image: np.ndarray, g: float | np.ndarray) -> np.ndarray:
    return np.clip(image.astype(np.float32) * g, 0, 255).astype(np.uint8)


def ramp(t: float, start: float, end: float) -> float:
    """0 before ``start``, 1 after ``end``, linear between."""
    return min(1.0, max(0.0, (t - start) / (end - start)))


def passing_shadow(start: float, end: float, depth: float = 0.45) -> Edit:
    """A soft-edged band of shade (a cloud's or a lorry's shadow) sweeping from left to right."""

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        if not start <= t < end:
            return image
        h, w = image.shape[:2]
        band = w * 0.35
        centre = -band + (w + 2 * band) * (t - start) / (end - start)
        xs = np.arange(w, dtype=np.float32) - centre
        ys = np.arange(h, dtype=np.float32)[:, None]
        # the band leans with the sun; its edges fade over a fifth of its width
        d = np.abs(xs[None, :] + 0.3 * (ys - h / 2))
        cover = np.clip((band / 2 - d) / (band / 5), 0.0, 1.0)
        return gain(image, (1.0 - depth * cover)[..., None])

    return edit


def shake(start: float, end: float, pixels: float = 4.0) -> Edit:
    """The camera shakes on its pole: the picture jitters by up to ``pixels`` from ``start`` to ``end``."""

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        if not start <= t < end:
            return image
        dx = pixels * np.sin(2 * np.pi * 3.1 * t)
        dy = 0.6 * pixels * np.sin(2 * np.pi * 4.3 * t + 1.0)
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        return cv2.warpAffine(image, m, image.shape[1::-1], borderMode=cv2.BORDER_REFLECT)

    return edit


# -- the scenes ------------------------------------------------------------------------------

# what is cut from frame 120 of the shop-front clip (boxes the model gives there)
BENCH: Box = (0.305, 0.195, 0.435, 0.40)  # the public bench, read as a suitcase or bench
PLANTER: Box = (0.315, 0.07, 0.365, 0.185)  # the plant in a doorway
BIKE: Box = (0.212, 0.735, 0.328, 0.95)  # a man pushing a bicycle
MAN: Box = (0.885, 0.44, 0.95, 0.695)  # a man with a folded umbrella and a bag
PAIR: Box = (0.515, 0.095, 0.59, 0.255)  # two people talking, far away

BOX_AT = (0.33, 0.66)  # in the middle of the pedestrian street (zone street-middle)
BAG_AT = (0.76, 0.76)  # beside the black litter bin (zone bin-side)
LOT_BOX_AT = (0.85, 0.55)  # the right of the lot, where no car drives in the clip
BUS: Box = (4 / 810, 229 / 1080, 796 / 810, 728 / 1080)  # the bus in ultralytics' bus.jpg
BUS_AT = (0.30, 0.35)  # top-left of the bus in the lot (zone no-stopping of cam-lot, cam-lot-all)
LAWN_AT = (0.80, 0.40)  # top-left of a person on the lot's green belt (zone lawn of cam-lot-lawn)
PUT_DOWN_S = 6.0  # after the fixtures' learning period and the first seconds of reference


@dataclass(frozen=True)
class Scene:
    """A clip of ``seconds`` made from ``footage`` through ``edit()``; its truth is a file of
    tests/data (``None``: no violation)."""

    what: str  # one line for the README's table
    footage: Footage
    seconds: float
    edit: Callable[[], Edit]
    camera: str
    truth: str | None = None

    def make(self, path: Path) -> Path:
        return write_clip(path, self.footage, self.seconds, self.edit())


def _planter() -> Edit:
    return between(0.0, 99.0, cut(frame_at(STREET, 0), PLANTER, 2.0), (0.08, 0.40))


def _delivery_bike() -> Edit:
    return between(4.0, 6.5, cut(frame_at(STREET, 120), BIKE), (0.04, 0.46))


def _people_chat() -> Edit:
    f = frame_at(STREET, 120)
    man, pair = cut(f, MAN), cut(f, PAIR, 1.6)
    return lambda t, image: paste(paste(image, man, (0.03, 0.42)), pair, (0.13, 0.30)) if t >= 3.5 else image


def _darkening() -> Edit:
    return lambda t, image: gain(image, 1.0 - 0.45 * ramp(t, 5.0, 7.0))


def _brightening() -> Edit:
    return lambda t, image: gain(image, 0.7 + 0.6 * ramp(t, 4.0, 16.0))


def _box_carried() -> Edit:
    """A man carries a box across the street (zone street-middle) from 5 s to 13 s."""
    man = cut(frame_at(STREET, 120), MAN)
    box = cardboard_box(44)

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        if not 5.0 <= t < 13.0:
            return image
        k = (t - 5.0) / 8.0
        x, y = 0.12 + 0.50 * k, 0.45 - 0.05 * k  # top-left of the man, from pavement to pavement
        out = paste(image, man, (x, y))
        return place(out, box, (x + 0.03, y + 0.15), shadow=0.0)  # held at his waist

    return edit


def _lawn_person(end: float) -> Edit:
    """The man of the street clip (scaled to the lot) stands on the lot's green belt from 8 s."""
    return between(8.0, end, cut(frame_at(STREET, 120), MAN, 0.8), LAWN_AT)


def _bus(end: float) -> Edit:
    """The bus of ultralytics' bus.jpg (seen from the side, people in front of it) stops in the
    middle of the lot from 8 s; the model reads it as a bus, and it masks the static-object step."""
    from ultralytics.utils import ASSETS

    image = cv2.imread(str(ASSETS / "bus.jpg"))
    if image is None:
        raise FileNotFoundError(f"{ASSETS / 'bus.jpg'} is missing")
    return between(8.0, end, cut(image, BUS, 0.28), BUS_AT)


def _box_stays() -> Edit:
    return placed_from(PUT_DOWN_S, cardboard_box(60), BOX_AT)


def _bag_stays() -> Edit:
    return placed_from(PUT_DOWN_S, garbage_bag(58), BAG_AT)


def _lot_box_stays() -> Edit:
    return placed_from(8.0, cardboard_box(40, seed=3, top_view=True), LOT_BOX_AT)


NO_VIOLATION: dict[str, Scene] = {
    s.what.split(":")[0]: s
    for s in (
        Scene(
            "planter: a planter on the walkway throughout (learnt as a fixture)",
            STREET,
            20,
            _planter,
            "cam-street-all",
        ),
        Scene(
            "delivery_bike: a delivery bike stops at 4 s and leaves at 6.5 s, before its 4 s dwell",
            STREET,
            20,
            _delivery_bike,
            "cam-street-all",
        ),
        Scene(
            "people_chat: three people stand on the walkway from 3.5 s to the end",
            STREET,
            20,
            _people_chat,
            "cam-street-all",
        ),
        Scene(
            "darkening: the street darkens by 45 % from 5 s to 7 s", STREET, 20, _darkening, "cam-street-all"
        ),
        Scene(
            "brightening: the street brightens slowly from 70 % to 130 % between 4 s and 16 s",
            STREET,
            20,
            _brightening,
            "cam-street-all",
        ),
        Scene(
            "passing_shadow: a soft band of shade (45 %) sweeps across the picture from 6 s to 12 s",
            STREET,
            20,
            lambda: passing_shadow(6.0, 12.0),
            "cam-street-all",
        ),
        Scene(
            "shake: the camera shakes by up to 4 px from 7 s to 10 s and from 13 s to 15 s",
            STREET,
            20,
            lambda: _twice(shake(7.0, 10.0), shake(13.0, 15.0)),
            "cam-street-all",
        ),
        Scene(
            "box_carried: a man carries a box across the street from 5 s to 13 s",
            STREET,
            20,
            _box_carried,
            "cam-street-all",
        ),
        Scene(
            "lot_shake: the lot camera shakes by up to 3 px from 10 s to 20 s",
            LOT,
            30.1,
            lambda: shake(10.0, 20.0, 3.0),
            "cam-lot-all",
        ),
        Scene(
            "lot_bus_passes: a bus stops in the lot from 8 s to 12 s, before its 6 s dwell",
            LOT,
            30.1,
            lambda: _bus(12.0),
            "cam-lot-all",
        ),
        Scene(
            "lawn_person_passes: a man stands on the lot's green belt from 8 s to 11 s, before its 5 s dwell",
            LOT,
            30.1,
            lambda: _lawn_person(11.0),
            "cam-lot-lawn",
        ),
    )
}

VIOLATION: dict[str, Scene] = {
    s.what.split(":")[0]: s
    for s in (
        Scene(
            "box_stays: a cardboard box put down in the middle of the street at 6 s and left there",
            STREET,
            20,
            _box_stays,
            "cam-street-all",
            "street-box-stays.truth.jsonl",
        ),
        Scene(
            "bag_stays: a black garbage bag put down beside the litter bin at 6 s and left there",
            STREET,
            20,
            _bag_stays,
            "cam-street-all",
            "street-bag-stays.truth.jsonl",
        ),
        Scene(
            "lot_box_stays: a box left on the right of the parking lot at 8 s",
            LOT,
            30.1,
            _lot_box_stays,
            "cam-lot-all",
            "lot-box-stays.truth.jsonl",
        ),
    )
}


# a vehicle that stays (illegal_parking), on the camera that also watches static objects
PARKED: dict[str, Scene] = {
    s.what.split(":")[0]: s
    for s in (
        Scene(
            "lot_bus_stops: a bus stops in the middle of the lot at 8 s and stays",
            LOT,
            30.1,
            lambda: _bus(99.0),
            "cam-lot-all",
            "lot-bus-stops.truth.jsonl",
        ),
    )
}

# people on a lawn (lawn_trampling): warned by day, opened without a warning at night
LAWN: dict[str, Scene] = {
    s.what.split(":")[0]: s
    for s in (
        Scene(
            "lawn_person_stays: a man stands on the lot's green belt from 8 s to the end",
            LOT,
            30.1,
            lambda: _lawn_person(99.0),
            "cam-lot-lawn",
            "lot-lawn-person.truth.jsonl",
        ),
    )
}


def _twice(first: Edit, second: Edit) -> Edit:
    return lambda t, image: second(t, first(t, image))
