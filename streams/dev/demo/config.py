"""The demo's configuration: the district's layout with short timings and two simulated cameras."""

from __future__ import annotations

from pathlib import Path

from streams.config import Config, parse_config

# Two cameras on the same bus-stop picture: at one the driver leaves after the
# warning (the warning works), at the other the bus stays and a patrol officer
# is dispatched (the closed loop). Timings are seconds so the story fits a minute.
DEMO_YAML = """\
version: 1
site:
  name: 和平街道城市运行指挥中心 (demo)
  timezone: Asia/Shanghai
model: {{name: yolo11n, imgsz: 640, conf: 0.35}}
evidence: {{dir: {var}/evidence, retention_days: 1, max_mb: 200}}
kafka: {{partitions: 4}}
categories:
  illegal_parking:
    code: "200505"
    name: 机动车乱停放
    labels: [bus, car, truck]
    dwell_s: 4
    inertia: 2
    gap_s: 3
    clear_s: 4
    grace_s: 15
    verify_s: 8
    sla_s: 300
    template: "{{address}}禁止停车，请立即驶离。"
  camera_offline: {{code: "900101", name: 摄像头离线, warn: false, dispatch: false}}
speakers:
  - {{id: spk-hp-02, name: 和平路38号杆, min_interval_s: 30, max_per_hour: 20,
     driver: {{type: file, dir: {var}/speaker/spk-hp-02}}}}
  - {{id: spk-xh-01, name: 兴华街口, min_interval_s: 30, max_per_hour: 20,
     driver: {{type: file, dir: {var}/speaker/spk-xh-01}}}}
units:
  - {{id: unit-hp-1, name: 和平路街路长 王伟, level: street, escalates_to: unit-district}}
  - {{id: unit-xh-1, name: 兴华街网格员 李娜, level: street, escalates_to: unit-district}}
  - {{id: unit-district, name: 区城管执法大队, level: district}}
grids:
  - {{id: grid-hp-01, name: 和平路第一网格, unit: unit-hp-1}}
  - {{id: grid-xh-02, name: 兴华街第二网格, unit: unit-xh-1}}
health: {{blip_s: 30, degraded_for_s: 600, status_timeout_s: 120}}
cameras:
  - id: cam-hp-02
    name: 和平路38号 公交站
    source: {source_a}
    location: {{address: 和平路38号公交站, lat: 39.9219, lon: 116.4466}}
    grid: grid-hp-01
    speaker: spk-hp-02
    detect_fps: 2
    stationary_recheck_s: 2
    snapshot_interval_s: 10
    zones:
      - {{id: bus-lane, name: 公交站台禁停区, polygon: [[0, 0.45], [1, 0.45], [1, 0.9], [0, 0.9]],
         categories: [illegal_parking]}}
  - id: cam-xh-01
    name: 兴华街口
    source: {source_b}
    location: {{address: 兴华街1号, lat: 39.9187, lon: 116.4402}}
    grid: grid-xh-02
    speaker: spk-xh-01
    detect_fps: 2
    stationary_recheck_s: 2
    snapshot_interval_s: 10
    zones:
      - {{id: kerb, name: 路边禁停区, polygon: [[0, 0.45], [1, 0.45], [1, 0.9], [0, 0.9]],
         categories: [illegal_parking]}}
"""

LOOP_CAMERA = "cam-hp-02"  # the bus stays: dispatched, patrol, verified by the camera
WARN_CAMERA = "cam-xh-01"  # the driver leaves after the warning


def write_demo_config(var: Path, source_a: str, source_b: str) -> tuple[Path, Config]:
    text = DEMO_YAML.format(var=var.as_posix(), source_a=source_a, source_b=source_b)
    path = var / "cameras.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path, parse_config(text, str(path))
