"""Re-seed the worker's incidents from the case record: every incident the database (--db)
holds as open, with its open case, is sent to the worker as a ``restore`` input
(internal.incident-inputs). For a broker that lost its topics (the embedded broker keeps
them in memory only) while the worker was down; a running worker does it by itself when it
starts with an empty incident table. Incidents the worker already holds are left as they are,
so running it twice changes nothing. --dry-run lists what would be re-seeded and sends nothing."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import TYPE_CHECKING, Any

from streams.commands import add_config_argument, add_kafka_argument, kafka_address
from streams.commands.store import add_db_argument, db_url

if TYPE_CHECKING:
    from streams.store.restore import OpenIncident

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    add_kafka_argument(parser)
    add_db_argument(parser)
    parser.add_argument("--dry-run", action="store_true", help="list what would be re-seeded; send nothing")


def run(args: argparse.Namespace) -> int:
    from streams.contract.errors import StoreError
    from streams.contract.timeutil import to_iso
    from streams.contract.topics import Topics
    from streams.store.database import shown
    from streams.store.restore import restore_inputs
    from streams.worker.restore import read_open_incidents

    url = db_url(args)
    found = read_open_incidents(url)
    if found is None:
        raise StoreError(
            f"no case record at {shown(url)}: point --db, CITYWATCH_DB or store.url at the database "
            "`citywatch store` writes"
        )
    for line in describe(found):
        _say(line)
    with_case = sum(1 for o in found if o.case is not None)
    counted = f"{len(found)} open incidents ({with_case} with an open case) in {shown(url)}"
    if args.dry_run:
        _say(f"dry run: would re-seed {counted}; nothing was sent")
        return 0
    if not found:
        _say(f"nothing to re-seed: no open incidents in {shown(url)}")
        return 0
    topics = Topics.current()
    bootstrap = kafka_address(args)
    _send(bootstrap, topics.incident_inputs, restore_inputs(found, to_iso(time.time())))
    _say(
        f"re-seeded {counted} to {topics.incident_inputs} on {bootstrap}; the worker leaves the ones it holds"
    )
    return 0


def describe(found: list[OpenIncident]) -> list[str]:
    """One line per open incident: id, state, camera or sensor, case and unit."""
    out = []
    for o in found:
        case = f"case {o.case_id} ({o.unit_id})" if o.case is not None else "no open case"
        out.append(f"{o.incident_id}  {o.state:<10}  {o.subject:<16}  {case}")
    return out


def _send(bootstrap: str, topic: str, inputs: list[tuple[str, dict[str, Any]]]) -> None:
    """Produce every input and wait for the broker's acknowledgements."""
    import json

    from kafka.errors import KafkaError

    from streams.commands.broadcast import _answers
    from streams.contract.errors import BrokerError
    from streams.kafka_io import producer
    from streams.worker.resilience import ACK_TIMEOUT_S, PROBE_TIMEOUT_S

    unreachable = (
        f"Kafka at {bootstrap} does not answer within {PROBE_TIMEOUT_S:g}s; nothing was sent: "
        "start it (`citywatch broker`) or point --kafka / CITYWATCH_KAFKA at it"
    )
    if not _answers(bootstrap):
        raise BrokerError(unreachable)
    out = producer(bootstrap, client_id="citywatch-restore", max_block_ms=int(ACK_TIMEOUT_S * 1000))
    try:
        sent = [
            out.send(topic, key=key.encode(), value=json.dumps(value, ensure_ascii=False).encode())
            for key, value in inputs
        ]
        for s in sent:
            s.get(timeout=ACK_TIMEOUT_S * 2)
    except KafkaError as exc:
        raise BrokerError(
            f"Kafka at {bootstrap} did not acknowledge the restore inputs ({exc}); run it again once "
            "the broker is up (inputs already sent are harmless to send twice)"
        ) from None
    finally:
        out.close(5)


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
