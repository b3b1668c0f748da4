"""The outbox: a SQLite file (``notify.state_file``) of the events to send, one row per event key
and robot. Adding is ``INSERT OR IGNORE``: an event derived again (a redelivered record, the same
history entry in a later alert, a restart) adds nothing, and one sent is never sent again. The
role commits its Kafka offsets only after the rows are in the file, so nothing read is lost;
rows leave when sent (``sent`` set). Bounded: ``prune`` keeps the newest ``keep`` sent rows;
what waits is never pruned (at most ``notify.max_waiting`` a robot: the role refuses more; the
health says when a robot keeps failing)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from streams.notify.events import Event

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    key TEXT NOT NULL,
    robot TEXT NOT NULL,
    body TEXT NOT NULL,
    added REAL NOT NULL,
    sent REAL,
    PRIMARY KEY (key, robot)
);
CREATE INDEX IF NOT EXISTS outbox_waiting ON outbox (robot, sent, added);
"""


class Outbox:
    def __init__(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def add(self, rows: Iterable[tuple[Event, str]], now: float) -> int:
        """(event, robot id) rows in one transaction; how many were new."""
        added = 0
        self.db.execute("BEGIN")
        try:
            for event, robot in rows:
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO outbox (key, robot, body, added) VALUES (?, ?, ?, ?)",
                    (event.key, robot, json.dumps(event.to_json(), ensure_ascii=False), now),
                )
                added += cur.rowcount
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return added

    def waiting(self, robot: str, limit: int) -> list[Event]:
        """The robot's events not yet sent, oldest first."""
        rows = self.db.execute(
            "SELECT body FROM outbox WHERE robot = ? AND sent IS NULL ORDER BY added, rowid LIMIT ?",
            (robot, limit),
        )
        return [Event.from_json(json.loads(body)) for (body,) in rows]

    def waiting_count(self, robot: str) -> int:
        (count,) = self.db.execute(
            "SELECT COUNT(*) FROM outbox WHERE robot = ? AND sent IS NULL", (robot,)
        ).fetchone()
        return int(count)

    def mark_sent(self, robot: str, keys: Iterable[str], now: float) -> None:
        self.db.executemany(
            "UPDATE outbox SET sent = ? WHERE robot = ? AND key = ?", [(now, robot, k) for k in keys]
        )

    def sent_since(self, robot: str, since: float) -> list[float]:
        """When the robot's messages after ``since`` were sent (a digest's events share one time)."""
        rows = self.db.execute(
            "SELECT DISTINCT sent FROM outbox WHERE robot = ? AND sent > ?", (robot, since)
        )
        return [float(t) for (t,) in rows]

    def prune(self, keep: int) -> int:
        """Forget all but the newest ``keep`` sent rows; how many were forgotten."""
        cur = self.db.execute(
            "DELETE FROM outbox WHERE sent IS NOT NULL AND rowid NOT IN "
            "(SELECT rowid FROM outbox WHERE sent IS NOT NULL ORDER BY sent DESC LIMIT ?)",
            (keep,),
        )
        return cur.rowcount

    def waiting_for_others(self, robots: Iterable[str]) -> dict[str, int]:
        """Events waiting for robots not in ``robots`` (removed from the configuration), by robot."""
        known = set(robots)
        rows = self.db.execute("SELECT robot, COUNT(*) FROM outbox WHERE sent IS NULL GROUP BY robot")
        return {robot: int(n) for robot, n in rows if robot not in known}

    def count(self, *, sent: bool) -> int:
        clause = "sent IS NOT NULL" if sent else "sent IS NULL"
        return int(self.db.execute(f"SELECT COUNT(*) FROM outbox WHERE {clause}").fetchone()[0])  # noqa: S608

    def close(self) -> None:
        self.db.close()
