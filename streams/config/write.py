"""cameras.yaml written in place of the old one, never half-written (I/O edge).

The new text goes to a temporary file beside it, is flushed to disk (fsync) and renamed over
the file (``os.replace``, atomic on one filesystem); the previous version is first kept as
``<file>.bak`` (one backup: each save replaces the one before), written the same way.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

BACKUP_SUFFIX = ".bak"


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o777)  # keep the file's permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself reaches the disk (not on every platform)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def save_config_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically, the previous version kept; return the backup's path."""
    target = Path(path)
    backup = target.with_name(target.name + BACKUP_SUFFIX)
    _write_atomic(backup, target.read_bytes())
    _write_atomic(target, text.encode("utf-8"))
    return backup
