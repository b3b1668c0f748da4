"""Reports and case exports as XLSX workbooks (openpyxl): Chinese headers, rates formatted as
percentages, times as numbers of minutes or hours, the header row frozen."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from streams.config import Config
from streams.reports.render import BY_NAMES, DECISION_NAMES, rows

FORMATS = {"rate": "0.0%", "minutes": "0.0", "hours": "0.00"}
MAX_WIDTH = 40


def sheet(
    book: Workbook, title: str, headers: Sequence[str], body: Iterable[Sequence[Any]], kinds: Sequence[str]
) -> Worksheet:
    """A sheet of ``headers`` and ``body`` rows; ``kinds`` says how each column is formatted."""
    ws: Worksheet = book.create_sheet(title)
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    widths = [len(str(h)) * 2 for h in headers]
    for row in body:
        ws.append(list(row))
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(str(value or "")) + 2)
    for i, kind in enumerate(kinds):
        letter = get_column_letter(i + 1)
        if kind in FORMATS:
            for (cell,) in ws.iter_rows(min_row=2, min_col=i + 1, max_col=i + 1):
                cell.number_format = FORMATS[kind]
        ws.column_dimensions[letter].width = min(MAX_WIDTH, widths[i] + 2)
    return ws


def saved(book: Workbook) -> bytes:
    if "Sheet" in book.sheetnames and len(book.sheetnames) > 1:
        del book["Sheet"]  # the empty sheet a new workbook starts with
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def report_workbook(reports: Mapping[str | None, Mapping[str, Any]], cfg: Config | None) -> bytes:
    """One sheet per report (汇总 for the total, 按单位 … for each breakdown), and the broadcast
    decisions of the period by decision and reason (喊话决定)."""
    book = Workbook()
    for by, report in reports.items():
        headers, body, cols = rows(report, cfg)
        title = "汇总" if by is None else f"按{BY_NAMES[by]}"
        sheet(book, title, headers, body, ["text", "text", *(c.kind for c in cols)])
    any_report = next(iter(reports.values()))
    decided = [
        [DECISION_NAMES.get(decision, decision), reason, n]
        for decision, reasons in any_report["total"]["broadcasts"].items()
        for reason, n in reasons.items()
    ]
    sheet(book, "喊话决定", ["决定", "原因", "次数"], decided, ["text", "text", "count"])
    return saved(book)
