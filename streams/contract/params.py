"""Parsing of the plain-text parameters the API and the case record's queries take."""

from __future__ import annotations

TRUE = frozenset({"1", "true", "yes"})
FALSE = frozenset({"0", "false", "no"})


def flag_value(value: str | None) -> bool | None:
    """A yes/no parameter: absent or empty is False; None where it is neither (the caller says why)."""
    if value is None or value == "":
        return False
    lowered = value.lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    return None
