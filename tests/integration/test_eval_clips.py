"""`citywatch eval` with the real model on the shared clips and on clips composited onto them.

The composited clips are made at test time into tmp (never committed): pictures cut from the
shared shop-front clip and pasted into its walkway zone. Each no-violation clip must give no
false warning; the bench put out after the learning period must be found (recall 1). The
clips are 10 s at 10 fps and 960x540, sampled at 2 fps: about 20 model calls each.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from streams.dev.eval_clip import clip_frames

from ..conftest import MEDIA, REPO

cv2 = pytest.importorskip("cv2")

pytestmark = [pytest.mark.integration, pytest.mark.model]

DATA = REPO / "tests" / "data"
CONFIG = DATA / "eval-cameras.yaml"
STREET = MEDIA / "street-shopfronts.mp4"
LOT = MEDIA / "parking-lot.mp4"
NONE = DATA / "no-violation.truth.jsonl"
SIZE = (960, 540)  # the model sees 640 px either way
EVERY = 3  # 30 fps -> 10 fps

Box = tuple[float, float, float, float]  # normalised x1, y1, x2, y2
Edit = Callable[[float, np.ndarray], np.ndarray]

# what is cut from frame 120 of the shop-front clip (boxes the model gives there)
BENCH: Box = (0.305, 0.195, 0.435, 0.40)  # the public bench, read as a suitcase or bench
PLANTER: Box = (0.315, 0.07, 0.365, 0.185)  # the plant in a doorway
BIKE: Box = (0.212, 0.735, 0.328, 0.95)  # a man pushing a bicycle
MAN: Box = (0.885, 0.44, 0.95, 0.695)  # a man with a folded umbrella and a bag
PAIR: Box = (0.515, 0.095, 0.59, 0.255)  # two people talking, far away


def result(cmd_out: str) -> dict[str, str]:
    last = cmd_out.strip().splitlines()[-1]
    assert last.startswith("RESULT "), cmd_out[-3000:]
    return dict(kv.split("=", 1) for kv in last.split()[1:])


def citywatch_eval(camera: str, clip: Path, truth: Path) -> tuple[dict[str, str], str]:
    if not clip.is_file():
        pytest.skip(f"footage {clip} is missing")
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "streams.cli", "--log-level", "WARNING", "eval"),
            *("--config", str(CONFIG), "--camera", camera, "--clip", str(clip), "--truth", str(truth)),
        ],
        capture_output=True,
        text=True,
        timeout=400,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return result(proc.stdout), proc.stdout


def frame_at(index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(STREET))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = cap.read()
    finally:
        cap.release()
    assert ok, f"cannot read frame {index} of {STREET}"
    return np.ascontiguousarray(cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA))


def cut(image: np.ndarray, box: Box, scale: float = 1.0) -> np.ndarray:
    w, h = SIZE
    x1, y1, x2, y2 = (int(v * s) for v, s in zip(box, (w, h, w, h), strict=True))
    crop = image[y1:y2, x1:x2]
    if scale != 1.0:
        crop = cv2.resize(crop, (int(crop.shape[1] * scale), int(crop.shape[0] * scale)))
    return np.ascontiguousarray(crop)


def paste(image: np.ndarray, crop: np.ndarray, at: tuple[float, float]) -> np.ndarray:
    w, h = SIZE
    x, y = int(at[0] * w), int(at[1] * h)
    out = image.copy()
    out[y : y + crop.shape[0], x : x + crop.shape[1]] = crop
    return out


def make_clip(path: Path, edit: Edit) -> Path:
    """The shop-front clip at 10 fps and 960x540, each picture through ``edit(t, picture)``."""
    if not STREET.is_file():
        pytest.skip(f"shared footage {STREET} is missing")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0 / EVERY, SIZE)
    assert writer.isOpened(), f"cannot write {path}"
    try:
        for t, image in street_frames():
            writer.write(edit(t, image))
    finally:
        writer.release()
    return path


def street_frames() -> Iterator[tuple[float, np.ndarray]]:
    for i, (t, image) in enumerate(clip_frames(STREET)):
        if i % EVERY == 0:
            yield t, cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA)


def between(start: float, end: float, crop: np.ndarray, at: tuple[float, float]) -> Edit:
    return lambda t, image: paste(image, crop, at) if start <= t < end else image


def no_violation_scenes() -> dict[str, Callable[[], Edit]]:
    def planter() -> Edit:  # a planter stands on the walkway throughout (learnt as a fixture)
        return between(0.0, 99.0, cut(frame_at(0), PLANTER, 2.0), (0.08, 0.40))

    def delivery_bike() -> Edit:  # stops on the walkway at 4 s and leaves at 6.5 s, before the 4 s dwell
        return between(4.0, 6.5, cut(frame_at(120), BIKE), (0.04, 0.46))

    def people_chat() -> Edit:  # from 3.5 s to the end, three people stand still on the walkway
        f = frame_at(120)
        man, pair = cut(f, MAN), cut(f, PAIR, 1.6)
        return lambda t, image: (
            paste(paste(image, man, (0.03, 0.42)), pair, (0.13, 0.30)) if t >= 3.5 else image
        )

    def light_change() -> Edit:  # the street darkens from 5 s to 7 s (a cloud, dusk) and stays dark
        def edit(t: float, image: np.ndarray) -> np.ndarray:
            gain = 1.0 - 0.45 * min(1.0, max(0.0, (t - 5.0) / 2.0))
            return np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)

        return edit

    return {
        "planter": planter,
        "delivery_bike": delivery_bike,
        "people_chat": people_chat,
        "light_change": light_change,
    }


@pytest.mark.parametrize(
    ("clip", "camera", "truth"),
    [
        (STREET, "cam-street", DATA / "street-shopfronts.truth.jsonl"),
        (LOT, "cam-lot", DATA / "parking-lot.truth.jsonl"),
    ],
    ids=["street-shopfronts", "parking-lot"],
)
def test_the_shared_clips_give_no_false_alarm(clip: Path, camera: str, truth: Path) -> None:
    got, out = citywatch_eval(camera, clip, truth)
    assert got == {
        "precision": "n/a",
        "recall": "n/a",
        "false_per_hour": "0",
        "false_warnings_per_camera_hour": "0",
    }, out


def test_without_learnt_fixtures_the_street_furniture_is_a_false_warning() -> None:
    """What the fixtures prevent, measured: the bench and the planter warn the shop (the metric can fail)."""
    got, out = citywatch_eval("cam-street-nolearn", STREET, DATA / "street-shopfronts.truth.jsonl")
    assert float(got["false_warnings_per_camera_hour"]) > 0, out
    assert got["precision"] == "0", out


@pytest.mark.parametrize("scene", list(no_violation_scenes()))
def test_no_violation_clips_give_no_false_warning(tmp_path: Path, scene: str) -> None:
    clip = make_clip(tmp_path / f"{scene}.mp4", no_violation_scenes()[scene]())
    got, out = citywatch_eval("cam-street", clip, NONE)
    assert got["false_warnings_per_camera_hour"] == "0", out
    assert got["false_per_hour"] == "0", out
    assert got["recall"] == "n/a", out


def test_a_bench_put_out_after_the_learning_period_is_found(tmp_path: Path) -> None:
    bench = cut(frame_at(120), BENCH)
    clip = make_clip(tmp_path / "bench-put-out.mp4", between(3.5, 99.0, bench, (0.04, 0.36)))
    got, out = citywatch_eval("cam-street", clip, DATA / "street-bench-put-out.truth.jsonl")
    assert got == {
        "precision": "1",
        "recall": "1",
        "false_per_hour": "0",
        "false_warnings_per_camera_hour": "0",
    }, out
    assert "LOUDSPEAKER" in out, out


def test_the_planter_is_seen_when_nothing_is_learnt(tmp_path: Path) -> None:
    """The planter clip can fail: without a learning period the pasted planter is counted as goods."""
    clip = make_clip(tmp_path / "planter.mp4", no_violation_scenes()["planter"]())
    got, out = citywatch_eval("cam-street-nolearn", clip, NONE)
    assert float(got["false_warnings_per_camera_hour"]) > 0, out
    assert "potted plant" in out, out


def test_a_delivery_bike_that_stays_is_found(tmp_path: Path) -> None:
    """The delivery-bike clip can fail: the same bike, left on the walkway, is a bike-parking violation."""
    bike = cut(frame_at(120), BIKE)
    clip = make_clip(tmp_path / "bike-stays.mp4", between(4.0, 99.0, bike, (0.04, 0.46)))
    truth = tmp_path / "bike-stays.truth.jsonl"
    truth.write_text(
        '{"zone_id": "shopfront-left", "category": "bike_parking", "start_s": 4.0, "end_s": 10.0}\n',
        encoding="utf-8",
    )
    got, out = citywatch_eval("cam-street", clip, truth)
    assert got["recall"] == "1", out
    assert got["false_warnings_per_camera_hour"] == "0", out
