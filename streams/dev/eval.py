"""Scoring of a run against labelled footage: pure, no clip, no model.

Truth is a JSON-lines file, one violation a line, in seconds from the clip's start::

    {"zone_id": "shopfront-left", "category": "out_of_store_business", "start_s": 3.5, "end_s": 10}

An incident of that zone and category opened inside ``[start_s, end_s + HIT_WINDOW_S]``
is a hit; every other opened incident is a false alarm, and a false alarm that got a
loudspeaker warning (not one left for review) is a false warning, the worst outcome.
An empty truth file says the clip holds no violation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streams.contract.errors import UsageError

HIT_WINDOW_S = 10.0  # an incident may open this long after the violation's end and still be its hit
TRUTH_KEYS = ("zone_id", "category", "start_s", "end_s")


@dataclass(frozen=True)
class Truth:
    """A violation present in ``[start_s, end_s]`` (seconds from the clip's start)."""

    zone_id: str
    category: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Opened:
    """An incident the run opened, at ``opened_s`` from the clip's start."""

    zone_id: str
    category: str
    opened_s: float
    warned: bool  # the loudspeaker was asked to warn (not opened for review)
    incident_id: str = ""


@dataclass
class CategoryScore:
    category: str
    truths: int = 0
    found: int = 0  # truths with at least one hit
    opened: int = 0
    hits: int = 0  # opened incidents that are some truth's hit
    false_alarms: int = 0
    false_warnings: int = 0
    delays_s: list[float] = field(default_factory=list)  # start_s to the first hit's opening

    @property
    def precision(self) -> float | None:
        """Hits among opened incidents; None when nothing opened."""
        return self.hits / self.opened if self.opened else None

    @property
    def recall(self) -> float | None:
        """Truths found; None when there was nothing to find."""
        return self.found / self.truths if self.truths else None


@dataclass
class Score:
    duration_s: float
    cameras: int
    categories: dict[str, CategoryScore]
    total: CategoryScore

    @property
    def camera_hours(self) -> float:
        return self.cameras * self.duration_s / 3600.0

    def per_camera_hour(self, count: int) -> float:
        return count / self.camera_hours if self.camera_hours > 0 else (math.inf if count else 0.0)

    @property
    def false_per_hour(self) -> float:
        return self.per_camera_hour(self.total.false_alarms)

    @property
    def false_warnings_per_camera_hour(self) -> float:
        return self.per_camera_hour(self.total.false_warnings)


def is_hit(truth: Truth, opened: Opened, window_s: float = HIT_WINDOW_S) -> bool:
    return (
        opened.zone_id == truth.zone_id
        and opened.category == truth.category
        and truth.start_s <= opened.opened_s <= truth.end_s + window_s
    )


def score(
    truths: Sequence[Truth],
    opened: Sequence[Opened],
    *,
    duration_s: float,
    cameras: int = 1,
    window_s: float = HIT_WINDOW_S,
    categories: Iterable[str] = (),
) -> Score:
    """Per-category and overall precision, recall, delay, false alarms and false warnings.

    ``categories``: those watched, listed in the report even where nothing happened.
    """
    cats: dict[str, CategoryScore] = {c: CategoryScore(c) for c in categories}
    total = CategoryScore("all")

    def of(category: str) -> CategoryScore:
        return cats.setdefault(category, CategoryScore(category))

    for t in truths:
        hits = sorted(o.opened_s for o in opened if is_hit(t, o, window_s))
        for s in (of(t.category), total):
            s.truths += 1
            if hits:
                s.found += 1
                s.delays_s.append(hits[0] - t.start_s)
    for o in opened:
        hit = any(is_hit(t, o, window_s) for t in truths)
        for s in (of(o.category), total):
            s.opened += 1
            if hit:
                s.hits += 1
            else:
                s.false_alarms += 1
                s.false_warnings += int(o.warned)
    return Score(duration_s, cameras, dict(sorted(cats.items())), total)


def parse_truth(lines: Iterable[str], where: str = "truth") -> list[Truth]:
    """Truth lines; blank lines and ``#`` comments are skipped. Errors name the line and the fix."""
    out: list[Truth] = []
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        at = f"{where}:{n}"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{at}: not JSON ({exc.msg}); write one JSON object a line") from None
        if not isinstance(data, dict):
            raise UsageError(f"{at}: expected a JSON object with keys {', '.join(TRUTH_KEYS)}")
        missing = [k for k in TRUTH_KEYS if k not in data]
        extra = sorted(set(data) - set(TRUTH_KEYS))
        if missing or extra:
            what = "; ".join(
                p
                for p in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"unknown {', '.join(extra)}" if extra else "",
                )
                if p
            )
            raise UsageError(f"{at}: {what}; a truth line has exactly {', '.join(TRUTH_KEYS)}")
        for key in ("zone_id", "category"):
            if not isinstance(data[key], str) or not data[key]:
                raise UsageError(f"{at}: {key} must be a non-empty string")
        times = []
        for key in ("start_s", "end_s"):
            v = data[key]
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise UsageError(f"{at}: {key} must be a number of seconds from the clip's start, >= 0")
            times.append(float(v))
        if times[1] < times[0]:
            raise UsageError(f"{at}: end_s {times[1]} is before start_s {times[0]}; swap them")
        out.append(Truth(data["zone_id"], data["category"], times[0], times[1]))
    return out


def load_truth(path: str | Path) -> list[Truth]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot read truth file {p}: {exc.strerror}; give --truth a JSON-lines file"
        ) from None
    return parse_truth(text.splitlines(), str(p))


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def report_lines(s: Score) -> list[str]:
    """The human-readable report and, last, ``RESULT precision=… recall=… false_per_hour=…``."""
    hours = s.camera_hours
    lines = [f"{s.cameras} camera, {s.duration_s:.1f} s of footage ({hours:.4f} camera-hours)"]
    header = f"{'category':<24} {'truth':>5} {'found':>5} {'opened':>6} {'prec':>5} {'recall':>6}"
    lines.append(header + f" {'delay_s':>8} {'false':>5} {'false/h':>8} {'fwarn':>5} {'fwarn/h':>8}")
    for c in [*s.categories.values(), s.total]:
        delay = _num(max(c.delays_s)) if c.delays_s else "n/a"
        lines.append(
            f"{c.category:<24} {c.truths:>5} {c.found:>5} {c.opened:>6} {_num(c.precision):>5} "
            f"{_num(c.recall):>6} {delay:>8} {c.false_alarms:>5} {s.per_camera_hour(c.false_alarms):>8.3g} "
            f"{c.false_warnings:>5} {s.per_camera_hour(c.false_warnings):>8.3g}"
        )
    lines.append("(delay_s: the longest time from a violation's start to its incident's opening)")
    lines.append(
        f"RESULT precision={_num(s.total.precision)} recall={_num(s.total.recall)} "
        f"false_per_hour={s.false_per_hour:.4g} "
        f"false_warnings_per_camera_hour={s.false_warnings_per_camera_hour:.4g}"
    )
    return lines
