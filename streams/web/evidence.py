"""Evidence pictures on the web: links for evidence paths, safe reads, patrol photos.

Evidence records name files the detectors wrote under ``evidence.dir`` (e.g.
``var/evidence/cam-03/20260526/cam-03-00001234-021403120.jpg``). Only files
inside that directory are ever served: a request path with ``..``, an absolute
path, a backslash or a symlink leading out of the directory is refused.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from streams.errors import WebError

CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
URL_PREFIX = "/evidence/"


def photo_type(data: bytes) -> str | None:
    """The file suffix of a JPEG or PNG picture, from its first bytes; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    return None


class EvidenceFiles:
    def __init__(self, root: str | Path) -> None:
        self.configured = Path(root)
        self.root = Path(os.path.abspath(root))

    def relative(self, path: str) -> str | None:
        """The path of an evidence file relative to the evidence directory, or None if outside."""
        if not path or "\x00" in path or "://" in path:
            return None
        p = Path(path)
        absolute = Path(os.path.abspath(p if p.is_absolute() else Path.cwd() / p))
        try:
            rel = absolute.relative_to(self.root)
        except ValueError:
            return None
        return rel.as_posix() if rel.parts else None

    def url(self, path: str) -> str | None:
        """A link to an evidence path: served from /evidence/ when inside the directory; URLs pass."""
        if path.startswith(("http://", "https://")):
            return path
        rel = self.relative(path)
        return URL_PREFIX + quote(rel) if rel else None

    def resolve(self, rel: str) -> Path:
        """The file for a request path under /evidence/; raises WebError (400/404) otherwise."""
        if not rel or "\x00" in rel or "\\" in rel:
            raise WebError("evidence path is empty or has a NUL or a backslash", 400)
        pure = PurePosixPath(rel)
        if pure.is_absolute() or any(part in ("..", "") for part in rel.split("/")):
            raise WebError("evidence path must be relative to the evidence directory, without '..'", 400)
        suffix = pure.suffix.lower()
        if suffix not in CONTENT_TYPES:
            raise WebError(f"only pictures are served ({', '.join(sorted(CONTENT_TYPES))})", 400)
        real_root = self.root.resolve()
        target = (real_root / pure).resolve()  # follows symlinks: the result must still be inside
        if not target.is_relative_to(real_root):
            raise WebError("evidence path leads out of the evidence directory", 400)
        if not target.is_file():
            raise WebError(f"no evidence file {rel}", 404)
        return target

    def save_photo(self, case_id: str, data: bytes, stamp: str) -> str:
        """Store a patrol photo; return its evidence path (as the detectors write them)."""
        suffix = photo_type(data)
        if suffix is None:
            raise WebError("photo must be a JPEG or PNG picture", 400)
        safe_case = "".join(c if c.isalnum() or c in "-_." else "_" for c in case_id)[:80] or "case"
        safe_stamp = "".join(c for c in stamp if c.isalnum())
        folder = self.root / "patrol" / safe_case
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{safe_case}-{safe_stamp}{suffix}"
        tmp = folder / (name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, folder / name)
        return str(self.configured / "patrol" / safe_case / name)

    @staticmethod
    def content_type(path: Path) -> str:
        return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
