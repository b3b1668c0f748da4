"""Case-record benchmark: how fast the store writes, and how fast the board's history query is.

Writing: a generated scenario (each incident's alerts as its state moves on, a dispatch and a
unit's update) goes through the store's own path, ``writer.rows_of`` + ``writer.merge`` +
``upsert.write``, one transaction per batch of records, into a fresh SQLite database (and a
PostgreSQL one where a server answers at --pg). Beside it, the plain ceiling: the same final
rows inserted with executemany into the same tables of another fresh database. Both count the
rows the database holds at the end; ratio = store / bulk.

Reading: --events incident events (a tenth as many incidents, five categories, a month) in
SQLite, then the board's query, timed --queries times: the events of incidents of one category
in a one-day range whose note holds a word, newest first, one page of 50 at a random offset.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, select, text

from streams.contract import records as r
from streams.contract.timeutil import to_iso
from streams.dev.bench import add_count
from streams.dev.bench.raw import percentile

T0 = 1_780_000_000.0
LIFE = ("open", "warned", "dispatched", "accepted", "arrived", "resolved", "verifying", "verified", "closed")
CATEGORIES = ("out_of_store_business", "street_vending", "litter", "parking", "banner")
PAGE = 50
BATCH = 500  # records per transaction, as the store polls them
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_count(parser, "--incidents", 2000, "N", "incidents of the written scenario")
    add_count(parser, "--events", 100_000, "N", "incident events the history query runs over")
    add_count(parser, "--queries", 200, "Q", "history queries timed")
    parser.add_argument("--pg", default=PG, metavar="URL", help=f"PostgreSQL server (default {PG}; '' skips)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")


def generated(incidents: int) -> list[tuple[str, bytes]]:
    """(topic suffix, payload) of each incident's life: alerts, a dispatch, an update."""
    out: list[tuple[str, bytes]] = []
    for n in range(incidents):
        base = T0 + n * 10
        category = {"key": CATEGORIES[n % len(CATEGORIES)], "code": "200504", "name": "x"}
        where = {"address": f"{n} Main St", "grid_id": f"g-{n % 7}"}
        past: list[dict[str, str]] = []
        for i, state in enumerate(LIFE):
            past.append({"at": to_iso(base + i), "state": state, "by": "policy", "note": f"{state} {n}"})
            alert = r.Alert(
                incident_id=f"inc-{n}", category=category, camera_id="cam-a", zone_id="z-1",
                location=where, state=state, opened_at=to_iso(base), updated_at=to_iso(base + i),
                evidence=[f"evidence/cam-a/inc-{n}.jpg"], history=list(past), revision=i + 1,
            )  # fmt: skip
            out.append(("alerts", alert.to_bytes()))
        case = r.DispatchCase(
            case_id=f"case-{n}", incident_id=f"inc-{n}", unit_id="u-1", grid_id="g-1", category=category,
            location=where, created_at=to_iso(base + 2), due_at=to_iso(base + 600), state="dispatched",
            level="street",
        )  # fmt: skip
        out.append(("dispatch", case.to_bytes()))
        update = r.DispatchUpdate(case_id=f"case-{n}", unit_id="u-1", status="resolved", at=to_iso(base + 5))
        out.append(("dispatch-updates", update.to_bytes()))
    return out


def fresh_sqlite(folder: Path) -> Engine:
    from streams.store.database import open_engine, upgrade

    engine = open_engine(f"sqlite:///{folder / uuid.uuid4().hex}.db")
    upgrade(engine)
    return engine


def store_rate(engine: Engine, payloads: list[tuple[str, bytes]]) -> tuple[int, float]:
    """Rows held after the store's own path wrote the payloads, and the seconds it took."""
    from streams.store import upsert, writer
    from streams.store.database import row_counts

    start = time.perf_counter()
    for i in range(0, len(payloads), BATCH):
        rows = [row for suffix, raw in payloads[i : i + BATCH] for row in writer.rows_of(suffix, raw)]
        with engine.begin() as conn:
            upsert.write(conn, writer.merge(rows))
    took = time.perf_counter() - start
    return sum(row_counts(engine).values()), took


def bulk_rate(engine: Engine, payloads: list[tuple[str, bytes]]) -> tuple[int, float]:
    """The same final rows, mapped beforehand, inserted with executemany: rows and seconds."""
    from streams.store import schema, writer

    merged = writer.merge(row for suffix, raw in payloads for row in writer.rows_of(suffix, raw))
    start = time.perf_counter()
    with engine.begin() as conn:
        for name, rows in merged.items():
            for i in range(0, len(rows), 5000):
                conn.execute(insert(schema.metadata.tables[name]), rows[i : i + 5000])
    return sum(len(rows) for rows in merged.values()), time.perf_counter() - start


