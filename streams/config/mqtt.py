"""The ``mqtt:`` section of cameras.yaml: which MQTT broker citywatch talks to.

Credentials are never written here: ``CITYWATCH_MQTT_USERNAME`` and
``CITYWATCH_MQTT_PASSWORD`` hold them; ``CITYWATCH_MQTT`` overrides ``url``.
"""

from __future__ import annotations

import urllib.parse

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_URL = "mqtt://127.0.0.1:1883"


def url_problem(url: str) -> str | None:
    """What is wrong with an MQTT broker URL, or None."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc}); write mqtt://HOST:PORT or mqtts://HOST:PORT"
    if parts.scheme not in ("mqtt", "mqtts"):
        return f"{url!r} must start with mqtt:// (plain) or mqtts:// (TLS)"
    if not parts.hostname:
        return f"{url!r} names no host; write mqtt://HOST:PORT"
    if parts.username is not None or parts.password is not None:
        return (
            "the broker URL must not carry a user or password; put them in CITYWATCH_MQTT_USERNAME "
            "and CITYWATCH_MQTT_PASSWORD"
        )
    return None


class Mqtt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        DEFAULT_URL,
        description="Broker: mqtt://HOST[:1883] or mqtts://HOST[:8883] (TLS); CITYWATCH_MQTT overrides it",
    )
    client_id: str | None = Field(
        None,
        min_length=1,
        max_length=40,
        description="Prefix of citywatch's MQTT client ids (each connection adds its own suffix)",
    )
    tls_ca: str | None = Field(
        None,
        description="mqtts: PEM file of the CA that signed the broker's certificate; unset: the system's",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        problem = url_problem(url)
        if problem:
            raise ValueError(problem)
        return url
