"""The worker's agents driven in-process through Faust's ``test_context()``: the app is built
as the worker builds it (``build_context`` and ``register_core``) and never started, so there
is no broker and no subprocess. Inputs go through a real Faust stream into the agent's
``run(ctx, stream)``; tables are the app's own; only the output topics' ``send`` (the broker
edge) is replaced by ``Outbox``, so publishing and dead-lettering run the worker's own code."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.sensors import Sensor

from streams.config import Config
from streams.contract.records import Alert, DeadLetter, DispatchCase, Violation
from streams.contract.timeutil import from_iso, to_iso
from streams.contract.topics import Topics
from streams.logic import incidents as inc
from streams.worker.agents import cases, incidents, policy
from streams.worker.context import APPLIED_BY, WorkerContext
from streams.worker.faust_app import make_app
from streams.worker.register import build_context, register_core
from tests.config_support import category, parse, streams_config, streams_site
from tests.streams_support import absence, detection, presence

T0 = 1_700_000_000.0  # a fixed time in the past (the agents refuse inputs from the future)
TOPICS = Topics("inproc.citywatch.")
Run = Callable[[WorkerContext, faust.StreamT[bytes]], Awaitable[None]]


@dataclass
class Sent:
    topic: str
    key: str
    value: Any
    headers: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Outbox:
    """What the agents publish, in order: every output topic's ``send`` records here."""

    sent: list[Sent] = field(default_factory=list)

    async def send(
        self, topic: str, *, key: bytes, value: bytes, headers: Any = None, **_: Any
    ) -> asyncio.Future[None]:
        self.sent.append(Sent(topic, key.decode(), json.loads(value), dict(headers or ())))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)  # the broker has it
        return done

    def on(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


class Handled(Sensor):
    """Counts the inputs the agents have finished with: Faust calls ``on_stream_event_out``
    when an agent's body is done with an event, so waiting for it needs no sleep."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.changed = asyncio.Event()

    def on_stream_event_out(self, *_args: Any, **_kwargs: Any) -> None:
        self.count += 1
        self.changed.set()

    async def reach(self, count: int) -> None:
        """Return once ``count`` inputs are handled; fail if the agent stops taking them."""
        while self.count < count:
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=5.0)
            except TimeoutError:
                raise AssertionError(
                    f"the agent handled {self.count} of {count} inputs, then stopped"
                ) from None


@dataclass
class InProcess:
    """The worker's core, built and never started."""

    ctx: WorkerContext
    agents: dict[str, Any]
    outbox: Outbox
    handled: Handled
    runner: asyncio.Runner  # one event loop for the whole test, as the app has

    def agent_on(self, topic: str, run: Run) -> Any:
        """``run`` as an agent over ``topic`` alone: the inputs ``test_context()`` makes carry
        the name of the agent's topic (none for an agent over several), and the incidents and
        cases agents tell their inputs apart by it."""
        return self.ctx.app.agent(self.ctx.sources(topic), name=f"test-{topic}")(partial(run, self.ctx))

    def feed(
        self,
        agent: Any,
        records: Iterable[tuple[str, dict[str, Any] | bytes]],
        headers: dict[str, bytes] | None = None,
    ) -> None:
        """Put ``records`` (key, value; each with ``headers``) into ``agent`` in order; return
        once it handled them all."""

        async def put_all() -> None:
            async with agent.test_context() as tested:
                n = self.handled.count
                for key, value in records:
                    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
                    await tested.put(raw, key=key.encode(), timestamp=T0, headers=headers, wait=False)
                    n += 1
                await self.handled.reach(n)

        self.runner.run(put_all())


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcess]:
    yield from in_process(tmp_path, monkeypatch, streams_config())


def in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cfg: Config) -> Iterator[InProcess]:
    app = make_app(
        TOPICS, bootstrap="localhost:9", partitions=4, web_port=None, datadir=tmp_path, app_id=None
    )
    ctx = build_context(app, cfg, TOPICS)
    agents = register_core(ctx)
    outbox, handled = Outbox(), Handled()
    app.sensors.add(handled)
    for t in ctx.created_topics:
        monkeypatch.setattr(t, "send", partial(outbox.send, t.get_topic_name()))
    with asyncio.Runner() as runner:
        yield InProcess(ctx, agents, outbox, handled, runner)


