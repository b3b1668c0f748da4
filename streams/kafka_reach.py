"""Why a Kafka client could not connect, in one line that names the setting to fix.

A client library reports "no brokers available" for an address nobody
listens on, a CA that does not match and a refused password alike. When a
client fails, ``explain`` looks again itself, bounded in time: a TCP connect
to each bootstrap address and, with TLS, a handshake with the very context
the clients use.
"""

from __future__ import annotations

import socket
import ssl
import struct

from streams.contract.errors import BrokerError, KafkaSecurityError
from streams.kafka_security import KafkaSecurity, current, setting, ssl_context

PROBE_TIMEOUT_S = 5.0
ADDRESS_SETTING = "CITYWATCH_KAFKA / --kafka"
# kafka-python's and aiokafka's names for a refused login
_AUTH_ERRORS = ("SaslAuthenticationFailedError", "AuthenticationFailedError", "IllegalSaslStateError")


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    if not host:
        return address.strip(), 9092
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        return address.strip(), 9092


def _answers_kafka(sock: socket.socket) -> bool:
    """Whether the peer answers an ApiVersions (v0) request with a Kafka response; every Kafka
    broker answers it, before any SASL login too."""
    client_id = b"citywatch-probe"
    body = struct.pack(">hhih", 18, 0, 7, len(client_id)) + client_id
    try:
        sock.sendall(struct.pack(">i", len(body)) + body)
        head = b""
        while len(head) < 8:
            chunk = sock.recv(8 - len(head))
            if not chunk:
                return False
            head += chunk
    except OSError:
        return False
    size, correlation = (int(n) for n in struct.unpack(">ii", head))
    return correlation == 7 and size >= 4


def _not_kafka(address: str, sec: KafkaSecurity) -> BrokerError:
    if sec.uses_ssl:
        return BrokerError(
            f"{address} speaks TLS but gave no Kafka answer inside it — check {ADDRESS_SETTING}"
        )
    return BrokerError(
        f"{address} accepts connections but gave no Kafka answer in plaintext (a TLS listener?) — "
        f"check {setting('security_protocol')} and {ADDRESS_SETTING}"
    )


def _tls_problem(address: str, sock: socket.socket, sec: KafkaSecurity) -> BrokerError | None:
    host, _ = _split(address)
    ctx = ssl_context(sec)
    assert ctx is not None  # noqa: S101 - only called with TLS
    try:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            return None if _answers_kafka(tls) else _not_kafka(address, sec)
    except ssl.SSLCertVerificationError as exc:
        return KafkaSecurityError(
            f"TLS handshake with {address} failed: certificate verify failed: {exc.verify_message} "
            f"— check {setting('ssl_cafile')}"
        )
    except ssl.SSLError as exc:
        return KafkaSecurityError(
            f"TLS handshake with {address} failed: {exc.reason or exc} — is {address} a TLS listener? "
            f"check {setting('security_protocol')} and {ADDRESS_SETTING}"
        )
    except OSError as exc:
        return KafkaSecurityError(
            f"TLS handshake with {address} got no answer ({exc.strerror or exc}) — is {address} a TLS "
            f"listener? check {setting('security_protocol')} and {ADDRESS_SETTING}"
        )


def probe(bootstrap: str, sec: KafkaSecurity, timeout_s: float = PROBE_TIMEOUT_S) -> BrokerError | None:
    """What stops a client at ``bootstrap`` before any login (TCP, TLS, a Kafka answer), or None
    as soon as one address answers."""
    unreachable: list[str] = []
    for address in (a for a in bootstrap.split(",") if a.strip()):
        try:
            sock = socket.create_connection(_split(address), timeout=timeout_s)
        except OSError as exc:
            unreachable.append(f"{address.strip()} ({exc.strerror or exc})")
            continue
        with sock:
            if not sec.uses_ssl:
                return None if _answers_kafka(sock) else _not_kafka(address.strip(), sec)
            return _tls_problem(address.strip(), sock, sec)
    return BrokerError(
        f"cannot connect to Kafka at {', '.join(unreachable)} — check {ADDRESS_SETTING}, "
        "or start one with `citywatch broker`"
    )


def check_reachable(bootstrap: str, sec: KafkaSecurity | None = None) -> None:
    """Raise the error naming the setting to fix when ``bootstrap`` cannot be reached with
    ``sec``: seconds at most, where a client library would retry for half a minute."""
    found = probe(bootstrap, sec or current())
    if found is not None:
        raise found


def explain(
    bootstrap: str, exc: BaseException | None = None, sec: KafkaSecurity | None = None
) -> BrokerError:
    """The error to raise after a client failed to connect to ``bootstrap`` with ``exc``."""
    sec = sec or current()
    if exc is not None and type(exc).__name__ in _AUTH_ERRORS:
        return _refused_login(bootstrap, sec)
    found = probe(bootstrap, sec)
    if found is not None:
        return found
    if sec.uses_sasl:
        return _refused_login(bootstrap, sec, f" ({exc})" if exc else "")
    hint = (
        f"if it wants TLS or SASL set {setting('security_protocol')}"
        if sec.security_protocol == "PLAINTEXT"
        else f"check {setting('security_protocol')}"
    )
    return BrokerError(
        f"Kafka at {bootstrap} accepts connections but did not answer{f' ({exc})' if exc else ''} — {hint}"
    )


def _refused_login(bootstrap: str, sec: KafkaSecurity, detail: str = "") -> KafkaSecurityError:
    return KafkaSecurityError(
        f"Kafka at {bootstrap} refused the SASL {sec.sasl_mechanism} login of {sec.sasl_username!r}{detail} "
        f"— check {setting('sasl_username')}, {sec.password_setting} and {setting('sasl_mechanism')}"
    )
