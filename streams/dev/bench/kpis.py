"""KPI report benchmark: the report's queries over --events incident events in SQLite.

--days of incidents (a year) in a fresh, migrated database: four in ten warned and cleared (five
events), the rest dispatched and closed after accept, arrive, resolve and verification (ten),
of which one in ten reworked and one in ten overdue and escalated; a dispatch record per case
round and escalation, an acknowledgement and a decision per warning. Rows go in with executemany
(the store's own path is measured by ``bench store``). Then two reports are timed --runs times
each, reading the facts (the SQL) and counting them, in total and by unit: a month's (the
monthly report; about a twelfth of the events) and the whole span's (every event). Wall and CPU
seconds are both printed: on a loaded machine the CPU seconds are the comparable number.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from streams.contract.timeutil import to_iso
from streams.dev.bench import add_count
from streams.logic.history_notes import WARNING_WORKED

T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z
CATEGORIES = ("out_of_store_business", "illegal_parking", "bike_parking", "exposed_garbage")
UNITS = ("unit-1", "unit-2", "unit-3", "unit-4")
TARGET_S = 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_count(parser, "--events", 1_000_000, "N", "incident events in the database")
    add_count(parser, "--days", 365, "D", "days the incidents are spread over")
    add_count(parser, "--runs", 3, "R", "reports timed (the best is the result)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--db",
        default=None,
        metavar="PATH",
        help="keep the SQLite database here, or reuse it (default: temp)",
    )


def _life(rng: random.Random) -> list[str]:
    """The states one incident goes through."""
    if rng.random() < 0.4:
        return ["open", "warned", "warned", "cleared", "closed"]
    states = ["open", "warned", "warned", "dispatched"]
    if rng.random() < 0.1:
        states += ["overdue"]
    states += ["accepted", "arrived", "resolved", "verifying"]
    if rng.random() < 0.1:
        states += ["reopened", "dispatched", "accepted", "arrived", "resolved", "verifying"]
    return [*states, "verified", "closed"]


class Rows:
    """The rows of the generated month, per table."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = {
            "incidents": [], "incident_events": [], "case_dispatches": [], "loudspeaker_acks": [],
            "broadcast_decisions": [],
        }  # fmt: skip

    def incident(self, n: int, rng: random.Random, days: int) -> int:
        """Incident ``n``'s rows; the number of its events."""
        iid, opened = f"inc-{n}", T0 + rng.uniform(0, days * 86_400)
        camera, unit = f"cam-{n % 50}", UNITS[n % len(UNITS)]
        t, case, rounds = opened, "", 0
        for i, state in enumerate(_life(rng)):
            t += rng.uniform(5, 600)
            note = WARNING_WORKED if state == "closed" and rounds == 0 else state
            self.tables["incident_events"].append(
                {"row_key": f"{n}-{i}", "incident_id": iid, "at": to_iso(t), "state": state, "actor": "rules",
                 "note": note}
            )  # fmt: skip
            if state == "warned" and i == 1:
                self._warning(iid, n, t)
            if state == "dispatched" or (state == "overdue" and case):
                rounds += state == "dispatched"
                case = f"case-{n}-{rounds}"
                escalated = state == "overdue"
                self.tables["case_dispatches"].append(
                    {"row_key": f"{n}-d{i}", "case_id": case, "incident_id": iid,
                     "unit_id": "unit-district" if escalated else unit, "grid_id": f"grid-{n % 20}",
                     "state": state, "level": "district" if escalated else "street", "created_at": to_iso(t),
                     "due_at": to_iso(t + 3600)}
                )  # fmt: skip
        category = CATEGORIES[n % len(CATEGORIES)]
        self.tables["incidents"].append(
            {"incident_id": iid, "version": 1, "revision": 1, "state": "closed", "category": category,
             "camera_id": camera, "zone_id": "z-1", "opened_at": to_iso(opened), "updated_at": to_iso(t),
             "history_omitted": 0, "record": {}}
        )  # fmt: skip
        return len(self.tables["incident_events"])

    def _warning(self, iid: str, n: int, at: float) -> None:
        self.tables["loudspeaker_acks"].append(
            {"row_key": f"a{n}", "command_id": f"cmd-{n}", "speaker_id": "spk", "incident_id": iid,
             "status": "played", "reason": "", "started_at": to_iso(at + 1), "finished_at": to_iso(at + 5)}
        )  # fmt: skip
        self.tables["broadcast_decisions"].append(
            {"row_key": f"b{n}", "request_id": f"cmd-{n}", "speaker_id": "spk", "decision": "sent",
             "reason": "within policy", "command_id": f"cmd-{n}", "source": "auto",
             "requested_by": "citywatch", "incident_id": iid, "at": to_iso(at)}
        )  # fmt: skip


