"""A ``cameras:`` entry: where the camera is, what it reads and how, and its zones."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from streams.config.base import Base, Id, Point, TimeRange

DecodeMode = Literal["all", "sampled", "keyframes"]

# The detector's class-agnostic label: something that appeared in a zone and stayed (boxes,
# sacks, bags of garbage the model has no class for). A category counts it like a model label.
STATIC_LABEL = "static_object"

# Labels whose boxes the static-object step masks out: they explain a change in the picture
MASK_LABELS = ("person", "bicycle", "car", "motorcycle", "bus", "truck")


class Location(Base):
    address: str = Field(min_length=1)
    shop: str = ""
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)


class StaticObjects(Base):
    """How the ``static_object`` label is found in a zone (a camera's default, a zone's own)."""

    learn_s: float = Field(
        10,
        ge=0,
        le=3600,
        description="Seconds of frames (from the start, or from an operator's recapture) the zone's "
        "empty background is learnt from; at least one frame is taken",
    )
    static_after_s: float = Field(
        60,
        gt=0,
        le=86400,
        description="Seconds a change must stay in place before it is reported as a static_object",
    )
    min_area: float = Field(
        0.002, gt=0, le=1, description="Smallest static object reported, fraction of the frame"
    )
    sensitivity: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="How small a change counts (0..1, higher: fainter objects, more false alarms "
        "from shadows and reflections)",
    )
    adapt_s: float = Field(
        300,
        gt=0,
        description="Time constant, in seconds, of the background's adaptation to slow light changes "
        "(only where nothing is changed or masked)",
    )
    mask_labels: list[str] = Field(
        default_factory=lambda: list(MASK_LABELS),
        description="Model labels whose boxes (widened by mask_margin) explain a change and never "
        "become a static object (people standing, parked vehicles)",
    )
    mask_margin: float = Field(
        0.15, ge=0, le=1, description="Margin added around masked boxes, fraction of the box's size"
    )
    max_changed: float = Field(
        0.6,
        gt=0,
        le=1,
        description="A frame whose zone changed over more than this fraction (camera moved, lights "
        "switched, lens covered) is skipped instead of raising objects",
    )
    relearn_after_s: float = Field(
        120,
        gt=0,
        description="Seconds of such frames in a row after which the zone relearns its background "
        "(the camera was moved for good)",
    )
    max_shift: float = Field(
        0.03,
        ge=0,
        le=0.2,
        description="Largest camera shake aligned away, fraction of the frame's width; a larger "
        "shift skips the frame",
    )
    max_objects: int = Field(8, ge=1, le=64, description="Most static objects a zone reports")
    width: int = Field(
        320, ge=64, le=1280, description="Width in pixels of the grey copy the comparison works on"
    )


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

    static_objects: StaticObjects | None = Field(
        None,
        description="This zone's static-object settings (replace the camera's static_objects as a "
        "whole); only zones counting the static_object label use them",
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
    live_snapshot_s: float = Field(
        2,
        gt=0,
        description="Seconds between the camera's live pictures for the camera wall "
        "(<evidence.dir>/live/<camera id>.jpg and .json, overwritten)",
    )
    learn_fixtures_s: float = Field(
        0,
        ge=0,
        description="Default learning period of its zones' fixtures, in seconds (0: no learning); see "
        "fixtures: and `citywatch fixtures`",
    )
    static_objects: StaticObjects = Field(
        default_factory=StaticObjects,
        description="Static-object settings of the zones that count the static_object label (a "
        "zone may have its own)",
    )
    zones: list[Zone] = Field(default_factory=list)
