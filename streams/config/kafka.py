"""The ``kafka:`` section of cameras.yaml: partitions and how every client connects.

The SASL password is never written here: ``sasl_password_env`` names the
environment variable that holds it. The environment overrides each setting
(``CITYWATCH_KAFKA_SECURITY_PROTOCOL``, ``CITYWATCH_KAFKA_SSL_CAFILE``, …);
``streams.kafka_security`` combines the two.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_PASSWORD_ENV = "CITYWATCH_KAFKA_SASL_PASSWORD"  # noqa: S105 - a variable name, not a password
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class Kafka(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    partitions: int = Field(
        4, ge=1, le=256, description="Partitions of every citywatch topic (created explicitly)"
    )
    security_protocol: SecurityProtocol = Field(
        "PLAINTEXT",
        description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (CITYWATCH_KAFKA_SECURITY_PROTOCOL)",
    )
    ssl_cafile: str | None = Field(
        None,
        description="PEM file of the CA that signed the brokers' certificates; unset: the system's CAs "
        "(CITYWATCH_KAFKA_SSL_CAFILE)",
    )
    ssl_certfile: str | None = Field(
        None, description="PEM client certificate, for brokers that want one (CITYWATCH_KAFKA_SSL_CERTFILE)"
    )
    ssl_keyfile: str | None = Field(None, description="PEM key of ssl_certfile (CITYWATCH_KAFKA_SSL_KEYFILE)")
    sasl_mechanism: SaslMechanism | None = Field(
        None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (CITYWATCH_KAFKA_SASL_MECHANISM)"
    )
    sasl_username: str | None = Field(None, description="SASL user (CITYWATCH_KAFKA_SASL_USERNAME)")
    sasl_password_env: str = Field(
        DEFAULT_PASSWORD_ENV,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable holding the SASL password (never the password)",
    )

    @model_validator(mode="before")
    @classmethod
    def no_password_here(cls, data: Any) -> Any:
        if isinstance(data, dict) and "sasl_password" in data:
            raise ValueError(
                "sasl_password: a password is never written in the configuration; remove it, put it in "
                f"an environment variable ({DEFAULT_PASSWORD_ENV}, or the one named by sasl_password_env)"
            )
        return data

    @model_validator(mode="after")
    def key_needs_cert(self) -> Kafka:
        if (self.ssl_keyfile is None) != (self.ssl_certfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together: set both or neither")
        return self
