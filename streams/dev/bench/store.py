"""Case-record benchmark: how fast the store writes, and how fast the board's history query is.

Writing: a generated scenario (each incident's alerts as its state moves on, a dispatch and a
unit's update) goes through the store role's own write path (``Store.write``: decode, map,
merge and upsert, one transaction per poll of ``max_poll_records`` records) into a fresh
SQLite database, and into a fresh PostgreSQL one where a server answers at --pg. Beside each,
the plain ceiling: the same final rows, mapped beforehand, inserted with executemany in one
transaction into the same tables of another fresh database of the same kind. Both count the
rows the database holds at the end; ratio = store / bulk.

Reading: --events incident events (a tenth as many incidents, five categories, a month) in
SQLite, then the board's query, timed --queries times: the events of incidents of one category
in a one-day range whose note holds a word, newest first, one page of 50 at a random offset.
"""

from __future__ import annotations

import argparse
import gc
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Engine, Table, create_engine, insert, select, text
from sqlalchemy.sql.dml import Insert

from streams.contract import records as r
from streams.contract.timeutil import to_iso
from streams.contract.topics import Topics
from streams.dev.bench import add_count
from streams.dev.bench.raw import percentile

T0 = 1_780_000_000.0
LIFE = ("open", "warned", "dispatched", "accepted", "arrived", "resolved", "verifying", "verified", "closed")
CATEGORIES = ("out_of_store_business", "street_vending", "litter", "parking", "banner")
PAGE = 50
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_count(parser, "--incidents", 2000, "N", "incidents of the written scenario")
    add_count(parser, "--events", 100_000, "N", "incident events the history query runs over")
    add_count(parser, "--queries", 200, "Q", "history queries timed")
    add_count(parser, "--repeat", 3, "R", "runs of each write into a fresh database; the fastest counts")
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


class Polled(NamedTuple):
    """What the store reads of a consumed record."""

    topic: str
    partition: int
    offset: int
    value: bytes


def polls(payloads: list[tuple[str, bytes]], size: int, topics: Topics) -> list[dict[str, list[Polled]]]:
    """The payloads as the store's consumer hands them over: ``size`` records a poll."""
    records = [Polled(topics.name(suffix), 0, n, raw) for n, (suffix, raw) in enumerate(payloads)]
    return [{"bench": records[i : i + size]} for i in range(0, len(records), size)]


def store_rate(engine: Engine, payloads: list[tuple[str, bytes]]) -> tuple[int, float, float]:
    """Rows held after the store role's write path wrote the payloads, and its seconds: reading
    (decoding and mapping the records), writing (merging and upserting their rows, committing)."""
    from streams.store import writer
    from streams.store.database import row_counts
    from streams.store.role import Store, StoreOptions

    options = StoreOptions("", Topics())
    store = Store(engine, options)
    batches = polls(payloads, options.max_poll_records, options.topics)
    writer.forget()  # cold, as a store that has not seen these records
    read_s = write_s = 0.0
    for polled in batches:
        start = time.perf_counter()
        batch = store.read(polled)
        read = time.perf_counter()
        store.write(batch)
        read_s, write_s = read_s + read - start, write_s + time.perf_counter() - read
        if batch.letters:
            raise RuntimeError(f"the benchmark's records were dead-lettered: {batch.letters[0][1]}")
    return sum(row_counts(engine).values()), read_s, write_s


def bulk_rate(
    engine: Engine, payloads: list[tuple[str, bytes]], *, driver: bool = False
) -> tuple[int, float]:
    """The same final rows, mapped beforehand, inserted with executemany in one transaction:
    through SQLAlchemy Core (``conn.execute(insert(table), rows)``), or with ``driver`` handed
    to the driver's executemany as the store hands its upserts (``upsert.execute_many``)."""
    from streams.store import schema, upsert, writer

    merged = writer.merge(row for suffix, raw in payloads for row in writer.rows_of(suffix, raw))
    start = time.perf_counter()
    with engine.begin() as conn:
        for name, rows in merged.items():
            table = schema.metadata.tables[name]
            for i in range(0, len(rows), 5000):
                if driver:
                    upsert.execute_many(conn, _plain_insert(table), rows[i : i + 5000])
                else:
                    conn.execute(insert(table), rows[i : i + 5000])
    return sum(len(rows) for rows in merged.values()), time.perf_counter() - start


