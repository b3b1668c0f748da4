"""One builder for the test districts: a configuration is a dict, written as YAML or parsed.

``streams_site()`` is the two-camera district of the streams tests (fast timings, a street unit
that escalates to a district unit); ``feeds_site()`` adds sensors and camera health to cam-a;
``hardening_site()`` is the streams district with long SLAs, a sensor and camera health.
Tests change a district by editing the dict (``site["units"][0].pop("escalates_to")``), never
by replacing text.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.config import Config, parse_config
from streams.contract.errors import ConfigError, ConfigProblem

Site = dict[str, Any]

REAR_HALF = [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]  # the lower half of the picture

_FAST = {"dwell_s": 2, "inertia": 2, "gap_s": 1.5, "clear_s": 2, "grace_s": 3, "verify_s": 3, "sla_s": 30}

CATEGORIES: dict[str, dict[str, Any]] = {
    "out_of_store_business": {
        "code": "200504",
        "name": "店外经营",
        "labels": ["bench", "chair"],
        **_FAST,
        "template": "{shop}请注意：请将店外经营物品放回店内，不要占道经营。",
    },
    "illegal_parking": {"code": "200505", "name": "机动车乱停放", "labels": ["car"], **_FAST},
    "air_quality": {
        "code": "210101",
        "name": "空气质量超标",
        "grace_s": 2,
        "verify_s": 2,
        "sla_s": 600,
        "warn": False,
    },
    "bin_overflow": {
        "code": "200103",
        "name": "垃圾桶满溢",
        "grace_s": 0,
        "verify_s": 2,
        "sla_s": 600,
        "warn": False,
    },
    "sensor_stale": {"code": "900201", "name": "传感器离线", "grace_s": 120, "sla_s": 600, "warn": False},
    "camera_offline": {"code": "900101", "name": "摄像头离线", "grace_s": 120, "sla_s": 600, "warn": False},
}


def category(key: str, **overrides: Any) -> dict[str, Any]:
    """The test definition of category ``key`` with ``overrides`` applied."""
    return {**copy.deepcopy(CATEGORIES[key]), **overrides}


def camera(camera_id: str, zone: str, cat: str, **fields: Any) -> dict[str, Any]:
    """A camera of grid-a watching ``zone`` (the lower half of the picture) for ``cat``."""
    return {
        "id": camera_id,
        "source": "unused.mp4",
        **fields,
        "grid": "grid-a",
        "zones": [{"id": zone, "polygon": REAR_HALF, "categories": [cat]}],
    }


def cam_a(**fields: Any) -> dict[str, Any]:
    location = {"address": "和平路12号", "shop": "老王便利店"}
    return camera("cam-a", "storefront", "out_of_store_business", location=location, **fields)


def cam_b(**fields: Any) -> dict[str, Any]:
    return camera("cam-b", "kerb", "illegal_parking", location={"address": "兴华街1号"}, **fields)


def speakers(max_per_hour: int) -> list[dict[str, Any]]:
    return [{"id": s, "min_interval_s": 0, "max_per_hour": max_per_hour} for s in ("spk-a", "spk-b")]


def site(**sections: Any) -> Site:
    """A district named "test district" (Asia/Shanghai, 4 partitions) with ``sections``."""
    return {
        "version": 1,
        "site": {"name": "test district", "timezone": "Asia/Shanghai"},
        "kafka": {"partitions": 4},
        **sections,
    }


def streams_site() -> Site:
    """cam-a (storefront, spk-a) and cam-b (kerb, spk-b); unit-a escalates to unit-d."""
    cams = [cam_a(speaker="spk-a"), cam_b(speaker="spk-b")]
    return site(
        categories={k: category(k) for k in ("out_of_store_business", "illegal_parking")},
        speakers=speakers(100),
        units=[
            {"id": "unit-a", "level": "street", "escalates_to": "unit-d"},
            {"id": "unit-d", "level": "district"},
        ],
        grids=[{"id": "grid-a", "unit": "unit-a"}],
        cameras=cams,
    )


PM_A = {
    "id": "pm-a",
    "kind": "pm25",
    "unit": "µg/m³",
    "location": {"address": "和平路12号"},
    "grid": "grid-a",
}


def feeds_site() -> Site:
    """cam-a with camera health, a PM2.5 sensor and a bin-fill sensor, and their rules."""
    slow = {"dwell_s": 1, "inertia": 1, "gap_s": 1, "clear_s": 2, "grace_s": 120, "sla_s": 600, "warn": False}
    oob = {k: v for k, v in category("out_of_store_business", **slow).items() if k != "template"}
    bin_a = {"id": "bin-a", "kind": "bin_fill", "unit": "%", "location": {"address": "和平路14号"}}
    return site(
        categories={
            "out_of_store_business": oob,
            **{k: category(k) for k in ("air_quality", "bin_overflow", "sensor_stale", "camera_offline")},
        },
        units=[{"id": "unit-a", "level": "street"}],
        grids=[{"id": "grid-a", "unit": "unit-a"}],
        cameras=[{k: v for k, v in cam_a(detect_fps=2).items() if k != "speaker"}],
        sensors=[PM_A, {**bin_a, "grid": "grid-a", "stale_after_s": 4}],
        sensor_rules=[
            {"id": "pm25-mean", "kind": "pm25", "category": "air_quality", "window_s": 900}
            | {"aggregate": "mean", "above": 75, "clear": 60},
            {"id": "bin-full", "sensors": ["bin-a"], "category": "bin_overflow", "window_s": 60}
            | {"aggregate": "last", "above": 90, "inclusive": True, "clear": 50},
        ],
        health={"blip_s": 2, "degraded_for_s": 3, "status_timeout_s": 120, "sensor_stale_after_s": 600},
    )


def hardening_site(grace: float = 3) -> Site:
    """The streams district with 10-minute SLAs, a street unit with no higher level, a PM2.5
    sensor and camera health; ``grace`` is cam-a's grace period."""
    return site(
        categories={
            "out_of_store_business": category("out_of_store_business", grace_s=grace, sla_s=600),
            "illegal_parking": category("illegal_parking", sla_s=600),
            "air_quality": category("air_quality"),
            "camera_offline": category("camera_offline", grace_s=600),
        },
        speakers=speakers(1000),
        units=[{"id": "unit-a", "level": "street"}],
        grids=[{"id": "grid-a", "unit": "unit-a"}],
        cameras=[cam_a(speaker="spk-a", detect_fps=2), cam_b(speaker="spk-b", detect_fps=2)],
        sensors=[PM_A],
        sensor_rules=[
            {"id": "pm25-last", "kind": "pm25", "category": "air_quality", "window_s": 60}
            | {"aggregate": "last", "above": 75, "clear": 60}
        ],
        health={"blip_s": 1, "status_timeout_s": 600},
    )


