"""The bare Faust agent of `citywatch bench streams`: its app, and the result line the
benchmark reads back from its process."""

from __future__ import annotations

from pathlib import Path

from streams.dev.bench.bare_faust import Count, build, parse_line


def test_the_result_counts_the_records_after_the_first_over_the_time_they_took() -> None:
    count = Count()
    for _ in range(5):
        count.one()
    count.first_at, count.last_at = 100.0, 102.5
    out = f"starting\n{count.line()}\n"
    assert parse_line(out) == (4, 2.5)
    assert parse_line("starting\nno result\n") is None


def test_the_app_reads_the_detections_topic_in_a_group_of_its_own(tmp_path: Path) -> None:
    app = build("b1.citywatch.", "localhost:9", 4, 10, str(tmp_path))
    assert app.conf.id == "b1.citywatch.bare-faust"  # not the worker's group: both read everything
    [agent] = app.agents.values()
    assert agent.channel.get_topic_name() == "b1.citywatch.detections"