@cache
def _plain_insert(table: Table) -> Insert:
    return insert(table)


@contextmanager
def sqlite_database(folder: Path) -> Iterator[Engine]:
    """A fresh, migrated SQLite database in ``folder``."""
    engine = fresh_sqlite(folder)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def server_database(server: str) -> Iterator[Engine]:
    """A fresh, migrated database on the PostgreSQL ``server``, dropped after."""
    from streams.store.database import open_engine, upgrade

    name = f"cw_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server + "postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine = open_engine(server + name)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def reachable(server: str) -> bool:
    """Whether the PostgreSQL ``server`` answers; if not, says so."""
    try:
        admin = create_engine(server + "postgres")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
        admin.dispose()
    except Exception as exc:  # no server: say so and go on
        print(f"PostgreSQL at {server}: not reachable ({type(exc).__name__}), not measured")
        return False
    return True


def compared(
    name: str,
    fresh: Callable[[], AbstractContextManager[Engine]],
    payloads: list[tuple[str, bytes]],
    repeat: int,
) -> dict[str, float]:
    """The store's rows/s and both bulk inserts', into fresh databases from ``fresh``, each the
    fastest of ``repeat`` runs (taken in turns, so a neighbour's load falls on all alike), and
    the ratios: printed, and returned as the RESULT's values."""
    store = {"read": float("inf"), "write": float("inf"), "both": float("inf")}
    bulk = {"sqlalchemy": float("inf"), "driver": float("inf")}
    for _ in range(repeat):
        with fresh() as engine:
            rows, reading, writing = store_rate(engine, payloads)
        for part, took in (("read", reading), ("write", writing), ("both", reading + writing)):
            store[part] = min(store[part], took)
        for way in bulk:
            with fresh() as engine:
                bulk_rows, took = bulk_rate(engine, payloads, driver=way == "driver")
            bulk[way] = min(bulk[way], took)
            if rows != bulk_rows:
                raise RuntimeError(f"{name}: the store holds {rows} rows, the bulk insert {bulk_rows}")
    print(f"{name}: {len(payloads)} records -> {rows} rows, best of {repeat}:")
    print(f"  store {rows / store['both']:.0f} rows/s ({store['both']:.2f} s: reading the records ", end="")
    print(f"{store['read']:.2f} s, writing their rows {store['write']:.2f} s)")
    for way, took in bulk.items():
        print(f"  bulk insert, {way} executemany: {rows / took:.0f} rows/s ({took:.2f} s): ", end="")
        print(f"ratio {took / store['both']:.2f}, writing alone {took / store['write']:.2f}")
    result = {"store_rows_per_s": rows / store["both"], "bulk_rows_per_s": rows / bulk["sqlalchemy"]}
    result |= {
        "ratio": bulk["sqlalchemy"] / store["both"],
        "write_ratio": bulk["sqlalchemy"] / store["write"],
    }
    result |= {
        "driver_bulk_rows_per_s": rows / bulk["driver"],
        "driver_ratio": bulk["driver"] / store["both"],
    }
    return result


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


def writes(args: argparse.Namespace, folder: Path) -> dict[str, float]:
    """The write comparisons, SQLite's and PostgreSQL's where it answers: the RESULT's values."""
    from streams.store.role import freeze_startup

    payloads = generated(args.incidents)
    freeze_startup()  # as the store command does once started
    try:
        result = compared("SQLite", lambda: sqlite_database(folder), payloads, args.repeat)
        if args.pg and reachable(args.pg):
            server = args.pg
            measured = compared("PostgreSQL", lambda: server_database(server), payloads, args.repeat)
            result |= {f"pg_{key}": value for key, value in measured.items()}
    finally:
        gc.unfreeze()  # this process goes on (a test, the next benchmark)
    return result


def run(args: argparse.Namespace) -> int:
    from streams.commands.bench import result_line

    rng = random.Random(args.seed)  # noqa: S311 - benchmark values, not secrets
    with tempfile.TemporaryDirectory(prefix="citywatch-bench-store-") as folder:
        result = writes(args, Path(folder))
        with sqlite_database(Path(folder)) as history:
            fill_history(history, args.events, rng)
            p99 = history_p99_ms(history, args.queries, rng)
        print(
            f"history query over {args.events} events (SQLite): p99 {p99:.1f} ms over {args.queries} queries"
        )
    print(result_line(**result, history_p99_ms=p99))
    return 0
