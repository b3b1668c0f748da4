"""Inputs to the pure incident functions, as the worker passes them."""

from __future__ import annotations

from typing import Any

from streams.contract.timeutil import from_iso
from streams.logic import incidents as inc

T0 = from_iso("2026-05-26T02:00:00.000Z")


def violation(
    book: inc.Book,
    ctx: inc.ConfigIndex,
    state: str,
    at: float,
    *,
    since: float = T0,
    category: str = "out_of_store_business",
    **kw: Any,
) -> list[inc.Effect]:
    """cam-a's storefront reports ``state`` of ``category`` at event time ``at``."""
    return inc.on_violation(
        book,
        ctx,
        camera_id="cam-a",
        zone_id="storefront",
        category=category,
        state=state,
        since=since,
        at=at,
        **kw,
    )
