"""Credentials out of text: the one function that every log line, record and page showing a
source URL, a driver URL or an error message that may quote one passes through.

``redact`` replaces the userinfo of any URL (``rtsp://admin:Secr3t@nvr`` ->
``rtsp://***@nvr``) and the values of credential-style parameters
(``password=``, ``token=``, ...) with ``***``. The userinfo is what FFmpeg,
urllib and HTTP clients take as one: everything between ``scheme://`` and the
last ``@`` before the first ``/``, ``?``, ``#`` or whitespace.
"""

from __future__ import annotations

import re

MASK = "***"

_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#]*@")

# parameter names whose values are secrets (query strings, form-style text, headers written as k=v)
SECRET_PARAMS = (
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "token",
    "access_token",
    "auth_token",
    "refresh_token",
    "auth",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "key",
    "signature",
    "sig",
    "credential",
    "credentials",
)
_PARAM = re.compile(
    r"(?P<name>(?<![A-Za-z0-9_])(?:" + "|".join(SECRET_PARAMS) + r")=)[^&#\s;,'\"]*",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with URL userinfo and credential parameter values replaced by ``***``."""
    if "@" in text:
        text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    if "=" in text:
        text = _PARAM.sub(lambda m: f"{m.group('name')}{MASK}", text)
    return text