def fill(engine: Engine, events: int, days: int, rng: random.Random) -> tuple[int, int]:
    """About ``events`` incident events (whole incidents); (events, incidents) written."""
    from streams.store import schema

    written = incidents = 0
    while written < events:
        rows = Rows()
        while (
            written + len(rows.tables["incident_events"]) < events and len(rows.tables["incidents"]) < 20_000
        ):
            rows.incident(incidents, rng, days)
            incidents += 1
        with engine.begin() as conn:
            for name, values in rows.tables.items():
                if values:
                    conn.execute(insert(schema.metadata.tables[name]), values)
        written += len(rows.tables["incident_events"])
    return written, incidents


def timed_report(
    engine: Engine, start: float, days: int, by: str | None, runs: int
) -> tuple[float, float, Any]:
    """The best wall and CPU seconds of ``runs`` reports of ``days`` from ``start``, and the report."""
    from streams.reports.period import Period
    from streams.reports.report import kpi_report

    period = Period(start, start + days * 86_400, "Asia/Shanghai")
    wall = cpu = float("inf")
    report: Any = {}
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        report = kpi_report(engine, period, by, None, now=start + (days + 30) * 86_400)
        wall = min(wall, time.perf_counter() - began)
        cpu = min(cpu, time.process_time() - began_cpu)
    return wall, cpu, report


def _stored_events(engine: Engine) -> tuple[int, int]:
    from sqlalchemy import func, select

    from streams.store import schema

    with engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(schema.incident_events)).scalar_one()
        incidents = conn.execute(select(func.count()).select_from(schema.incidents)).scalar_one()
    return int(events), int(incidents)


def run(args: argparse.Namespace) -> int:
    from streams.commands.bench import result_line
    from streams.store.database import open_engine, upgrade

    rng = random.Random(args.seed)  # noqa: S311 - benchmark values, not secrets
    with tempfile.TemporaryDirectory(prefix="citywatch-bench-kpis-") as folder:
        path = Path(args.db) if args.db else Path(folder) / f"{uuid.uuid4().hex}.db"
        engine = open_engine(f"sqlite:///{path}")
        upgrade(engine)
        events, incidents = _stored_events(engine)
        if events:
            print(f"SQLite {path}: reusing its {events} incident events of {incidents} incidents")
        else:
            began = time.perf_counter()
            events, incidents = fill(engine, args.events, args.days, rng)
            print(f"SQLite: {events} incident events of {incidents} incidents over {args.days} days, "
                  f"written in {time.perf_counter() - began:.1f} s")  # fmt: skip
        month = T0 + (args.days // 2) * 86_400
        results = {
            "month": timed_report(engine, month, 30, None, args.runs),
            "month_by_unit": timed_report(engine, month, 30, "unit", args.runs),
            "all": timed_report(engine, T0 - 86_400, args.days + 2, None, args.runs),
        }
        engine.dispose()
    for name, (wall, cpu, report) in results.items():
        t = report["total"]
        print(f"report {name}: {t['cases_dispatched']} cases, {t['incidents_warned']} warned incidents: "
              f"{wall:.3f} s ({cpu:.3f} s CPU), best of {args.runs}")  # fmt: skip
    print(f"target: a month's report within {TARGET_S:g} s")
    print(result_line(events=events, kpi_month_s=results["month"][0], kpi_month_cpu_s=results["month"][1],
                      kpi_month_by_unit_s=results["month_by_unit"][0], kpi_all_s=results["all"][0],
                      kpi_all_cpu_s=results["all"][1], target_s=TARGET_S))  # fmt: skip
    return 0
