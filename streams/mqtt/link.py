"""The bridge's MQTT connection: a paho client in its network thread, reconnecting by itself.

Persistent session (fixed client id, clean session off) and QoS 1 both ways. Received
messages are queued for the bridge's loop and acknowledged (PUBACK) only when it says so
(``ack``), after Kafka took them; an acknowledgement of a message received before the
latest reconnect is not sent: the broker delivers that message again in the new session,
with the same packet id that may by then name another message. Reconnects wait 1 s
doubling to 30 s (paho's own delay, the same policy as ``streams.backoff``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho

from streams.mqtt.connection import PASSWORD_ENV, USERNAME_ENV, MqttSettings, new_client
from streams.mqtt.outbound import OutMessage

logger = logging.getLogger(__name__)

QOS = 1
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    session: int  # which connection brought it (acknowledged only on the same one)


class MqttLink:
    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        patterns: Sequence[str],
        stats: Counter[str] | None = None,
    ) -> None:
        self.settings = settings
        self.stats = stats if stats is not None else Counter()  # "reconnects" counted here
        self.patterns = list(patterns)
        self.inbox: queue.Queue[Received] = queue.Queue()
        self.connected = False
        self.session = 0  # connections made so far
        self.down_since: float | None = time.time()
        self.last_error = "not connected yet"
        self._lock = threading.Lock()
        self.client = new_client(settings, client_id, clean=False, manual_ack=True)
        self.client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    @property
    def reconnects(self) -> int:
        return self.stats["reconnects"]

    def start(self) -> None:
        """Connect in the background (retrying until the broker answers)."""
        logger.info("mqtt: connecting to %s", self.settings.shown)
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, message: OutMessage) -> paho.MQTTMessageInfo:
        """Publish QoS 1; ``is_published()`` of the answer turns true on the broker's PUBACK
        (a message published while disconnected is sent after the reconnect)."""
        info = self.client.publish(message.topic, message.payload, qos=QOS, retain=message.retain)
        if info.rc == paho.MQTT_ERR_NO_CONN:  # queued: paho sends it after the reconnect, and
            info.rc = paho.MQTT_ERR_SUCCESS  # is_published() turns true on its PUBACK (not raises)
        return info

    def ack(self, received: Received) -> bool:
        """Acknowledge ``received`` to the broker; False (nothing sent) when it came on an
        earlier connection: the broker delivers it again."""
        with self._lock:
            if received.session != self.session or not self.connected:
                return False
            self.client.ack(received.mid, received.qos)
            return True

    def report(self) -> dict[str, Any]:
        """The ``mqtt`` object of /healthz."""
        from streams.contract.timeutil import to_iso

        return {
            "ok": self.connected,
            "broker": self.settings.shown,
            "connected": self.connected,
            "down_since": None if self.down_since is None else to_iso(self.down_since),
            "reconnects": self.reconnects,
            "last_error": None if self.connected else self.last_error,
        }

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            login = any(w in str(reason).lower() for w in ("authori", "user name", "password"))
            hint = f" (check {USERNAME_ENV} and {PASSWORD_ENV})" if login else ""
            self.last_error = f"the broker refused the connection: {reason}{hint}"
            logger.error("mqtt: %s refused the connection: %s%s", self.settings.shown, reason, hint)
            return
        with self._lock:
            if self.session:
                self.stats["reconnects"] += 1
            self.session += 1
            self.connected = True
            self.down_since = None
        present = bool(getattr(flags, "session_present", False))
        logger.info(
            "mqtt: connected to %s (session %s)", self.settings.shown, "resumed" if present else "new"
        )
        # subscribed at each start (the inputs may have changed) and when the broker lost the
        # session; a resumed session keeps its subscriptions, and its retained messages are not sent again
        if self.patterns and (self.session == 1 or not present):
            client.subscribe([(p, QOS) for p in self.patterns])

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        self.last_error = f"cannot reach {self.settings.shown}"
        logger.warning("mqtt: cannot reach %s; trying again", self.settings.shown)

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        with self._lock:
            was = self.connected
            self.connected = False
            if was:
                self.down_since = time.time()
        if was:  # a refused connection keeps its reason
            self.last_error = f"disconnected: {reason}"
            logger.warning("mqtt: lost %s (%s); reconnecting", self.settings.shown, reason)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self.inbox.put(
            Received(message.topic, bytes(message.payload), message.mid, message.qos, self.session)
        )
