"""A speaker's ``driver:`` section: how its audio (or its text) reaches the device.

``driver_problems`` lists what a driver section lacks or gets wrong, for
``citywatch check`` and for the gateway that builds the driver.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from streams.config.base import Base

MAX_TOPIC_BYTES = 65535  # the MQTT limit of a topic name


class SpeakerDriver(Base):
    type: Literal["file", "http", "command", "mqtt"] = "file"
    dir: str | None = Field(None, description="file: directory to write WAV files to")
    url: str | None = Field(None, description="http: URL to POST the audio to")
    command: list[str] | None = Field(
        None, description="command: argv; '{file}' is replaced with the audio path"
    )
    topic: str | None = Field(None, description="mqtt: topic the commands are published to (QoS 1)")
    ack_topic: str | None = Field(
        None,
        description="mqtt: topic the device acknowledges on; unset: played once the broker has taken it",
    )
    payload: Literal["command", "audio_url"] = Field(
        "command",
        description="mqtt: 'command' sends the text for a device that speaks it; 'audio_url' also "
        "renders the WAV and sends where to fetch it",
    )
    audio_base_url: str | None = Field(
        None,
        description="mqtt audio_url: URL the device fetches the WAV files from, e.g. http://gw:8099/audio/",
    )
    audio_dir: str | None = Field(
        None,
        description="mqtt audio_url: directory the WAV files are written to (default var/speaker/ID/audio)",
    )
    audio_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="mqtt audio_url: serve audio_dir over HTTP on this port (unset: another server does)",
    )
    timeout_s: float = Field(
        10, gt=0, description="http/command: seconds per attempt; mqtt: seconds to wait for the device's ack"
    )
    retries: int = Field(2, ge=0, le=10)
    backoff_s: float = Field(
        0.5, ge=0, le=60, description="seconds before the first retry, doubled after each"
    )


def topic_problem(topic: str) -> str | None:
    """Why ``topic`` cannot be published or subscribed to as one exact topic, or None."""
    if not topic:
        return "is empty"
    if "+" in topic or "#" in topic:
        return f"{topic!r} has a wildcard (+ or #); give the one exact topic of this device"
    if topic.startswith("$"):
        return f"{topic!r} starts with '$', which brokers keep for themselves ($SYS)"
    if "\x00" in topic:
        return f"{topic!r} contains a NUL character"
    if len(topic.encode("utf-8")) > MAX_TOPIC_BYTES:
        return f"is longer than {MAX_TOPIC_BYTES} bytes"
    return None


def driver_problems(drv: SpeakerDriver) -> Iterator[tuple[str, str]]:
    """(key under driver:, what to fix) for each problem of a driver section."""
    if drv.type == "http" and not drv.url:
        yield "url", "uses the http driver; give it a url:"
    if drv.type == "command" and not drv.command:
        yield "command", "uses the command driver; give it a command: list (argv, with '{file}')"
    if drv.type != "mqtt":
        return
    if not drv.topic:
        yield "topic", "uses the mqtt driver; give it the topic: its commands are published to"
    for key in ("topic", "ack_topic"):
        value = getattr(drv, key)
        problem = None if value is None else topic_problem(value)
        if problem:
            yield key, f"driver.{key} {problem}"
    if drv.topic and drv.topic == drv.ack_topic:
        yield (
            "ack_topic",
            "driver.ack_topic is the same as topic; the device must answer on a topic of its own",
        )
    if drv.payload == "audio_url":
        base = urllib.parse.urlsplit(drv.audio_base_url or "")
        if base.scheme not in ("http", "https") or not base.netloc:
            yield (
                "audio_base_url",
                "sends payload: audio_url; give audio_base_url: the http(s) URL the device fetches the WAV "
                "files from (e.g. http://gateway-host:8099/audio/ with audio_port: 8099)",
            )
