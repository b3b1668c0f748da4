"""Where a reading's field comes from in an MQTT message (pure: no client, no clock).

One ``mqtt.inputs`` entry names a source for each field of the reading:

    $            the whole payload (a bare number such as ``23.5``)
    $.a.b[0]     a field of the JSON payload: keys after dots, list positions in brackets
    {1}, {2}     the topic level the 1st, 2nd wildcard (+ or #) of the pattern matched;
                 text around them is kept: ``aq-{1}`` on ``city/sensors/+/pm25`` and the
                 topic ``city/sensors/hp01/pm25`` gives ``aq-hp01``; ``{topic}`` is the whole topic
    now          (measured_at only) the time the bridge received the message
    anything else  a literal, e.g. ``µg/m³``

``parse`` checks the syntax (the configuration model calls it, so a mistake is a config
error with its line); ``Source.resolve`` reads the value out of one message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from streams.contract.errors import MqttError

Kind = Literal["path", "template", "now", "literal"]

_STEP = re.compile(r"\.([^.\[\]{}]+)|\[(\d+)\]")
_PLACE = re.compile(r"\{([^{}]*)\}")
MISSING = object()


@dataclass(frozen=True)
class Source:
    text: str
    kind: Kind
    steps: tuple[str | int, ...] = ()  # a path's keys (str) and list positions (int)
    places: tuple[int, ...] = ()  # a template's wildcard numbers (1-based; 0: the whole topic)

    @property
    def needs_json(self) -> bool:
        return self.kind == "path"

    def resolve(self, captures: list[str], topic: str, payload: Any) -> Any:
        """This source's value in a message: ``captures`` are the wildcards' levels, ``payload``
        the decoded JSON (only read by paths). ``MqttError`` names what is missing."""
        if self.kind == "literal":
            return self.text
        if self.kind == "template":
            return _PLACE.sub(lambda m: topic if m.group(1) == "topic" else captures[int(m.group(1)) - 1],
                              self.text)  # fmt: skip
        if self.kind == "path":
            value = payload
            for step in self.steps:
                if isinstance(step, int):
                    ok = isinstance(value, list) and step < len(value)
                    value = value[step] if ok else MISSING
                else:
                    value = value.get(step, MISSING) if isinstance(value, dict) else MISSING
                if value is MISSING:
                    raise MqttError(f"the payload has no {self.text} (needed here)")
            return value
        raise MqttError(f"{self.text!r} has no value of the message")  # "now": the caller's clock


def parse(text: str, *, wildcards: int, allow_now: bool = False) -> Source:
    """The source ``text`` names; ``MqttError`` says what is wrong and how to write it."""
    if text == "now":
        if not allow_now:
            raise MqttError("'now' is only for measured_at")
        return Source(text, "now")
    if text.startswith("$"):
        rest = text[1:]
        steps: list[str | int] = []
        pos = 0
        for m in _STEP.finditer(rest):
            if m.start() != pos:
                break
            steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
            pos = m.end()
        if pos != len(rest):
            raise MqttError(
                f"{text!r} is not a JSON path: write $ (the whole payload), $.field, $.a.b or $.list[0]"
            )
        return Source(text, "path", steps=tuple(steps))
    if "{" in text or "}" in text:
        places: list[int] = []
        for m in _PLACE.finditer(text):
            name = m.group(1)
            if name == "topic":
                places.append(0)
                continue
            if not name.isdigit() or int(name) < 1:
                raise MqttError(
                    f"{text!r}: {{{name}}} is not a wildcard number: write {{1}} for the first + or #"
                )
            if int(name) > wildcards:
                raise MqttError(
                    f"{text!r}: {{{name}}} asks for wildcard {name}, but the topic pattern has {wildcards}"
                    " (+ matches one level, # the rest)"
                )
            places.append(int(name))
        if _PLACE.sub("", text).count("{") or _PLACE.sub("", text).count("}"):
            raise MqttError(f"{text!r}: unbalanced braces; a wildcard is written {{1}}")
        return Source(text, "template", places=tuple(places))
    return Source(text, "literal")


def check_pattern(topic: str) -> int:
    """The number of wildcards of an MQTT subscription pattern; ``MqttError`` when it is not one."""
    if not topic:
        raise MqttError("topic is empty: write a pattern such as city/sensors/+/pm25")
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if level == "#" and i != len(levels) - 1:
            raise MqttError(f"{topic!r}: # must be the last level (it matches the rest of the topic)")
        if level not in ("+", "#") and ("+" in level or "#" in level):
            raise MqttError(f"{topic!r}: a wildcard (+ or #) must be a whole level, as in a/+/b")
    return sum(1 for level in levels if level in ("+", "#"))


def match(pattern: str, topic: str) -> list[str] | None:
    """The levels the wildcards of ``pattern`` matched in ``topic`` (None: no match). ``#``
    captures the rest, joined by /. Topics starting with $ only match patterns that name it."""
    want = pattern.split("/")
    got = topic.split("/")
    if got[0].startswith("$") and want[0] in ("+", "#"):
        return None
    captures: list[str] = []
    for i, level in enumerate(want):
        if level == "#":
            captures.append("/".join(got[i:]))
            return captures
        if i >= len(got):
            return None
        if level == "+":
            captures.append(got[i])
        elif level != got[i]:
            return None
    return captures if len(got) == len(want) else None
