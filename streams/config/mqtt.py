"""The ``mqtt:`` section of cameras.yaml: the MQTT broker of the bridge (``citywatch mqtt``) and
of the loudspeakers' ``mqtt`` driver.

The broker's user name and password are never written here: they come from
``CITYWATCH_MQTT_USERNAME`` and ``CITYWATCH_MQTT_PASSWORD``. The URL is overridden by
``--mqtt`` and ``CITYWATCH_MQTT``. Each input maps messages of a topic pattern to
sensor readings; the source syntax of its fields is in ``streams.mqtt.sources``.
"""

from __future__ import annotations

import urllib.parse

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from streams.contract.errors import MqttError
from streams.mqtt import sources

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


class MqttInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str = Field(
        description="Subscription pattern, e.g. city/sensors/+/pm25 (+: one level, #: the rest)"
    )
    sensor_id: str = Field(
        description="The sensor: {1} (the first wildcard's level), a JSON path ($.id) or a literal id"
    )
    value: str = Field(description="The measured value: a JSON path ($.pm25), $ (a bare number) or {N}")
    kind: str | None = Field(
        None, description="What it measures (JSON path, {N} or literal); default: the sensor's kind"
    )
    unit: str | None = Field(
        None, description="Unit (JSON path, {N} or literal, e.g. µg/m³); default: the sensor's unit"
    )
    measured_at: str = Field(
        "now",
        description="When it was measured: a JSON path to an ISO-8601 time or Unix seconds (or "
        "milliseconds), or now (when the bridge received it)",
    )

    @field_validator("topic")
    @classmethod
    def _pattern(cls, topic: str) -> str:
        try:
            sources.check_pattern(topic)
        except MqttError as exc:
            raise ValueError(str(exc)) from None
        return topic

    @model_validator(mode="after")
    def _sources(self) -> MqttInput:
        wildcards = sources.check_pattern(self.topic)
        for name in ("sensor_id", "value", "kind", "unit", "measured_at"):
            text = getattr(self, name)
            if text is None:
                continue
            try:
                parsed = sources.parse(text, wildcards=wildcards, allow_now=name == "measured_at")
            except MqttError as exc:
                raise ValueError(f"{name}: {exc}") from None
            if name == "value" and parsed.kind == "literal":
                raise ValueError(
                    f"value: {text!r} is a constant; take it from the message: $.field of a JSON payload, "
                    "$ for a bare number, or {N} for a topic level"
                )
        return self

    def source(self, name: str) -> sources.Source | None:
        """The parsed source of field ``name`` (None: not given)."""
        text = getattr(self, name)
        if text is None:
            return None
        return sources.parse(text, wildcards=sources.check_pattern(self.topic), allow_now=True)


class Mqtt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        DEFAULT_URL,
        description="Broker: mqtt://HOST[:1883] or mqtts://HOST[:8883] (TLS); overridden by --mqtt and "
        "CITYWATCH_MQTT",
    )
    client_id: str = Field(
        "citywatch-mqtt",
        min_length=1,
        max_length=64,
        description="Fixed client id of the bridge's persistent session: the broker keeps the messages "
        "that arrive while the bridge is down for it (one bridge per id)",
    )
    tls: bool = Field(False, description="TLS even with mqtt:// (mqtts:// always uses it)")
    ca_file: str | None = Field(None, description="CA certificates of the broker (default: the system's)")
    cert_file: str | None = Field(None, description="Client certificate (PEM), with key_file")
    key_file: str | None = Field(None, description="Client key (PEM), with cert_file")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive interval")
    out_prefix: str = Field(
        "citywatch",
        min_length=1,
        description="Topic prefix of what the bridge publishes: <out_prefix>/alerts/<camera_id> and "
        "<out_prefix>/cases/<unit_id>",
    )
    publish_alerts: bool = Field(True, description="Publish alerts (citywatch.alerts) on MQTT")
    publish_cases: bool = Field(True, description="Publish dispatched cases (citywatch.dispatch) on MQTT")
    inputs: list[MqttInput] = Field(
        default_factory=list, description="Topic patterns whose messages become sensor readings"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        problem = url_problem(url)
        if problem:
            raise ValueError(problem)
        return url

    @field_validator("out_prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        if any(c in prefix for c in "+#") or prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError(
                f"{prefix!r}: write topic levels without wildcards or outer slashes, e.g. citywatch"
            )
        return prefix

    @model_validator(mode="after")
    def _key_pair(self) -> Mqtt:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError(
                "cert_file and key_file go together: set both for a client certificate, or neither"
            )
        return self
