"""cameras.yaml as a tree of pydantic models that reject unknown keys.

One model per section; limits and user-facing docs live in ``Field``.
Cross-references between sections are checked in ``verify.py``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

# re-exported: the sections with their own modules
from streams.config.base import Base as Base
from streams.config.base import Id as Id
from streams.config.base import Point as Point
from streams.config.base import TimeRange as TimeRange
from streams.config.camera import Camera as Camera
from streams.config.camera import Location as Location
from streams.config.camera import Zone as Zone
from streams.config.kafka import Kafka
from streams.config.levels import Department as Department
from streams.config.levels import Street as Street
from streams.config.levels import UnitLevel
from streams.config.model import ModelConfig as ModelConfig
from streams.config.mqtt import Mqtt
from streams.config.site import Site as Site
from streams.config.store import Store

ClockKind = Literal["working", "wall"]


class Evidence(Base):
    dir: str = Field(
        "evidence",
        description="Directory for annotated evidence JPEGs (created with its parents; relative to the "
        "working directory)",
    )
    retention_days: float = Field(7, gt=0, description="Delete camera evidence older than this")
    max_mb: float = Field(
        2048,
        gt=0,
        description="Budget of the camera evidence: the oldest beyond it is deleted (patrol photos "
        "under the same directory are not counted and never deleted by the detectors)",
    )
    jpeg_quality: int = Field(85, ge=10, le=100)
    keep_original: bool = Field(
        False,
        description="Also keep the untouched frame beside each annotated one, as <name>.orig.jpg "
        "(enforcement may need the original); it counts in max_mb",
    )


class Web(Base):
    bind: str = Field(
        "127.0.0.1",
        description="Address the worker's web server listens on ('0.0.0.0' to reach it from phones)",
    )
    tokens_file: str | None = Field(
        None,
        description="File of access tokens, one 'TOKEN=ROLE' a line (viewer, operator, "
        "patrol:UNIT, admin); CITYWATCH_TOKENS adds more",
    )
    session_ttl_s: float = Field(43200, gt=0, description="Browser sessions end after this many seconds")
    max_photo_mb: float = Field(8, gt=0, le=64, description="Largest patrol photo accepted, in MB")
    closed_kept: int = Field(500, ge=0, description="Closed incidents the board keeps in memory")
    max_streams: int = Field(
        200, ge=1, description="Live-event (SSE) streams open at once on this worker; more get 429"
    )
    max_streams_per_token: int = Field(
        10, ge=1, description="Live-event streams open at once per token (its sessions included)"
    )
    max_sessions_per_token: int = Field(
        20, ge=1, description="Browser sessions kept per token; a new login ends the oldest beyond it"
    )
    login_attempts_per_min: int = Field(
        20, ge=1, description="Logins accepted per client address and minute (as a burst too); more get 429"
    )
    max_photos_per_case: int = Field(
        6, ge=1, description="Patrol photos accepted per case (on arrived and resolved updates)"
    )
    config_writable: bool = Field(
        False,
        description="Whether the zone editor (/cameras/{id}/zones) may save cameras.yaml (operators, "
        "admin); the previous version is kept as cameras.yaml.bak, and workers and detectors reload "
        "zones from the file within seconds",
    )
    photos_max_mb: float = Field(
        1024,
        gt=0,
        description="Size budget of patrol photos (under <evidence.dir>/patrol/, apart from camera "
        "evidence); the oldest files beyond it are deleted",
    )

    map_tiles: str | None = Field(
        None,
        description="Tile URL template of the map page, e.g. 'https://gis.example/tiles/{z}/{x}/{y}.png' "
        "(the city's GIS or an offline tile server); default: no tiles, the features on a plain "
        "lat/lon canvas and no request to any other host",
    )
    map_attribution: str = Field("", description="Credit line shown under the map's tiles")

    @field_validator("map_tiles")
    @classmethod
    def verify_map_tiles(cls, value: str | None) -> str | None:
        if value is None:
            return None
        missing = [part for part in ("{z}", "{x}", "{y}") if part not in value]
        if missing:
            raise ValueError(
                f"web.map_tiles {value!r} lacks {', '.join(missing)}; give a tile URL template such as "
                "'https://gis.example/tiles/{z}/{x}/{y}.png'"
            )
        if not value.startswith(("http://", "https://", "/")):
            raise ValueError(
                f"web.map_tiles {value!r} is neither an http(s):// URL nor a path of this server "
                "(starting with /)"
            )
        return value

    @model_validator(mode="after")
    def verify_photo_budget(self) -> Web:
        if self.photos_max_mb < self.max_photo_mb:
            raise ValueError(
                f"web.photos_max_mb ({self.photos_max_mb:g}) is smaller than one photo "
                f"(web.max_photo_mb {self.max_photo_mb:g}): raise photos_max_mb or lower max_photo_mb"
            )
        return self


# How the packaged model misreads a pedestrian street: below these scores a sighting of the label is
# more often something else (a public bench read as a suitcase at 0.31, a shopper's bag on the arm
# as a handbag on the ground, a bin as a bottle). A category's min_scores override them per label.
DEFAULT_MIN_SCORES: dict[str, float] = {
    "suitcase": 0.5,
    "handbag": 0.5,
    "backpack": 0.5,
    "bottle": 0.45,
    "umbrella": 0.4,
    "dining table": 0.4,
    "bench": 0.35,
    "chair": 0.35,
    "potted plant": 0.35,
}

Score = Annotated[float, Field(ge=0, le=1)]


class Category(Base):
    code: Annotated[str, Field(pattern=r"^\d{6}$")] = Field(
        description="GB/T 30428-style six-digit event code"
    )
    name: str = Field(min_length=1, description="Name shown to people (e.g. 店外经营)")
    major: Annotated[str, Field(pattern=r"^\d{4}$")] | None = Field(
        None, description="大类 code in reports and exports (default: the first four digits of code)"
    )
    major_name: str | None = Field(None, description="大类 name (default: GB/T 30428's, docs/reports.md)")
    labels: list[str] = Field(
        default_factory=list,
        description="Model labels that count as this category (camera categories; sensor and health "
        "categories have none)",
    )
    min_score: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Lowest model score of a sighting that counts, for labels without their own "
        "threshold (in min_scores or the built-in street defaults)",
    )
    min_scores: dict[str, Score] = Field(
        default_factory=dict,
        description="Per label: the lowest model score of a sighting that counts, e.g. {suitcase: 0.5} "
        "(unlisted labels: the built-in street defaults, at least min_score; `citywatch check` "
        "prints the effective thresholds)",
    )
    warn_min_frames: int = Field(
        3,
        ge=1,
        description="The automatic loudspeaker warning needs the violation seen (above its threshold) "
        "in at least this many sampled frames over the dwell; below that the incident opens for "
        "review by an operator, without a warning",
    )
    dwell_s: float = Field(60, ge=0, description="Seconds the zone must be occupied to count")
    inertia: int = Field(3, ge=1, description="Consecutive sightings before occupancy counts")
    gap_s: float = Field(10, ge=0, description="A gap this long does not reset the dwell")
    clear_s: float = Field(30, gt=0, description="Seconds with no sighting before it is cleared")
    grace_s: float = Field(300, ge=0, description="After the warning, seconds before dispatch")
    verify_s: float = Field(60, gt=0, description="Seconds the camera must see the zone clear")
    sla_s: float = Field(3600, gt=0, description="Seconds a patrol unit has to resolve a case")
    sla_clock: ClockKind | None = Field(
        None,
        description="How sla_s is counted: 'working' (site.working_hours on working days of the Chinese "
        "calendar) or 'wall' (every second). Default: working for a category that dispatches cases, "
        "wall for one that does not",
    )
    active_hours: TimeRange | None = Field(
        None, description="Only count violations in these hours (default: always)"
    )
    warn: bool = Field(True, description="Send an automatic loudspeaker warning")
    warn_hours: TimeRange | None = Field(
        None,
        description="Automatic warnings only in these hours, local time in site.timezone, e.g. "
        "'07:00-21:00' (default: any hour). Outside them the category keeps watching: an incident "
        "opens and goes on as with warn: false (dispatched after grace_s when the category dispatches)",
    )
    dispatch: bool = Field(True, description="Dispatch a case when the grace period runs out")
    template: str = Field(
        "",
        description="Warning text; {address}, {shop}, {name} and {camera} are filled in",
    )
    lang: str = Field("zh", description="Language of the template")

    def clock_kind(self) -> ClockKind:
        """The clock this category's SLA is counted on (``sla_clock`` or its default)."""
        if self.sla_clock is not None:
            return self.sla_clock
        return "working" if self.dispatch else "wall"

    def min_score_of(self, label: str) -> float:
        """The lowest score at which a sighting of ``label`` counts for this category."""
        if label in self.min_scores:
            return self.min_scores[label]
        return max(self.min_score, DEFAULT_MIN_SCORES.get(label, 0.0))

    def effective_min_scores(self) -> dict[str, float]:
        """Label -> threshold for every label of the category, in its order."""
        return {label: self.min_score_of(label) for label in self.labels}


