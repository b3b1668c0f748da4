"""The ``notify:`` section: group-chat robots (WeCom 企业微信, DingTalk 钉钉, a plain webhook) and the
rules that say which events go to which robots (``citywatch notify``, streams/notify/).

    notify:
      robots:
        - {id: jd-wecom, type: wecom, url_env: JD_WECOM_URL}
        - {id: jd-ding, type: dingtalk, url_env: JD_DING_URL, secret_env: JD_DING_SECRET}
      rules:
        - {events: [dispatched, overdue], streets: [jiedao-1], robots: [jd-wecom]}

Cross-references (rule -> robot, unit, street, category) are checked in verify_notify.py.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from streams.config.base import Base, Id

# the events a rule may name, in the order of a case's life
EVENTS: tuple[str, ...] = ("dispatched", "overdue", "escalated", "reopened", "camera_offline")
Event = Literal["dispatched", "overdue", "escalated", "reopened", "camera_offline"]


class Robot(Base):
    id: Id
    type: Literal["wecom", "dingtalk", "webhook"] = Field(
        description="wecom: 企业微信群机器人; dingtalk: 钉钉自定义机器人; webhook: the event's JSON POSTed"
    )
    url: str | None = Field(None, description="The robot's webhook URL (or url_env)")
    url_env: str | None = Field(
        None, description="Environment variable holding the URL (keeps the robot's key out of the file)"
    )
    secret_env: str | None = Field(
        None, description="dingtalk: environment variable holding the robot's signing secret (加签)"
    )
    per_minute: int = Field(
        20,
        ge=1,
        le=600,
        description="Messages a window the robot takes; past it, held events go as one digest",
    )
    window_s: float = Field(60, gt=0, description="The rate window in seconds (per_minute counts in it)")
    timeout_s: float = Field(10, gt=0, le=120, description="Seconds one POST may take")

    @model_validator(mode="after")
    def _one_url(self) -> Robot:
        if (self.url is None) == (self.url_env is None):
            raise ValueError(f"robot {self.id}: give exactly one of url and url_env")
        if self.secret_env is not None and self.type != "dingtalk":
            raise ValueError(f"robot {self.id}: secret_env is for type dingtalk only; remove it")
        return self


class NotifyRule(Base):
    events: list[Event] = Field(default_factory=list, description="Events to send (empty: all)")
    units: list[str] = Field(default_factory=list, description="Only cases of these units (empty: any)")
    streets: list[str] = Field(default_factory=list, description="Only these streets' grids (empty: any)")
    categories: list[str] = Field(default_factory=list, description="Only these categories (empty: any)")
    robots: list[str] = Field(min_length=1, description="Robot ids the matching events go to")


class Notify(Base):
    robots: list[Robot] = Field(default_factory=list)
    rules: list[NotifyRule] = Field(default_factory=list)
    state_file: str = Field(
        "var/notify.db",
        description="SQLite file of the outbox: events waiting and sent (the de-duplication across restarts)",
    )
    max_age_min: float = Field(
        60,
        gt=0,
        description="Events older than this (a replay, a first start on old records) are counted, not sent",
    )
    keep_sent: int = Field(
        20000, ge=100, description="Sent events the outbox remembers (oldest forgotten first)"
    )
    max_waiting: int = Field(
        10000,
        ge=100,
        description="Events one robot may have waiting (a robot down for long); more are refused: "
        "counted in the metrics and logged, never queued",
    )
