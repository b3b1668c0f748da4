"""An operator's broadcast request from the terminal: checks against the configuration
and the exit status of each decision (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from streams.clients.broadcast import (
    EXIT_OK,
    EXIT_SUPPRESSED,
    EXIT_TIMEOUT,
    build_request,
    decision_line,
    exit_code,
)
from streams.contract.errors import UsageError
from streams.contract.records import BroadcastRequest, decode
from streams.contract.timeutil import to_iso
from tests.config_support import streams_config

NOW = 1_780_000_000.0


def request(**options: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "request_id": "req-1",
        "speaker_id": None,
        "camera_id": None,
        "text": None,
        "template": None,
        "reason": "",
        "force": False,
        "requested_by": "operator@zhang",
        "now": NOW,
    }
    return build_request(streams_config(), **{**base, **options})


def test_a_speaker_and_text_give_a_contract_record_naming_the_speakers_camera() -> None:
    rec = request(speaker_id="spk-b", text=" 请勿占道 ")
    parsed = decode(BroadcastRequest, rec)
    assert (parsed.speaker_id, parsed.text, parsed.template, parsed.force) == (
        "spk-b",
        "请勿占道",
        None,
        False,
    )
    assert rec["camera_id"] == "cam-b" and rec["requested_at"] == to_iso(NOW)


def test_a_camera_picks_its_speaker_and_a_template_is_a_category_key() -> None:
    rec = request(camera_id="cam-a", template="out_of_store_business", reason="shop owner called", force=True)
    assert (rec["speaker_id"], rec["template"], rec["text"], rec["force"]) == (
        "spk-a",
        "out_of_store_business",
        None,
        True,
    )


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"speaker_id": "spk-x", "text": "hi"}, "unknown speaker 'spk-x'; known speakers: spk-a, spk-b"),
        ({"camera_id": "cam-x", "text": "hi"}, "unknown camera 'cam-x'; known cameras: cam-a, cam-b"),
        ({"speaker_id": "spk-a"}, "exactly one of --text"),
        ({"speaker_id": "spk-a", "text": "   "}, "exactly one of --text"),
        ({"speaker_id": "spk-a", "text": "hi", "template": "illegal_parking"}, "exactly one of --text"),
        ({"text": "hi"}, "exactly one of --speaker"),
        (
            {"speaker_id": "spk-a", "template": "parking"},
            "must be a category key, one of out_of_store_business",
        ),
        ({"speaker_id": "spk-a", "text": "hi", "force": True}, "--force needs --reason"),
    ],
)
def test_wrong_options_are_refused_with_the_known_ids(options: dict[str, Any], says: str) -> None:
    with pytest.raises(UsageError) as err:
        request(**options)
    assert says in str(err.value)


@pytest.mark.parametrize(
    ("decision", "code"),
    [({"decision": "sent"}, EXIT_OK), ({"decision": "queued"}, EXIT_OK), ({"decision": "suppressed"}, 3)],
)
def test_exit_codes(decision: dict[str, Any], code: int) -> None:
    assert exit_code(decision) == code


def test_no_decision_is_a_timeout_and_codes_differ() -> None:
    assert exit_code(None) == EXIT_TIMEOUT == 4
    assert len({EXIT_OK, EXIT_SUPPRESSED, EXIT_TIMEOUT}) == 3


def test_decision_line() -> None:
    line = decision_line({"decision": "sent", "reason": "within policy", "command_id": "cmd-1"})
    assert line == "sent: within policy (command cmd-1)"
