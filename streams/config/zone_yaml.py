"""One camera's ``zones:`` written back into cameras.yaml (pure text in, text out).

PyYAML cannot keep comments, and ruamel.yaml is not a dependency, so the file is edited as
text: only the lines of that camera's ``zones:`` block are replaced (or the block is added
after the camera's ``id:`` line), and every other line, comments included, stays as it was.
Comments inside the replaced block are lost. The result is parsed again and must hold the
same data as the original with only those zones changed; when it does not (flow-style
cameras, anchors, odd layouts) the whole file is re-dumped without comments instead.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

import yaml

from streams.config.yamlmap import load_yaml

ZoneData = dict[str, Any]
FIRST_KEYS = ("id", "name", "polygon", "categories", "active_hours")  # shown in this order
_WIDE = 10**6  # never fold a line


def ordered(zone: ZoneData) -> ZoneData:
    """The zone's keys in the editor's order (id, name, polygon, categories, active_hours, the rest);
    empty optional fields (name "", active_hours null/"") are left out."""
    out = {k: zone[k] for k in FIRST_KEYS if k in zone}
    out |= {k: v for k, v in zone.items() if k not in FIRST_KEYS}
    if out.get("name") == "":
        del out["name"]
    if out.get("active_hours") in (None, ""):
        out.pop("active_hours", None)
    return out


def _field_lines(key: str, value: Any) -> list[str]:
    """``key: value`` as YAML lines: lists of scalars and polygons on one line, mappings as blocks."""
    if isinstance(value, list) and all(not isinstance(v, dict) for v in value):
        flow = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=_WIDE).strip()
        return [f"{key}: {flow}"]
    text = yaml.safe_dump(
        {key: value}, default_flow_style=False, allow_unicode=True, sort_keys=False, width=_WIDE
    )
    return text.rstrip("\n").split("\n")


def zones_block(zones: Sequence[ZoneData], indent: int = 0) -> str:
    """The ``zones:`` YAML of a camera, its key at ``indent`` spaces; polygons on one line each."""
    pad = " " * indent
    if not zones:
        return f"{pad}zones: []\n"
    lines = [f"{pad}zones:"]
    for zone in zones:
        fields = [line for key, value in ordered(zone).items() for line in _field_lines(key, value)]
        for i, line in enumerate(fields or ["{}"]):
            lines.append(f"{pad}  {'- ' if i == 0 else '  '}{line}")
    return "\n".join(lines) + "\n"


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """Index after the last line of the block whose key is on ``lines[start]`` at ``indent``:
    the block runs while lines are blank or indented deeper (a list under the key may sit at
    the key's own indent when its items start with '- ')."""
    end = start + 1
    for i in range(start + 1, len(lines)):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            continue
        deeper = _indent_of(line) > indent
        item_at_key = _indent_of(line) == indent and stripped.startswith("- ")
        if not (deeper or item_at_key):
            break
        end = i + 1
    return end


_ID_LINE = re.compile(r"^(\s*-\s+|\s*)id\s*:")


def _edit_text(text: str, camera_index: int, zones: Sequence[ZoneData]) -> str | None:
    """The text with the camera's zones block replaced (or added), or None if the layout is not
    one this edit understands."""
    _, lines_map, _ = load_yaml(text)
    lines = text.split("\n")
    zones_line = lines_map.lines.get(("cameras", camera_index, "zones"))
    if zones_line is not None:
        start = zones_line - 1
        indent = _indent_of(lines[start])
        if not lines[start].strip().startswith("zones"):
            return None  # "- zones:" as the item's first key, or flow style
        end = _block_end(lines, start, indent)
        block = zones_block(zones, indent).rstrip("\n").split("\n")
        return "\n".join(lines[:start] + block + lines[end:])
    id_line = lines_map.lines.get(("cameras", camera_index, "id"))
    if id_line is None:
        return None
    match = _ID_LINE.match(lines[id_line - 1])
    if match is None:
        return None
    block = zones_block(zones, len(match.group(1))).rstrip("\n").split("\n")
    return "\n".join(lines[:id_line] + block + lines[id_line:])


def camera_index(data: Any, camera_id: str) -> int | None:
    """Where camera ``camera_id`` is under ``cameras:`` in loaded YAML data, or None."""
    cameras = data.get("cameras") if isinstance(data, dict) else None
    if not isinstance(cameras, list):
        return None
    for i, cam in enumerate(cameras):
        if isinstance(cam, dict) and cam.get("id") == camera_id:
            return i
    return None


def replace_zones(text: str, camera_id: str, zones: Sequence[ZoneData]) -> str:
    """cameras.yaml ``text`` with camera ``camera_id``'s zones replaced by ``zones``.

    Raises ``KeyError`` when the camera is not in the file (``yaml.YAMLError`` when the text is
    not YAML)."""
    data, _, _ = load_yaml(text)
    index = camera_index(data, camera_id)
    if index is None:
        raise KeyError(camera_id)
    wanted = copy.deepcopy(data)
    wanted["cameras"][index]["zones"] = [ordered(z) for z in zones]
    edited = _edit_text(text, index, zones)
    if edited is not None:
        try:
            if yaml.safe_load(edited) == wanted:
                return edited
        except yaml.YAMLError:
            pass
    return yaml.safe_dump(wanted, allow_unicode=True, sort_keys=False, width=_WIDE)
