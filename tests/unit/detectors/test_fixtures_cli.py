"""`citywatch fixtures list|add|remove|learn` on a camera's fixtures file."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.fixture_store import fixtures_path, load
from streams.cli import main

from .test_fixtures import CONFIG


def write(tmp_path: Path) -> Path:
    path = tmp_path / "cameras.yaml"
    path.write_text(CONFIG.format(dir=tmp_path / "fx", learn=0), "utf-8")
    return path


def cli(config: Path, *args: str) -> int:
    return main(["fixtures", args[0], "--config", str(config), "--camera", "cam-1", *args[1:]])


def test_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path)
    assert cli(config, "add", "--zone", "walkway", "--box", "0.3,0.6,0.4,0.8", "--label", "bench") == 0
    zones = load(fixtures_path(tmp_path / "fx", "cam-1"))
    (fixture,) = zones["walkway"].fixtures
    assert (fixture.label, fixture.source, fixture.box) == ("bench", "operator", (0.3, 0.6, 0.4, 0.8))
    capsys.readouterr()
    assert cli(config, "list") == 0
    out = capsys.readouterr().out
    assert fixture.id in out and "bench" in out and "1 fixtures" in out
    assert cli(config, "remove", "--zone", "walkway", "--id", fixture.id) == 0
    assert load(fixtures_path(tmp_path / "fx", "cam-1"))["walkway"].fixtures == []


def test_learn_asks_the_detector_to_learn_again(tmp_path: Path) -> None:
    config = write(tmp_path)
    assert cli(config, "learn", "--seconds", "20") == 0
    assert load(fixtures_path(tmp_path / "fx", "cam-1"))["walkway"].learn_s == 20


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("add", "--zone", "nope", "--box", "0,0,1,1"), "has no zone 'nope'; its zones: walkway"),
        (("add", "--zone", "walkway", "--box", "0.5,0,0.1,1"), "x1 < x2"),
        (("add", "--zone", "walkway", "--box", "0.5,0"), "4 numbers"),
        (("remove", "--zone", "walkway", "--id", "fx-1"), "no fixture 'fx-1'"),
        (("learn", "--seconds", "-1"), "above 0"),
    ],
)
def test_bad_input_says_what_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], says: str
) -> None:
    assert cli(write(tmp_path), *args) == 1
    assert says in capsys.readouterr().err


def test_unknown_camera(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fixtures", "list", "--config", str(write(tmp_path)), "--camera", "cam-9"]) == 1
    assert "no camera 'cam-9'" in capsys.readouterr().err
