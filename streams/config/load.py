"""Read cameras.yaml into a ``Config``, collecting every problem with its line."""

from __future__ import annotations

import copy
import difflib
import os
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from streams.config.models import Config
from streams.config.verify import run_checks
from streams.config.yamlmap import LineMap, Loc, load_yaml
from streams.contract.errors import ConfigError, ConfigProblem

DEFAULT_PATH = "cameras.yaml"


def resolve_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--config PATH``, else ``CITYWATCH_CONFIG``, else ``./cameras.yaml``."""
    return Path(explicit or os.environ.get("CITYWATCH_CONFIG") or DEFAULT_PATH)


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _inner(annotation: Any) -> Any:
    """Unwrap Optional / list / dict / Annotated down to one class."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (list, dict, typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[-1]
        else:
            return annotation


def _model_at(loc: Loc) -> type[BaseModel] | None:
    current: Any = Config
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = _inner(field.annotation)
        # ints (list indexes) and dict keys keep the item type already unwrapped
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _describe(err: ErrorDetails) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        fix = f"did you mean {hint[0]}?" if hint else "remove it or fix its spelling"
        return f"unknown key {key!r}: {fix} (allowed here: {', '.join(allowed)})"
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing: add it"
    msg = err["msg"].removeprefix("Value error, ")
    if kind in ("value_error", "assertion_error"):
        return msg
    if kind == "literal_error" and isinstance(err.get("input"), str):
        choices = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        hint = difflib.get_close_matches(err["input"], choices, n=1, cutoff=0.6)
        if hint:
            return f"{msg} (got {err['input']!r}: did you mean {hint[0]}?)"
    return f"{msg} (got {err.get('input')!r})"


def _problems_from_validation(exc: ValidationError, lines: LineMap, file: str) -> list[ConfigProblem]:
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        out.append(ConfigProblem(file, lines.line_of(loc), format_loc(loc), _describe(err)))
    return out


def _without_bad_keys(data: dict[str, Any], exc: ValidationError, rounds: int = 4) -> Config | None:
    """The config with every offending key removed, if that validates; else None."""
    work = copy.deepcopy(data)
    for _ in range(rounds):
        for err in exc.errors():
            loc = tuple(err["loc"])
            if not loc or err["type"] == "missing" or isinstance(loc[-1], int):
                return None
            parent: Any = work
            for part in loc[:-1]:
                try:
                    parent = parent[part]
                except (KeyError, IndexError, TypeError):
                    return None
            if not isinstance(parent, dict) or loc[-1] not in parent:
                return None
            del parent[loc[-1]]
        try:
            return Config.model_validate(work)
        except ValidationError as again:
            exc = again
    return None


def parse_config(text: str, file: str = DEFAULT_PATH) -> Config:
    """Validate YAML text; raise ``ConfigError`` listing every problem."""
    try:
        data, lines, issues = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{context}, {problem}" if context else problem
        raise ConfigError(
            [
                ConfigProblem(
                    file,
                    line,
                    "",
                    f"malformed YAML: {detail}; check the indentation, colons and quotes there",
                )
            ]
        ) from None
    problems = [ConfigProblem(file, i.line, format_loc(i.loc), i.message) for i in issues]
    if not isinstance(data, dict):
        problems.append(
            ConfigProblem(file, 1, "", "the file must be a mapping with site:, categories: and cameras:")
        )
        raise ConfigError(problems)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems_from_validation(exc, lines, file))
        # Still report cross-reference problems: check what validates once the
        # offending keys are set aside.
        pruned = _without_bad_keys(data, exc)
        if pruned is not None:
            for loc, message in run_checks(pruned):
                problems.append(ConfigProblem(file, lines.line_of(loc), format_loc(loc), message))
        raise ConfigError(problems) from None
    for loc, message in run_checks(cfg):
        problems.append(ConfigProblem(file, lines.line_of(loc), format_loc(loc), message))
    if problems:
        raise ConfigError(problems)
    return cfg


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate the configuration file; raise ``ConfigError`` on any problem."""
    p = resolve_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                ConfigProblem(
                    str(p),
                    None,
                    "",
                    "file not found; pass --config PATH, set CITYWATCH_CONFIG, "
                    "or run from the directory that holds cameras.yaml",
                )
            ]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(str(p), None, "", f"cannot read the file: {exc}")]) from None
    return parse_config(text, str(p))
