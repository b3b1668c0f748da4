"""The code keeps the shape it was given: short functions, modules of one job (tests/shape.py counts)."""

from __future__ import annotations

from ..shape import functions, modules

LONGEST_FUNCTION = 80
OVER_60_AT_MOST = 3
LARGEST_MODULE = 450


def test_no_function_is_longer_than_80_lines_and_at_most_three_are_over_60() -> None:
    funcs = functions()
    too_long = [f"{f.where} {f.name} ({f.lines} lines)" for f in funcs if f.lines > LONGEST_FUNCTION]
    assert not too_long, f"split these into named steps: {too_long}"
    over_60 = [f"{f.where} {f.name} ({f.lines})" for f in funcs if f.lines > 60]
    assert len(over_60) <= OVER_60_AT_MOST, f"more than {OVER_60_AT_MOST} functions over 60 lines: {over_60}"


def test_no_module_is_longer_than_450_lines() -> None:
    too_big = {path: n for path, n in modules().items() if n > LARGEST_MODULE}
    assert not too_big, f"split these modules by job: {too_big}"


def test_the_counter_counts_a_nested_function_in_its_parent(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "streams").mkdir()
    (root / "detectors").mkdir()
    body = "\n".join(f"        x{i} = {i}" for i in range(70))
    (root / "streams" / "m.py").write_text(f"def outer():\n    def inner():\n{body}\n    return inner\n")
    (root / "detectors" / "d.py").write_text("class C:\n    def m(self):\n        return 1\n")
    found = {f.name: f.lines for f in functions(root)}
    assert found == {"outer": 73, "m": 2}
    assert modules(root) == {"detectors/d.py": 3, "streams/m.py": 73}
