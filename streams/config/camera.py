"""A ``cameras:`` entry: where the camera is, what it reads and how, and its zones."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from streams.config.base import Base, Id, Point, TimeRange

DecodeMode = Literal["all", "sampled", "keyframes"]


class Location(Base):
    address: str = Field(min_length=1)
    shop: str = ""
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)


class Zone(Base):
    id: Id
    name: str = ""
    polygon: list[Point] = Field(description="Normalised [x, y] points, 0..1, at least 3")
    categories: list[str] = Field(min_length=1)
    active_hours: TimeRange | None = Field(
        None, description="Only count violations in these hours (overrides the category's)"
    )
    anchor: Literal["bottom_center", "center"] = Field(
        "bottom_center", description="Point of a box that must lie in the zone"
    )
    labels: list[str] | None = Field(None, description="Only these labels count in this zone")
    min_score: float = Field(0.25, ge=0, le=1)
    min_area: float = Field(0.0, ge=0, le=1, description="Smallest box, fraction of the frame")
    max_area: float = Field(1.0, gt=0, le=1, description="Largest box, fraction of the frame")
    learn_fixtures_s: float | None = Field(
        None,
        ge=0,
        description="Seconds of a learning period when the zone has no stored fixtures yet: objects "
        "(any label) seen in place through it become the zone's fixtures (benches, planters) and never "
        "count; 0: no learning (default: the camera's learn_fixtures_s)",
    )

    def learn_period(self, camera_default: float) -> float:
        """Seconds of this zone's fixture learning period (0: none), given its camera's default."""
        return camera_default if self.learn_fixtures_s is None else self.learn_fixtures_s


class Camera(Base):
    id: Id
    name: str = ""
    source: str = Field(description="File path, rtsp:// or http(s):// URL, or device:N")
    substream: str | None = Field(
        None,
        description="The same camera's lower-resolution stream (e.g. the NVR's sub stream): "
        "detection reads it instead of source, and its evidence snapshots are the frames it "
        "detected on (source itself is not read while substream is set)",
    )
    decode: DecodeMode = Field(
        "sampled",
        description="Which frames become pictures: 'sampled' only those taken at detect_fps "
        "(the others are decoded but never converted or copied), 'all' every frame, 'keyframes' "
        "only key frames, the others not even decoded (for cameras whose key frame interval is "
        "at most 1/detect_fps; files and streams, not devices)",
    )
    location: Location
    grid: str
    speaker: str | None = None
    enabled: bool = True
    detect_fps: float = Field(2, gt=0, le=60, description="Frames per second sent to the model")
    stationary_recheck_s: float = Field(
        10, gt=0, description="Re-detect at least this often even without motion"
    )
    motion_threshold: float = Field(
        0.002, ge=0, le=1, description="Fraction of changed pixels that counts as motion"
    )
    snapshot_interval_s: float = Field(30, gt=0, description="At most one evidence JPEG per zone")
    learn_fixtures_s: float = Field(
        0,
        ge=0,
        description="Default learning period of its zones' fixtures, in seconds (0: no learning); see "
        "fixtures: and `citywatch fixtures`",
    )
    zones: list[Zone] = Field(default_factory=list)
