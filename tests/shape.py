"""The code's shape, counted over streams/ and detectors/ (tests excluded).

    python tests/shape.py          # prints the measures and the longest functions

tests/unit/test_shape.py holds the targets.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("streams", "detectors")


@dataclass(frozen=True)
class Function:
    where: str
    name: str
    lines: int


def modules(root: Path = ROOT) -> dict[str, int]:
    """Each module's path and its number of lines."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            out[str(path.relative_to(root))] = len(path.read_text(encoding="utf-8").splitlines())
    return out


def functions(root: Path = ROOT) -> list[Function]:
    """Every function and method, outermost only (a nested function counts in its parent)."""
    found: list[Function] = []
    for rel in modules(root):
        tree = ast.parse((root / rel).read_text(encoding="utf-8"))
        _collect(tree, rel, found)
    return sorted(found, key=lambda f: -f.lines)


def _collect(node: ast.AST, rel: str, found: list[Function]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
            end = child.end_lineno or child.lineno
            found.append(Function(f"{rel}:{child.lineno}", child.name, end - start + 1))
        elif isinstance(child, ast.ClassDef):
            _collect(child, rel, found)


def main() -> int:
    funcs, mods = functions(), modules()
    biggest = max(mods.items(), key=lambda kv: kv[1])
    print(
        f"RESULT longest_function={funcs[0].lines} functions_over_60={sum(f.lines > 60 for f in funcs)} "
        f"largest_module={biggest[1]} largest_module_path={biggest[0]}"
    )
    for f in funcs[:15]:
        print(f"{f.lines:5d}  {f.name:32s} {f.where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
