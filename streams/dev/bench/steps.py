"""What one step of the capacity benchmark measured, and the rule that stops the steps
(pure, but for the readers of ``/proc``)."""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from streams.dev.bench.stack import Observed, pct


@dataclass(frozen=True)
class Step:
    """One step's measurements."""

    cameras: int
    sampled_fps: float  # per camera
    dropped: float  # share of sampling slots missed
    inferred: float  # share of sampled frames the motion gate let through
    latencies_ms: tuple[float, ...]  # capture -> loudspeaker command, one an incident
    unanswered: int  # incidents opened in the step with no command in time
    queued: int  # incidents whose warning waited for their speaker (not in latencies_ms)
    cpu_cores: float  # pipeline's CPU seconds per second, all cameras

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99_ms(self) -> float:
        return pct(list(self.latencies_ms), 99)

    @property
    def cpu_per_camera(self) -> float:
        return self.cpu_cores / self.cameras


def failure(step: Step, max_p99_ms: float, max_dropped: float) -> str | None:
    """Why the step fails the stopping rule, or None where it passes."""
    if not step.latencies_ms:
        return "no incident answered"
    if step.p99_ms > max_p99_ms:
        return f"p99 {step.p99_ms:.0f} ms > {max_p99_ms:g}"
    # incidents still without a command when the bench stopped waiting (the limit had passed)
    # are slower than the limit: more than 1 in 100 puts the p99 past it
    if step.unanswered * 100 > len(step.latencies_ms) + step.unanswered:
        return f"{step.unanswered} without a command after {max_p99_ms:g} ms"
    if step.dropped > max_dropped:
        return f"dropped {step.dropped:.1%} > {max_dropped:.1%}"
    return None


def capacity(steps: Sequence[Step], max_p99_ms: float, max_dropped: float) -> Step | None:
    """The largest step before the first that fails (None where the first fails)."""
    passed = None
    for step in steps:
        if failure(step, max_p99_ms, max_dropped) is not None:
            break
        passed = step
    return passed


def frame_counts(exposition: str, role: str = "edge") -> dict[str, float]:
    """Frames by stage, summed over cameras, from a role's ``/metrics`` text."""
    from prometheus_client.parser import text_string_to_metric_families

    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "citywatch_frames_total" and sample.labels.get("role") == role:
                stage = sample.labels["stage"]
                counts[stage] = counts.get(stage, 0.0) + sample.value
    return counts


def stat_cpu_ticks(stat: str) -> int:
    """User plus system clock ticks from the text of ``/proc/PID/stat``."""
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat.rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5): utime, stime


def window_incidents(seen: Observed, t0: float, t1: float) -> tuple[list[float], int, int]:
    """Capture -> loudspeaker ms of the incidents opened by frames captured in [t0, t1], how
    many of those have no command yet, and how many waited for their speaker or were not
    warned by the policy's choice (left out: that wait is the loudspeaker saying another
    warning, and a suppressed warning is the policy's rule, not the pipeline)."""
    from streams.contract.timeutil import from_iso

    latencies, unanswered, queued = [], 0, 0
    for iid, (v, _) in seen.started.items():
        det = seen.dets.get((v["camera_id"], int(v.get("seq", -1))))
        # a sighting while its (camera, zone, category) still has an incident open opens none
        if iid not in seen.opened or det is None or not t0 <= from_iso(det[0]["captured_at"]) <= t1:
            continue
        if iid in seen.queued or iid in seen.suppressed:
            queued += 1
            continue
        hops = seen.hops(iid)
        if hops is None:
            unanswered += 1
        else:
            latencies.append(hops["total"])
    return latencies, unanswered, queued


def _descendants(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            out += _descendants(int(child))
    return out


def cpu_seconds(pids: Iterable[int]) -> float:
    """CPU seconds (user + system) the processes and their children have used so far."""
    ticks = 0
    for root in pids:
        for pid in _descendants(root):
            try:
                ticks += stat_cpu_ticks(Path(f"/proc/{pid}/stat").read_text())
            except (OSError, IndexError, ValueError):
                continue  # ended between listing and reading
    return ticks / os.sysconf("SC_CLK_TCK")
