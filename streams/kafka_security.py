"""How every Kafka client of citywatch connects: TLS and SASL settings, built once per library.

Sources, later wins: the configuration's ``kafka:`` section, then the
environment (``CITYWATCH_KAFKA_SECURITY_PROTOCOL``, ``CITYWATCH_KAFKA_SSL_CAFILE``,
``…_SSL_CERTFILE``, ``…_SSL_KEYFILE``, ``CITYWATCH_KAFKA_SASL_MECHANISM``,
``CITYWATCH_KAFKA_SASL_USERNAME``). The SASL password only ever comes from the
environment variable named by ``kafka.sasl_password_env`` (default
``CITYWATCH_KAFKA_SASL_PASSWORD``).

A role with a configuration calls ``use(cfg.kafka)`` at start; a role without
one (``tail``, ``replay``) gets the environment alone from ``current()``.
Each library's options come from one function here: ``kafka_python()``,
``aiokafka()`` and ``faust_settings()``; all share one ``ssl.SSLContext``.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from streams.config.kafka import DEFAULT_PASSWORD_ENV, Kafka, SaslMechanism, SecurityProtocol
from streams.contract.errors import KafkaSecurityError

PROTOCOLS: tuple[str, ...] = get_args(SecurityProtocol)
MECHANISMS: tuple[str, ...] = get_args(SaslMechanism)
# setting -> environment variable that overrides it
ENV = {
    "security_protocol": "CITYWATCH_KAFKA_SECURITY_PROTOCOL",
    "ssl_cafile": "CITYWATCH_KAFKA_SSL_CAFILE",
    "ssl_certfile": "CITYWATCH_KAFKA_SSL_CERTFILE",
    "ssl_keyfile": "CITYWATCH_KAFKA_SSL_KEYFILE",
    "sasl_mechanism": "CITYWATCH_KAFKA_SASL_MECHANISM",
    "sasl_username": "CITYWATCH_KAFKA_SASL_USERNAME",
}


def setting(name: str) -> str:
    """How a user names a setting in a message: the key and its environment variable."""
    env = ENV.get(name)
    return f"kafka.{name} / {env}" if env else f"kafka.{name}"


@dataclass(frozen=True)
class KafkaSecurity:
    security_protocol: str = "PLAINTEXT"
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    sasl_password_env: str = DEFAULT_PASSWORD_ENV

    @property
    def uses_ssl(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def password_setting(self) -> str:
        return f"the password in ${self.sasl_password_env} (kafka.sasl_password_env)"


def _check(sec: KafkaSecurity) -> KafkaSecurity:
    """The combination of file and environment makes sense, else a message naming the setting."""
    if sec.security_protocol not in PROTOCOLS:
        raise KafkaSecurityError(
            f"{setting('security_protocol')} is {sec.security_protocol!r}: use one of {', '.join(PROTOCOLS)}"
        )
    if sec.sasl_mechanism is not None and sec.sasl_mechanism not in MECHANISMS:
        raise KafkaSecurityError(
            f"{setting('sasl_mechanism')} is {sec.sasl_mechanism!r}: use one of {', '.join(MECHANISMS)}"
        )
    if (sec.ssl_certfile is None) != (sec.ssl_keyfile is None):
        raise KafkaSecurityError(
            f"{setting('ssl_certfile')} and {setting('ssl_keyfile')} go together: set both or neither"
        )
    if not sec.uses_sasl:
        return sec
    if sec.sasl_mechanism is None:
        raise KafkaSecurityError(
            f"{setting('security_protocol')} is {sec.security_protocol} but no SASL mechanism is set: "
            f"set {setting('sasl_mechanism')} ({', '.join(MECHANISMS)})"
        )
    if not sec.sasl_username:
        raise KafkaSecurityError(
            f"{setting('security_protocol')} is {sec.security_protocol} but no SASL user is set: "
            f"set {setting('sasl_username')}"
        )
    if not sec.sasl_password:
        raise KafkaSecurityError(
            f"{setting('security_protocol')} is {sec.security_protocol} but ${sec.sasl_password_env} "
            "is empty or unset: export the SASL password in it (kafka.sasl_password_env names the variable)"
        )
    return sec


def resolve(section: Kafka | None, environ: Mapping[str, str]) -> KafkaSecurity:
    """The settings of ``section`` (None: defaults) overridden by ``environ``; checked."""
    base = section if section is not None else Kafka()
    values: dict[str, Any] = {name: getattr(base, name) for name in ENV}
    for name, env in ENV.items():
        value = environ.get(env, "").strip()
        if value:
            values[name] = value.upper() if name in ("security_protocol", "sasl_mechanism") else value
    password_env = base.sasl_password_env
    return _check(
        KafkaSecurity(
            **values, sasl_password=environ.get(password_env) or None, sasl_password_env=password_env
        )
    )


_installed: KafkaSecurity | None = None


def use(section: Kafka | None) -> KafkaSecurity:
    """Make ``section`` with the environment's overrides the settings of this process's clients."""
    global _installed
    _installed = resolve(section, os.environ)
    return _installed


def current() -> KafkaSecurity:
    """The settings ``use`` installed, else the environment's alone."""
    return _installed if _installed is not None else resolve(None, os.environ)


