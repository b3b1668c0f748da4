"""Deterministic ids: derived from their inputs, so a replay gives the same ids."""

from __future__ import annotations

import hashlib


def make_id(prefix: str, *parts: object) -> str:
    """Return ``prefix-<16 hex>`` from a stable hash of ``parts``."""
    joined = "\x1f".join(str(p) for p in parts)
    digest = hashlib.blake2b(joined.encode("utf-8"), digest_size=8).hexdigest()
    return f"{prefix}-{digest}"
