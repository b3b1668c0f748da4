"""The ``sysdeps`` marker: a test that needs a missing system command is skipped saying which
command and how to install it (``make test`` requires them instead)."""

from __future__ import annotations

import sys

import pytest

from ..conftest import missing_sysdeps


def test_missing_command_is_named_with_its_package() -> None:
    reason = missing_sysdeps(("chromedriver-not-here", "espeak-ng-not-here"))
    assert reason is not None
    assert "chromedriver-not-here, espeak-ng-not-here" in reason and "make sysdeps" in reason


def test_package_names_are_the_apt_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    reason = missing_sysdeps(("chromium", "chromedriver", "espeak-ng"))
    assert reason is not None and "apt-get install chromium chromium-driver espeak-ng" in reason


def test_present_commands_need_nothing() -> None:
    assert missing_sysdeps((sys.executable,)) is None
