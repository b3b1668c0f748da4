"""Per-label confidence and "warn only when sure": thresholds in the rules, frames seen in the
violation, a review instead of a warning when the camera saw too little (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from streams.config import parse_config
from streams.config.models import DEFAULT_MIN_SCORES, Category
from streams.contract.records import Violation, decode
from streams.contract.timeutil import from_iso
from streams.logic import incidents as inc
from streams.logic.rules import CameraState, Sighting, camera_rules, step

from ...config_support import streams_config
from .test_rules import BASE, every, rules

T0 = from_iso("2026-05-26T02:00:00.000Z")
CTX = inc.ConfigIndex(streams_config())


def category(**kw: Any) -> Category:
    return Category(code="200504", name="店外经营", labels=["suitcase", "bench", "chair", "goods"], **kw)


def test_defaults_reflect_street_confusions_and_overrides_win() -> None:
    cat = category()
    assert cat.min_score_of("suitcase") == DEFAULT_MIN_SCORES["suitcase"] > 0.31  # a bench read as one
    assert cat.min_score_of("goods") == 0.25  # a custom label: the category's min_score
    assert category(min_score=0.6).min_score_of("suitcase") == 0.6  # never below the category's
    assert category(min_scores={"suitcase": 0.3}).min_score_of("suitcase") == 0.3
    assert list(category().effective_min_scores()) == ["suitcase", "bench", "chair", "goods"]


def test_a_per_label_threshold_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError, match="less than or equal to 1"):
        category(min_scores={"suitcase": 1.5})


def scored(label: str, score: float) -> list[Sighting]:
    return [Sighting(label, ["storefront"], score)]


def events(objs: list[Sighting], **over: Any) -> list[Any]:
    r = rules(labels=frozenset({"bench", "suitcase"}), min_scores={"suitcase": 0.5, "bench": 0.35}, **over)
    state = CameraState()
    out = []
    for seq, (dt, frame_objs) in enumerate(every(0, 15, objs)):
        out += step(state, r, BASE + dt, seq, frame_objs).events
    return out


def test_a_sighting_below_its_label_threshold_does_not_count() -> None:
    assert events(scored("suitcase", 0.31)) == []
    assert [e.state for e in events(scored("suitcase", 0.55))] == ["started"]
    assert [e.state for e in events(scored("bench", 0.4))] == ["started"]


def test_the_violation_carries_frames_seen_and_best_scores() -> None:
    r = rules(labels=frozenset({"bench"}), min_scores={"bench": 0.35}, inertia=1, gap_s=4.0, clear_s=6.0)
    state = CameraState()
    # dwell 10 s: seen at 0, 3, 6, 9, 12 (the gaps are tolerated), judged on every frame between
    frames = [(float(t), scored("bench", 0.4 + t / 100) if t % 3 == 0 else []) for t in range(13)]
    got = []
    for seq, (dt, objs) in enumerate(frames):
        got += step(state, r, BASE + dt, seq, objs).events
    [started] = got
    assert (started.state, started.frames_seen, started.frames) == ("started", 5, 13)
    assert started.scores == (("bench", 0.52),)


def test_camera_rules_take_the_effective_thresholds() -> None:
    cfg = streams_config()
    for cr in camera_rules(cfg).values():
        for rule in cr.rules:
            cat = cfg.categories[rule.category]
            assert dict(rule.min_scores) == {lab: cat.min_score_of(lab) for lab in rule.labels}


def test_violation_record_keeps_the_counts() -> None:
    v = Violation(
        camera_id="c",
        zone_id="z",
        category="k",
        state="started",
        since="2026-05-26T02:00:00.000Z",
        at="2026-05-26T02:00:04.000Z",
        frames_seen=2,
        frames=9,
        scores={"suitcase": 0.31},
    )
    back = decode(Violation, v.to_bytes())
    assert (back.frames_seen, back.frames, back.scores) == (2, 9, {"suitcase": 0.31})
    old = decode(
        Violation,
        b'{"v":1,"camera_id":"c","zone_id":"z","category":"k","state":"started",'
        b'"since":"2026-05-26T02:00:00.000Z","at":"2026-05-26T02:00:04.000Z"}',
    )
    assert old.frames_seen is None


def violation(book: inc.Book, **kw: Any) -> list[inc.Effect]:
    params: dict[str, Any] = {
        "camera_id": "cam-a",
        "zone_id": "storefront",
        "category": "out_of_store_business",
        "state": "started",
        "since": T0,
        "at": T0 + 2,
        "labels": ["suitcase"],
    }
    params.update(kw)
    return inc.on_violation(book, CTX, **params)


def test_too_few_frames_opens_for_review_without_a_warning() -> None:
    need = CTX.cfg.categories["out_of_store_business"].warn_min_frames
    book = inc.Book()
    effects = violation(book, frames_seen=need - 1, frames=8, scores={"suitcase": 0.31})
    assert "warn" not in [e.kind for e in effects]
    alert = [e.value for e in effects if e.kind == "alert"][-1]
    assert alert["review"] is True and alert["state"] == "open"
    assert (alert["frames_seen"], alert["frames"], alert["scores"]) == (need - 1, 8, {"suitcase": 0.31})
    assert alert["history"][-1]["note"] == (
        f"no warning: needs review: seen in {need - 1} of 8 frames (a warning needs {need})"
    )
    # grace runs out: no case is dispatched until an operator confirms
    [incident] = book.open.values()
    assert incident.grace_until is not None
    effects = inc.on_tick(book, CTX, incident.grace_until + 1)
    assert "dispatch" not in [e.kind for e in effects]
    assert incident.state == "open" and incident.history[-1]["note"].startswith("grace over; needs review")
    effects = (
        inc.on_operator(
            book, CTX, incident_id=incident.incident_id, action="dispatch", by="op", reason="", at=T0 + 900
        )
        or []
    )
    assert "dispatch" in [e.kind for e in effects]


@pytest.mark.parametrize("frames_seen", [None, 3, 12])
def test_enough_frames_or_an_uncounting_producer_warn_as_before(frames_seen: int | None) -> None:
    book = inc.Book()
    effects = violation(book, frames_seen=frames_seen, frames=12 if frames_seen else None)
    assert "warn" in [e.kind for e in effects]
    alert = [e.value for e in effects if e.kind == "alert"][-1]
    assert alert["review"] is False and alert["frames_seen"] == frames_seen


def test_review_survives_the_table() -> None:
    book = inc.Book()
    violation(book, frames_seen=1, frames=8, scores={"suitcase": 0.31})
    again = inc.Book.from_json(book.to_json())
    [incident] = again.open.values()
    assert incident.review and incident.frames_seen == 1 and incident.scores == {"suitcase": 0.31}


def test_check_prints_the_effective_thresholds() -> None:
    from streams.commands.check import summary

    text = summary(
        parse_config(
            """
version: 1
site: {name: t}
categories:
  out_of_store_business: {code: "200504", name: 店外经营, labels: [suitcase, bench], min_scores: {bench: 0.6},
                          warn_min_frames: 4}
  noise: {code: "300001", name: 噪声}
"""
        ),
        "cameras.yaml",
    )
    assert "  out_of_store_business    suitcase 0.50  bench 0.60  warn>=4 frames" in text.splitlines()
    assert "noise " not in text.split("thresholds")[1]
    assert "fixtures  state/fixtures  min_iou 0.5  learning: none" in text.splitlines()


def test_a_threshold_for_a_label_the_category_lacks_is_a_config_error() -> None:
    from streams.contract.errors import ConfigError

    text = """
version: 1
site: {name: t}
categories:
  out_of_store_business: {code: "200504", name: 店外经营, labels: [suitcase, bench],
                          min_scores: {suitcse: 0.6}}
"""
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    [problem] = err.value.problems
    assert problem.line == 6 and problem.path == "categories.out_of_store_business.min_scores.suitcse"
    assert "not one of its labels (did you mean suitcase?)" in problem.message
