"""How citywatch connects to an MQTT broker: URL, TLS and credentials, for every MQTT user
(the bridge, and drivers that talk MQTT).

    settings(cfg.mqtt, url=args.mqtt)     -> MqttSettings (URL: --mqtt, else $CITYWATCH_MQTT,
                                             else mqtt.url; credentials from the environment)
    new_client(s, "citywatch-mqtt", clean=False, manual_ack=True)
                                          -> a paho client (MQTT 3.1.1), TLS and login set, not connected
    s.connect(client)                     -> connects (OSError when the broker does not answer)

URLs: ``mqtt://HOST[:PORT]`` (1883) or ``mqtts://HOST[:PORT]`` (8883, TLS). The user name and
password come only from ``CITYWATCH_MQTT_USERNAME`` and ``CITYWATCH_MQTT_PASSWORD``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from streams.contract.errors import MqttError

if TYPE_CHECKING:
    import paho.mqtt.client as paho

    from streams.config.mqtt import Mqtt

URL_ENV = "CITYWATCH_MQTT"
USERNAME_ENV = "CITYWATCH_MQTT_USERNAME"
PASSWORD_ENV = "CITYWATCH_MQTT_PASSWORD"  # noqa: S105 - the variable's name, not a password
PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    keepalive_s: int = 30

    @property
    def shown(self) -> str:
        """The broker as a log line may name it (no password)."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"

    def connect(self, client: paho.Client) -> None:
        """Connect ``client`` (blocking until the TCP/TLS connection stands; the broker's answer
        arrives in ``on_connect``). ``OSError`` when the broker cannot be reached."""
        client.connect(self.host, self.port, keepalive=self.keepalive_s)


def parse_url(url: str) -> tuple[str, int, bool]:
    """(host, port, TLS) of ``mqtt://HOST[:PORT]`` or ``mqtts://HOST[:PORT]``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise MqttError(f"MQTT URL {url!r}: {exc}; write mqtt://HOST:1883 or mqtts://HOST:8883") from None
    if parts.scheme not in PORTS or not parts.hostname:
        raise MqttError(f"MQTT URL {url!r}: write mqtt://HOST[:1883] or mqtts://HOST[:8883] (TLS)")
    if parts.password is not None or parts.username is not None:
        raise MqttError(
            f"MQTT URL of {parts.hostname}: leave the login out of the URL; "
            f"set {USERNAME_ENV} and {PASSWORD_ENV}"
        )
    if parts.path not in ("", "/"):
        raise MqttError(f"MQTT URL {url!r}: a broker URL has no path; write mqtt://HOST:PORT")
    return parts.hostname, port or PORTS[parts.scheme], parts.scheme == "mqtts"


def settings(
    cfg: Mqtt | None = None, *, url: str | None = None, env: Mapping[str, str] | None = None
) -> MqttSettings:
    """The settings of ``url`` (else ``$CITYWATCH_MQTT``, else ``cfg.url``), TLS and files from
    ``cfg``, login from the environment. ``MqttError`` names the setting to fix."""
    from streams.config.mqtt import DEFAULT_URL

    env = os.environ if env is None else env
    chosen = url or env.get(URL_ENV) or (cfg.url if cfg is not None else DEFAULT_URL)
    host, port, tls = parse_url(chosen)
    username = env.get(USERNAME_ENV) or None
    password = env.get(PASSWORD_ENV) or None
    if password is not None and username is None:
        raise MqttError(f"{PASSWORD_ENV} is set without {USERNAME_ENV}: set the user name too")
    files: dict[str, str | None] = {"ca_file": None, "cert_file": None, "key_file": None}
    if cfg is not None:
        files = {"ca_file": cfg.ca_file, "cert_file": cfg.cert_file, "key_file": cfg.key_file}
        tls = tls or cfg.tls
    for name, path in files.items():
        if path is not None and not os.path.isfile(path):
            raise MqttError(f"mqtt.{name}: {path} is not a readable file")
    if not tls and any(files.values()):
        raise MqttError(
            "mqtt.ca_file / cert_file / key_file are set but TLS is off: set mqtt.tls: true or use mqtts://"
        )
    return MqttSettings(
        host=host,
        port=port,
        tls=tls,
        username=username,
        password=password,
        keepalive_s=cfg.keepalive_s if cfg is not None else 30,
        **files,
    )


def new_client(s: MqttSettings, client_id: str, *, clean: bool, manual_ack: bool = False) -> paho.Client:
    """A paho client (MQTT 3.1.1, callback API 2) for ``s``: login and TLS set, not connected.
    ``clean=False``: a persistent session under ``client_id`` (the broker keeps its
    subscriptions and the QoS 1 messages that arrive while it is away)."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean,
        protocol=paho.MQTTv311,
        manual_ack=manual_ack,
    )
    if s.username is not None:
        client.username_pw_set(s.username, s.password)
    if s.tls:
        kwargs: dict[str, Any] = {"ca_certs": s.ca_file}
        if s.cert_file is not None:
            kwargs.update(certfile=s.cert_file, keyfile=s.key_file)
        try:
            client.tls_set(**kwargs)
        except (OSError, ValueError) as exc:
            raise MqttError(
                f"MQTT TLS settings (mqtt.ca_file, cert_file, key_file) cannot be used: {exc}"
            ) from None
    return client
