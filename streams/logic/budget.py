"""The size budget of one table value.

Faust writes every table change to a changelog topic; a value larger than the
producer's request limit (1 MB) crashes the producer, and a restart replaying the
same input crashes again. Every table write is checked against this budget first.
"""

from __future__ import annotations

import json
from typing import Any

TABLE_VALUE_BUDGET = 256 * 1024  # bytes of JSON


def encoded_size(value: Any) -> int:
    """Bytes of ``value`` as the table's JSON serializer writes it (near enough)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def within_budget(value: Any, budget: int = TABLE_VALUE_BUDGET) -> bool:
    return encoded_size(value) <= budget
