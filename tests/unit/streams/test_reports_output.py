"""What people get from the reports: CSV with a BOM, an XLSX workbook read back with openpyxl,
the case export, the `citywatch report` / `export` commands and their errors; and what the
reports rely on: the history notes they match, the migration that fills case_dispatches."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, insert, select

from streams.cli import main
from streams.logic import history_notes as notes
from streams.reports import render
from streams.reports.export import case_export, export_csv, export_xlsx, major_of
from streams.reports.period import BREAKDOWNS, parse_period
from streams.reports.report import every_breakdown, read_facts
from streams.reports.timing import working_clock
from streams.reports.warning_facts import reason_kind
from streams.reports.xlsx import report_workbook
from streams.store import database, schema

from ...config_support import category, parse, streams_site
from ...reports_support import DAY, T0, District, fresh_engine, reports_config
from .test_reports import closed_loop, dispatched

CFG = reports_config()
PERIOD = parse_period(*DAY, "Asia/Shanghai")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """A day: one case closed on time, one warning that worked."""
    d = District()
    closed_loop(d, dispatched(d, T0 + 10), T0 + 20)
    iid = d.seen(T0 + 100)
    d.warned(iid, T0 + 100.5, played=T0 + 101)
    d.seen(T0 + 102, "cleared")
    eng = fresh_engine(tmp_path / "record.db")
    d.store(eng)
    return eng


def reports(engine: Engine, breakdowns: list[str | None]) -> Any:
    facts = read_facts(engine, PERIOD, CFG, T0 + 86_400)
    return every_breakdown(facts, breakdowns, working_clock(CFG))


def test_csv_is_utf8_with_a_bom_and_chinese_headers(engine: Engine) -> None:
    data = render.to_csv(reports(engine, ["category"])["category"], CFG)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:5] == ["类别", "名称", "派遣案件数", "结案数", "结案率"]
    by_group = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_group["illegal_parking"]["名称"] == "机动车乱停放"
    assert by_group["合计"]["结案率"] == "1.0" and by_group["合计"]["喊话有效率"] == "0.5"


def test_xlsx_has_a_sheet_per_breakdown_with_percentages(engine: Engine) -> None:
    book = openpyxl.load_workbook(io.BytesIO(report_workbook(reports(engine, [None, *BREAKDOWNS]), CFG)))
    sheets = ["汇总", "按单位", "按网格", "按类别", "按摄像头", "按喇叭", "按日期", "喊话决定"]
    assert book.sheetnames == sheets
    sheet = book["按单位"]
    headers = [c.value for c in sheet[1]]
    unit, total = (dict(zip(headers, (c.value for c in row), strict=True)) for row in list(sheet.rows)[1:])
    assert (unit["单位"], unit["派遣案件数"], unit["结案率"]) == ("unit-a", 1, 1.0)
    assert total["单位"] == "合计" and total["喊话有效率"] == 0.5
    rate = sheet.cell(row=2, column=headers.index("结案率") + 1)
    assert rate.number_format == "0.0%"
    assert [[c.value for c in row] for row in book["喊话决定"].rows] == [
        ["决定", "原因", "次数"],
        ["已发送", "within policy", 2],
    ]


def test_the_table_shows_rates_as_percentages(engine: Engine) -> None:
    text = render.to_table(reports(engine, ["unit"])["unit"], CFG)
    assert "2026-05-26T00:00:00+08:00 .. 2026-05-27T00:00:00+08:00" in text
    assert "100.0%" in text and "50.0%" in text and "合计" in text


def test_the_case_export_has_one_row_per_case_with_its_classes_and_times(engine: Engine) -> None:
    body = case_export(engine, PERIOD, CFG)
    assert len(body) == 1
    data = export_csv(body)
    assert data.startswith(b"\xef\xbb\xbf")
    header, row = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    got = dict(zip(header, row, strict=True))
    assert got["问题来源"] == "视频识别" and got["地址"] == "兴华街1号" and got["网格"] == "grid-a"
    assert (got["大类编码"], got["大类名称"], got["小类编码"], got["小类名称"]) == (
        "2005", "街面秩序", "200505", "机动车乱停放",
    )  # fmt: skip
    assert (got["派遣时间"], got["结案时间"]) == ("2026-05-26 10:00:13", "2026-05-26 10:00:31")
    assert (got["责任单位"], got["是否按期"], got["返工次数"]) == ("unit-a", "是", "0")
    book = openpyxl.load_workbook(io.BytesIO(export_xlsx(body)))
    assert [c.value for c in book["案件"][1]][:3] == ["案件编号", "事件编号", "问题来源"]


def test_the_major_class_comes_from_the_code_unless_configured() -> None:
    assert major_of("200102", "exposed_garbage", None) == ("2001", "市容环境")
    assert major_of("900101", "camera_offline", None) == ("9001", "")
    site = streams_site()
    site["categories"]["camera_offline"] = category("camera_offline", major="9000", major_name="设备运维")
    cfg = parse(site)
    assert major_of("900101", "camera_offline", cfg) == ("9000", "设备运维")


def test_report_json_carries_every_kpi_per_group_and_in_total(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = str(engine.url)
    assert (
        main(["report", "--from", DAY[0], "--to", DAY[1], "--by", "grid", "--format", "json", "--db", url])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    keys = {"cases_dispatched", "cases_closed", "close_rate", "on_time_rate", "rework_rate", "overdue",
            "warning_effectiveness", "dispatch_to_accept", "dispatch_to_arrive", "dispatch_to_resolve",
            "open_to_close", "broadcasts", "camera_offline_hours"}  # fmt: skip
    assert keys <= set(out["total"]) and keys <= set(out["groups"][0])
    assert out["groups"][0]["grid"] == "grid-a"
    xlsx = tmp_path / "out" / "r.xlsx"
    assert (
        main(
            ["report", "--from", DAY[0], "--to", DAY[1], "--format", "xlsx", "--out", str(xlsx), "--db", url]
        )
        == 0
    )
    assert "按日期" in openpyxl.load_workbook(xlsx).sheetnames
    csv_out = tmp_path / "cases.csv"
    assert (
        main(["export", "cases", "--from", DAY[0], "--to", DAY[1], "--out", str(csv_out), "--db", url]) == 0
    )
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--from", "2026-05-27", "--to", "2026-05-26"], "is not before"),
        (["--from", "2026-5-1", "--to", "2026-05-26"], "is not a date"),
        (["--from", "2026-05-01", "--to", "2026-05-26", "--format", "xlsx"], "give --out"),
    ],
)
def test_report_errors_say_what_to_fix(
    engine: Engine, args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", *args, "--db", str(engine.url)]) == 1
    assert says in capsys.readouterr().err


def test_a_database_never_migrated_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--from", DAY[0], "--to", DAY[1], "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 1
    assert "citywatch db upgrade" in capsys.readouterr().err


def test_the_history_notes_the_reports_match_are_the_ones_written() -> None:
    assert notes.offline_since(notes.camera_offline(T0, "no camera-status for 130s")) == T0
    assert notes.offline_since("camera degraded since 2026-05-26T02:00:00.000Z: slow") is None
    assert notes.is_camera_back(notes.camera_back("online")) and not notes.is_camera_back("camera sees it")
    assert notes.grace_over("needs review").startswith(notes.GRACE_OVER_LIKE.rstrip("%"))


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("within policy", "within policy"),
        ("quiet hours 22:00-07:00", "quiet hours"),
        ("rate limit: last broadcast 35s ago, minimum interval 120s", "rate limit"),
        ("speaker busy with cmd-3fa2: queued", "speaker busy"),
        ("speaker busy and 8 requests already queued", "speaker busy"),
        ("unknown speaker 'spk-x': add it under speakers: in cameras.yaml", "unknown speaker"),
        ("", "(none)"),
    ],
)
def test_decision_reasons_group_without_their_details(reason: str, kind: str) -> None:
    assert reason_kind(reason) == kind


def test_the_migration_fills_case_dispatches_from_the_cases_stored_before(tmp_path: Path) -> None:
    engine = database.open_engine(f"sqlite:///{tmp_path / 'old.db'}")
    database.upgrade(engine, "0002")
    case = {"case_id": "case-1", "version": 1, "incident_id": "inc-1", "unit_id": "unit-d", "grid_id": "g",
            "state": "overdue", "level": "district", "created_at": "2026-05-26T02:00:00.000Z",
            "due_at": "2026-05-26T03:00:00.000Z", "record": {}}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(schema.cases), [case])
    assert database.upgrade(engine) == "0004"
    with engine.connect() as conn:
        (row,) = conn.execute(select(schema.case_dispatches)).mappings()
    assert (row["case_id"], row["unit_id"], row["level"], row["due_at"]) == (
        "case-1", "unit-d", "district", "2026-05-26T03:00:00.000Z",
    )  # fmt: skip


def test_the_api_returns_the_report_of_the_case_record(engine: Engine, tmp_path: Path) -> None:
    from ...web_support import bearer, make_state, run_client

    state = make_state(tmp_path)
    state.case_record = lambda: engine

    async def ask(client: Any) -> tuple[int, Any, int, Any]:
        path = f"/api/reports/kpis?from={DAY[0]}&to={DAY[1]}&by=unit"
        good = await client.get(path, headers=bearer("viewer"))
        bad = await client.get(path.replace("unit", "street"), headers=bearer("viewer"))
        return good.status, await good.json(), bad.status, await bad.json()

    status, report, refused, why = run_client(state, ask)
    assert status == 200 and report["total"]["cases_closed"] == 1
    assert [g["unit"] for g in report["groups"]] == ["unit-a"]
    assert refused == 400 and "unit, grid, category, camera, speaker, day" in why["error"]


def test_working_time_comes_from_the_clock_given(engine: Engine) -> None:
    facts = read_facts(engine, PERIOD, CFG, T0 + 86_400)
    half = every_breakdown(facts, [None], ("working", lambda start, end: (end - start) / 2))[None]
    assert half["working_time"] == "working"
    times = half["total"]["dispatch_to_accept"]
    assert times["working"]["median_s"] == times["wall"]["median_s"] / 2 == 3.25
