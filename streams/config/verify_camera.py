"""Checks of a camera's streams and of its zones' static-object settings (each error names the
thing and the fix)."""

from __future__ import annotations

from collections.abc import Iterator

from streams.config.camera import STATIC_LABEL
from streams.config.camera_source import source_kind
from streams.config.models import Config
from streams.config.yamlmap import Finding, Loc


def verify_camera_substreams(cfg: Config) -> Iterator[Finding]:
    """A substream is another stream of the same camera: not its source again, not a device,
    and of the same kind as its source (two stream URLs, or two recorded files)."""
    for ci, cam in enumerate(cfg.cameras):
        sub = cam.substream
        if sub is None:
            continue
        loc: Loc = ("cameras", ci, "substream")
        fix = "give the camera's lower-resolution stream (e.g. the NVR's sub stream) or remove substream"
        main_kind, sub_kind = source_kind(cam.source), source_kind(sub)
        if not sub.strip():
            yield loc, f"camera {cam.id}: substream is empty; {fix}"
        elif sub.strip() == cam.source.strip():
            yield loc, f"camera {cam.id}: substream is the same as its source; {fix}"
        elif main_kind == "device" or sub_kind == "device":
            yield loc, f"camera {cam.id}: a local device (device:N) has no substream; remove substream"
        elif main_kind != sub_kind:
            yield (
                loc,
                f"camera {cam.id}: substream is a {sub_kind} but its source is a {main_kind}; "
                f"a substream is the same camera's second stream: {fix}",
            )


def verify_camera_decode(cfg: Config) -> Iterator[Finding]:
    """``decode: keyframes`` needs a video file or stream to read (PyAV), not a local device."""
    for ci, cam in enumerate(cfg.cameras):
        spec = cam.substream if cam.substream is not None else cam.source
        if cam.decode == "keyframes" and source_kind(spec) == "device":
            yield (
                ("cameras", ci, "decode"),
                f"camera {cam.id}: decode: keyframes reads video files and streams, not a local "
                "device (device:N); use decode: sampled",
            )


def verify_zone_static_objects(cfg: Config) -> Iterator[Finding]:
    """A zone's own static_objects settings need a category of the zone counting static_object."""
    for ci, cam in enumerate(cfg.cameras):
        for zi, zone in enumerate(cam.zones):
            if zone.static_objects is None:
                continue
            counted = {
                lab for key in zone.categories for lab in getattr(cfg.categories.get(key), "labels", [])
            }
            if zone.labels is not None:
                counted &= set(zone.labels)
            if STATIC_LABEL not in counted:
                yield (
                    ("cameras", ci, "zones", zi, "static_objects"),
                    f"camera {cam.id} zone {zone.id} has static_objects settings, but none of its "
                    f"categories ({', '.join(zone.categories)}) counts the label {STATIC_LABEL!r}, so "
                    f"they do nothing: add {STATIC_LABEL} to one of those categories' labels, or remove "
                    "the settings",
                )


# folders under evidence.dir that are not a camera's evidence: the web's patrol photos, the
# cameras' live pictures (detectors/evidence.py OTHERS, detectors/live.py)
RESERVED_CAMERA_IDS = frozenset({"patrol", "live"})


def verify_camera_ids_not_reserved(cfg: Config) -> Iterator[Finding]:
    """A camera's evidence folder is ``evidence.dir/<camera id>``: a few names are taken."""
    for ci, cam in enumerate(cfg.cameras):
        if cam.id in RESERVED_CAMERA_IDS:
            yield (
                ("cameras", ci, "id"),
                f"camera id {cam.id!r} is reserved (evidence.dir/{cam.id}/ holds "
                f"{'patrol photos' if cam.id == 'patrol' else 'the live pictures'}); rename the camera",
            )