def dead_letters(worker: InProcess) -> list[DeadLetter]:
    return [DeadLetter.model_validate(s.value) for s in worker.outbox.on(TOPICS.deadletter)]


def goods_in_storefront() -> list[tuple[str, dict[str, Any]]]:
    """Ten frames over 5 s of a bench in cam-a's storefront: one violation starts (dwell 2 s)."""
    return [("cam-a", d) for d in presence("cam-a", "storefront", "bench", T0, 5.0)]


# -- incidents, its rules step: detections -> violations ------------------------------------


def detections_in(worker: InProcess) -> Any:
    """The incidents agent over the detections topic: its rules step, then its incident logic."""
    return worker.agent_on(TOPICS.detections, incidents.run)


@pytest.mark.parametrize(
    ("camera", "zone", "label", "category"),
    [("cam-a", "storefront", "bench", "out_of_store_business"), ("cam-b", "kerb", "car", "illegal_parking")],
)
def test_goods_dwelling_in_a_zone_start_a_violation(
    worker: InProcess, camera: str, zone: str, label: str, category: str
) -> None:
    worker.feed(detections_in(worker), [(camera, d) for d in presence(camera, zone, label, T0, 5.0)])
    sent = worker.outbox.on(TOPICS.violations)
    assert [(s.topic, s.key) for s in sent] == [(TOPICS.violations, camera)]
    v = Violation.model_validate(sent[0].value)
    assert (v.camera_id, v.zone_id, v.category, v.state) == (camera, zone, category, "started")
    assert v.since == to_iso(T0) and v.labels == [label]
    # the camera's rule state is written to the rules table on the transition, kept in memory after
    assert worker.ctx.tables.rules[camera]["last_seq"] == 4
    assert worker.ctx.rule_states.get(camera).to_json()["last_seq"] == 9
    assert worker.ctx.stats.detections == 10 and worker.ctx.stats.violations == 1


def test_no_violation_for_goods_outside_the_zones_or_too_short_a_dwell(worker: InProcess) -> None:
    outside = [("cam-a", detection("cam-a", i, T0 + i * 0.5, [("bench", None)])) for i in range(10)]
    brief = [("cam-b", d) for d in presence("cam-b", "kerb", "car", T0, 1.5)]
    worker.feed(
        detections_in(worker), [*outside, *brief, *(("cam-b", d) for d in absence("cam-b", T0 + 2, 3))]
    )
    assert worker.outbox.sent == []
    assert worker.ctx.stats.detections == 19
    assert dict(worker.ctx.tables.incidents) == {}  # no book is written without a violation


def test_a_malformed_detection_is_dead_lettered_and_the_agent_carries_on(worker: InProcess) -> None:
    bad = detection("cam-a", 0, T0, [("bench", "storefront")])
    del bad["captured_at"]
    unknown = detection("cam-z", 0, T0, [("bench", "storefront")])
    worker.feed(detections_in(worker), [("cam-a", bad), ("cam-z", unknown), *goods_in_storefront()])
    letters = dead_letters(worker)
    assert [(d.topic, d.offset) for d in letters] == [(TOPICS.detections, 0), (TOPICS.detections, 1)]
    assert "captured_at" in letters[0].error and "Field required" in letters[0].error
    assert json.loads(base64.b64decode(letters[0].raw)) == bad
    assert "'cam-z' is not in cameras.yaml" in letters[1].error
    violations = worker.outbox.on(TOPICS.violations)
    assert [Violation.model_validate(s.value).state for s in violations] == ["started"]
    assert worker.ctx.stats.deadletters == 2


# -- incidents: a completed dwell -> incident -> warning, in one step --------------------------


