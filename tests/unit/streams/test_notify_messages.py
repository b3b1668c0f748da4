"""Messages (Chinese markdown for WeCom and DingTalk, JSON for a webhook), DingTalk's signature,
and a robot's answer read as taken or failed (pure)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from streams.contract.errors import DeliveryError
from streams.notify.events import from_alert, from_case
from streams.notify.messages import compose, dingtalk_sign, signed_url
from streams.notify.send import deliver

from ...notify_support import T0, case, overdue_then_escalated

PLACE = {
    "site": "和平区城市管理指挥中心",
    "timezone": "Asia/Shanghai",
    "public_url": "https://cw.example.gov.cn/",
}
STREETS = {"grid-a": "和平街道"}

# computed apart from the code under test, with OpenSSL:
#   printf '1700000000002\nSECexample' | openssl dgst -sha256 -hmac SECexample -binary | base64
SIGN_VECTOR = ("SECexample", 1700000000002, "YT7/FZACkFUlBiZXsLLxEy2viBHwqjxxCGDe+4v2PGc=")


def test_dingtalk_signs_timestamp_newline_secret_base64_then_url_encoded() -> None:
    secret, ts, b64 = SIGN_VECTOR
    assert dingtalk_sign(secret, ts) == b64.replace("/", "%2F").replace("+", "%2B").replace("=", "%3D")


def test_the_signature_is_appended_to_the_robots_own_query() -> None:
    secret, ts, b64 = SIGN_VECTOR
    url = signed_url("https://oapi.dingtalk.com/robot/send?access_token=abc", secret, ts)
    query = parse_qs(urlsplit(url).query)
    assert query == {"access_token": ["abc"], "timestamp": [str(ts)], "sign": [b64]}


def test_a_wecom_message_says_what_where_who_by_when_and_links_the_incident() -> None:
    (event,) = from_case(case(7))
    body = compose("wecom", [event], street_names=STREETS, **PLACE)
    assert list(body) == ["msgtype", "markdown"] and body["msgtype"] == "markdown"
    text = body["markdown"]["content"]
    for part in (
        "【派遣】店外经营",
        "和平路12号",
        "和平街道 / grid-a",
        "unit-a（street）",
        "处置时限：2026-05-29 04:56",  # due T0 + 30 min, in Shanghai time
        "(https://cw.example.gov.cn/?incident=inc-7)",
    ):
        assert part in text, (part, text)


def test_a_dingtalk_message_has_a_title_and_the_escalation_target() -> None:
    escalation = from_alert(overdue_then_escalated(8), "camera_offline")[1]
    body = compose("dingtalk", [escalation], street_names=STREETS, **PLACE)
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "【升级】店外经营"
    assert "unit-d（district）" in body["markdown"]["text"]


def test_a_digest_lists_every_held_event_with_its_link() -> None:
    events = [e for n in range(3) for e in from_case(case(n, at=T0 + n))]
    body = compose("wecom", events, street_names=STREETS, **PLACE)
    text = body["markdown"]["content"]
    assert "【汇总】3 条事件" in text
    assert all(f"?incident=inc-{n})" in text for n in range(3))


def test_a_webhook_gets_the_events_json_and_a_digest_its_list() -> None:
    events = from_case(case(1)) + from_case(case(2))
    one = compose("webhook", events[:1], street_names=STREETS, **PLACE)
    assert one["event"] == "dispatched" and one["record"]["case_id"] == "case-1"
    many = compose("webhook", events, street_names=STREETS, **PLACE)
    assert many["event"] == "digest" and [e["case_id"] for e in many["events"]] == ["case-1", "case-2"]


def _answer(status: int, body: bytes):  # type: ignore[no-untyped-def]
    return lambda url, payload, timeout_s: (status, body)


@pytest.mark.parametrize(
    ("status", "body", "vendor", "error"),
    [
        (200, b'{"errcode":0,"errmsg":"ok"}', True, None),
        (200, b'{"errcode":45009,"errmsg":"api freq out of limit"}', True, "errcode 45009"),
        (200, b"<html>", True, "not JSON"),
        (502, b"bad gateway", True, "HTTP 502"),
        (204, b"", False, None),  # a plain webhook: any 2xx
        (500, b"", False, "HTTP 500"),
    ],
)
def test_only_a_2xx_with_errcode_0_counts_as_taken(
    status: int, body: bytes, vendor: bool, error: str | None
) -> None:
    if error is None:
        deliver(_answer(status, body), "u", {}, 1, vendor=vendor)
        return
    with pytest.raises(DeliveryError, match=error):
        deliver(_answer(status, body), "u", {}, 1, vendor=vendor)


def test_no_answer_is_a_delivery_error() -> None:
    def refused(url: str, payload: object, timeout_s: float) -> tuple[int, bytes]:
        raise ConnectionRefusedError("refused")

    with pytest.raises(DeliveryError, match="no answer"):
        deliver(refused, "u", {}, 1, vendor=True)
