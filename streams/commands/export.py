"""Export the case record: `citywatch export cases --from DATE --to DATE --format csv|xlsx`
writes one row per case first dispatched in [from, to): 案件编号, 问题来源, 大类 / 小类 codes and
names, 地址, 网格, 责任单位, 立案 / 派遣 / 处置 / 核查 / 结案时间 (local to site.timezone),
是否按期, 返工次数 and the evidence paths (docs/reports.md). CSV is UTF-8 with a BOM."""

from __future__ import annotations

import argparse

from streams.commands.report import add_period_arguments, needs_out, open_period


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=("cases",), help="what to export")
    add_period_arguments(parser, ("csv", "xlsx"), "csv")


def run(args: argparse.Namespace) -> int:
    from streams.reports import render
    from streams.reports.export import case_export, export_csv, export_xlsx
    from streams.store.database import open_engine

    needs_out(args)
    cfg, period, url = open_period(args)
    engine = open_engine(url)
    try:
        body = case_export(engine, period, cfg)
    finally:
        engine.dispose()
    render.write(export_xlsx(body) if args.format == "xlsx" else export_csv(body), args.out)
    return 0
