"""Static objects on synthetic pictures: what appears and stays is reported, light, shake and
people are not; recapture learns the zone again; every state is bounded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest

from detectors import static_objects as so
from detectors.motion import GateDecision
from detectors.pipeline import CameraPipeline, published_labels
from detectors.static_objects import CameraStatic, StaticObject
from detectors.types import Boxes, Frame
from streams.config import Zone, parse_config
from streams.config.camera import StaticObjects
from streams.contract.errors import ConfigError, UsageError
from streams.contract.records import Detection, decode

W, H = 640, 360
OBJECT = (0.45, 0.55, 0.6, 0.72)  # normalised x1, y1, x2, y2 of the box put down
PERSON = (0.4, 0.3, 0.65, 0.8)  # a person standing over it


def ground(seed: int = 1) -> np.ndarray:
    """A textured street-like picture (blurred noise: paving, kerbs, grime)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(50, 210, (H // 6, W // 6, 3), dtype=np.uint8)
    return np.asarray(cv2.resize(coarse, (W, H), interpolation=cv2.INTER_CUBIC), np.uint8)


BASE = ground()


def picture(
    t: float, *, box: bool = False, gain: float = 1.0, offset: float = 0.0, shift: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """The scene at ``t`` (sensor noise seeded by t), with a cardboard box and light and shake."""
    rng = np.random.default_rng(int(t * 1000) + 7)
    image = BASE.astype(np.float32)
    if box:
        x1, y1, x2, y2 = (int(v * s) for v, s in zip(OBJECT, (W, H, W, H), strict=True))
        image[y1:y2, x1:x2] = (60, 110, 160)  # brown cardboard
        image[y1 : y1 + 4, x1:x2] = (40, 80, 120)  # its shaded lid edge
        image[y1:y2, x1 : x1 + 3] = (30, 60, 90)
    image = image * gain + offset + rng.normal(0, 2.0, image.shape)
    out = np.clip(image, 0, 255).astype(np.uint8)
    if shift != (0, 0):
        out = np.roll(out, shift, axis=(0, 1))
    return out


def camera_static(**settings: Any) -> CameraStatic:
    defaults: dict[str, Any] = {"learn_s": 4, "static_after_s": 10}
    zone = Zone(id="z", polygon=[[0.1, 0.3], [0.9, 0.3], [0.9, 0.95], [0.1, 0.95]], categories=["c"])
    return CameraStatic("cam-1", [(zone, StaticObjects(**(defaults | settings)))])


Scene = Callable[[float], tuple[np.ndarray, list[tuple[str, so.BoxT]]]]


def run(cs: CameraStatic, scene: Scene, until: float, step: float = 1.0) -> dict[float, list[StaticObject]]:
    out = {}
    t = 0.0
    while t <= until:
        image, seen = scene(t)
        out[t] = cs.update(image, 1000.0 + t, seen)
        t += step
    return out


def test_an_object_that_stays_is_reported_after_static_after_s_not_before() -> None:
    got = run(camera_static(), lambda t: (picture(t, box=t >= 8), []), 40)
    first = min(t for t, objs in got.items() if objs)
    assert first == 18  # put down at 8, static after 10 s
    assert all(got[t] for t in got if t >= 18)
    ids = {o.track_id for objs in got.values() for o in objs}
    assert len(ids) == 1  # one object, one id while it stays
    obj = got[40][0]
    assert obj.zone_id == "z" and obj.first_seen == 1008.0
    assert obj.box == pytest.approx(OBJECT, abs=0.04)
    assert obj.area == pytest.approx((OBJECT[2] - OBJECT[0]) * (OBJECT[3] - OBJECT[1]), rel=0.3)
    assert 0.5 <= obj.score <= 1.0


def test_nothing_while_learning_and_nothing_on_an_empty_scene() -> None:
    got = run(camera_static(), lambda t: (picture(t), []), 60)
    assert not any(got.values())


def test_the_object_goes_when_it_is_taken_away() -> None:
    got = run(camera_static(), lambda t: (picture(t, box=8 <= t < 30), []), 40)
    assert got[29] and not got[33]


def test_a_person_standing_over_it_is_not_an_object() -> None:
    person = [("person", PERSON)]
    got = run(camera_static(), lambda t: (picture(t, box=t >= 8), person if t >= 8 else []), 40)
    assert not any(got.values())
    # the same box masked as something the zone does not mask counts
    seen = [("bench", PERSON)]
    got = run(camera_static(), lambda t: (picture(t, box=t >= 8), seen if t >= 8 else []), 40)
    assert got[40]


def test_what_a_vehicle_covers_is_not_an_object_even_if_it_changed_before_the_vehicle_was_seen() -> None:
    # the change is seen one frame before the model finds the vehicle over it (a bus pulling in);
    # while the bus stands there the blocks it covers are its, however long; when it leaves, what
    # stays is an object
    bus = [("bus", PERSON)]
    got = run(camera_static(), lambda t: (picture(t, box=t >= 8), bus if 9 <= t < 40 else []), 60)
    assert not any(objs for t, objs in got.items() if t < 40)
    assert got[40] and got[60]


def test_a_person_standing_through_the_learning_leaves_no_ghost() -> None:
    def scene(t: float) -> tuple[np.ndarray, list[tuple[str, so.BoxT]]]:
        if t >= 6:  # the person walks off after the learning period
            return picture(t), []
        image = picture(t)
        image[110:290, 280:400] = (30, 30, 60)  # a dark coat where the pavement will show
        return image, [("person", (280 / W, 110 / H, 400 / W, 290 / H))]

    assert not any(run(camera_static(), scene, 40).values())


@pytest.mark.parametrize(("gain", "offset"), [(0.6, 0.0), (1.4, 0.0), (1.0, 40.0), (0.8, -20.0)])
def test_a_global_change_of_light_is_nothing(gain: float, offset: float) -> None:
    # the light changes at once, then stays (the worst case for a background)
    got = run(
        camera_static(),
        lambda t: (picture(t, gain=gain if t >= 8 else 1, offset=offset if t >= 8 else 0), []),
        40,
    )
    assert not any(got.values())


@pytest.mark.parametrize(("factor", "soft_px"), [(0.8, 0), (0.7, 9), (0.55, 25)])
def test_a_shadow_that_falls_and_stays_is_nothing(factor: float, soft_px: int) -> None:
    """A shadow (an awning, a parked lorry's) darkens part of the zone by ``factor`` with an edge
    blurred over about ``soft_px``: no object. (A hard-edged shadow darker than about 0.7 leaves
    strips along its edge: README, limits.)"""
    shade = np.zeros((H, W), np.float32)
    shade[100:300, 150:450] = 1.0
    if soft_px:
        shade = cv2.GaussianBlur(shade, (0, 0), soft_px)
    gain = (1.0 - (1.0 - factor) * shade)[..., None]

    def scene(t: float) -> tuple[np.ndarray, list[tuple[str, so.BoxT]]]:
        image = picture(t)
        if t >= 8:
            image = np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        return image, []

    assert not any(run(camera_static(), scene, 40).values())


def test_slow_light_change_is_followed_and_the_box_still_found() -> None:
    got = run(camera_static(), lambda t: (picture(t, box=t >= 20, gain=1.0 - 0.006 * t), []), 60)
    assert not any(objs for t, objs in got.items() if t < 30) and got[60]


@pytest.mark.parametrize("shift", [(0, 3), (2, -2), (-3, 1)])
def test_a_shake_of_a_few_pixels_is_nothing_and_does_not_hide_the_object(shift: tuple[int, int]) -> None:
    shaky: Scene = lambda t: (picture(t, shift=shift if int(t) % 2 else (0, 0)), [])  # noqa: E731
    assert not any(run(camera_static(), shaky, 40).values())
    boxed: Scene = lambda t: (picture(t, box=t >= 8, shift=shift if int(t) % 2 else (0, 0)), [])  # noqa: E731
    got = run(camera_static(), boxed, 40)
    assert all(got[t] for t in got if t >= 18)


def test_a_large_move_or_a_scene_change_is_skipped_then_learnt_again() -> None:
    cs = camera_static(relearn_after_s=10)
    other = ground(seed=2)  # the camera was turned: another scene
    got = run(cs, lambda t: (picture(t) if t < 8 else other, []), 60)
    assert not any(got.values())
    assert not cs.zones["z"].learning  # learnt the new scene


def test_recapture_makes_the_object_background() -> None:
    cs = camera_static()
    got = run(cs, lambda t: (picture(t, box=t >= 8), []), 30)
    assert got[30]
    cs.recapture("z", at=1031.0)  # the operator: "this zone is clean now" (the box is accepted)
    later = {t: cs.update(picture(t, box=True), 1000.0 + t, []) for t in np.arange(31.0, 60.0)}
    assert not any(later.values())
    # something new is still found against the new background
    extra = picture(60, box=True)
    extra[130:180, 100:170] = (20, 20, 20)  # a black bag of rubbish
    news = [cs.update(extra, 1000.0 + t, []) for t in np.arange(60.0, 75.0)]
    assert news[-1] and news[-1][0].box[0] < 0.3


def test_recapture_of_all_zones_and_of_an_unknown_zone() -> None:
    cs = camera_static()
    run(cs, lambda t: (picture(t, box=t >= 8), []), 30)
    cs.recapture(None, at=0.0)
    assert cs.update(picture(31, box=True), 1031.0, []) == [] and cs.zones["z"].learning
    with pytest.raises(
        UsageError, match=r"camera cam-1 has no zone 'nope' that counts static_object \(those that do: z\)"
    ):
        cs.recapture("nope", at=0.0)


def test_recapture_ignores_frames_taken_before_it() -> None:
    cs = camera_static()
    run(cs, lambda t: (picture(t, box=t >= 8), []), 30)
    cs.recapture("z", at=1100.0)
    for t in range(31, 40):  # frames captured before the request's time teach nothing
        assert cs.update(picture(t, box=True), 1000.0 + t, []) == []
    assert cs.zones["z"].learning


def test_recapture_from_another_thread() -> None:
    cs = camera_static()
    run(cs, lambda t: (picture(t, box=t >= 8), []), 30)
    threads = [threading.Thread(target=cs.recapture, args=("z", 1031.0)) for _ in range(200)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(cs._requests) <= so.MAX_REQUESTS  # bounded however many arrive
    cs.update(picture(31, box=True), 1031.0, [])
    assert cs.zones["z"].learning and cs._requests == []


def test_objects_per_zone_and_learning_pictures_are_bounded() -> None:
    cs = camera_static(max_objects=3, min_area=0.001, learn_s=30)
    zone = cs.zones["z"]
    for t in range(0, 31):
        cs.update(picture(t), 1000.0 + t, [])
        assert len(zone._stack) <= so.LEARN_FRAMES
    litter = picture(31)
    for i in range(8):  # eight small bags apart from each other
        x, y = 80 + 60 * i, 150 + 20 * (i % 3)
        litter[y : y + 24, x : x + 24] = (15, 15, 15)
    got = [cs.update(litter, 1000.0 + t, []) for t in range(31, 50)]
    assert len(got[-1]) == 3  # the three largest, never more
    assert len(zone._tracks) <= 3


def test_an_object_outside_the_zone_is_not_reported() -> None:
    zone = Zone(id="left", polygon=[[0.0, 0.3], [0.3, 0.3], [0.3, 0.95], [0.0, 0.95]], categories=["c"])
    cs = CameraStatic("cam-1", [(zone, StaticObjects(learn_s=4, static_after_s=10))])
    assert not any(run(cs, lambda t: (picture(t, box=t >= 8), []), 40).values())


def test_masked_blocks_widen_boxes_by_the_margin() -> None:
    grid = so.masked_blocks([(0.5, 0.5, 0.6, 0.6)], 320, 160, 0.0)
    assert grid.shape == (20, 40) and grid.sum() == 4 * 2  # 32 x 16 px: 4 x 2 blocks
    wide = so.masked_blocks([(0.5, 0.5, 0.6, 0.6)], 320, 160, 0.5)
    assert wide.sum() > grid.sum() and wide[grid].all()
    assert not so.masked_blocks([], 320, 160, 0.5).any()


# -- in the camera pipeline --------------------------------------------------------------------

CONFIG = """
version: 1
site: {name: t}
categories:
  out_of_store_business: {code: "200504", name: 店外经营, labels: [chair]}
  exposed_garbage: {code: "200102", name: 暴露垃圾, labels: [static_object]}
grids: [{id: g, unit: u}]
units: [{id: u}]
cameras:
  - id: cam-1
    source: x.mp4
    location: {address: a}
    grid: g
    static_objects: {learn_s: 4, static_after_s: 10}
    zones:
      - {id: corner, categories: [exposed_garbage],
         polygon: [[0.1, 0.3], [0.9, 0.3], [0.9, 0.95], [0.1, 0.95]]}
      - {id: walkway, polygon: [[0, 0], [1, 0], [1, 0.3], [0, 0.3]], categories: [out_of_store_business]}
  - id: cam-2
    source: y.mp4
    location: {address: b}
    grid: g
    zones:
      - {id: walkway, polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], categories: [out_of_store_business]}
"""


class NoTracker:
    def update(self, boxes: Boxes) -> list[int | None]:
        return [None] * len(boxes)


def test_the_pipeline_publishes_static_objects_with_zones_area_and_first_seen() -> None:
    cfg = parse_config(CONFIG)
    pipe = CameraPipeline(cfg.cameras[0], cfg, NoTracker(), model_name="yolo11n")
    assert pipe.static is not None and list(pipe.static.zones) == ["corner"]
    assert CameraPipeline(cfg.cameras[1], cfg, NoTracker(), model_name="yolo11n").static is None
    records = []
    for t in range(0, 25):
        frame = Frame("cam-1", t, picture(t, box=t >= 8), 1_790_000_000.0 + t, 0.0, float(t))
        rec = pipe.record(
            frame, Boxes.empty(), inference_ms=1.0, decision=GateDecision(True, 0, "recheck"), now=0
        )
        records.append(decode(Detection, rec.to_bytes()))
    assert all(not r.objects for r in records[:18])
    [obj] = records[-1].objects
    assert obj.label == "static_object" and obj.zones == ["corner"] and obj.track_id is not None
    assert obj.model_extra is not None
    assert obj.model_extra["first_seen"] == "2026-09-21T14:13:28.000Z" and obj.model_extra["area"] > 0.01
    pipe.static.recapture("corner", 1_790_000_030.0)  # what the board's button calls


def test_published_labels_ask_the_model_for_the_masks_not_for_static_object() -> None:
    cfg = parse_config(CONFIG)
    assert published_labels(cfg) == {"chair", "person", "bicycle", "car", "motorcycle", "bus", "truck"}


def test_zone_settings_without_a_static_category_are_refused() -> None:
    bad = CONFIG.replace(
        "categories: [out_of_store_business]}\n  - id: cam-2",
        "categories: [out_of_store_business], static_objects: {learn_s: 3}}\n  - id: cam-2",
    )
    with pytest.raises(
        ConfigError, match="zone walkway has static_objects settings, but none of its categories"
    ):
        parse_config(bad)
    with pytest.raises(ConfigError, match="sensitivity"):
        parse_config(CONFIG.replace("static_after_s: 10}", "static_after_s: 10, sensitivity: 2}"))


def test_the_bench_times_every_frame_after_the_learning_round() -> None:
    from detectors.bench_static import measure

    cs = camera_static(learn_s=1)
    times = measure(cs, [picture(t) for t in range(4)], rounds=2)
    assert len(times) == 8 and all(ms > 0 for ms in times)
    assert not cs.zones["z"].learning


def test_a_failing_static_step_costs_its_objects_not_the_record(caplog: pytest.LogCaptureFixture) -> None:
    cfg = parse_config(CONFIG)
    pipe = CameraPipeline(cfg.cameras[0], cfg, NoTracker(), model_name="yolo11n")

    def broken(*_: object) -> list[StaticObject]:
        raise ValueError("boom")

    pipe.static.update = broken  # type: ignore[method-assign,union-attr]
    frame = Frame("cam-1", 1, picture(0), 1_790_000_000.0, 0.0, 0.0)
    seen = Boxes(
        np.array([[10, 10, 50, 50]], np.float32),
        np.array([0.9], np.float32),
        np.zeros(1, np.float32),
        ("chair",),
    )
    rec = pipe.record(frame, seen, inference_ms=1.0, decision=GateDecision(True, 0, "recheck"), now=0)
    assert [o.label for o in rec.objects] == ["chair"] and pipe.stats.static_errors == 1
    assert "cam-1: static-object step failed on frame 1" in caplog.text


def test_a_clock_that_goes_back_does_not_postpone_an_object() -> None:
    cs = camera_static()
    run(cs, lambda t: (picture(t, box=t >= 8), []), 30)
    # the clock steps back an hour: the box, there all along, is still reported at once
    assert cs.update(picture(31, box=True), 1000.0 - 3600.0, [])


# -- camera shift: measured on the picture's middle; blocks shifted out of it are not compared -------

WIDE = np.asarray(
    cv2.resize(
        np.random.default_rng(5).integers(50, 210, (H // 6, (W + 96) // 6, 3), dtype=np.uint8),
        (W + 96, H),
        interpolation=cv2.INTER_CUBIC,
    ),
    np.uint8,
)  # the scene beyond the picture's right edge, where a panning camera goes


def drifting(t: float, px_per_s: float, *, box: bool = False) -> np.ndarray:
    """The camera pans right by ``px_per_s`` (sub-pixel steps): the scene slides left and new
    ground comes in at the right edge."""
    rng = np.random.default_rng(int(t * 1000) + 11)
    scene = WIDE.astype(np.float32)
    if box:
        x1, y1, x2, y2 = (int(v * s) for v, s in zip(OBJECT, (W, H, W, H), strict=True))
        scene[y1:y2, x1:x2] = (60, 110, 160)
        scene[y1 : y1 + 4, x1:x2] = (40, 80, 120)
    pan = np.array([[1.0, 0.0, -px_per_s * t], [0.0, 1.0, 0.0]], np.float32)
    view = cv2.warpAffine(scene, pan, (W, H), flags=cv2.INTER_LINEAR)
    return np.clip(view + rng.normal(0, 2.0, view.shape), 0, 255).astype(np.uint8)


def right_zone_static(**settings: Any) -> CameraStatic:
    """A zone that reaches the picture's right edge (where a drift brings in new ground)."""
    defaults: dict[str, Any] = {"learn_s": 4, "static_after_s": 10}
    zone = Zone(id="z", polygon=[[0.3, 0.3], [1.0, 0.3], [1.0, 0.95], [0.3, 0.95]], categories=["c"])
    return CameraStatic("cam-1", [(zone, StaticObjects(**(defaults | settings)))])


def test_a_slow_drift_leaves_no_object_in_the_strip_it_uncovers() -> None:
    # 0.3 px/s of 640: 1.5 % of the width in 32 s (the lot footage's drift), 6 px at 320 by 40 s
    got = run(right_zone_static(), lambda t: (drifting(t, 0.3), []), 40)
    assert not any(got.values())


def test_a_slow_drift_still_finds_the_object() -> None:
    got = run(right_zone_static(), lambda t: (drifting(t, 0.3, box=t >= 8), []), 40)
    assert all(got[t] for t in got if t >= 18)
    assert got[40][0].box[2] < 0.7  # the box, not the edge strip


def test_shifted_crop_marks_the_blocks_read_outside_the_picture() -> None:
    grey = np.arange(64 * 48, dtype=np.float32).reshape(48, 64)
    crop, outside = so.shifted_crop(grey, (1, 5, 4, 8), 0, 0)  # rows 8:40, columns 32:64
    assert crop.shape == (32, 32) and not outside.any() and crop[0, 0] == grey[8, 32]
    crop, outside = so.shifted_crop(grey, (1, 5, 4, 8), 3, -1)  # 3 px right, 1 px up
    assert crop.shape == (32, 32) and crop[0, 0] == grey[7, 35]
    assert outside[:, -1].all() and not outside[:, :-1].any()  # the last column of blocks ran off
    crop, outside = so.shifted_crop(grey, (0, 6, 0, 8), -2, -9)
    assert outside[:2].all() and outside[:, 0].all() and not outside[2:, 1:].any()


SMALL_ZONE = [[0.62, 0.55], [0.82, 0.55], [0.82, 0.77], [0.62, 0.77]]  # 0.20 x 0.22 of the frame
SMALL_BOX = (0.68, 0.6, 0.77, 0.72)


def small_zone_picture(t: float, *, box: bool) -> np.ndarray:
    image = picture(t)
    if box:
        x1, y1, x2, y2 = (int(v * s) for v, s in zip(SMALL_BOX, (W, H, W, H), strict=True))
        image[y1:y2, x1:x2] = (60, 110, 160)
        image[y1 : y1 + 3, x1:x2] = (40, 80, 120)
    return image


def test_a_small_zone_settles_and_finds_its_object_on_a_still_camera() -> None:
    """The shift is the camera's, measured on the picture's middle: the object filling much of a
    small zone's crop does not read as a shake of it."""
    zone = Zone(id="small", polygon=SMALL_ZONE, categories=["c"])
    cs = CameraStatic("cam-1", [(zone, StaticObjects(learn_s=4, static_after_s=10, min_area=0.001))])
    got = run(cs, lambda t: (small_zone_picture(t, box=t >= 8), []), 40)
    assert not any(objs for t, objs in got.items() if t < 18)
    assert all(got[t] for t in got if t >= 18)
    box = got[40][0].box  # (the zone's rows are few: the joined box may reach its edges)
    assert box[0] == pytest.approx(SMALL_BOX[0], abs=0.03) and box[2] == pytest.approx(SMALL_BOX[2], abs=0.03)
    assert box[1] <= SMALL_BOX[1] + 0.03 and box[3] >= SMALL_BOX[3] - 0.03
    assert cs.last_shift[320] == (0.0, 0.0) or max(map(abs, cs.last_shift[320])) < 0.5


def test_the_camera_shift_ignores_people_walking_and_sub_pixel_noise() -> None:
    cs = camera_static()
    for t in range(0, 6):
        cs.update(picture(t), 1000.0 + t, [])
    image = picture(6)
    image[60:300, 40:200] = (30, 30, 60)  # a large dark coat passing
    cs.update(image, 1006.0, [("person", (40 / W, 60 / H, 200 / W, 300 / H))])
    dx, dy = cs.last_shift[320]
    assert abs(dx) < 0.5 and abs(dy) < 0.5
    cs.update(picture(7, shift=(2, 4)), 1007.0, [])  # 4 px right, 2 down at 640: 2 and 1 at 320
    dx, dy = cs.last_shift[320]
    assert round(dx) == 2 and round(dy) == 1


def test_an_object_found_at_a_zones_lower_edge_counts_in_that_zone() -> None:
    """The zone compares the blocks whose centres it holds, so the box (whole blocks) may end
    below its polygon: the box's foot is outside, yet the object counts in the zone that found it
    (and only there: the walkway above holds neither its foot nor found it)."""
    edge = CONFIG.replace("[0.9, 0.95], [0.1, 0.95]", "[0.9, 0.69], [0.1, 0.69]")
    cfg = parse_config(edge)
    pipe = CameraPipeline(cfg.cameras[0], cfg, NoTracker(), model_name="yolo11n")
    objects = []
    for t in range(0, 25):
        frame = Frame("cam-1", t, picture(t, box=t >= 8), 1_790_000_000.0 + t, 0.0, float(t))
        objects = pipe.objects(frame, Boxes.empty())
    [obj] = objects
    # its foot lies below the zone's lower edge: the last block row inside ends at row 128 of the
    # 180-row working copy (normalised by the copy's height before it is cut to 176 rows)
    assert obj.box[3] == pytest.approx(128 / 180, abs=1e-4) and obj.box[3] > 0.69
    assert obj.label == "static_object" and obj.zones == ["corner"]


def test_measuring_a_shift_leaves_the_pictures_as_they_were() -> None:
    """OpenCV windows a view it is given in place: a crop of the working copy would come back
    darkened towards its edges (and then be compared)."""
    grey = so.working_copy(picture(0), 320)[0]
    before = grey.copy()
    reference = grey[40:120, 64:192].copy()
    so.shift_between(reference, grey[40:120, 64:192])
    so.shift_between(grey[8:168], grey[8:168])
    assert np.array_equal(grey, before)
