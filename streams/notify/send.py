"""POSTing a message to a robot. WeCom and DingTalk answer HTTP 200 with ``errcode`` in the
body (0: taken; 45009 WeCom "too frequent", 660026 DingTalk's, 310000 a bad signature): anything
but 0, like a non-2xx status or no answer, is a ``DeliveryError`` and the message is tried again."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Protocol

from streams.contract.errors import DeliveryError


class Post(Protocol):
    def __call__(self, url: str, body: dict[str, Any], timeout_s: float) -> tuple[int, bytes]: ...


def http_post(url: str, body: dict[str, Any], timeout_s: float) -> tuple[int, bytes]:
    """(status, body) of a JSON POST; an error status is returned, not raised."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(  # noqa: S310 - the URL is the operator's configured robot
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def deliver(post: Post, url: str, body: dict[str, Any], timeout_s: float, *, vendor: bool) -> None:
    """POST ``body``; raise ``DeliveryError`` unless the robot took it (``vendor``: the answer must
    carry ``errcode`` 0)."""
    try:
        status, answer = post(url, body, timeout_s)
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"no answer ({type(exc).__name__}: {exc})") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}: {answer[:200].decode('utf-8', 'replace')}")
    if not vendor:
        return
    try:
        parsed = json.loads(answer)
    except ValueError:
        raise DeliveryError(f"the answer is not JSON: {answer[:200].decode('utf-8', 'replace')}") from None
    code = parsed.get("errcode") if isinstance(parsed, dict) else None
    if code != 0:
        raise DeliveryError(f"errcode {code}: {parsed.get('errmsg', '') if isinstance(parsed, dict) else ''}")
