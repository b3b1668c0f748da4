"""Named cross-reference checks: each error names the thing and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Sequence

from streams.config.geometry import crossing_problem
from streams.config.models import Config
from streams.config.speaker_driver import driver_problems
from streams.config.timerange import in_range
from streams.config.verify_camera import (
    verify_camera_decode,
    verify_camera_ids_not_reserved,
    verify_camera_substreams,
    verify_zone_static_objects,
)
from streams.config.verify_case_system import verify_case_system_categories
from streams.config.verify_levels import verify_departments, verify_streets, verify_unit_escalation
from streams.config.verify_map import verify_grid_polygons
from streams.config.verify_mqtt import verify_mqtt_inputs
from streams.config.verify_notify import verify_notify
from streams.config.yamlmap import Finding, Loc


def _did_you_mean(name: str, known: Iterable[str], cutoff: float = 0.6) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]}?)" if close else ""


def _suggest(name: str, known: Iterable[str]) -> str:
    known = list(known)
    hint = _did_you_mean(name, known)
    if hint:
        return hint
    return f" (defined: {', '.join(known)})" if known else " (none are defined)"


def _duplicates(ids: list[str], section: Loc, what: str) -> Iterator[Finding]:
    first: dict[str, int] = {}
    for i, ident in enumerate(ids):
        if ident in first:
            yield (
                (*section, i, "id"),
                f"duplicate {what} id {ident!r} (also item {first[ident]}); ids must be unique: rename one",
            )
        else:
            first[ident] = i


def undefined(path: Loc, what: str, name: str, section: str, known: Iterable[str]) -> Finding:
    """``what`` names ``name``, which is not under ``section``: the finding, with a suggestion."""
    return path, f"{what} {name!r}, which is not defined under {section}:{_suggest(name, known)}"


def verify_unique_ids(cfg: Config) -> Iterator[Finding]:
    yield from _duplicates([c.id for c in cfg.cameras], ("cameras",), "camera")
    yield from _duplicates([s.id for s in cfg.speakers], ("speakers",), "speaker")
    yield from _duplicates([u.id for u in cfg.units], ("units",), "unit")
    yield from _duplicates([g.id for g in cfg.grids], ("grids",), "grid")
    for ci, cam in enumerate(cfg.cameras):
        yield from _duplicates([z.id for z in cam.zones], ("cameras", ci, "zones"), f"camera {cam.id} zone")


def verify_zone_categories_defined(cfg: Config) -> Iterator[Finding]:
    for ci, cam in enumerate(cfg.cameras):
        for zi, zone in enumerate(cam.zones):
            for ki, key in enumerate(zone.categories):
                if key not in cfg.categories:
                    yield (
                        ("cameras", ci, "zones", zi, "categories", ki),
                        f"camera {cam.id} zone {zone.id} uses category {key!r}, which is not "
                        f"defined under categories:{_suggest(key, cfg.categories)}",
                    )


def verify_zone_labels_counted(cfg: Config) -> Iterator[Finding]:
    for ci, cam in enumerate(cfg.cameras):
        for zi, zone in enumerate(cam.zones):
            if zone.labels is None:
                continue
            wanted = {lb for k in zone.categories if k in cfg.categories for lb in cfg.categories[k].labels}
            for li, label in enumerate(zone.labels):
                if wanted and label not in wanted:
                    yield (
                        ("cameras", ci, "zones", zi, "labels", li),
                        f"camera {cam.id} zone {zone.id} filters on label {label!r}, which none of "
                        f"its categories ({', '.join(zone.categories)}) counts"
                        f"{_suggest(label, sorted(wanted))}; "
                        "add it to a category's labels or remove it here",
                    )


def verify_zone_polygons(cfg: Config) -> Iterator[Finding]:
    for ci, cam in enumerate(cfg.cameras):
        for zi, zone in enumerate(cam.zones):
            loc: tuple[str | int, ...] = ("cameras", ci, "zones", zi, "polygon")
            where = f"camera {cam.id} zone {zone.id}"
            pts = zone.polygon
            if len(pts) < 3:
                yield (
                    loc,
                    f"{where}: a polygon needs at least 3 points, this one has {len(pts)}; "
                    "list the corners as [x, y] pairs",
                )
                continue
            outside = [i for i, (x, y) in enumerate(pts) if not (0 <= x <= 1 and 0 <= y <= 1)]
            if outside:
                i = outside[0]
                yield (
                    (*loc, i),
                    f"{where}: point {i} {pts[i]} is outside the frame; coordinates are "
                    "normalised: divide pixels by the frame width and height (0..1)",
                )
                continue
            crossing = crossing_problem(pts, "polygon", "zone")
            if crossing:
                yield loc, f"{where}: {crossing}"


def verify_camera_references(cfg: Config) -> Iterator[Finding]:
    for ci, cam in enumerate(cfg.cameras):
        yield from _speaker_and_grid(cfg, "cameras", ci, f"camera {cam.id}", cam.speaker, cam.grid)


def _speaker_and_grid(
    cfg: Config, section: str, index: int, what: str, speaker: str | None, grid: str
) -> Iterator[Finding]:
    """A camera's or a sensor's speaker (if any) and grid are defined."""
    speakers = [s.id for s in cfg.speakers]
    if speaker is not None and speaker not in speakers:
        yield undefined((section, index, "speaker"), f"{what} names speaker", speaker, "speakers", speakers)
    grids = [g.id for g in cfg.grids]
    if grid not in grids:
        yield undefined((section, index, "grid"), f"{what} names grid", grid, "grids", grids)


def verify_grid_units_defined(cfg: Config) -> Iterator[Finding]:
    units = [u.id for u in cfg.units]
    for gi, grid in enumerate(cfg.grids):
        if grid.unit not in units:
            yield undefined(("grids", gi, "unit"), f"grid {grid.id} names unit", grid.unit, "units", units)


def verify_speaker_drivers(cfg: Config) -> Iterator[Finding]:
    for si, spk in enumerate(cfg.speakers):
        for key, message in driver_problems(spk.driver):
            yield ("speakers", si, "driver", key), f"speaker {spk.id} {message}"
    ports: dict[int, str] = {}
    for si, spk in enumerate(cfg.speakers):
        port = spk.driver.audio_port
        if spk.driver.type != "mqtt" or port is None:
            continue
        if port in ports:
            yield (
                ("speakers", si, "driver", "audio_port"),
                f"speaker {spk.id} serves its audio on port {port}, as speaker {ports[port]} does; give "
                "each speaker a port of its own",
            )
        ports.setdefault(port, spk.id)


def verify_speaker_audio(cfg: Config) -> Iterator[Finding]:
    """Clips must be WAV files (they may be copied in later); a command must get the audio path."""
    for si, spk in enumerate(cfg.speakers):
        for template, clip in spk.clips.items():
            if not clip.lower().endswith(".wav"):
                yield (
                    ("speakers", si, "clips", template),
                    f"speaker {spk.id} clip for template {template!r} is {clip!r}; clips are 16-bit PCM "
                    "WAV files: convert it (e.g. `sox clip.mp3 -b 16 clip.wav`) and name the .wav",
                )
        drv = spk.driver
        if drv.type == "command" and drv.command and not any("{file}" in part for part in drv.command):
            yield (
                ("speakers", si, "driver", "command"),
                f"speaker {spk.id}: the command driver's argv has no '{{file}}'; put '{{file}}' where "
                "the audio file's path goes, e.g. [aplay, '{file}']",
            )


def verify_category_timing(cfg: Config) -> Iterator[Finding]:
    for key, cat in cfg.categories.items():
        if cat.gap_s >= cat.clear_s:
            yield (
                ("categories", key, "gap_s"),
                f"category {key}: gap_s ({cat.gap_s:g}) must be shorter than clear_s "
                f"({cat.clear_s:g}), or a gap would clear the violation before it is tolerated",
            )


def _minutes(time_range: str) -> set[int]:
    return {m for m in range(24 * 60) if in_range(time_range, m)}


def verify_category_warn_hours(cfg: Config) -> Iterator[Finding]:
    """warn_hours only makes sense on a category that warns, and some of them must fall in the hours
    the category counts violations (its active_hours and those of the zones that use it)."""
    for key, cat in cfg.categories.items():
        if cat.warn_hours is None:
            continue
        if not cat.warn:
            yield (
                ("categories", key, "warn_hours"),
                f"category {key} has warn_hours {cat.warn_hours!r} but warn: false, so it never warns: "
                "remove warn_hours, or set warn: true to warn in those hours",
            )
            continue
        counted = [
            (f"camera {cam.id} zone {zone.id}", zone.active_hours or cat.active_hours)
            for cam in cfg.cameras
            for zone in cam.zones
            if key in zone.categories
        ] or [(f"category {key}", cat.active_hours)]
        warned = _minutes(cat.warn_hours)
        for where, hours in counted:
            if hours is not None and not warned & _minutes(hours):
                yield (
                    ("categories", key, "warn_hours"),
                    f"category {key} warns only in {cat.warn_hours}, but {where} counts it only in "
                    f"{hours} (active_hours), wholly outside them, so its incidents there are never "
                    "warned: widen warn_hours, or remove it and set warn: false if no warning is meant",
                )


def verify_min_scores_labels(cfg: Config) -> Iterator[Finding]:
    """A per-label threshold names one of the category's labels (else it is a typo that does nothing)."""
    for key, cat in cfg.categories.items():
        for label in cat.min_scores:
            if label not in cat.labels:
                yield (
                    ("categories", key, "min_scores", label),
                    f"category {key}: min_scores names {label!r}, which is not one of its labels"
                    f"{_suggest(label, cat.labels)}; fix the name or add it to labels",
                )


