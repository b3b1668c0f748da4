"""Load YAML keeping the line of every key and item, and refusing duplicate keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Loc = tuple[int | str, ...]
Finding = tuple[Loc, str]  # where in the file, and what is wrong there


@dataclass
class LineMap:
    """Line numbers (1-based) of every key path in a YAML document."""

    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        """Line of ``loc`` or of its nearest ancestor present in the document."""
        for n in range(len(loc), -1, -1):
            hit = self.lines.get(tuple(loc[:n]))
            if hit is not None:
                return hit
        return None


@dataclass(frozen=True)
class YamlIssue:
    line: int | None
    loc: Loc
    message: str


def _walk(node: yaml.Node, loc: Loc, lines: LineMap, issues: list[YamlIssue]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                issues.append(
                    YamlIssue(
                        line,
                        (*loc, key),
                        f"duplicate key {key!r} (first on line {seen[key]}); "
                        "YAML would silently keep only the last one: merge or rename them",
                    )
                )
            else:
                seen[key] = line
            lines.lines[(*loc, key)] = line
            _walk(value_node, (*loc, key), lines, issues)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.lines[(*loc, i)] = item.start_mark.line + 1
            _walk(item, (*loc, i), lines, issues)


def load_yaml(text: str) -> tuple[Any, LineMap, list[YamlIssue]]:
    """Parse ``text``; return the data, its line map and duplicate-key issues.

    Raises ``yaml.YAMLError`` (with a mark) on malformed YAML.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines = LineMap()
        issues: list[YamlIssue] = []
        if node is None:
            return None, lines, issues
        lines.lines[()] = node.start_mark.line + 1
        _walk(node, (), lines, issues)
        data = loader.construct_document(node)
        return data, lines, issues
    finally:
        loader.dispose()