def ssl_context(sec: KafkaSecurity) -> ssl.SSLContext | None:
    """The TLS context of ``sec`` (None without TLS): verifies the broker's certificate and name."""
    if not sec.uses_ssl:
        return None
    try:
        ctx = ssl.create_default_context(cafile=sec.ssl_cafile)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSecurityError(
            f"cannot load the CA file {sec.ssl_cafile!r} ({_reason(exc)}): check {setting('ssl_cafile')}"
        ) from None
    if sec.ssl_certfile and sec.ssl_keyfile:
        try:
            ctx.load_cert_chain(sec.ssl_certfile, sec.ssl_keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise KafkaSecurityError(
                f"cannot load the client certificate {sec.ssl_certfile!r} with key {sec.ssl_keyfile!r} "
                f"({_reason(exc)}): check {setting('ssl_certfile')} and {setting('ssl_keyfile')}"
            ) from None
    return ctx


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _client_options(sec: KafkaSecurity) -> dict[str, Any]:
    # kafka-python and aiokafka name these options alike
    options: dict[str, Any] = {"security_protocol": sec.security_protocol}
    ctx = ssl_context(sec)
    if ctx is not None:
        options["ssl_context"] = ctx
    if sec.uses_sasl:
        options.update(
            sasl_mechanism=sec.sasl_mechanism,
            sasl_plain_username=sec.sasl_username,
            sasl_plain_password=sec.sasl_password,
        )
    return options


def kafka_python(sec: KafkaSecurity | None = None) -> dict[str, Any]:
    """Keyword arguments for kafka-python's KafkaProducer / KafkaConsumer / KafkaAdminClient."""
    return _client_options(sec or current())


def aiokafka(sec: KafkaSecurity | None = None) -> dict[str, Any]:
    """Keyword arguments for aiokafka's AIOKafkaConsumer / AIOKafkaProducer."""
    return _client_options(sec or current())


def faust_settings(sec: KafkaSecurity | None = None) -> dict[str, Any]:
    """Settings of ``faust.App``: ``broker_credentials`` for TLS and SASL (nothing for PLAINTEXT)."""
    import faust

    sec = sec or current()
    ctx = ssl_context(sec)
    if sec.uses_sasl:
        creds: Any = faust.SASLCredentials(
            username=sec.sasl_username,
            password=sec.sasl_password,
            ssl_context=ctx,
            mechanism=sec.sasl_mechanism,
        )
        return {"broker_credentials": creds}
    if ctx is not None:
        return {"broker_credentials": faust.SSLCredentials(ctx)}
    return {}
