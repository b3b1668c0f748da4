"""A district's day for the reports, made by the real incident logic: what the worker would
publish (alerts, dispatches) plus what the speaker gateway and the policy would (commands, acks,
decisions), as contract records, written through the store's own writer."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from streams.config import Config
from streams.contract import records as r
from streams.contract.ids import make_id
from streams.contract.timeutil import from_iso, to_iso
from streams.logic import incidents as inc
from streams.logic.history_notes import camera_back, camera_offline
from streams.store import database, upsert, writer

from .config_support import category, parse, streams_site

T0 = from_iso("2026-05-26T02:00:00.000Z")  # 10:00 in Shanghai
DAY = ("2026-05-26", "2026-05-27")  # the local day of T0


def reports_config() -> Config:
    """The streams district (grace 3 s, verify 3 s, SLA 30 s; unit-a escalates to unit-d) with
    camera health."""
    site = streams_site()
    site["categories"]["camera_offline"] = category("camera_offline", grace_s=120, sla_s=600)
    return parse(site, "reports-test.yaml")


def fresh_engine(path: Path) -> Engine:
    engine = database.open_engine(f"sqlite:///{path}")
    database.upgrade(engine)
    return engine


class District:
    """Drives the pure incident logic and keeps every record it publishes, in order."""

    def __init__(self, cfg: Config | None = None) -> None:
        self.ctx = inc.ConfigIndex(cfg or reports_config())
        self.books: dict[str, inc.Book] = defaultdict(inc.Book)
        self.subject: dict[str, str] = {}  # incident id -> its book
        self.records: list[tuple[str, r.Record]] = []

    def _keep(self, book: str, effects: list[inc.Effect] | None) -> None:
        for effect in effects or []:
            if effect.kind == "alert":
                self.records.append(("alerts", r.Alert.model_validate(effect.value)))
                self.subject[effect.value["incident_id"]] = book
            elif effect.kind == "dispatch":
                self.records.append(("dispatch", r.DispatchCase.model_validate(effect.value)))

    def seen(
        self, at: float, state: str = "started", *, camera: str = "cam-a", since: float | None = None
    ) -> str:
        """A violation of the camera's category; the id of the incident it concerns."""
        zone, cat = (
            ("storefront", "out_of_store_business") if camera == "cam-a" else ("kerb", "illegal_parking")
        )
        book = self.books[camera]
        kw = {"camera_id": camera, "zone_id": zone, "category": cat, "labels": ["bench"], "evidence": []}
        effects = inc.on_violation(book, self.ctx, state=state, since=since or at, at=at, **kw)
        self._keep(camera, effects)
        found = [i for i in book.open.values() if i.zone_id == zone]
        return found[0].incident_id if found else book.closed[-1]

    def warned(
        self,
        incident_id: str,
        at: float,
        *,
        played: float | None,
        status: str = "played",
        speaker: str = "spk-a",
    ) -> None:
        """The policy sends the incident's warning at ``at``; the speaker plays it at ``played``."""
        camera = self.subject[incident_id]
        command_id = make_id("cmd", incident_id, "warn", 1)
        who = {
            "speaker_id": speaker,
            "incident_id": incident_id,
            "source": "auto",
            "requested_by": "citywatch",
        }
        self.records.append(
            ("broadcast-decisions", r.BroadcastDecision(**who, request_id=command_id, decision="sent",
             reason="within policy", command_id=command_id, at=to_iso(at)))
        )  # fmt: skip
        self.records.append(
            ("loudspeaker", r.LoudspeakerCommand(**who, command_id=command_id, camera_id=camera, text="请…",
             requested_at=to_iso(at), not_after=to_iso(at + 60)))
        )  # fmt: skip
        book = self.books[camera]
        out = inc.on_outcome(
            book, self.ctx, incident_id=incident_id, decision="sent", reason="", text="请…", at=at
        )
        self._keep(camera, out)
        if played is not None:
            times = {"started_at": to_iso(played), "finished_at": to_iso(played + 4)}
            ack = r.LoudspeakerAck(
                command_id=command_id, speaker_id=speaker, incident_id=incident_id, status=status, **times
            )
            self.records.append(("loudspeaker-acks", ack))
            acked = inc.on_ack(
                book, self.ctx, incident_id=incident_id, status=status, reason="", at=played + 4
            )
            self._keep(camera, acked)

    def suppressed(self, at: float, reason: str) -> None:
        self.records.append(
            ("broadcast-decisions", r.BroadcastDecision(request_id=f"req-{at}", speaker_id="spk-a",
             decision="suppressed", reason=reason, command_id=None, source="operator", requested_by="zhang",
             at=to_iso(at)))
        )  # fmt: skip

    def tick(self, at: float) -> None:
        for camera, book in self.books.items():
            self._keep(camera, inc.on_tick(book, self.ctx, at))

    def case_of(self, incident_id: str) -> tuple[str, str]:
        found = self.books[self.subject[incident_id]].by_id(incident_id)
        assert found is not None and found.case_id is not None and found.unit_id is not None
        return found.case_id, found.unit_id

    def update(self, incident_id: str, status: str, at: float, *, unit: str | None = None) -> None:
        case_id, holder = self.case_of(incident_id)
        camera = self.subject[incident_id]
        fields = {"case_id": case_id, "unit_id": unit or holder, "status": status, "note": "", "at": at}
        self._keep(camera, inc.on_update(self.books[camera], self.ctx, **fields))
        self.records.append(("dispatch-updates", r.DispatchUpdate(**{**fields, "at": to_iso(at)})))

    def offline(self, since: float, at: float, *, camera: str = "cam-a") -> str:
        """Camera health: the camera went down at ``since``, confirmed at ``at``."""
        kw = {"subject": camera, "source": "health", "category": "camera_offline", "since": since}
        note = camera_offline(since, "reported offline")
        self._keep(
            camera, inc.on_condition(self.books[camera], self.ctx, state="started", at=at, note=note, **kw)
        )
        return next(i.incident_id for i in self.books[camera].open.values() if i.category == "camera_offline")

    def online(self, since: float, at: float, *, camera: str = "cam-a") -> None:
        kw = {"subject": camera, "source": "health", "category": "camera_offline", "since": since}
        self._keep(camera, inc.on_condition(self.books[camera], self.ctx, state="cleared", at=at,
                                            note=camera_back("online"), **kw))  # fmt: skip

    def operator(self, incident_id: str, action: str, at: float, reason: str = "") -> None:
        camera = self.subject[incident_id]
        out = inc.on_operator(self.books[camera], self.ctx, incident_id=incident_id, action=action, by="op",
                              reason=reason, at=at)  # fmt: skip
        self._keep(camera, out)

    def store(self, engine: Engine) -> int:
        """Write every record through the store's own path; the rows written."""
        rows = [row for suffix, rec in self.records for row in writer.rows_of(suffix, rec.to_bytes())]
        with engine.begin() as conn:
            return upsert.write(conn, writer.merge(rows))


def history(district: District, incident_id: str) -> list[tuple[str, str, str]]:
    """(at, state, note) of the incident's latest alert: for messages of failing tests."""
    alerts = [rec for s, rec in district.records if s == "alerts" and rec.incident_id == incident_id]  # type: ignore[attr-defined]
    latest: Any = alerts[-1]
    return [(h.at, h.state, h.note) for h in latest.history]
