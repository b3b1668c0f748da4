"""Every record the pure writers produce validates against its topic's model (streams/contract/schemas.py).

A scenario drives the pure functions as the worker does: detections through the dwell rules,
their violations and a sensor's conditions through the incidents, warnings and an operator's
broadcast through the policy, and a patrol's updates to the close. Each emitted record goes to
its topic (the worker's routing of effect kinds) and is validated with that topic's model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import TypeAdapter

from streams.config import Config
from streams.contract.schemas import TOPIC_MODELS
from streams.contract.timeutil import to_iso
from streams.logic import incidents as inc
from streams.logic import policy as pol
from streams.logic import sensors
from streams.logic.rules import CameraState, Sighting, ViolationEvent, camera_rules, step
from streams.worker.feeds import condition_input

from ...config_support import feeds_config, streams_config
from ...incident_support import T0

# effect kind -> topic, as the worker routes them (streams/worker/context.py route)
INCIDENT_TOPICS = {
    "alert": "alerts",
    "warn": "internal.speaker-intents",
    "dispatch": "dispatch",
    "case": "internal.case-index",
}
POLICY_TOPICS = {"command": "loudspeaker", "decision": "broadcast-decisions"}
POLICY_INPUTS = "internal.incident-inputs"  # outcome / ack of a warning, keyed by camera


@dataclass
class District:
    """The worker's state for one scenario, and every record it wrote by topic."""

    cfg: Config
    book: inc.Book = field(default_factory=inc.Book)
    speakers: dict[str, pol.SpeakerState] = field(default_factory=dict)
    written: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ctx = inc.ConfigIndex(self.cfg)

    def write(self, topic: str, value: dict[str, Any]) -> None:
        self.written.setdefault(topic, []).append(value)

    def incidents(self, effects: list[inc.Effect] | None, at: float) -> None:
        for e in effects or []:
            self.write(INCIDENT_TOPICS[e.kind], e.value)
            if e.kind == "warn":
                self.policy(auto_request(e.value), at)

    def policy(self, request: pol.Request, at: float) -> None:
        state = self.speakers.setdefault(request.speaker_id, pol.SpeakerState())
        speaker = next(s for s in self.cfg.speakers if s.id == request.speaker_id)
        self.policy_effects(pol.decide(state, speaker, self.cfg.site.timezone, request, at), at)

    def policy_effects(self, effects: list[pol.PolicyEffect], at: float) -> None:
        for e in effects:
            self.write(POLICY_TOPICS.get(e.kind, POLICY_INPUTS), e.value)
            if e.kind == "outcome":
                v = e.value
                self.incidents(
                    inc.on_outcome(
                        self.book,
                        self.ctx,
                        incident_id=v["incident_id"],
                        decision=v["decision"],
                        reason=v["reason"],
                        text=v["text"],
                        at=at,
                    ),
                    at,
                )

    def tick(self, at: float) -> None:
        self.incidents(inc.on_tick(self.book, self.ctx, at), at)

    def patrol(self, status: str, at: float) -> None:
        [case] = [i for i in self.book.open.values() if i.case_id is not None]
        assert case.case_id is not None and case.unit_id is not None
        update = inc.on_update(
            self.book, self.ctx, case_id=case.case_id, unit_id=case.unit_id, status=status, note=status, at=at
        )
        self.incidents(update, at)


def auto_request(warn: dict[str, Any]) -> pol.Request:
    """The policy's request for an incident's warning, as the worker builds it from the intent."""
    keep = ("request_id", "speaker_id", "text", "requested_by", "reason", "force", "lang")
    return pol.Request(
        **{k: warn[k] for k in keep},
        source="auto",
        camera_id=warn["camera_id"],
        incident_id=warn["incident_id"],
        at=0.0,
    )


def violation_record(ev: ViolationEvent, seq: int) -> dict[str, Any]:
    """The violation the worker writes for a rules event (streams/worker/agents/rules.py)."""
    times = {"since": to_iso(ev.since), "at": to_iso(ev.at)}
    lists = {"labels": list(ev.labels), "evidence": list(ev.evidence), "scores": dict(ev.scores)}
    return {"v": 1, **asdict(ev), **times, **lists, "seq": seq}


