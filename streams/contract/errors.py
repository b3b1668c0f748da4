"""The one exception tree of citywatch.

    CitywatchError                  anything citywatch raises on purpose
    ├── ConfigError                 cameras.yaml is wrong (carries every problem)
    ├── RecordError                 a topic payload does not match the contract
    ├── BrokerError                 the embedded broker cannot start or answer
    │   ├── BrokerUnavailableError  Kafka did not acknowledge a record in time (HTTP 503)
    │   └── KafkaSecurityError      TLS/SASL settings are wrong, or the broker refused them
    ├── SourceError                 a camera / frame source cannot be opened
    ├── ModelError                  detection weights cannot be loaded
    ├── WebError                    a web request is refused, or the web tokens/settings are wrong
    ├── UsageError                  a command-line option names something the configuration lacks
    ├── CameraCommandError          a camera command names a camera or zone that is not there (404)
    │                               or that cannot take it (409)
    ├── FixturesError               a camera's stored fixtures file cannot be read or written
    ├── StoreError                  the case record's database is misnamed, unreachable or refuses
    ├── QueryError                  a history query's parameters are wrong (HTTP 400)
    ├── ReportError                 a report's period or breakdown is wrong (HTTP 400)
    ├── MqttError                   the MQTT settings are wrong, or a message does not map to a reading
    ├── SpeakerError                a loudspeaker command cannot be rendered or delivered
    │   ├── SpeechError             no TTS engine, or it failed on the text
    │   ├── DriverError             the speaker's driver (file/http/command/mqtt) failed
    │   └── CommandExpiredError     its not_after passed before the device took it
    └── DeliveryError               a group-chat robot did not take a message (tried again)

Every message says what to fix, not only what went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass


class CitywatchError(Exception):
    """Root of every error citywatch raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a configuration file, pointing at its line."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '<top>'}: {self.message}"


class ConfigError(CitywatchError):
    """The configuration is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0))
        super().__init__("\n".join(str(p) for p in self.problems))


class RecordError(CitywatchError):
    """A record payload does not match the v1 contract."""

    def __init__(self, record: str, field: str, message: str) -> None:
        self.record = record
        self.field = field
        super().__init__(f"{record}: field {field!r}: {message}")


class BrokerError(CitywatchError):
    """The embedded broker could not be started or reached."""


class BrokerUnavailableError(BrokerError):
    """Kafka did not acknowledge a record in time: it must not be reported as accepted."""


class KafkaSecurityError(BrokerError):
    """The Kafka TLS/SASL settings are wrong or the broker refused them: waiting will not help."""


class SourceError(CitywatchError):
    """A camera or frame source cannot be opened or read."""


class ModelError(CitywatchError):
    """Model weights are missing or cannot be loaded."""


class WebError(CitywatchError):
    """A web request cannot be served (``status`` is the HTTP answer), or the tokens are wrong."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


class UsageError(CitywatchError):
    """A command-line option is inconsistent or names an id that is not in the configuration."""


class CameraCommandError(CitywatchError):
    """A camera command cannot be sent: ``status`` 404 (no such camera or zone) or 409 (the
    zone cannot take it, e.g. no static-object background to re-capture)."""

    def __init__(self, message: str, status: int) -> None:
        self.status = status
        super().__init__(message)


class FixturesError(CitywatchError):
    """A camera's stored fixtures file cannot be read or written."""


class StoreError(CitywatchError):
    """The case record's database URL is wrong, its server cannot be reached, or it refuses."""


class QueryError(CitywatchError):
    """A search of the case record names a bad parameter (the message says which, and the fix)."""


class ReportError(CitywatchError):
    """A report or export was asked for a period or breakdown that cannot be (a bad date, from >= to)."""


class MqttError(CitywatchError):
    """The MQTT connection settings are wrong, or an MQTT message does not map to a reading."""


class SpeakerError(CitywatchError):
    """A loudspeaker command could not be rendered to audio or delivered."""


class SpeechError(SpeakerError):
    """The text-to-speech engine is missing or failed on the text."""


class DriverError(SpeakerError):
    """A speaker driver (file, http, command, mqtt) could not deliver the audio."""


class CommandExpiredError(SpeakerError):
    """The command's not_after passed while the driver was still trying (acknowledged expired)."""


class DeliveryError(CitywatchError):
    """A group-chat robot did not take a message: no answer, an HTTP error, or a vendor's
    ``errcode`` other than 0 (the message is tried again after a backoff)."""