@contextmanager
def server_database(server: str) -> Iterator[Engine | None]:
    """A fresh, migrated database on the PostgreSQL ``server``, dropped after; None if it does not answer."""
    from streams.store.database import open_engine, upgrade

    name = f"cw_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(server + "postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # no server: say so and go on
        print(f"PostgreSQL at {server}: not reachable ({type(exc).__name__}), not measured")
        yield None
        return
    engine = open_engine(server + name)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def _history(n: int, events: int, rng: random.Random) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Incident ``n`` (closed) and its first ``events`` (at most ten) events."""
    opened = T0 + rng.uniform(0, 30 * 86_400)
    incident: dict[str, Any] = {"incident_id": f"inc-{n}", "version": 1, "revision": 1, "state": "closed"}
    incident |= {"category": CATEGORIES[n % len(CATEGORIES)], "camera_id": "cam-a", "zone_id": "z-1"}
    incident |= {"opened_at": to_iso(opened), "updated_at": to_iso(opened + 600)}
    incident |= {"history_omitted": 0, "record": {}}
    evs = []
    for i in range(min(10, events)):
        state = LIFE[min(i, len(LIFE) - 1)]
        ev = {"row_key": f"{n}-{i}", "incident_id": f"inc-{n}", "at": to_iso(opened + 60 * i), "state": state}
        evs.append({**ev, "actor": "policy", "note": f"{state} near {rng.choice(WORDS)}"})
    return incident, evs


def fill_history(engine: Engine, events: int, rng: random.Random) -> None:
    """``events`` incident events over a month, ten per incident."""
    from streams.store import schema

    incidents = max(1, -(-events // 10))
    with engine.begin() as conn:
        for lo in range(0, incidents, 5000):
            made = [_history(n, events - n * 10, rng) for n in range(lo, min(incidents, lo + 5000))]
            conn.execute(insert(schema.incidents), [inc for inc, _ in made])
            conn.execute(insert(schema.incident_events), [ev for _, evs in made for ev in evs])


WORDS = ("market", "station", "school", "bridge", "park", "mall", "harbour", "plaza")


def history_p99_ms(engine: Engine, queries: int, rng: random.Random) -> float:
    """p99 of the board's history query (category, one day, a word in the note, one page)."""
    from streams.store.schema import incident_events as ev
    from streams.store.schema import incidents as inc

    times: list[float] = []
    with engine.connect() as conn:
        for _ in range(queries):
            day = T0 + rng.uniform(0, 29 * 86_400)
            query = (
                select(ev.c.incident_id, ev.c.at, ev.c.state, ev.c.actor, ev.c.note)
                .join(inc, inc.c.incident_id == ev.c.incident_id)
                .where(inc.c.category == rng.choice(CATEGORIES))
                .where(ev.c.at >= to_iso(day), ev.c.at < to_iso(day + 86_400))
                .where(ev.c.note.like(f"%{rng.choice(WORDS)}%"))
                .order_by(ev.c.at.desc())
                .limit(PAGE)
                .offset(PAGE * rng.randrange(3))
            )
            start = time.perf_counter()
            conn.execute(query).all()
            times.append((time.perf_counter() - start) * 1000)
    return percentile(times, 99)


def run(args: argparse.Namespace) -> int:
    from streams.commands.bench import result_line

    rng = random.Random(args.seed)  # noqa: S311 - benchmark values, not secrets
    payloads = generated(args.incidents)
    with tempfile.TemporaryDirectory(prefix="citywatch-bench-store-") as folder:
        rows, store_s = store_rate(fresh_sqlite(Path(folder)), payloads)
        bulk_rows, bulk_s = bulk_rate(fresh_sqlite(Path(folder)), payloads)
        store_ps, bulk_ps = rows / store_s, bulk_rows / bulk_s
        print(f"SQLite: {len(payloads)} records -> {rows} rows: store {store_ps:.0f} rows/s, ", end="")
        print(f"bulk {bulk_ps:.0f} rows/s")
        if args.pg:
            with server_database(args.pg) as pg:
                if pg is not None:
                    pg_rows, pg_s = store_rate(pg, payloads)
                    print(f"PostgreSQL: store {pg_rows / pg_s:.0f} rows/s")
        history = fresh_sqlite(Path(folder))
        fill_history(history, args.events, rng)
        p99 = history_p99_ms(history, args.queries, rng)
        print(
            f"history query over {args.events} events (SQLite): p99 {p99:.1f} ms over {args.queries} queries"
        )
        history.dispose()
    print(result_line(store_rows_per_s=store_ps, bulk_rows_per_s=bulk_ps, ratio=store_ps / bulk_ps,
                      history_p99_ms=p99))  # fmt: skip
    return 0
