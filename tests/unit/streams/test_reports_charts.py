"""What the reports page draws beyond the KPIs: cases per day and category (every day of the
period, zeros included), and the time-to-resolve distribution."""

from __future__ import annotations

from pathlib import Path

from streams.reports.charts import bucket_labels, bucket_of, chart_data
from streams.reports.period import parse_period
from streams.reports.report import read_facts

from ...reports_support import T0, District, fresh_engine, reports_config
from .test_reports import closed_loop, dispatched


def test_buckets_cover_every_duration_once() -> None:
    labels = bucket_labels()
    assert labels[0] == "0-15 min" and labels[-1] == ">1440 min"
    assert [bucket_of(m) for m in (0, 14.9, 15, 59, 60, 1439, 1440, 10**6)] == [0, 0, 1, 2, 3, 6, 7, 7]


def test_cases_per_day_and_category_and_their_resolve_times(tmp_path: Path) -> None:
    d = District()
    closed_loop(d, dispatched(d, T0 + 10), T0 + 20)  # resolved 14.5 s after its dispatch
    dispatched(d, T0 + 86_400)  # the next day, still open
    engine = fresh_engine(tmp_path / "record.db")
    d.store(engine)
    cfg = reports_config()
    period = parse_period("2026-05-25", "2026-05-28", "Asia/Shanghai")
    charts = chart_data(read_facts(engine, period, cfg, T0 + 7 * 86_400))
    assert charts["days"] == ["2026-05-25", "2026-05-26", "2026-05-27"]
    assert charts["per_day_category"] == {"illegal_parking": [0, 1, 1]}
    assert charts["resolve_minutes"]["counts"] == [1, 0, 0, 0, 0, 0, 0, 0]
