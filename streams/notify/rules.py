"""Which robots an event goes to (pure): every rule whose filters all hold adds its robots; an
empty filter holds for any event. A rule's ``streets`` hold for the streets' grids."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from streams.config.notify import NotifyRule
from streams.notify.events import Event


def street_of_grids(streets: Iterable[tuple[str, Iterable[str]]]) -> dict[str, str]:
    """grid id -> street id, from ``(street id, its grids)``."""
    return {grid: street for street, grids in streets for grid in grids}


def matches(rule: NotifyRule, event: Event, streets: Mapping[str, str]) -> bool:
    street = streets.get(event.grid_id or "")
    return (
        (not rule.events or event.kind in rule.events)
        and (not rule.units or event.unit_id in rule.units)
        and (not rule.streets or street in rule.streets)
        and (not rule.categories or event.category in rule.categories)
    )


def robots_for(event: Event, rules: Iterable[NotifyRule], streets: Mapping[str, str]) -> list[str]:
    """The robot ids ``event`` goes to, each once, in the rules' order."""
    out: list[str] = []
    for rule in rules:
        if matches(rule, event, streets):
            out.extend(r for r in rule.robots if r not in out)
    return out
