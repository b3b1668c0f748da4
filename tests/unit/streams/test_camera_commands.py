"""Operators' camera commands (pure): which zones keep a background, the record the web API and
``citywatch zone recapture`` publish, and the boundary that refuses a malformed one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streams.clients.camera_commands import background_zones, recapture_command
from streams.config import Config
from streams.contract.errors import CameraCommandError, RecordError
from streams.contract.records import BY_TOPIC, CameraCommand, decode
from streams.contract.timeutil import from_iso
from streams.contract.topic_policy import POLICIES
from streams.contract.topics import Topics

from ...config_support import parse, web_site

NOW = from_iso("2026-05-26T02:14:03.120Z")


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return parse(web_site(tmp_path))


def command(cfg: Config, **fields: Any) -> CameraCommand:
    args: dict[str, Any] = {"camera_id": "cam-b", "zone_id": "pile", "requested_by": "zhang", "reason": ""}
    return recapture_command(cfg, **{**args, **fields}, now=NOW)


def test_zones_with_a_static_object_category_keep_a_background(tmp_path: Path) -> None:
    site = web_site(tmp_path)
    site["cameras"][1]["zones"].append(
        {**site["cameras"][1]["zones"][1], "id": "cars-only", "labels": ["car"]}
    )
    site["cameras"][1]["zones"][-1]["categories"] = ["piled_materials", "illegal_parking"]
    cfg = parse(site)
    assert background_zones(cfg, cfg.cameras[0]) == []
    # a zone whose own labels leave out static_object keeps none
    assert background_zones(cfg, cfg.cameras[1]) == ["pile"]


def test_the_command_names_camera_zone_who_and_when(cfg: Config) -> None:
    got = command(cfg, reason="  swept  ")
    assert got.to_dict() == {
        "v": 1,
        "command_id": got.command_id,
        "camera_id": "cam-b",
        "zone_id": "pile",
        "action": "recapture_background",
        "requested_by": "zhang",
        "reason": "swept",
        "requested_at": "2026-05-26T02:14:03.120Z",
    }
    assert decode(CameraCommand, got.to_bytes()) == got
    assert command(cfg, zone_id=None).zone_id is None


def test_ids_are_derived_from_the_inputs(cfg: Config) -> None:
    first = command(cfg).command_id
    assert first.startswith("camcmd-")
    assert command(cfg).command_id == first
    assert command(cfg, zone_id=None).command_id != first
    assert command(cfg, requested_by="li").command_id != first
    assert (
        recapture_command(
            cfg, camera_id="cam-b", zone_id="pile", requested_by="zhang", reason="", now=NOW + 1
        ).command_id
        != first
    )


REFUSED: list[tuple[dict[str, Any], int, str]] = [
    ({"camera_id": "cam-zz"}, 404, "unknown camera 'cam-zz'; known cameras: cam-a, cam-b"),
    ({"zone_id": "nope"}, 404, "camera cam-b has no zone 'nope'; its zones: kerb, pile"),
    ({"zone_id": "kerb"}, 409, "none of its categories (illegal_parking) counts the label 'static_object'"),
    ({"zone_id": "kerb"}, 409, "zones of cam-b that have one: pile"),
    ({"camera_id": "cam-a", "zone_id": None}, 409, "camera cam-a has no zone with a reference background"),
    (
        {"camera_id": "cam-a", "zone_id": "storefront"},
        409,
        "zone storefront of camera cam-a has no reference",
    ),
]


@pytest.mark.parametrize(("fields", "status", "message"), REFUSED)
def test_a_wrong_camera_or_zone_is_refused_saying_why(
    cfg: Config, fields: dict[str, Any], status: int, message: str
) -> None:
    with pytest.raises(CameraCommandError) as info:
        command(cfg, **fields)
    assert info.value.status == status
    assert message in str(info.value)


GOOD = {
    "v": 1,
    "command_id": "camcmd-1",
    "camera_id": "cam-b",
    "zone_id": "pile",
    "action": "recapture_background",
    "requested_by": "zhang",
    "reason": "",
    "requested_at": "2026-05-26T02:14:03.120Z",
}

MALFORMED: list[tuple[Any, str]] = [
    ({**GOOD, "action": "reboot"}, "action"),
    ({**GOOD, "zone_id": ""}, "zone_id"),
    ({k: v for k, v in GOOD.items() if k != "camera_id"}, "camera_id"),
    ({**GOOD, "camera_id": ""}, "camera_id"),
    ({**GOOD, "requested_at": "yesterday"}, "requested_at"),
    ({**GOOD, "requested_by": 7}, "requested_by"),
    ({**GOOD, "v": 2}, "v"),
    ("not json", "<payload>"),
]


@pytest.mark.parametrize(("raw", "field"), MALFORMED)
def test_a_malformed_command_is_a_record_error_naming_the_field(raw: Any, field: str) -> None:
    payload = raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()
    with pytest.raises(RecordError) as info:
        decode(CameraCommand, payload)
    assert info.value.field == field


def test_the_topic_is_part_of_the_contract() -> None:
    t = Topics("x.")
    assert t.camera_commands == "x.camera-commands" == t.name("camera-commands")
    assert t.camera_commands in t.all()
    assert BY_TOPIC["camera-commands"] is CameraCommand
    assert POLICIES["camera-commands"].cleanup == "delete"  # commands are events, never compacted