def test_the_detection_that_completes_the_dwell_opens_the_incident_and_asks_for_the_warning(
    worker: InProcess,
) -> None:
    records = goods_in_storefront()
    dwell = next(i for i, (_, d) in enumerate(records) if from_iso(d["captured_at"]) >= T0 + 2)
    agent = detections_in(worker)
    worker.feed(agent, records[:dwell])
    assert worker.outbox.sent == [] and dict(worker.ctx.tables.incidents) == {}
    worker.feed(agent, records[dwell : dwell + 1])
    # that one detection: its violation record first (audit, marked as applied by this
    # worker group), then the incident's open alert and its warning intent
    sent = worker.outbox.sent
    assert [s.topic for s in sent] == [TOPICS.violations, TOPICS.alerts, TOPICS.speaker_intents]
    record, opened, intent = sent
    assert record.headers == {APPLIED_BY: worker.ctx.app.conf.id.encode()}
    assert record.key == "cam-a" and Violation.model_validate(record.value).state == "started"
    alert = Alert.model_validate(opened.value)
    assert alert.state == "open" and (alert.camera_id, alert.zone_id) == ("cam-a", "storefront")
    assert alert.category.key == "out_of_store_business" and alert.category.code == "200504"
    assert alert.location.address == "和平路12号" and opened.key == alert.incident_id  # keyed by incident
    assert opened.headers == {} and intent.headers == {}
    assert (intent.key, intent.value["incident_id"]) == ("spk-a", alert.incident_id)  # keyed by speaker
    assert worker.ctx.tables.incidents["cam-a"] is not None  # the book is saved
    assert worker.ctx.tables.rules["cam-a"]["last_seq"] == dwell  # and the rule state, on the transition
    assert "cam-a" in worker.ctx.indexes.deadlines  # and its next deadline noted for the ticker

    # the policy turns the intent into the loudspeaker command; its outcome, an incident
    # input keyed by camera, comes back to the same agent and marks the incident warned
    worker.outbox.sent.clear()
    worker.feed(worker.agent_on(TOPICS.speaker_intents, policy.run), [(intent.key, intent.value)])
    [command] = worker.outbox.on(TOPICS.loudspeaker)
    assert (command.key, command.value["incident_id"]) == ("spk-a", alert.incident_id)
    outcomes = [(s.key, s.value) for s in worker.outbox.on(TOPICS.incident_inputs)]
    assert [key for key, _ in outcomes] == ["cam-a"]
    worker.outbox.sent.clear()
    worker.feed(worker.agent_on(TOPICS.incident_inputs, incidents.run), outcomes)
    [warned] = [Alert.model_validate(s.value) for s in worker.outbox.on(TOPICS.alerts)]
    assert (warned.incident_id, warned.state) == (alert.incident_id, "warned")
    assert dead_letters(worker) == []


def test_a_violation_is_applied_once_however_it_reaches_the_incidents(worker: InProcess) -> None:
    """The records of this worker group's own rules step come back on the violations topic:
    they were applied when they were published and are skipped. A violation from elsewhere
    (a replay of recorded violations, another producer, another worker group) is applied."""
    # the bench appears (open, its warning asked for) and goes before the policy answered:
    # the clear is noted in the book and waits for the answer
    cleared = [("cam-a", d) for d in absence("cam-a", T0 + 5, 4, seq0=10)]
    worker.feed(detections_in(worker), [*goods_in_storefront(), *cleared])
    own = worker.outbox.on(TOPICS.violations)
    assert [s.value["state"] for s in own] == ["started", "cleared"]
    book = worker.ctx.tables.incidents["cam-a"]
    assert inc.Book.from_json(book).open["storefront|out_of_store_business"].cleared_at is not None
    worker.outbox.sent.clear()
    # read back from the topic, the "started" record would undo the noted clear: it is skipped
    from_topic = worker.agent_on(TOPICS.violations, incidents.run)
    worker.feed(from_topic, [(own[0].key, own[0].value)], headers=own[0].headers)
    assert worker.outbox.sent == [] and worker.ctx.tables.incidents["cam-a"] == book

    started = Violation(
        camera_id="cam-b",
        zone_id="kerb",
        category="illegal_parking",
        state="started",
        since=to_iso(T0),
        at=to_iso(T0 + 2),
        labels=["car"],
    ).model_dump(mode="json")
    ongoing = {**started, "state": "ongoing", "at": to_iso(T0 + 2.5)}
    worker.feed(from_topic, [("cam-b", started)])
    worker.feed(from_topic, [("cam-b", ongoing)], headers={APPLIED_BY: b"another-group"})
    alerts = [Alert.model_validate(s.value) for s in worker.outbox.on(TOPICS.alerts)]
    assert [(a.camera_id, a.state) for a in alerts][:1] == [("cam-b", "open")]
    history = inc.Book.from_json(worker.ctx.tables.incidents["cam-b"]).open["kerb|illegal_parking"]
    assert history.last_seen_at == T0 + 2.5  # the other group's record was applied too


