"""Validate a configuration file. Prints every problem with file:line, the key
path and what to do, and exits 1; a valid file prints a summary and exits 0."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from streams.config import Config, load_config, resolve_path
from streams.config.load import format_loc
from streams.config.verify import verify_labels_producible
from streams.config.verify_map import map_warnings
from streams.config.yamlmap import load_yaml
from streams.contract.errors import ConfigError, ConfigProblem, ModelError
from streams.logic.worktime import SlaClocks, calendar_version, unknown_years


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default=None, help="file to check (default: --config)")
    parser.add_argument("--config", metavar="PATH", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-model",
        action="store_true",
        help="skip reading the model's class names (weights not on this machine); labels are then "
        "not checked against the model",
    )


def label_problems(cfg: Config, path: Path) -> list[ConfigProblem]:
    """Labels of categories on camera zones, and of model.labels, that neither the configured model
    (its class names, read from the weights without running them) nor the detector itself can
    produce; or the problem of reading the model's class names."""
    from detectors.labels import DETECTOR_LABELS, model_classes

    lines = load_yaml(path.read_text(encoding="utf-8"))[1]
    try:
        model, classes = model_classes(cfg.model.name)
    except ModelError as exc:
        loc = ("model", "name")
        return [
            ConfigProblem(
                str(path),
                lines.line_of(loc),
                format_loc(loc),
                f"{exc} (labels cannot be checked without the model's class names; "
                "`citywatch check --no-model` skips this)",
            )
        ]
    return [
        ConfigProblem(str(path), lines.line_of(loc), format_loc(loc), message)
        for loc, message in verify_labels_producible(cfg, model=model, classes=classes, own=DETECTOR_LABELS)
    ]


def working_time(cfg: Config) -> str:
    hours = cfg.site.working_hours
    if hours is None:
        return "working   the whole day, every day (site.working_hours not set: SLAs run on the wall clock)"
    return f"working   {', '.join(hours)} on working days of the Chinese calendar ({cfg.site.timezone})"


def calendar_warnings(cfg: Config, now: float) -> list[str]:
    """Warnings for the current and the next year when chinese-calendar has no holidays for them
    and a category's SLA counts working time."""
    if not SlaClocks(cfg).uses_calendar():
        return []
    year = datetime.fromtimestamp(now, ZoneInfo(cfg.site.timezone)).year
    return [
        f"warning: chinese-calendar {calendar_version()} has no holidays for {missing}: SLAs in working "
        f"time count Monday to Friday as working days that year (no holidays, no make-up days); "
        f"upgrade it (pip install -U chinese-calendar) once that year's holidays are published"
        for missing in unknown_years([year, year + 1])
    ]


def summary(cfg: Config, path: str) -> str:
    zones = sum(len(c.zones) for c in cfg.cameras)
    lines = [
        f"{path}: OK",
        f"site      {cfg.site.name} ({cfg.site.timezone})",
        working_time(cfg),
        f"model     {cfg.model.name} imgsz={cfg.model.imgsz} conf={cfg.model.conf:g}",
        f"categories ({len(cfg.categories)}):",
    ]
    for key, cat in cfg.categories.items():
        warns = f"  warns {cat.warn_hours}" if cat.warn and cat.warn_hours else ""
        lines.append(
            f"  {cat.code} {key:<24} {cat.name}  dwell {cat.dwell_s:g}s  grace {cat.grace_s:g}s"
            f"  SLA {cat.sla_s / 60:g} min ({cat.clock_kind()}){warns}"
        )
    lines.append("thresholds (lowest score that counts; warning needs N frames seen):")
    for key, cat in cfg.categories.items():
        if not cat.labels:
            continue
        scores = "  ".join(f"{label} {score:.2f}" for label, score in cat.effective_min_scores().items())
        lines.append(f"  {key:<24} {scores}  warn>={cat.warn_min_frames} frames")
    lines.append(f"cameras ({len(cfg.cameras)}, {zones} zones):")
    for cam in cfg.cameras:
        zone_text = ", ".join(f"{z.id}[{'/'.join(z.categories)}]" for z in cam.zones) or "no zones"
        lines.append(
            f"  {cam.id:<12} grid {cam.grid:<12} speaker {cam.speaker or '-':<12}"
            f" {cam.detect_fps:g} fps  {zone_text}"
        )
    periods = {
        f"{cam.id}/{z.id}": z.learn_period(cam.learn_fixtures_s) for cam in cfg.cameras for z in cam.zones
    }
    learning = ", ".join(f"{where} {s:g}s" for where, s in periods.items() if s > 0) or "none"
    lines.append(f"fixtures  {cfg.fixtures.dir}  min_iou {cfg.fixtures.min_iou:g}  learning: {learning}")
    lines.append(f"speakers  {', '.join(s.id for s in cfg.speakers) or '-'}")
    lines.append(
        "units     " + ", ".join(f"{u.id} ({u.level})" for u in cfg.units) if cfg.units else "units     -"
    )
    lines.append("grids     " + ", ".join(f"{g.id}->{g.unit}" for g in cfg.grids))
    if cfg.streets:
        lines.append(
            "streets   "
            + ", ".join(f"{s.id} [{' '.join(s.grids)}] office {s.unit or '-'}" for s in cfg.streets)
        )
    if cfg.departments:
        lines.append("depts     " + ", ".join(f"{d.id} [{' '.join(d.categories)}]" for d in cfg.departments))
    chains = [_chain(cfg, u.id) for u in cfg.units if u.level == "street"]
    if any(" -> " in c for c in chains):
        lines.append("escalate  " + "; ".join(chains))
    return "\n".join(lines)


def _chain(cfg: Config, unit_id: str) -> str:
    """unit -> its escalation targets in turn (bounded: the check reports cycles)."""
    seen = [unit_id]
    by_id = {u.id: u for u in cfg.units}
    while (nxt := by_id[seen[-1]].escalates_to) in by_id and nxt not in seen:
        seen.append(nxt)
    return " -> ".join(seen)


def run(args: argparse.Namespace) -> int:
    path = resolve_path(args.path or args.config)
    try:
        cfg = load_config(path)
        problems = [] if args.no_model else label_problems(cfg, path)
        if problems:
            raise ConfigError(problems)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        n = len(exc.problems)
        print(
            f"{n} problem{'s' if n != 1 else ''} in {path}; fix them and run `citywatch check` again",
            file=sys.stderr,
        )
        return 1
    print(summary(cfg, str(path)))
    for warning in [*calendar_warnings(cfg, time.time()), *map_warnings(cfg)]:
        print(warning)
    return 0
