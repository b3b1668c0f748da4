"""The fixtures file of a camera: ``<fixtures.dir>/<camera>.json``, written atomically.

The detector writes it when a learning period ends; ``citywatch fixtures``
writes it when an operator adds, removes or asks to learn again, and the
detector reads it back (``FixtureFile.changed``) without a restart.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from detectors.fixtures import CameraFixtures, Fixture, ZoneFixtures, as_box
from streams.config import Camera, Config
from streams.contract.errors import FixturesError
from streams.contract.records import DetectedObject
from streams.contract.timeutil import from_iso, to_iso

logger = logging.getLogger(__name__)

VERSION = 1


def fixtures_path(directory: str | Path, camera_id: str) -> Path:
    return Path(directory) / f"{camera_id}.json"


def encode(camera_id: str, zones: Mapping[str, ZoneFixtures]) -> dict[str, Any]:
    return {
        "v": VERSION,
        "camera_id": camera_id,
        "zones": {
            zid: {
                "learned_at": to_iso(zf.learned_at) if zf.learned_at is not None else None,
                "learn_s": zf.learn_s,
                "fixtures": [
                    {
                        "id": f.id,
                        "box": list(f.box),
                        "label": f.label,
                        "source": f.source,
                        "added_at": to_iso(f.added_at),
                    }
                    for f in zf.fixtures
                ],
            }
            for zid, zf in sorted(zones.items())
        },
    }


def decode(data: Any, where: str) -> dict[str, ZoneFixtures]:
    """The zones of a fixtures file; ``FixturesError`` naming the bad entry otherwise."""
    if not isinstance(data, dict) or data.get("v") != VERSION or not isinstance(data.get("zones"), dict):
        raise FixturesError(
            f"{where}: not a fixtures file (v {VERSION} with zones); remove it and learn again "
            "(`citywatch fixtures learn`)"
        )
    out: dict[str, ZoneFixtures] = {}
    for zid, entry in data["zones"].items():
        try:
            learned = entry.get("learned_at")
            learn_s = entry.get("learn_s")
            fixtures = []
            for item in entry.get("fixtures", []):
                source = item["source"]
                if source not in ("learned", "operator"):
                    raise ValueError(f"source {source!r} is not 'learned' or 'operator'")
                fixtures.append(
                    Fixture(
                        str(item["id"]),
                        zid,
                        as_box(item["box"]),
                        str(item["label"]),
                        source,
                        from_iso(item["added_at"]),
                    )
                )
            out[zid] = ZoneFixtures(
                fixtures,
                from_iso(learned) if learned is not None else None,
                float(learn_s) if learn_s is not None else None,
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise FixturesError(
                f"{where}: zone {zid!r}: {exc!s}; fix or remove that entry "
                "(`citywatch fixtures learn --zone` starts it anew)"
            ) from None
    return out


def load(path: Path) -> dict[str, ZoneFixtures]:
    """The stored zones, or none when the file does not exist yet."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise FixturesError(f"cannot read fixtures file {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FixturesError(f"{path}: not JSON ({exc}); remove it and learn again") from None
    return decode(data, str(path))


def save(path: Path, camera_id: str, zones: Mapping[str, ZoneFixtures]) -> None:
    """Write the file whole, atomically (a reader never sees half of it)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(encode(camera_id, zones), ensure_ascii=False, indent=1), "utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise FixturesError(f"cannot write fixtures file {path}: {exc}; check fixtures.dir") from None


class FixtureFile:
    """One camera's fixtures file, noticing changes made by someone else."""

    def __init__(self, path: Path, camera_id: str) -> None:
        self.path = path
        self.camera_id = camera_id
        self._stamp: tuple[int, int] | None = None

    def _current(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def load(self) -> dict[str, ZoneFixtures]:
        self._stamp = self._current()
        return load(self.path)

    def changed(self) -> bool:
        return self._current() != self._stamp

    def save(self, zones: Mapping[str, ZoneFixtures]) -> None:
        save(self.path, self.camera_id, zones)
        self._stamp = self._current()


RELOAD_EVERY_S = 2.0  # how often (frame time) the file is checked for an operator's changes


class KeptFixtures:
    """A camera's fixtures with their file: takes in the operator's changes, saves what was learnt."""

    def __init__(self, fixtures: CameraFixtures, file: FixtureFile) -> None:
        self.fixtures = fixtures
        self.file = file
        self._next_check = float("-inf")

    @classmethod
    def open(cls, camera: Camera, cfg: Config) -> KeptFixtures:
        """The camera's stored fixtures (``FixturesError`` if its file is unreadable)."""
        file = FixtureFile(fixtures_path(cfg.fixtures.dir, camera.id), camera.id)
        fixtures = CameraFixtures(
            camera.zones, cfg.fixtures, file.load(), camera_learn_s=camera.learn_fixtures_s
        )
        for zid in fixtures.learners:
            logger.info("%s: zone %s learns its fixtures", camera.id, zid)
        return cls(fixtures, file)

    def apply(self, t: float, objects: Sequence[DetectedObject]) -> list[DetectedObject]:
        if t >= self._next_check:
            self._next_check = t + RELOAD_EVERY_S
            if self.file.changed():
                self._reload()
        out, learnt = self.fixtures.apply(t, objects)
        if learnt:
            self._save_learnt(learnt)
        return out

    def _reload(self) -> None:
        try:
            stored = self.file.load()
        except FixturesError as exc:
            logger.error("%s: keeping the fixtures in use: %s", self.file.camera_id, exc)
            return
        self.fixtures.replace_stored(stored)
        logger.info("%s: fixtures reloaded from %s", self.file.camera_id, self.file.path)

    def _save_learnt(self, learnt: list[str]) -> None:
        camera_id = self.file.camera_id
        for zid in learnt:
            found = self.fixtures.zones[zid].fixtures
            logger.info(
                "%s: zone %s learnt %d fixtures: %s",
                camera_id,
                zid,
                len(found),
                ", ".join(f"{f.label} {list(f.box)}" for f in found) or "none",
            )
        try:
            # an operator's change since the last check is kept: only the learnt zones are replaced
            stored = self.file.load() if self.file.changed() else dict(self.fixtures.zones)
            for zid in learnt:
                stored[zid] = self.fixtures.zones[zid]
            self.file.save(stored)
            self.fixtures.replace_stored(stored)
        except FixturesError as exc:
            logger.error("%s: learnt fixtures are used but not stored: %s", camera_id, exc)
