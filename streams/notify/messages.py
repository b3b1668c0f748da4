"""Messages for the robots (pure): Chinese markdown for WeCom (企业微信) and DingTalk (钉钉), the
event's JSON for a plain webhook, and DingTalk's signature.

DingTalk's signed robots (加签) take ``timestamp`` (ms) and
``sign = urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")))`` as query parameters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from streams.notify.events import Event

TITLES: dict[str, str] = {
    "dispatched": "派遣",
    "overdue": "超期",
    "escalated": "升级",
    "reopened": "重新打开",
    "camera_offline": "摄像头离线",
}
DIGEST_MAX_LINES = 50  # a digest lists this many events; it says how many more there were


def local_time(epoch_s: float, timezone: str) -> str:
    return datetime.fromtimestamp(epoch_s, ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def incident_link(public_url: str, incident_id: str) -> str:
    return f"{public_url.rstrip('/')}/?incident={quote_plus(incident_id)}"


def title(event: Event) -> str:
    return f"【{TITLES.get(event.kind, event.kind)}】{event.category_name}"


def markdown(event: Event, *, site: str, timezone: str, public_url: str, street: str | None) -> str:
    """One event as markdown both vendors render: what, where, who, by when, and the link."""
    lines = [f"### {title(event)}", f"> 地点：{event.address or '（无地址）'}"]
    place = " / ".join(p for p in (street, event.grid_id) if p)
    if place:
        lines.append(f"> 街道/网格：{place}")
    if event.unit_id:
        lines.append(f"> 处置单位：{event.unit_id}" + (f"（{event.level}）" if event.level else ""))
    if event.due_at is not None:
        lines.append(f"> 处置时限：{local_time(event.due_at, timezone)}")
    lines.append(f"> 时间：{local_time(event.at, timezone)}")
    lines.append(f"[查看事件 {event.incident_id}]({incident_link(public_url, event.incident_id)})")
    lines.append(f'<font color="comment">{site}</font>' if site else "")
    return "\n".join(line for line in lines if line)


def digest(
    events: Sequence[Event], *, site: str, timezone: str, public_url: str, streets: dict[str, str]
) -> tuple[str, str]:
    """(title, markdown) of held events in one message: a line each, with its link."""
    head = f"【汇总】{len(events)} 条事件（发送频率受限，合并发送）"
    lines = [f"### {head}"]
    for e in events[:DIGEST_MAX_LINES]:
        where = " ".join(p for p in (streets.get(e.grid_id or ""), e.grid_id, e.address) if p)
        link = incident_link(public_url, e.incident_id)
        lines.append(f"- {TITLES.get(e.kind, e.kind)} {e.category_name} {where} {local_time(e.at, timezone)} "
                     f"[{e.incident_id}]({link})")  # fmt: skip
    if len(events) > DIGEST_MAX_LINES:
        lines.append(f"- 另有 {len(events) - DIGEST_MAX_LINES} 条，请在指挥中心查看")
    if site:
        lines.append(site)
    return head, "\n".join(lines)


def payload(robot_type: str, head: str, text: str, events: Sequence[Event]) -> dict[str, Any]:
    """The JSON body a robot of ``robot_type`` takes."""
    if robot_type == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    if robot_type == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": head, "text": text}}
    if len(events) == 1:
        return events[0].to_json()
    return {"event": "digest", "events": [e.to_json() for e in events]}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign``: base64 of HMAC-SHA256 over "timestamp\\nsecret", URL-encoded."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(mac).decode())


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """``url`` with DingTalk's ``timestamp`` and ``sign`` appended to its query."""
    parts = urlsplit(url)
    extra = f"{urlencode({'timestamp': timestamp_ms})}&sign={dingtalk_sign(secret, timestamp_ms)}"
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def compose(
    robot_type: str,
    events: Sequence[Event],
    *,
    site: str,
    timezone: str,
    public_url: str,
    street_names: dict[str, str],
) -> dict[str, Any]:
    """The body for ``events``: one event's message, or a digest of several."""
    if len(events) == 1:
        event = events[0]
        street = street_names.get(event.grid_id or "")
        text = markdown(event, site=site, timezone=timezone, public_url=public_url, street=street)
        return payload(robot_type, title(event), text, events)
    head, text = digest(events, site=site, timezone=timezone, public_url=public_url, streets=street_names)
    return payload(robot_type, head, text, events)
