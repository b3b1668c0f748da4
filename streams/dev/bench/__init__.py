"""Benchmarks: ``citywatch bench e2e|streams|sensors`` (the detector's: ``detectors.bench``)."""

from __future__ import annotations

import argparse


def add_count(
    parser: argparse.ArgumentParser, flag: str, default: int, metavar: str, text: str, note: str = ""
) -> None:
    """A whole-number option whose help ends with its default: ``text (default D<note>)``."""
    parser.add_argument(
        flag, type=int, default=default, metavar=metavar, help=f"{text} (default {default}{note})"
    )