def verify_zone_category_labels(cfg: Config) -> Iterator[Finding]:
    """A category counted by a camera zone needs model labels (sensor categories have none)."""
    for ci, cam in enumerate(cfg.cameras):
        for zi, zone in enumerate(cam.zones):
            for ki, key in enumerate(zone.categories):
                cat = cfg.categories.get(key)
                if cat is not None and not cat.labels:
                    yield (
                        ("cameras", ci, "zones", zi, "categories", ki),
                        f"camera {cam.id} zone {zone.id} uses category {key!r}, which has no labels:; "
                        "give the category the model labels that count as it, or use another category",
                    )


def verify_sensors(cfg: Config) -> Iterator[Finding]:
    """Sensor ids are unique (and not camera ids: both key incident books); grid and speaker exist."""
    yield from _duplicates([s.id for s in cfg.sensors], ("sensors",), "sensor")
    cameras = {c.id for c in cfg.cameras}
    for si, sensor in enumerate(cfg.sensors):
        if sensor.id in cameras:
            yield (
                ("sensors", si, "id"),
                f"sensor id {sensor.id!r} is also a camera id; sensors and cameras share one "
                "namespace of subjects: rename the sensor",
            )
        yield from _speaker_and_grid(cfg, "sensors", si, f"sensor {sensor.id}", sensor.speaker, sensor.grid)