def to_yaml(config: Site) -> str:
    return yaml.safe_dump(config, allow_unicode=True, sort_keys=False)


def parse(config: Site, file: str = "test.yaml") -> Config:
    return parse_config(to_yaml(config), file)


def write_config(path: Path, config: Site | None = None) -> Path:
    """Write ``config`` (default: the streams district) to ``path`` as YAML; return ``path``."""
    path.write_text(to_yaml(config if config is not None else streams_site()), encoding="utf-8")
    return path


def streams_config() -> Config:
    return parse(streams_site(), "streams-test.yaml")


def feeds_config() -> Config:
    return parse(feeds_site(), "feeds-test.yaml")


PILE = {"id": "pile", "polygon": [[0, 0], [0.5, 0], [0.5, 0.5], [0, 0.5]], "categories": ["piled_materials"]}


def web_site(evidence_dir: Path, web: dict[str, Any] | None = None) -> Site:
    """The streams district with its evidence under ``evidence_dir`` and ``web`` settings; cam-b
    also watches a zone for piled materials (the static-object label), whose reference
    background an operator may re-capture."""
    out = streams_site() | {"evidence": {"dir": str(evidence_dir)}} | ({"web": web} if web else {})
    out["categories"]["piled_materials"] = {
        "code": "200507",
        "name": "乱堆物堆料",
        "labels": ["static_object"],
        **_FAST,
    }
    out["cameras"][1]["zones"].append(PILE)
    return out


def problems_for(text: str) -> list[ConfigProblem]:
    """The problems ``parse_config`` reports for ``text`` (which must be invalid)."""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "cameras.yaml")
    return info.value.problems


def edit_sample(sample: str, old: str, new: str, case: str) -> str:
    """``sample`` with the first ``old`` replaced by ``new``; fails if the sample lost ``old``."""
    assert old in sample, f"test case {case} no longer matches the sample"
    return sample.replace(old, new, 1)


GRID_A = [[39.9230, 116.4385], [39.9230, 116.4480], [39.9170, 116.4480], [39.9170, 116.4385]]
GRID_B = [[39.9160, 116.4385], [39.9160, 116.4420], [39.9140, 116.4420], [39.9140, 116.4385]]


def map_site(evidence_dir: Path, web: dict[str, Any] | None = None) -> Site:
    """The web district placed on the map: cam-a and cam-b with lat/lon inside grid-a's outline,
    an empty grid-b beside it, a PM2.5 sensor at cam-a, spk-b hung on its own pole (spk-a is
    drawn at cam-a), and a camera with no coordinates (cam-c, listed beside the map)."""
    out = web_site(evidence_dir, web)
    out["categories"].update({k: category(k) for k in ("camera_offline", "sensor_stale", "air_quality")})
    out["grids"] = [
        {"id": "grid-a", "name": "和平路网格", "unit": "unit-a", "polygon": GRID_A},
        {"id": "grid-b", "unit": "unit-a", "polygon": GRID_B},
    ]
    out["cameras"][0]["location"] |= {"lat": 39.9212, "lon": 116.4431}
    out["cameras"][1]["location"] |= {"lat": 39.9187, "lon": 116.4402}
    out["cameras"].append(camera("cam-c", "kerb", "illegal_parking", location={"address": "后街5号"}))
    out["speakers"][1]["location"] = {"lat": 39.9190, "lon": 116.4405, "address": "兴华街口"}
    out["sensors"] = [{**PM_A, "location": {"address": "和平路12号", "lat": 39.9214, "lon": 116.4436}}]
    return out
