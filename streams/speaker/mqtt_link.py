"""The speaker gateway's MQTT connection: broker settings and one paho client per speaker.

``Link`` is the seam the mqtt driver uses (a fake stands in for it in tests);
``PahoLink`` connects in the background, reconnects by itself and subscribes
again after each reconnect. A publish waits for the broker's PUBACK (QoS 1).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from streams.config.mqtt import Mqtt, url_problem
from streams.contract.errors import DriverError

logger = logging.getLogger(__name__)

URL_ENV = "CITYWATCH_MQTT"
USERNAME_ENV = "CITYWATCH_MQTT_USERNAME"
PASSWORD_ENV = "CITYWATCH_MQTT_PASSWORD"  # noqa: S105 - a variable name, not a password


class LinkError(Exception):
    """The broker did not take a message (not connected, refused, no PUBACK in time): worth retrying."""


class Link(Protocol):
    def subscribe(self, topic: str, handler: Callable[[bytes], None]) -> None:
        """Hand every message of ``topic`` to ``handler`` (called on the link's thread)."""
        ...

    def publish(self, topic: str, payload: bytes, timeout_s: float) -> None:
        """Publish at QoS 1 and wait for the broker to take it; ``LinkError`` if it does not."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool
    tls_ca: str | None
    cert_file: str | None
    key_file: str | None
    username: str | None
    password: str | None
    client_id: str  # mqtt.client_id as a prefix; each connection adds its own suffix
    shown: str  # the URL, for messages


def broker_settings(cfg: Mqtt, environ: Mapping[str, str] = os.environ) -> Broker:
    """The broker of ``mqtt:``, with ``CITYWATCH_MQTT`` and the credential variables applied."""
    url = environ.get(URL_ENV) or cfg.url
    problem = url_problem(url)
    if problem:
        raise DriverError(f"{URL_ENV if environ.get(URL_ENV) else 'mqtt.url'}: {problem}")
    parts = urllib.parse.urlsplit(url)
    tls = parts.scheme == "mqtts" or cfg.tls
    username = environ.get(USERNAME_ENV) or None
    return Broker(
        host=parts.hostname or "",
        port=parts.port or (8883 if tls else 1883),
        tls=tls,
        tls_ca=cfg.ca_file,
        cert_file=cfg.cert_file,
        key_file=cfg.key_file,
        username=username,
        password=environ.get(PASSWORD_ENV) if username else None,
        client_id=cfg.client_id,
        shown=url,
    )


class PahoLink:
    """One MQTT connection; connects on the first publish."""

    def __init__(self, broker: Broker, name: str) -> None:
        self.broker = broker
        client_id = f"{broker.client_id}-{name}-{secrets.token_hex(3)}"  # two gateways never clash
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if broker.username is not None:
            self._client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            try:
                self._client.tls_set(
                    ca_certs=broker.tls_ca, certfile=broker.cert_file, keyfile=broker.key_file
                )
            except (OSError, ValueError) as exc:
                raise DriverError(
                    f"mqtt.ca_file {broker.tls_ca!r} (or cert_file / key_file) is unusable ({exc}); "
                    "give the PEM file of the broker's CA"
                ) from None
        self._client.reconnect_delay_set(1, 30)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._handlers: dict[str, Callable[[bytes], None]] = {}
        self._ready = threading.Event()  # connected, and every subscription taken
        self._sub_mid: int | None = None
        self._last_error = ""
        self._lock = threading.Lock()
        self._started = False
        self._connected = False

    def subscribe(self, topic: str, handler: Callable[[bytes], None]) -> None:
        with self._lock:
            if self._started:
                raise RuntimeError("subscribe before the first publish")
            self._handlers[topic] = handler

    def publish(self, topic: str, payload: bytes, timeout_s: float) -> None:
        self._start()
        if not self._ready.wait(timeout_s):
            why = self._last_error or "no answer"
            raise LinkError(
                f"not connected to the MQTT broker {self.broker.shown} after {timeout_s:g} s: {why}"
            )
        info = self._client.publish(topic, payload, qos=1)
        try:
            info.wait_for_publish(timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise LinkError(f"the MQTT broker {self.broker.shown} did not take the message ({exc})") from None
        if not info.is_published():
            raise LinkError(
                f"the MQTT broker {self.broker.shown} did not confirm the message in {timeout_s:g} s"
            )

    def close(self) -> None:
        with self._lock:
            if not self._started:
                return
            self._started = False
        self._client.disconnect()
        self._client.loop_stop()

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self._client.loop_start()

    # ---- paho callbacks (on the client's thread) ---------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            hint = (
                "; check CITYWATCH_MQTT_USERNAME / CITYWATCH_MQTT_PASSWORD"
                if reason.value in (4, 5, 134, 135)
                else ""
            )
            self._last_error = f"the broker refused the connection ({reason}){hint}"
            logger.warning("mqtt %s: %s", self.broker.shown, self._last_error)
            return
        logger.info("mqtt: connected to %s", self.broker.shown)
        self._connected = True
        topics = list(self._handlers)
        if not topics:
            self._ready.set()
            return
        _, self._sub_mid = client.subscribe([(t, 1) for t in topics])

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        if mid != self._sub_mid:
            return
        refused = [t for t, r in zip(self._handlers, reasons, strict=False) if r.is_failure]
        if refused:
            self._last_error = f"the broker refused the subscription to {', '.join(refused)} (not allowed?)"
            logger.warning("mqtt %s: %s", self.broker.shown, self._last_error)
            return
        self._ready.set()

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        hint = "; with mqtts://, is its certificate signed by mqtt.ca_file?" if self.broker.tls else ""
        self._last_error = (
            f"cannot connect to {self.broker.host}:{self.broker.port} (is the broker running?{hint})"
        )

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._ready.clear()
        if self._connected and self._started:  # after a refused connect, the refusal is the news
            self._last_error = f"disconnected ({reason})"
            logger.warning("mqtt %s: disconnected (%s); reconnecting", self.broker.shown, reason)
        self._connected = False

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        handler = self._handlers.get(message.topic)
        if handler is None:
            return
        try:
            handler(bytes(message.payload))
        except Exception:  # a bad message must not end the client's thread
            logger.exception("mqtt: message on %s could not be handled", message.topic)