def verify_sensor_rules(cfg: Config) -> Iterator[Finding]:
    """Each rule: a defined category, sensors it applies to, one threshold and a clear on its side."""
    yield from _duplicates([r.id for r in cfg.sensor_rules], ("sensor_rules",), "sensor rule")
    sensor_ids = [s.id for s in cfg.sensors]
    kinds = sorted({s.kind for s in cfg.sensors})
    for ri, rule in enumerate(cfg.sensor_rules):
        where = f"sensor rule {rule.id}"
        if rule.category not in cfg.categories:
            yield undefined(
                ("sensor_rules", ri, "category"),
                f"{where} opens category",
                rule.category,
                "categories",
                cfg.categories,
            )
        if rule.kind is None and rule.sensors is None:
            yield (
                ("sensor_rules", ri),
                f"{where} applies to no sensor: give it kind: (every sensor of that kind) or sensors: [ids]",
            )
        if rule.kind is not None and rule.kind not in kinds:
            yield (
                ("sensor_rules", ri, "kind"),
                f"{where} applies to kind {rule.kind!r}, but no sensor under sensors: has that kind"
                f"{_suggest(rule.kind, kinds)}",
            )
        for i, sid in enumerate(rule.sensors or []):
            if sid not in sensor_ids:
                yield undefined(
                    ("sensor_rules", ri, "sensors", i), f"{where} names sensor", sid, "sensors", sensor_ids
                )
        if (rule.above is None) == (rule.below is None):
            yield (
                ("sensor_rules", ri) if rule.above is None else ("sensor_rules", ri, "below"),
                f"{where} needs exactly one threshold: above: (e.g. PM2.5 mean above 75) or below:",
            )
        elif rule.clear is not None:
            if rule.above is not None and rule.clear > rule.above:
                yield (
                    ("sensor_rules", ri, "clear"),
                    f"{where}: clear ({rule.clear:g}) must not be above the threshold above: "
                    f"({rule.above:g}); hysteresis clears at or below it, e.g. clear: {rule.above * 0.8:g}",
                )
            if rule.below is not None and rule.clear < rule.below:
                yield (
                    ("sensor_rules", ri, "clear"),
                    f"{where}: clear ({rule.clear:g}) must not be below the threshold below: "
                    f"({rule.below:g}); hysteresis clears at or above it",
                )