def test_a_malformed_violation_is_dead_lettered_and_the_next_one_opens_an_incident(worker: InProcess) -> None:
    good = Violation(
        camera_id="cam-b",
        zone_id="kerb",
        category="illegal_parking",
        state="started",
        since=to_iso(T0),
        at=to_iso(T0 + 2),
        labels=["car"],
    ).model_dump(mode="json")
    bad = {k: v for k, v in good.items() if k != "zone_id"}
    worker.feed(worker.agent_on(TOPICS.violations, incidents.run), [("cam-b", bad), ("cam-b", good)])
    [letter] = dead_letters(worker)
    assert letter.topic == TOPICS.violations and letter.offset == 0
    assert letter.error.startswith("incidents: ") and "zone_id" in letter.error
    [alert] = [Alert.model_validate(s.value) for s in worker.outbox.on(TOPICS.alerts)]
    assert (alert.state, alert.camera_id, alert.category.key) == ("open", "cam-b", "illegal_parking")


def test_a_case_dispatched_on_friday_evening_is_due_in_working_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = streams_site()
    site["site"]["working_hours"] = ["08:30-12:00", "14:30-18:00"]  # Asia/Shanghai
    site["categories"]["illegal_parking"] = category("illegal_parking", sla_s=3600, warn=False)
    friday_evening = from_iso("2026-11-27T11:00:00.000Z")  # 19:00 in Shanghai, before a working Monday
    seen = [
        Violation(
            camera_id="cam-b",
            zone_id="kerb",
            category="illegal_parking",
            state=state,
            since=to_iso(friday_evening),
            at=to_iso(friday_evening + dt),
            labels=["car"],
        ).model_dump(mode="json")
        for state, dt in (("started", 0), ("ongoing", 5))  # grace (3 s) runs out before the second
    ]
    for worker in in_process(tmp_path, monkeypatch, parse(site)):
        worker.feed(worker.agent_on(TOPICS.violations, incidents.run), [("cam-b", v) for v in seen])
        [sent] = worker.outbox.on(TOPICS.dispatch)
        case = DispatchCase.model_validate(sent.value)
        assert case.created_at == to_iso(friday_evening + 3)
        assert case.due_at == "2026-11-30T01:30:00.000Z"  # Monday 09:30 in Shanghai: one working hour
        assert Alert.model_validate(worker.outbox.on(TOPICS.alerts)[-1].value).due_at == case.due_at


# -- cases: dispatch-updates, case-index -> incident inputs -----------------------------------


def update(case_id: str, status: str = "accepted") -> dict[str, Any]:
    return {"v": 1, "case_id": case_id, "unit_id": "unit-a", "status": status, "at": to_iso(T0 + 5)}


def test_an_update_waits_for_its_case_and_then_goes_to_the_incident(worker: InProcess) -> None:
    updates = worker.agent_on(TOPICS.dispatch_updates, cases.run)
    index = worker.agent_on(TOPICS.case_index, cases.run)
    worker.feed(updates, [("case-1", update("case-1"))])
    assert worker.outbox.sent == []  # parked until the case index says whose case it is
    assert "case-1" in worker.ctx.indexes.parked_cases
    worker.feed(index, [("case-1", {"camera_id": "cam-a", "incident_id": "inc-1"})])
    worker.feed(updates, [("case-1", update("case-1", "arrived"))])
    forwarded = worker.outbox.on(TOPICS.incident_inputs)
    assert [(s.key, s.value["kind"], s.value["status"]) for s in forwarded] == [
        ("cam-a", "update", "accepted"),
        ("cam-a", "update", "arrived"),
    ]
    assert forwarded[0].value["case_id"] == "case-1" and worker.ctx.indexes.parked_cases == {}
    assert worker.ctx.tables.cases["case-1"] == {"camera_id": "cam-a", "incident_id": "inc-1"}


def test_a_malformed_dispatch_update_is_dead_lettered(worker: InProcess) -> None:
    bad = {**update("case-2"), "status": "teleported"}
    worker.feed(
        worker.agent_on(TOPICS.dispatch_updates, cases.run), [("case-2", bad), ("case-2", update("case-2"))]
    )
    [letter] = dead_letters(worker)
    assert letter.error.startswith("dispatch-updates: ") and "status" in letter.error
    assert "case-2" in worker.ctx.indexes.parked_cases  # the next update was taken
