"""The Faust ceiling of the streams benchmark: an app with the worker's Faust settings
(``make_app``) and one agent on the detections topic that only decodes each record with
the contract's ``decode()`` and counts it. What the worker does beyond that is its own cost.

It runs in a process of its own (``python -m streams.dev.bench.bare_faust``), as a Faust
worker owns its process's event loop and signals; its own consumer group reads the topic
from the beginning. The rate is measured as the worker's is: from the first record
processed to the last. It prints one line, ``BARE processed=K seconds=S``, and stops.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import faust

PREFIX = "BARE "


@dataclass
class Count:
    """Records decoded, and when the first and the latest were (wall time)."""

    n: int = 0
    first_at: float = 0.0
    last_at: float = 0.0

    def one(self) -> None:
        self.last_at = time.time()
        if self.n == 0:
            self.first_at = self.last_at
        self.n += 1

    def line(self) -> str:
        """The result: the records after the first, over the time from the first to the last."""
        return f"{PREFIX}processed={self.n - 1} seconds={self.last_at - self.first_at:.6f}"


def parse_line(text: str) -> tuple[int, float] | None:
    """(processed, seconds) from the output of this module, or None without a result line."""
    for line in text.splitlines():
        if line.startswith(PREFIX):
            fields = dict(part.split("=", 1) for part in line[len(PREFIX) :].split())
            return int(fields["processed"]), float(fields["seconds"])
    return None


def build(prefix: str, bootstrap: str, partitions: int, events: int, datadir: str) -> faust.App:
    """The app and its one agent, which prints the result and stops the worker after ``events``."""
    from streams.contract.records import Detection, decode
    from streams.contract.topics import Topics
    from streams.worker.faust_app import make_app

    topics = Topics(prefix)
    app = make_app(
        topics,
        bootstrap=bootstrap,
        partitions=partitions,
        web_port=None,
        datadir=datadir,
        app_id=f"{prefix}bare-faust",
    )
    source = app.topic(topics.detections, partitions=partitions, key_serializer="raw", value_serializer="raw")
    count = Count()

    async def decode_only(stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            decode(Detection, value)
            count.one()
            if count.n == events:
                print(count.line(), flush=True)
                os.kill(os.getpid(), signal.SIGTERM)  # the Faust worker's own shutdown path

    app.agent(source, name="decode-only")(decode_only)
    return app


def main(argv: list[str] | None = None) -> int:
    import faust

    parser = argparse.ArgumentParser(prog="python -m streams.dev.bench.bare_faust", description=__doc__)
    parser.add_argument("--kafka", required=True, help="broker address (host:port)")
    parser.add_argument("--prefix", required=True, help="topic prefix of the benchmark's topics")
    parser.add_argument("--events", type=int, required=True, help="records in the detections topic")
    parser.add_argument("--partitions", type=int, required=True, help="partitions of the detections topic")
    parser.add_argument("--datadir", required=True, help="Faust's data directory (a fresh one)")
    args = parser.parse_args(argv)
    app = build(args.prefix, args.kafka, args.partitions, args.events, args.datadir)
    # the worker's terminal spinner goes to stderr: stdout is the result line
    runner = faust.Worker(app, loglevel="warn", quiet=True, redirect_stdouts=False, stdout=sys.stderr)
    runner.execute_from_commandline()  # ends the process once the agent stopped the worker
    return 0


if __name__ == "__main__":
    sys.exit(main())
