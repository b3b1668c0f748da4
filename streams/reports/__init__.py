"""KPI reports and case exports of the case record (数字化城市管理, GB/T 30428 vocabulary).

    period.py         [from, to) in the site's timezone, its local days, the breakdowns
    case_facts.py     SQL: each case of a period and its milestones, escalations
    warning_facts.py  SQL: each warned incident and whether the warning worked; broadcast decisions
    outage_facts.py   SQL: camera outages from camera-offline incidents
    kpis.py           the KPIs of a group of facts, in total and per group (pure)
    timing.py         durations in wall and working time, median and p90
    report.py         a period's report: facts read once, counted under any breakdown
    charts.py         what the reports page draws: cases per day and category, time to resolve
    render.py, xlsx.py   table, CSV (UTF-8 with BOM), XLSX
    export.py         one row per case (`citywatch export cases`)

docs/reports.md defines every KPI.
"""
