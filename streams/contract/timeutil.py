"""Contract timestamps: ISO-8601 UTC with milliseconds, e.g. 2026-05-26T02:14:03.120Z.

Internally times are float seconds since the epoch; these two functions are the
only conversion points.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

_FMT = "%Y-%m-%dT%H:%M:%S"


def to_iso(epoch_s: float) -> str:
    """Format epoch seconds as the contract's timestamp string."""
    ms_total = round(epoch_s * 1000)
    secs, ms = divmod(ms_total, 1000)
    return time.strftime(_FMT, time.gmtime(secs)) + f".{ms:03d}Z"


def from_iso(text: str) -> float:
    """Parse a contract timestamp (any ISO-8601 with an offset, or ``Z``) to epoch seconds."""
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO-8601 string, got {type(text).__name__}")
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no timezone; end it with 'Z' (UTC)")
    return dt.astimezone(UTC).timestamp()


def now() -> float:
    """Wall-clock epoch seconds (for the I/O edges only)."""
    return time.time()
