"""Checks of the ``notify:`` section: robot ids unique, and every rule's robots, units, streets
and categories defined. Each error names the rule and the fix."""

from __future__ import annotations

from collections.abc import Iterator

from streams.config.models import Config
from streams.config.yamlmap import Finding


def verify_notify(cfg: Config) -> Iterator[Finding]:
    from streams.config.verify import undefined  # verify.py imports this module's check

    seen: set[str] = set()
    for i, robot in enumerate(cfg.notify.robots):
        if robot.id in seen:
            yield (("notify", "robots", i, "id"), f"duplicate robot id {robot.id!r}; rename one")
        seen.add(robot.id)
    known = {
        "robots": sorted(seen),
        "units": [u.id for u in cfg.units],
        "streets": [s.id for s in cfg.streets],
        "categories": sorted(cfg.categories),
    }
    for ri, rule in enumerate(cfg.notify.rules):
        for section, names in (
            ("robots", rule.robots),
            ("units", rule.units),
            ("streets", rule.streets),
            ("categories", rule.categories),
        ):
            where = "notify: robots" if section == "robots" else section
            for ni, name in enumerate(names):
                if name not in known[section]:
                    what = f"notify rule {ri} names {section[:-1] if section != 'categories' else 'category'}"
                    yield undefined(("notify", "rules", ri, section, ni), what, name, where, known[section])
