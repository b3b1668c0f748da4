"""A KPI report as people read it: a terminal table, CSV (UTF-8 with a BOM, so that Excel reads
the Chinese headers) and an XLSX workbook (a sheet per breakdown, percentages formatted).

Every form shows the same columns (``COLUMNS``): one row per group, then the total (合计).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.config import Config

BY_NAMES = {
    "unit": "单位",
    "grid": "网格",
    "category": "类别",
    "camera": "摄像头",
    "speaker": "喇叭",
    "day": "日期",
    None: "合计",
}
LEVEL_NAMES = {"street": "街道级", "street_office": "街道办级", "district": "区级"}
DECISION_NAMES = {"sent": "已发送", "queued": "排队", "suppressed": "未发送"}
SPAN_NAMES = {
    "dispatch_to_accept": "派遣→接单",
    "dispatch_to_arrive": "派遣→到场",
    "dispatch_to_resolve": "派遣→处置",
    "open_to_close": "立案→结案",
}
TOTAL = "合计"


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Mapping[str, Any]], Any]
    kind: str = "count"  # count, rate (0..1), minutes, hours

    def cell(self, kpis: Mapping[str, Any]) -> Any:
        return self.value(kpis)


def _minutes(span: str, clock: str, stat: str) -> Callable[[Mapping[str, Any]], Any]:
    def value(kpis: Mapping[str, Any]) -> Any:
        seconds = kpis[span][clock][stat]
        return None if seconds is None else round(seconds / 60, 2)

    return value


def _key(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda kpis: kpis[name]


def _escalations(level: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda kpis: kpis["overdue"]["escalations"].get(level, 0)


def _decided(decision: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda kpis: sum(kpis["broadcasts"].get(decision, {}).values())


def columns(levels: Iterable[str]) -> list[Column]:
    """The report's columns; ``levels``: the escalation levels that occur."""
    cols = [
        Column("派遣案件数", _key("cases_dispatched")),
        Column("结案数", _key("cases_closed")),
        Column("结案率", _key("close_rate"), "rate"),
        Column("按期结案数", _key("cases_on_time")),
        Column("按期结案率", _key("on_time_rate"), "rate"),
        Column("处置案件数", _key("cases_resolved")),
        Column("返工案件数", _key("cases_reopened")),
        Column("返工率", _key("rework_rate"), "rate"),
        Column("超期案件数", lambda k: k["overdue"]["cases"]),
    ]
    for level in levels:
        name = LEVEL_NAMES.get(level, level)
        cols.append(Column(f"升级至{name}次数", _escalations(level)))
    cols += [
        Column("喊话事件数", _key("incidents_warned")),
        Column("喊话有效数", _key("warnings_effective")),
        Column("喊话有效率", _key("warning_effectiveness"), "rate"),
    ]
    for span, label in SPAN_NAMES.items():
        for clock, clock_name in (("wall", ""), ("working", "工作时间")):
            for stat, stat_name in (("median_s", "中位数"), ("p90_s", "P90")):
                header = f"{label}{clock_name}{stat_name}(分钟)"
                cols.append(Column(header, _minutes(span, clock, stat), "minutes"))
    for decision, name in DECISION_NAMES.items():
        cols.append(Column(f"喊话{name}", _decided(decision)))
    cols.append(Column("摄像头离线小时", _key("camera_offline_hours"), "hours"))
    return cols


def levels_of(report: Mapping[str, Any]) -> list[str]:
    rows = [report["total"], *report["groups"]]
    return sorted({level for row in rows for level in row["overdue"]["escalations"]})


def names(cfg: Config | None) -> dict[str, dict[str, str]]:
    """Per breakdown, the configured name of each group key (unit, grid, category, camera, speaker)."""
    if cfg is None:
        return {}
    return {
        "unit": {u.id: u.name for u in cfg.units},
        "grid": {g.id: g.name for g in cfg.grids},
        "category": {k: c.name for k, c in cfg.categories.items()},
        "camera": {c.id: c.name for c in cfg.cameras},
        "speaker": {s.id: s.name for s in cfg.speakers},
    }


def rows(report: Mapping[str, Any], cfg: Config | None) -> tuple[list[str], list[list[Any]], list[Column]]:
    """Headers, rows (each group, then the total) and the columns of a report."""
    by = report["by"]
    cols = columns(levels_of(report))
    label = names(cfg).get(by or "", {})
    headers = [BY_NAMES[by], "名称", *(c.header for c in cols)]
    out = [[g[by], label.get(g[by], ""), *(c.cell(g) for c in cols)] for g in report["groups"]]
    out.append([TOTAL, "", *(c.cell(report["total"]) for c in cols)])
    return headers, out, cols


def to_csv(report: Mapping[str, Any], cfg: Config | None) -> bytes:
    """The report as CSV: UTF-8 with a BOM; rates as fractions (0.875), times in minutes."""
    headers, body, _ = rows(report, cfg)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(headers)
    writer.writerows([["" if v is None else v for v in row] for row in body])
    return text.getvalue().encode("utf-8-sig")


def _shown(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind in ("minutes", "hours"):
        return f"{value:.1f}"
    return str(value)


TABLE_COLUMNS: tuple[str, ...] = ("派遣案件数", "结案率", "按期结案率", "返工率", "超期案件数", "喊话有效率")
TABLE_COLUMNS += ("派遣→接单中位数(分钟)", "派遣→处置中位数(分钟)", "立案→结案P90(分钟)", "摄像头离线小时")


def to_table(report: Mapping[str, Any], cfg: Config | None) -> str:
    """A terminal table of the main KPIs (every KPI is in the JSON, CSV and XLSX forms)."""
    headers, body, cols = rows(report, cfg)
    keep = [0] + [i + 2 for i, c in enumerate(cols) if c.header in TABLE_COLUMNS]
    kinds = {i + 2: c.kind for i, c in enumerate(cols)}
    cells = [[headers[i] for i in keep]]
    cells += [[_shown(row[i], kinds.get(i, "text")) for i in keep] for row in body]
    widths = [max(_width(r[j]) for r in cells) for j in range(len(keep))]
    lines = ["  ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    head = (
        f"{report['from']} .. {report['to']} ({report['timezone']}; working time: {report['working_time']})"
    )
    return "\n".join([head, *lines]) + "\n"


def _width(text: str) -> int:
    """Columns a text takes in a terminal (a CJK character takes two)."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def write(data: bytes | str, out: Path | None) -> None:
    """To ``out``, or to standard output."""
    import sys

    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    elif isinstance(data, bytes):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        sys.stdout.write(data)
