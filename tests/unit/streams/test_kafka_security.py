"""The kafka: security settings: validated in the file, overridden by the environment, and
turned into each client library's options (kafka-python, aiokafka, Faust)."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import faust
import pytest

from streams.config.kafka import Kafka
from streams.contract.errors import BrokerError, KafkaSecurityError
from streams.kafka_reach import probe
from streams.kafka_security import KafkaSecurity, aiokafka, faust_settings, kafka_python, resolve

from ...config_support import problems_for, streams_site, to_yaml

SASL_ENV = {
    "CITYWATCH_KAFKA_SECURITY_PROTOCOL": "sasl_plaintext",
    "CITYWATCH_KAFKA_SASL_MECHANISM": "scram-sha-512",
    "CITYWATCH_KAFKA_SASL_USERNAME": "edge-7",
    "CITYWATCH_KAFKA_SASL_PASSWORD": "s3cret",
}


def config_text(**kafka: object) -> str:
    site = streams_site()
    site["kafka"] = kafka
    return to_yaml(site)


def test_plaintext_by_default_adds_nothing_but_the_protocol() -> None:
    sec = resolve(None, {})
    assert sec == KafkaSecurity()
    assert kafka_python(sec) == {"security_protocol": "PLAINTEXT"}
    assert faust_settings(sec) == {}


def test_a_password_in_the_file_is_refused_saying_where_it_goes() -> None:
    (problem,) = problems_for(config_text(security_protocol="SASL_SSL", sasl_password="hunter2"))  # noqa: S106 - the test of refusing it
    assert problem.path == "kafka"
    assert "never written in the configuration" in problem.message
    assert "CITYWATCH_KAFKA_SASL_PASSWORD" in problem.message
    assert "hunter2" not in str(problem)


@pytest.mark.parametrize(
    ("kafka", "needle"),
    [
        ({"security_protocol": "TLS"}, "SASL_SSL"),
        ({"sasl_mechanism": "GSSAPI"}, "SCRAM-SHA-512"),
        ({"ssl_keyfile": "client.key"}, "go together"),
        ({"sasl_password_env": "not a name"}, "sasl_password_env"),
        ({"ssl_cafil": "ca.pem"}, "did you mean ssl_cafile"),
    ],
)
def test_bad_kafka_settings_are_named(kafka: dict[str, str], needle: str) -> None:
    problems = problems_for(config_text(**kafka))
    assert any(needle in str(p) for p in problems), problems


def test_the_environment_overrides_the_file_and_supplies_the_password() -> None:
    section = Kafka(security_protocol="SSL", ssl_cafile="/etc/file-ca.pem")
    sec = resolve(section, {**SASL_ENV, "CITYWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    assert (sec.security_protocol, sec.ssl_cafile, sec.sasl_mechanism) == (
        "SASL_SSL",
        "/etc/file-ca.pem",
        "SCRAM-SHA-512",
    )
    assert (sec.sasl_username, sec.sasl_password) == ("edge-7", "s3cret")
    assert "s3cret" not in repr(sec)


def test_the_password_comes_from_the_variable_the_file_names() -> None:
    section = Kafka(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        sasl_password_env="MY_PW",  # noqa: S106
    )
    assert resolve(section, {"MY_PW": "pw"}).sasl_password == "pw"  # noqa: S105
    with pytest.raises(KafkaSecurityError, match=r"\$MY_PW is empty or unset"):
        resolve(section, {"CITYWATCH_KAFKA_SASL_PASSWORD": "ignored"})


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"CITYWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "CITYWATCH_KAFKA_SASL_MECHANISM"),
        ({**SASL_ENV, "CITYWATCH_KAFKA_SASL_USERNAME": ""}, "CITYWATCH_KAFKA_SASL_USERNAME"),
        ({**SASL_ENV, "CITYWATCH_KAFKA_SASL_MECHANISM": "MD5"}, "use one of PLAIN"),
        ({"CITYWATCH_KAFKA_SECURITY_PROTOCOL": "SSLv3"}, "use one of PLAINTEXT"),
        ({"CITYWATCH_KAFKA_SSL_CERTFILE": "c.pem"}, "go together"),
    ],
)
def test_incomplete_environment_settings_are_named(env: dict[str, str], needle: str) -> None:
    with pytest.raises(KafkaSecurityError, match=needle):
        resolve(None, env)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_options_of_each_library(mechanism: str) -> None:
    sec = resolve(None, {**SASL_ENV, "CITYWATCH_KAFKA_SASL_MECHANISM": mechanism})
    expected = {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "edge-7",
        "sasl_plain_password": "s3cret",
    }
    assert kafka_python(sec) == expected
    assert aiokafka(sec) == expected
    creds = faust_settings(sec)["broker_credentials"]
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.mechanism.value, creds.username, creds.password) == (mechanism, "edge-7", "s3cret")
    assert creds.protocol.value == "SASL_PLAINTEXT"


def test_sasl_over_tls_shares_one_verifying_context() -> None:
    sec = resolve(None, {**SASL_ENV, "CITYWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    ctx = kafka_python(sec)["ssl_context"]
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert aiokafka(sec)["security_protocol"] == "SASL_SSL"
    creds = faust_settings(sec)["broker_credentials"]
    assert creds.protocol.value == "SASL_SSL" and isinstance(creds.ssl_context, ssl.SSLContext)


def test_tls_alone_is_faust_ssl_credentials() -> None:
    creds = faust_settings(resolve(None, {"CITYWATCH_KAFKA_SECURITY_PROTOCOL": "SSL"}))["broker_credentials"]
    assert isinstance(creds, faust.SSLCredentials)


def test_a_missing_ca_file_names_the_setting(tmp_path: Path) -> None:
    env = {
        "CITYWATCH_KAFKA_SECURITY_PROTOCOL": "SSL",
        "CITYWATCH_KAFKA_SSL_CAFILE": str(tmp_path / "nope.pem"),
    }
    with pytest.raises(KafkaSecurityError, match=r"kafka\.ssl_cafile / CITYWATCH_KAFKA_SSL_CAFILE"):
        kafka_python(resolve(None, env))


def test_a_closed_port_is_named_with_the_address_setting() -> None:
    with socket.socket() as s:  # a port that was free a moment ago and nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    found = probe(f"127.0.0.1:{port}", KafkaSecurity(), timeout_s=2)
    assert isinstance(found, BrokerError) and not isinstance(found, KafkaSecurityError)
    assert f"127.0.0.1:{port}" in str(found) and "CITYWATCH_KAFKA" in str(found)