def frames(d: District, state: CameraState, seqs: range, seen: list[Sighting]) -> None:
    """cam-a's detections ``seqs`` (every 0.5 s from T0) showing ``seen``, through rules and incidents."""
    rules = camera_rules(d.cfg)["cam-a"]
    for seq in seqs:
        t = T0 + seq * 0.5
        for ev in step(state, rules, t, seq, seen, snapshot=f"/evidence/{seq}.jpg" if seen else None).events:
            record = violation_record(ev, seq)
            d.write("violations", record)
            d.book.observe(ev.at, ev.at)  # the worker moves the camera's clock before it applies the input
            fields = {k: v for k, v in record.items() if k not in ("v", "seq")}
            fields |= {"since": ev.since, "at": ev.at}
            d.incidents(inc.on_violation(d.book, d.ctx, **fields), ev.at)
        d.tick(t)


def camera_scenario(d: District) -> None:
    """A bench on cam-a's storefront past grace: warned, dispatched; the patrol resolves it, the
    camera sees the storefront clear, and the incident is verified and closed."""
    state = CameraState()
    frames(d, state, range(30), [Sighting("bench", ["storefront"], 0.8), Sighting("person", [], 0.9)])
    for i, status in enumerate(("accepted", "arrived", "resolved")):
        d.patrol(status, T0 + 16 + i)
    frames(d, state, range(40, 80), [])
    d.tick(T0 + 120)


def operator_scenario(d: District) -> None:
    """An operator's broadcast on spk-b, acknowledged by the gateway."""
    at = T0 + 200
    request = pol.Request(
        "req-1", "spk-b", "请注意", source="operator", requested_by="zhang", reason="test", at=at
    )
    d.policy(request, at)
    [command] = [c for c in d.written["loudspeaker"] if c["speaker_id"] == "spk-b"]
    state = d.speakers["spk-b"]
    speaker = next(s for s in d.cfg.speakers if s.id == "spk-b")
    effects = pol.on_ack(
        state,
        speaker,
        d.cfg.site.timezone,
        command_id=command["command_id"],
        incident_id=None,
        status="played",
        reason="",
        now=at + 3,
    )
    d.policy_effects(effects, at + 3)


def sensor_scenario(d: District) -> None:
    """pm-a above its limit: an incident dispatched; the patrol resolves it, the air reads clean
    through verification, and the incident closes."""
    state = sensors.SensorState()
    rules = sensors.rules_by_sensor(d.cfg)["pm-a"]
    for i, value in enumerate([90.0] * 10 + [20.0] * 60):
        t = T0 + i * 30
        result = sensors.on_reading(state, rules, value=value, measured_at=t, seen_at=t, unit="µg/m³")
        for ev in result.events:
            d.write(POLICY_INPUTS, condition_input("pm-a", "sensor", ev))
            effects = inc.on_condition(
                d.book,
                d.ctx,
                subject="pm-a",
                source="sensor",
                category=ev.category,
                state=ev.state,
                since=ev.since,
                at=ev.at,
                note=ev.note,
            )
            d.incidents(effects, ev.at)
        d.tick(t)
        if i == 19:  # the air read clean again (the mean fell under the clear level)
            for j, status in enumerate(("accepted", "arrived", "resolved")):
                d.patrol(status, t + j + 1)


def check(written: dict[str, list[dict[str, Any]]]) -> list[str]:
    """What does not validate: 'topic #i (Model): error'."""
    problems = []
    for topic, values in written.items():
        model = TOPIC_MODELS[topic]
        if model is None:
            continue
        adapter: TypeAdapter[Any] = TypeAdapter(model)
        for i, value in enumerate(values):
            try:
                adapter.validate_python(value)
            except ValueError as exc:
                problems.append(f"{topic} #{i} ({getattr(model, '__name__', model)}): {exc}")
    return problems


def test_camera_and_operator_records_validate_against_their_topics_models() -> None:
    d = District(streams_config())
    camera_scenario(d)
    operator_scenario(d)
    wrote = {t for t, v in d.written.items() if v}
    must = {"violations", "alerts", "dispatch", "loudspeaker", "broadcast-decisions"}
    assert must <= wrote, wrote
    states = [a["state"] for a in d.written["alerts"]]
    assert {"open", "warned", "dispatched", "resolved", "closed"} <= set(states), states
    assert check(d.written) == []


def test_sensor_incident_records_validate_against_their_topics_models() -> None:
    d = District(feeds_config())
    sensor_scenario(d)
    states = [a["state"] for a in d.written["alerts"]]
    assert states[0] == "open" and states[-1] == "closed", states
    assert check(d.written) == []


def test_a_record_missing_a_field_is_reported_on_contract_and_internal_topics() -> None:
    alert, entry = check({"alerts": [{"v": 1}], "internal.case-index": [{"anything": 1}]})
    assert alert.startswith("alerts #0 (Alert):") and "incident_id" in alert
    assert entry.startswith("internal.case-index #0") and "incident_id" in entry
