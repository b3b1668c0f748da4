"""What the bridge publishes for an alert or a dispatched case (pure).

Each record is published twice, QoS 1, payload = the contract record's JSON:

    <out_prefix>/alerts/<camera_id>          retained: the camera's latest alert
    <out_prefix>/alerts/<camera_id>/events   not retained: every alert, in order
    <out_prefix>/cases/<unit_id>             retained: the unit's latest dispatched case
    <out_prefix>/cases/<unit_id>/events      not retained: every case dispatched to the unit

A device that connects later reads the retained message (the latest state); one that
follows everything subscribes to ``.../events`` (with a persistent session, to miss nothing).
An alert without a camera (a sensor's incident) goes under ``alerts/-``. Characters MQTT
reserves (``/``, ``+``, ``#``) in an id become ``_``.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.contract.records import Alert, DispatchCase, Record, decode

NO_CAMERA = "-"


@dataclass(frozen=True)
class OutMessage:
    topic: str
    payload: bytes
    retain: bool


def level(text: str | None) -> str:
    """``text`` as one MQTT topic level."""
    if not text:
        return NO_CAMERA
    return text.replace("/", "_").replace("+", "_").replace("#", "_")


def messages(out_prefix: str, kind: str, record: Record) -> list[OutMessage]:
    """The messages of one record; ``kind`` is ``alerts`` or ``cases``."""
    if isinstance(record, Alert):
        subject = f"{out_prefix}/alerts/{level(record.camera_id)}"
    elif isinstance(record, DispatchCase):
        subject = f"{out_prefix}/cases/{level(record.unit_id)}"
    else:
        raise TypeError(f"no MQTT topic for {type(record).__name__} ({kind})")
    payload = record.to_bytes()
    return [OutMessage(f"{subject}/events", payload, False), OutMessage(subject, payload, True)]


def decode_out(kind: str, raw: bytes | None) -> Record:
    """The record of a consumed value (``RecordError`` naming the field when malformed)."""
    return decode(Alert if kind == "alerts" else DispatchCase, raw)
