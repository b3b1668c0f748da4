"""An operator's aerial broadcast from the terminal. The request (a new uuid-based
request_id each time, printed) goes to citywatch.broadcast-requests keyed by speaker;
the worker's broadcast policy decides (quiet hours need --force and --reason; an
operator overrides the rate limits) and publishes its decision with the same
request_id on citywatch.broadcast-decisions, which this command waits for and prints.

--text speaks free text; --template CATEGORY speaks that category's warning filled
in for the speaker's camera. --camera ID picks the camera's speaker.

Exit status: 0 sent or queued, 3 suppressed, 4 no decision within --wait seconds
(is a worker running?), 1 a wrong option (unknown speaker, camera or template), or
Kafka did not answer or acknowledge the request within a few seconds (nothing sent)."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

from streams.commands import add_config_argument, add_kafka_argument, kafka_address
from streams.contract.errors import RecordError
from streams.contract.records import parse_object

if TYPE_CHECKING:
    from kafka import KafkaConsumer

    from streams.config import Config

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    add_kafka_argument(parser)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--speaker", metavar="ID", help="speaker id (cameras.yaml speakers:)")
    where.add_argument("--camera", metavar="ID", help="the loudspeaker of this camera")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="what to say")
    what.add_argument(
        "--template", metavar="CATEGORY", help="the warning of this category (e.g. out_of_store_business)"
    )
    parser.add_argument("--reason", default="", help="why (recorded; needed with --force)")
    parser.add_argument("--force", action="store_true", help="speak in the speaker's quiet hours")
    parser.add_argument("--by", default=None, metavar="NAME", help="operator name (default: operator@$USER)")
    parser.add_argument(
        "--wait", type=float, default=15.0, metavar="S", help="seconds to wait for the decision (default 15)"
    )
    parser.add_argument("--no-wait", action="store_true", help="send the request and exit 0 without waiting")


def run(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError

    from streams import kafka_security
    from streams.clients.broadcast import EXIT_OK, decision_line, exit_code
    from streams.config import load_config
    from streams.contract.errors import BrokerError
    from streams.contract.topics import Topics
    from streams.kafka_io import assign_all, standalone_consumer
    from streams.kafka_reach import explain
    from streams.worker.resilience import PROBE_TIMEOUT_S

    cfg = load_config(args.config)
    kafka_security.use(cfg.kafka)
    request = _request(args, cfg)
    topics = Topics.current()
    bootstrap = kafka_address(args)
    unreachable = (
        f"Kafka at {bootstrap} does not answer within {PROBE_TIMEOUT_S:g}s; nothing was sent: "
        "start it (`citywatch broker`) or point --kafka / CITYWATCH_KAFKA at it"
    )
    if not _answers(bootstrap):
        problem = explain(bootstrap)
        raise type(problem)(f"{problem}; nothing was sent")
    consumer: KafkaConsumer | None = None
    try:
        if not args.no_wait:
            # reading from the current end BEFORE producing, so a fast decision is not missed
            consumer = standalone_consumer(bootstrap, "citywatch-broadcast")
            assign_all(consumer, [topics.broadcast_decisions], from_beginning=False)
        _send(bootstrap, topics.broadcast_requests, request)
        _say(f"request {request['request_id']} to {request['speaker_id']} by {request['requested_by']}")
        if consumer is None:
            return EXIT_OK
        decision = _wait(consumer, str(request["request_id"]), args.wait)
    except KafkaError as exc:  # the broker went away while we waited
        raise BrokerError(f"{unreachable} ({exc})") from None
    finally:
        if consumer is not None:
            consumer.close()
    if decision is None:
        _say(f"no decision within {args.wait:g}s: is a citywatch worker running on {bootstrap}?")
    else:
        _say(decision_line(decision))
    return exit_code(decision)


def _request(args: argparse.Namespace, cfg: Config) -> dict[str, Any]:
    from streams.clients.broadcast import build_request

    return build_request(
        cfg,
        request_id=f"req-{uuid.uuid4().hex}",
        speaker_id=args.speaker,
        camera_id=args.camera,
        text=args.text,
        template=args.template,
        reason=args.reason,
        force=args.force,
        requested_by=args.by or f"operator@{_user()}",
        now=time.time(),
    )


def _answers(bootstrap: str) -> bool:
    """A quick look first: the Kafka clients wait up to 30 s for a broker that is not there."""
    import asyncio

    from streams.worker.resilience import probe_topics

    client_logs = [logging.getLogger(name) for name in ("aiokafka", "kafka")]
    levels = [log.level for log in client_logs]
    for log in client_logs:  # the caller's message says it better than their ERROR lines
        log.setLevel(logging.CRITICAL)
    try:
        return asyncio.run(probe_topics(bootstrap)) is not None
    finally:
        for log, level in zip(client_logs, levels, strict=True):
            log.setLevel(level)


def _send(bootstrap: str, topic: str, request: dict[str, Any]) -> None:
    send_acknowledged(bootstrap, topic, str(request["speaker_id"]), request, "citywatch-broadcast", "request")


def send_acknowledged(
    bootstrap: str, topic: str, key: str, value: dict[str, Any], client_id: str, what: str
) -> None:
    """Produce one record (an operator's ``what``) and wait for the broker's acknowledgement."""
    from kafka.errors import KafkaError

    from streams.contract.errors import BrokerError
    from streams.kafka_io import producer
    from streams.worker.resilience import ACK_TIMEOUT_S

    out = producer(
        bootstrap,
        client_id=client_id,
        enable_idempotence=False,
        max_block_ms=int(ACK_TIMEOUT_S * 1000),
    )
    try:
        sent = out.send(
            topic,
            key=key.encode("utf-8"),
            value=json.dumps(value, ensure_ascii=False).encode("utf-8"),
        )
        sent.get(timeout=ACK_TIMEOUT_S)  # the broker's acknowledgement, or KafkaError
    except KafkaError as exc:
        raise BrokerError(
            f"Kafka at {bootstrap} did not acknowledge the {what} within {ACK_TIMEOUT_S:g}s "
            f"({exc}); it was not sent: try again once the broker is up"
        ) from None
    finally:
        out.close(5)


def _wait(consumer: Any, request_id: str, wait_s: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            for r in records:
                try:
                    value = parse_object(r.value, "BroadcastDecision")
                except RecordError:
                    continue
                if value.get("request_id") == request_id:
                    return value
    return None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
