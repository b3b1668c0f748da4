"""`citywatch export cases`: one row per case of a period (the cases of the report, with all
that is stored about them so far), as CSV (UTF-8 with a BOM) or XLSX.

大类 / 小类: the category's ``code`` is the 小类 code (GB/T 30428-style, six digits) and its
``name`` the 小类 name, as stored with the incident; the 大类 code is the category's ``major``
(default: the code's first four digits) and its name ``major_name`` (default: the GB/T 30428
event class of those digits, ``MAJOR_NAMES``; empty for other codes).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, select

from streams.config import Config
from streams.contract.timeutil import from_iso
from streams.reports.case_facts import case_rows, chunks
from streams.reports.period import Period
from streams.reports.report import reading
from streams.store.schema import case_dispatches, case_updates, cases, evidence, incidents

MAJOR_NAMES = {
    "2001": "市容环境",
    "2002": "宣传广告",
    "2003": "施工管理",
    "2004": "突发事件",
    "2005": "街面秩序",
    "2006": "扩展事件",
}
SOURCES = {"camera": "视频识别", "sensor": "传感器", "health": "设备监测"}
HEADERS = (
    "案件编号", "事件编号", "问题来源", "大类编码", "大类名称", "小类编码", "小类名称", "地址", "网格",
    "责任单位", "当前单位", "立案时间", "派遣时间", "处置时间", "核查时间", "结案时间", "是否按期",
    "返工次数", "是否超期", "证据",
)  # fmt: skip
TIMES = ("opened_at", "dispatched_at", "last_resolved_at", "verified_at", "closed_at")


def major_of(code: str, key: str, cfg: Config | None) -> tuple[str, str]:
    """(大类 code, 大类 name) of a category: configured, else derived from its code."""
    category = cfg.categories.get(key) if cfg is not None else None
    major = (category.major if category else None) or code[:4]
    name = category.major_name if category and category.major_name is not None else MAJOR_NAMES.get(major, "")
    return major, name


def source_of(record: Mapping[str, Any]) -> str:
    """Where the incident came from: a sensor, camera health (no zone) or a camera's zone."""
    if record.get("sensor_id"):
        return "sensor"
    return "health" if record.get("camera_id") and not record.get("zone_id") else "camera"


def _extras(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per incident: its stored alert, evidence paths, patrol photos and latest unit."""
    out: dict[str, dict[str, Any]] = {i: {"record": {}, "evidence": [], "unit": ""} for i in ids}
    for part in chunks(ids):
        for row in conn.execute(
            select(incidents.c.incident_id, incidents.c.record).where(incidents.c.incident_id.in_(part))
        ):
            out[row.incident_id]["record"] = row.record or {}
        for row in conn.execute(
            select(evidence.c.incident_id, evidence.c.path)
            .where(evidence.c.incident_id.in_(part))
            .order_by(evidence.c.path)
        ):
            out[row.incident_id]["evidence"].append(row.path)
        photos = (
            select(cases.c.incident_id, case_updates.c.photos)
            .join(cases, cases.c.case_id == case_updates.c.case_id)
            .where(cases.c.incident_id.in_(part))
            .order_by(case_updates.c.at)
        )
        for row in conn.execute(photos):
            out[row.incident_id]["evidence"] += [p for p in row.photos or [] if isinstance(p, str)]
        d = case_dispatches.c
        for row in conn.execute(
            select(d.incident_id, d.unit_id).where(d.incident_id.in_(part)).order_by(d.created_at)
        ):
            out[row.incident_id]["unit"] = row.unit_id
    return out


def _row(fact: Mapping[str, Any], extra: Mapping[str, Any], period: Period, cfg: Config | None) -> list[Any]:
    record = extra["record"]
    category = record.get("category") or {}
    code, key = str(category.get("code", "")), str(category.get("key", fact["category"]))
    major, major_name = major_of(code, key, cfg)
    times = [period.local(from_iso(fact[t])).strftime("%Y-%m-%d %H:%M:%S") if fact[t] else "" for t in TIMES]
    on_time = "" if not fact["closed_at"] else ("是" if fact["on_time"] else "否")
    rework = record.get("rework") if isinstance(record.get("rework"), int) else int(bool(fact["reopened"]))
    location = record.get("location") or {}
    grid = fact["grid_id"] or location.get("grid_id") or ""
    proof = "; ".join(dict.fromkeys(extra["evidence"]))
    return [
        fact["case_id"], fact["incident_id"], SOURCES[source_of(record)], major, major_name, code,
        category.get("name", ""), location.get("address", ""), grid, fact["unit_id"], extra["unit"],
        *times, on_time, rework, "是" if fact["overdue"] else "否", proof,
    ]  # fmt: skip


def case_export(engine: Engine, period: Period, cfg: Config | None) -> list[list[Any]]:
    """The rows of the export (without the header): every case first dispatched in the period."""
    with reading(engine) as conn:
        facts = case_rows(conn, period.start_iso, period.end_iso, None)
        extras: Mapping[str, Any] = (
            _extras(conn, [f["incident_id"] for f in facts]) if facts else defaultdict(dict)
        )
    return [_row(fact, extras[fact["incident_id"]], period, cfg) for fact in facts]


def export_csv(body: list[list[Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(HEADERS)
    writer.writerows(body)
    return text.getvalue().encode("utf-8-sig")


def export_xlsx(body: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    from streams.reports.xlsx import saved, sheet

    book = Workbook()
    kinds = ["count" if h == "返工次数" else "text" for h in HEADERS]
    sheet(book, "案件", HEADERS, body, kinds)
    return saved(book)
