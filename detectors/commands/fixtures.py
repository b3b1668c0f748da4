"""A camera's fixtures (street furniture that is no violation): ``citywatch fixtures ACTION --camera ID``.

``list`` prints each zone's fixtures; ``add --zone Z --box x1,y1,x2,y2`` adds one by
hand; ``remove --zone Z (--id ID | --all)`` removes; ``learn [--zone Z] [--seconds S]``
asks the detector to learn them again from its next frames (do it when the
walkway is clean: "clean now"). A running ``edge`` / ``detect`` takes the
change within seconds; the file is ``<fixtures.dir>/<camera>.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from streams.commands import add_config_argument

if TYPE_CHECKING:
    from detectors.fixtures import ZoneFixtures
    from streams.config import Camera


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions = {
        "list": "each zone's fixtures and whether it is learning",
        "add": "add a fixture by hand (a box in normalised frame coordinates)",
        "remove": "remove one fixture (--id) or all of a zone's (--all)",
        "learn": "learn the fixtures again from the detector's next frames ('clean now')",
    }
    for name, help_text in actions.items():
        p = sub.add_parser(name, help=help_text)
        add_config_argument(p)
        p.add_argument("--camera", required=True, metavar="ID", help="camera id in the configuration")
        needs_zone = name in ("add", "remove")
        p.add_argument(
            "--zone",
            required=needs_zone,
            default=None,
            metavar="ZONE",
            help="zone id of the camera" + ("" if needs_zone else " (default: every zone)"),
        )
        if name == "add":
            p.add_argument("--box", required=True, metavar="X1,Y1,X2,Y2", help="fractions of the frame, 0..1")
            p.add_argument("--label", default="fixture", help="what it is, for people (default: fixture)")
        if name == "remove":
            which = p.add_mutually_exclusive_group(required=True)
            which.add_argument("--id", default=None, help="the fixture's id, as `list` prints it")
            which.add_argument("--all", action="store_true", help="every fixture of the zone")
        if name == "learn":
            p.add_argument(
                "--seconds",
                type=float,
                default=None,
                metavar="S",
                help="learning period (default: the zone's learn_fixtures_s, else 60)",
            )


Zones = dict[str, "ZoneFixtures"]


def run(args: argparse.Namespace) -> int:
    from detectors.fixture_store import fixtures_path, load, save
    from streams.config import load_config, resolve_path
    from streams.contract.errors import UsageError

    path = resolve_path(args.config)
    cfg = load_config(path)
    try:
        camera = cfg.camera(args.camera)
    except KeyError:
        known = ", ".join(c.id for c in cfg.cameras) or "none"
        raise UsageError(f"no camera {args.camera!r} in {path}; known: {known}") from None
    zone_ids = [z.id for z in camera.zones]
    if args.zone is not None and args.zone not in zone_ids:
        raise UsageError(
            f"camera {camera.id} has no zone {args.zone!r}; its zones: {', '.join(zone_ids) or 'none'}"
        )
    chosen = [args.zone] if args.zone else zone_ids
    file = fixtures_path(cfg.fixtures.dir, camera.id)
    zones = load(file)
    if args.action == "list":
        _list(camera, file, zones, chosen)
        return 0
    if args.action == "add":
        _add(args, zones, cfg.fixtures.max_per_zone)
    elif args.action == "remove":
        _remove(args, zones)
    else:  # learn
        _learn(args, camera, zones, chosen)
    save(file, camera.id, zones)
    return 0


def _list(camera: Camera, file: Path, zones: Zones, chosen: list[str]) -> None:
    from detectors.fixtures import ZoneFixtures
    from streams.contract.timeutil import to_iso

    print(f"camera {camera.id}  ({file})")
    for zid in chosen:
        zf = zones.get(zid, ZoneFixtures())
        zone = next(z for z in camera.zones if z.id == zid)
        if zf.learn_s is not None:
            state = f"learning asked for {zf.learn_s:g} s"
        elif zf.learned_at is not None:
            state = f"learnt {to_iso(zf.learned_at)}"
        elif zone.learn_period(camera.learn_fixtures_s) > 0:
            state = "learns when the detector starts"
        else:
            state = "not learnt (learn_fixtures_s is 0)"
        print(f"zone {zid}: {len(zf.fixtures)} fixtures, {state}")
        for f in zf.fixtures:
            box = ",".join(f"{v:.4f}" for v in f.box)
            print(f"  {f.id}  {f.label:<14} box {box}  {f.source} {to_iso(f.added_at)}")


def _add(args: argparse.Namespace, zones: Zones, max_per_zone: int) -> None:
    from detectors.fixtures import Fixture, ZoneFixtures, add_fixture
    from streams.contract.errors import UsageError

    now = time.time()
    try:
        fixture = Fixture.make(
            args.zone, [float(v) for v in args.box.split(",")], args.label, "operator", now
        )
    except ValueError as exc:
        raise UsageError(f"--box {args.box}: {exc}") from None
    zf = zones.setdefault(args.zone, ZoneFixtures())
    if not add_fixture(zf, fixture, max_per_zone):
        raise UsageError(
            f"zone {args.zone} already has {max_per_zone} fixtures (fixtures.max_per_zone): remove some first"
        )
    print(f"added {fixture.id} to zone {args.zone}")


def _remove(args: argparse.Namespace, zones: Zones) -> None:
    from detectors.fixtures import ZoneFixtures
    from streams.contract.errors import UsageError

    zf = zones.setdefault(args.zone, ZoneFixtures())
    before = len(zf.fixtures)
    zf.fixtures = [] if args.all else [f for f in zf.fixtures if f.id != args.id]
    if not args.all and len(zf.fixtures) == before:
        ids = ", ".join(f.id for f in zf.fixtures) or "none"
        raise UsageError(f"zone {args.zone} has no fixture {args.id!r}; its fixtures: {ids}")
    print(f"removed {before - len(zf.fixtures)} fixtures from zone {args.zone}")


def _learn(args: argparse.Namespace, camera: Camera, zones: Zones, chosen: list[str]) -> None:
    from detectors.fixtures import ZoneFixtures
    from streams.contract.errors import UsageError

    if args.seconds is not None and args.seconds <= 0:
        raise UsageError(f"--seconds {args.seconds:g}: give a learning period above 0")
    for zid in chosen:
        zone = next(z for z in camera.zones if z.id == zid)
        seconds = args.seconds or zone.learn_period(camera.learn_fixtures_s) or 60.0
        zf = zones.setdefault(zid, ZoneFixtures())
        zf.learn_s = seconds
        print(f"zone {zid}: learns its fixtures over the detector's next {seconds:g} s")
