"""Evidence pictures on the web: links for evidence paths, safe reads, patrol photos.

Evidence records name files the detectors wrote under ``evidence.dir`` (e.g.
``var/evidence/cam-03/20260526/cam-03-00001234-021403120.jpg``). Only files
inside that directory are ever served: a request path with ``..``, an absolute
path, a backslash or a symlink leading out of the directory is refused.

Patrol photos live apart from camera evidence, under ``<evidence.dir>/patrol/``,
with their own size budget (``web.photos_max_mb``): after each photo the oldest
files there, of any type, are deleted beyond it. The detectors' pruning of
camera evidence leaves that directory alone.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from streams.contract.errors import WebError

logger = logging.getLogger(__name__)

CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
URL_PREFIX = "/evidence/"
PATROL_DIR = "patrol"  # patrol photos, under evidence.dir: their own budget, not camera evidence


def photo_type_of(suffix: str) -> bool:
    """A stored picture (not a ``.part`` left by an interrupted write)."""
    return suffix.lower() in CONTENT_TYPES


def photo_type(data: bytes) -> str | None:
    """The file suffix of a JPEG or PNG picture, from its first bytes; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    return None


def _safe_case(case_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in case_id)[:80] or "case"


class EvidenceFiles:
    def __init__(self, root: str | Path, photos_max_bytes: int | None = None) -> None:
        self.configured = Path(root)
        self.root = Path(os.path.abspath(root))
        self.photos = self.root / PATROL_DIR
        self.photos_max_bytes = photos_max_bytes

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
        safe_case = _safe_case(case_id)
        safe_stamp = "".join(c for c in stamp if c.isalnum())
        folder = self.photos / safe_case
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{safe_case}-{safe_stamp}{suffix}"
        tmp = folder / (name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, folder / name)
        self.prune_photos(keep=folder / name)
        return str(self.configured / PATROL_DIR / safe_case / name)

    def photo_count(self, case_id: str) -> int:
        """Patrol photos stored for a case."""
        folder = self.photos / _safe_case(case_id)
        try:
            return sum(1 for p in folder.iterdir() if p.is_file() and photo_type_of(p.suffix))
        except OSError:
            return 0

    def prune_photos(self, keep: Path | None = None) -> int:
        """Delete the oldest files under the patrol photos directory beyond its budget (any type);
        return how many. ``keep`` (the photo just stored) is never deleted."""
        if self.photos_max_bytes is None:
            return 0
        files: list[tuple[float, int, Path]] = []
        for folder, _dirs, names in os.walk(self.photos):
            for name in names:
                path = Path(folder) / name
                try:
                    st = path.lstat()
                except OSError:
                    continue
                files.append((st.st_mtime, st.st_size, path))
        total = sum(size for _, size, _ in files)
        removed = 0
        for _, size, path in sorted(files, key=lambda f: f[0]):
            if total <= self.photos_max_bytes:
                break
            if keep is not None and path == keep:
                continue
            try:
                path.unlink()
            except OSError as exc:
                logger.warning("web: cannot delete old patrol photo %s (%s)", path, exc.strerror)
                continue
            total -= size
            removed += 1
        if removed:
            logger.info("web: deleted %d old patrol photos (budget web.photos_max_mb)", removed)
        return removed

    @staticmethod
    def content_type(path: Path) -> str:
        return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
