"""What a camera's ``source:`` (or ``substream:``) value names: a stream URL, a local device or a
file. Pure string rules, shared by the configuration checks and the frame sources."""

from __future__ import annotations

from typing import Literal

SourceKind = Literal["stream", "device", "file"]

STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt"})


def is_stream(spec: str) -> bool:
    return spec.split("://", 1)[0].lower() in STREAM_SCHEMES


def source_kind(spec: str) -> SourceKind:
    if is_stream(spec):
        return "stream"
    if spec.startswith("device:"):
        return "device"
    return "file"
