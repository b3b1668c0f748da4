"""A throwaway CA, a server certificate, and stunnel terminating TLS in front of the
embedded broker: real TLS for the Kafka clients without a TLS-capable broker."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from streams.dev.broker import EmbeddedBroker, free_port, kafka_answers
from streams.kafka_security import KafkaSecurity, kafka_python

STUNNEL = "stunnel4"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    other_ca: Path  # a CA that did not sign the server's certificate


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_ca(d: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN=citywatch test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash",
        cwd=d,
    )  # fmt: skip


def make_pki(d: Path) -> Pki:
    """A CA, a certificate for 127.0.0.1/localhost signed by it, and an unrelated CA."""
    d.mkdir(parents=True, exist_ok=True)
    _make_ca(d, "ca")
    _make_ca(d, "other-ca")
    (d / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\n"
        "subjectKeyIdentifier=hash\n"
    )
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost",
        cwd=d,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-out", "server.pem", "-extfile", "server.ext",
        cwd=d,
    )  # fmt: skip
    return Pki(d / "ca.pem", d / "server.pem", d / "server.key", d / "other-ca.pem")


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@contextlib.contextmanager
def stunnel(pki: Pki, accept: int, connect: int, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """stunnel in the foreground: TLS on 127.0.0.1:``accept`` to plaintext 127.0.0.1:``connect``."""
    conf = workdir / "stunnel.conf"
    conf.write_text(
        "foreground = yes\npid =\ndebug = 4\n"
        f"[kafka]\naccept = 127.0.0.1:{accept}\nconnect = 127.0.0.1:{connect}\n"
        f"cert = {pki.server_cert}\nkey = {pki.server_key}\n"
    )
    log = (workdir / "stunnel.log").open("wb")
    binary = shutil.which(STUNNEL) or STUNNEL
    proc = subprocess.Popen([binary, str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not _listening(accept):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"stunnel did not listen: {(workdir / 'stunnel.log').read_text()}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@dataclass(frozen=True)
class TlsBroker:
    bootstrap: str  # the TLS address (stunnel), the one the broker advertises
    plain: str  # the broker's own plaintext listener (the first contact only)
    pki: Pki

    def env(self) -> dict[str, str]:
        return {
            "CITYWATCH_KAFKA": self.bootstrap,
            "CITYWATCH_KAFKA_SECURITY_PROTOCOL": "SSL",
            "CITYWATCH_KAFKA_SSL_CAFILE": str(self.pki.ca),
        }


@contextlib.contextmanager
def tls_broker(workdir: Path) -> Iterator[TlsBroker]:
    """The embedded broker behind stunnel, advertising the TLS port."""
    pki = make_pki(workdir / "pki")
    plain_port, tls_port = free_port(), free_port()
    tls = f"127.0.0.1:{tls_port}"
    options = kafka_python(KafkaSecurity(security_protocol="SSL", ssl_cafile=str(pki.ca)))
    with stunnel(pki, tls_port, plain_port, workdir):
        broker = EmbeddedBroker(
            port=plain_port, advertised=tls, ready=lambda: kafka_answers(tls, 1.0, **options)
        )
        with broker:
            yield TlsBroker(tls, broker.bootstrap, pki)