class SpeakerDriver(Base):
    type: Literal["file", "http", "command"] = "file"
    dir: str | None = Field(None, description="file: directory to write WAV files to")
    url: str | None = Field(None, description="http: URL to POST the audio to")
    command: list[str] | None = Field(
        None, description="command: argv; '{file}' is replaced with the audio path"
    )
    timeout_s: float = Field(10, gt=0)
    retries: int = Field(2, ge=0, le=10)
    backoff_s: float = Field(
        0.5, ge=0, le=60, description="http/command: seconds before the first retry, doubled after each"
    )


LatLon = Annotated[list[float], Field(min_length=2, max_length=2)]


class Place(Base):
    """Where a speaker hangs, for the map."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    address: str = ""


class Speaker(Base):
    id: Id
    name: str = ""
    location: Place | None = Field(
        None, description="Where it is, for the map (default: at the first camera that uses it)"
    )
    quiet_hours: TimeRange | None = Field(
        None, description="No automatic broadcasts in these hours (operators need force)"
    )
    min_interval_s: float = Field(60, ge=0, description="Minimum seconds between broadcasts")
    max_per_hour: int = Field(20, ge=1, description="Most broadcasts in any hour")
    lang: str = "zh"
    volume: int = Field(80, ge=0, le=100)
    driver: SpeakerDriver = Field(default_factory=SpeakerDriver)
    chime: bool = Field(True, description="Play a short two-tone chime before each message")
    voice: str | None = Field(
        None, description="espeak-ng voice (default: from the command's lang: zh -> cmn, en -> en)"
    )
    rate_wpm: int = Field(175, ge=80, le=450, description="Speaking rate in words per minute")
    clips: dict[str, str] = Field(
        default_factory=dict,
        description="Template name -> pre-recorded 16-bit PCM WAV played instead of speech",
    )


class Unit(Base):
    id: Id
    name: str = ""
    level: UnitLevel = Field(
        "street", description="street (a grid's patrol), street_office (a street's office) or district"
    )
    escalates_to: str | None = Field(
        None, description="Unit one level up that takes overdue cases (street -> street_office -> district)"
    )
    contact: str = ""


class Grid(Base):
    id: Id
    name: str = ""
    unit: str = Field(description="Patrol unit responsible for this street grid")
    polygon: list[LatLon] | None = Field(
        None,
        description="The grid's outline on the map: [lat, lon] corners in order, at least 3 "
        "(default: no outline)",
    )


class Sensor(Base):
    id: Id
    name: str = ""
    kind: Id = Field(description="What it measures, e.g. pm25, noise, bin_fill (readings must say the same)")
    unit: str = Field("", description="Unit of its readings, e.g. µg/m³, dB(A), % (empty: any)")
    location: Location
    grid: str = Field(description="Street grid whose patrol unit takes this sensor's cases")
    speaker: str | None = Field(None, description="Loudspeaker for automatic warnings (default: none)")
    stale_after_s: float | None = Field(
        None, gt=0, description="Stale when silent this long (default: health.sensor_stale_after_s)"
    )
    max_window_readings: int = Field(
        3600,
        gt=0,
        description="Most readings one window of this sensor holds (one a second for an hour); "
        "more are refused: dead-lettered, or 400 over HTTP ingest",
    )
    enabled: bool = True


class SensorRule(Base):
    id: Id
    category: str = Field(description="Incident category opened while the rule holds")
    kind: str | None = Field(None, description="Applies to every sensor of this kind")
    sensors: list[str] | None = Field(None, description="Applies to these sensor ids")
    window_s: float = Field(60, gt=0, description="Sliding window over the readings' measured_at")
    aggregate: Literal["mean", "max", "min", "last"] = Field("mean", description="Of the window")
    above: float | None = Field(None, description="Holds while the aggregate is above this")
    below: float | None = Field(None, description="Holds while the aggregate is below this")
    clear: float | None = Field(
        None, description="Hysteresis: once holding, it clears only past this (default: the threshold)"
    )
    inclusive: bool = Field(False, description="The threshold itself counts (>= / <=), e.g. fill >= 90 %")
    min_duration_s: float = Field(0, ge=0, description="The condition must last this long to count")
    min_samples: int = Field(1, ge=1, description="Readings the window needs before it is judged")
    active_hours: TimeRange | None = Field(
        None, description="Only judged in these hours, e.g. '22:00-06:00' for night noise"
    )


class Health(Base):
    blip_s: float = Field(30, ge=0, description="A camera offline for less than this is a blip")
    degraded_fps_ratio: float = Field(
        0.5, ge=0, le=1, description="fps below this fraction of detect_fps counts as degraded"
    )
    degraded_for_s: float = Field(
        60, gt=0, description="Degraded this long holds the camera's incidents (inhibition)"
    )
    status_timeout_s: float = Field(
        120, gt=0, description="A camera that sent camera-status before and is silent this long is offline"
    )
    offline_category: str = Field("camera_offline", description="Category of camera-offline incidents")
    sensor_stale_after_s: float = Field(900, gt=0, description="Default silence before a sensor is stale")
    stale_category: str = Field("sensor_stale", description="Category of stale-sensor incidents")


class Fixtures(Base):
    dir: str = Field(
        "state/fixtures",
        description="Directory of the learnt and added fixtures, one <camera>.json each (created with its "
        "parents; relative to the working directory); they survive restarts",
    )
    min_iou: float = Field(
        0.5,
        gt=0,
        le=1,
        description="A box overlapping a fixture's box at least this much (intersection over union) is "
        "that fixture, whatever label the model gives it",
    )
    min_presence: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Fraction of the learning period's frames an object must be seen in, in the same "
        "place, to become a fixture (people passing by are not)",
    )
    max_per_zone: int = Field(32, ge=1, le=1000, description="Most fixtures a zone keeps")


class Config(Base):
    version: Literal[1] = 1
    site: Site
    model: ModelConfig = Field(default_factory=ModelConfig)
    evidence: Evidence = Field(default_factory=Evidence)
    fixtures: Fixtures = Field(default_factory=Fixtures)
    kafka: Kafka = Field(default_factory=Kafka)
    web: Web = Field(default_factory=Web)
    store: Store = Field(default_factory=Store)
    mqtt: Mqtt = Field(default_factory=Mqtt)
    categories: dict[str, Category]
    speakers: list[Speaker] = Field(default_factory=list)
    units: list[Unit] = Field(default_factory=list)
    grids: list[Grid] = Field(default_factory=list)
    streets: list[Street] = Field(default_factory=list, description="Streets (街道): grids and their office")
    departments: list[Department] = Field(
        default_factory=list, description="Departments that own categories across the district"
    )
    cameras: list[Camera] = Field(default_factory=list)
    sensors: list[Sensor] = Field(default_factory=list)
    sensor_rules: list[SensorRule] = Field(default_factory=list)
    health: Health = Field(default_factory=Health)

    def camera(self, camera_id: str) -> Camera:
        for cam in self.cameras:
            if cam.id == camera_id:
                return cam
        raise KeyError(camera_id)

    def speaker(self, speaker_id: str) -> Speaker:
        for spk in self.speakers:
            if spk.id == speaker_id:
                return spk
        raise KeyError(speaker_id)

    def unit(self, unit_id: str) -> Unit:
        for unit in self.units:
            if unit.id == unit_id:
                return unit
        raise KeyError(unit_id)

    def grid(self, grid_id: str) -> Grid:
        for grid in self.grids:
            if grid.id == grid_id:
                return grid
        raise KeyError(grid_id)