def verify_health_categories(cfg: Config) -> Iterator[Finding]:
    """Health categories named explicitly must exist (left at their defaults they are optional)."""
    for name in ("offline_category", "stale_category"):
        key = getattr(cfg.health, name)
        if name in cfg.health.model_fields_set and key not in cfg.categories:
            yield undefined(("health", name), f"health.{name} is", key, "categories", cfg.categories)


def verify_labels_producible(
    cfg: Config, *, model: str, classes: Sequence[str], own: Iterable[str] = ()
) -> Iterator[Finding]:
    """Every label a camera counts can be produced: by the model (``classes``, read from its
    weights) or by the detector itself (``own``). Categories no camera zone uses may keep labels
    of another model. Not in ``CHECKS``: it needs the weights (``citywatch check`` runs it)."""
    own = sorted(set(own))
    producible = sorted(set(classes) | set(own))
    listed = ", ".join(classes) or "none"
    own_text = ", ".join(own) or "no labels of its own"
    why = f"model {model} has {len(classes)} classes ({listed}) and the detector produces {own_text}"
    users: dict[str, list[str]] = {}
    for cam in cfg.cameras:
        for zone in cam.zones:
            for key in zone.categories:
                users.setdefault(key, []).append(f"{cam.id}/{zone.id}")
    for key, cat in cfg.categories.items():
        if key not in users:
            continue
        for li, label in enumerate(cat.labels):
            if label not in producible:
                yield (
                    ("categories", key, "labels", li),
                    f"category {key} counts label {label!r}, which nothing can detect, so it never "
                    f"fires on the camera zones that use it ({', '.join(users[key])})"
                    f"{_did_you_mean(label, producible, 0.8)}"
                    f": {why}. Use one of those labels, point model.name at weights that have "
                    f"{label!r}, or take {key} off those zones until a detector covers it",
                )
    # a zone's own label filter needs no check here: verify_zone_labels_counted holds it to
    # its categories' labels, which are checked above
    for li, label in enumerate(cfg.model.labels or []):
        if label not in producible:
            yield (
                ("model", "labels", li),
                f"model.labels keeps label {label!r}, which nothing can detect"
                f"{_did_you_mean(label, producible, 0.8)}: {why}. "
                "Remove it or use one of those labels",
            )


CHECKS: list[Callable[[Config], Iterator[Finding]]] = [
    verify_unique_ids,
    verify_zone_categories_defined,
    verify_zone_polygons,
    verify_zone_labels_counted,
    verify_zone_static_objects,
    verify_camera_references,
    verify_camera_substreams,
    verify_camera_decode,
    verify_camera_ids_not_reserved,
    verify_grid_units_defined,
    verify_grid_polygons,
    verify_unit_escalation,
    verify_streets,
    verify_departments,
    verify_speaker_drivers,
    verify_speaker_audio,
    verify_category_timing,
    verify_zone_category_labels,
    verify_sensors,
    verify_sensor_rules,
    verify_health_categories,
    verify_min_scores_labels,
    verify_category_warn_hours,
    verify_case_system_categories,
    verify_notify,
    verify_mqtt_inputs,
]


def run_checks(cfg: Config) -> list[Finding]:
    return [finding for check in CHECKS for finding in check(cfg)]
