"""Zones reloaded without a restart: cameras.yaml's modification time, polled.

The worker (a Faust timer) and the detector (its frame loop) each hold a ``ConfigWatch`` on the
file they were started with and call ``poll(now)`` often; at most every ``every_s`` seconds it
looks at the file's mtime and size, and when they changed and the file is valid, it returns the
cameras whose zones differ (``zone_changes``). Only zones are applied live; other changes wait
for a restart (logged). A file with problems is logged and the running zones are kept. A worker
or detector on another machine picks up the change when its own copy of the file changes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from streams.config.camera import Zone
from streams.config.load import load_config
from streams.config.models import Config
from streams.contract.errors import ConfigError

logger = logging.getLogger(__name__)

POLL_S = 2.0


def zone_changes(old: Config, new: Config) -> dict[str, tuple[Zone, ...]]:
    """Camera id -> its new zones, for the cameras of both configurations whose zones differ."""
    before = {c.id: tuple(c.zones) for c in old.cameras}
    return {c.id: tuple(c.zones) for c in new.cameras if c.id in before and before[c.id] != tuple(c.zones)}


def _only_zones_differ(old: Config, new: Config) -> bool:
    def without_zones(cfg: Config) -> Config:
        cams = [c.model_copy(update={"zones": []}) for c in cfg.cameras]
        return cfg.model_copy(update={"cameras": cams})

    return without_zones(old) == without_zones(new)


class ConfigWatch:
    """Polls a configuration file and hands out the zone changes of each valid new version."""

    def __init__(self, path: str | os.PathLike[str], cfg: Config, every_s: float = POLL_S) -> None:
        self.path = Path(path)
        self.cfg = cfg
        self.every_s = every_s
        self._seen = self._stamp()
        self._next = 0.0

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def poll(self, now: float) -> dict[str, tuple[Zone, ...]]:
        """The cameras whose zones changed since the last valid version (empty: nothing to do)."""
        if now < self._next:
            return {}
        self._next = now + self.every_s
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return {}
        self._seen = stamp
        try:
            new = load_config(self.path)
        except ConfigError as exc:
            logger.warning(
                "config: %s changed but has problems; keeping the running zones:\n%s", self.path, exc
            )
            return {}
        changes = zone_changes(self.cfg, new)
        for camera_id in [c for c, zones in changes.items() if not self._categories_known(c, zones)]:
            del changes[camera_id]
        if not _only_zones_differ(self.cfg, new):
            logger.warning(
                "config: %s changed beyond zones: only zones are applied without a restart; "
                "restart to apply the rest",
                self.path,
            )
        for camera_id, zones in changes.items():
            logger.info(
                "%s: zones reloaded from %s: %s", camera_id, self.path, ", ".join(z.id for z in zones)
            )
        self.cfg = self._with_zones(changes)
        return changes

    def _categories_known(self, camera_id: str, zones: tuple[Zone, ...]) -> bool:
        unknown = sorted({k for z in zones for k in z.categories} - set(self.cfg.categories))
        if unknown:
            logger.warning(
                "%s: new zones use categories this process does not have yet (%s); restart to apply them",
                camera_id,
                ", ".join(unknown),
            )
        return not unknown

    def _with_zones(self, changes: dict[str, tuple[Zone, ...]]) -> Config:
        """The running configuration with only the changed zones applied."""
        cams = [
            c.model_copy(update={"zones": list(changes[c.id])}) if c.id in changes else c
            for c in self.cfg.cameras
        ]
        return self.cfg.model_copy(update={"cameras": cams})
