"""The committed JSON Schemas (docs/schemas) are those the record models generate today."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from streams.cli import main
from streams.contract import internal_records, records, schemas

from ...conftest import REPO

COMMITTED = REPO / "docs" / "schemas"


def test_every_topic_has_a_model_or_says_it_has_none() -> None:
    assert schemas.unmapped_topics() == [], "add the topic to TOPIC_MODELS in streams/contract/schemas.py"


def test_the_committed_schemas_are_current(tmp_path: Path) -> None:
    assert main(["schemas", "--out", str(tmp_path)]) == 0
    fresh = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.glob("*.json")}
    committed = {p.name: p.read_text(encoding="utf-8") for p in COMMITTED.glob("*.json")}
    run = f"docs/schemas is out of date: run `{schemas.REGENERATE}` in the repository root and commit it"
    assert sorted(committed) == sorted(fresh), run
    assert [name for name in fresh if committed[name] != fresh[name]] == [], run
    assert schemas.stale(COMMITTED) == [], run


def test_check_names_the_stale_file_and_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schemas", "--out", str(tmp_path)]) == 0
    assert main(["schemas", "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "alerts.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "gone.json").write_text("{}\n", encoding="utf-8")
    assert main(["schemas", "--out", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "alerts.json: out of date; run `citywatch schemas`" in err and "gone.json" in err
    assert main(["schemas", "--out", str(tmp_path)]) == 0
    assert schemas.stale(tmp_path) == [] and not (tmp_path / "gone.json").exists()


@pytest.mark.parametrize("topic", [t for t, m in schemas.TOPIC_MODELS.items() if m is not None])
def test_each_schema_names_its_topic_and_requires_the_models_fields(topic: str) -> None:
    model = schemas.TOPIC_MODELS[topic]
    assert model is not None
    schema = json.loads((COMMITTED / f"{topic}.json").read_text(encoding="utf-8"))
    assert topic in schema["$comment"]
    if isinstance(model, type) and issubclass(model, BaseModel):
        members = {model.__name__: schema}
        assert schema["title"] == model.__name__
    else:  # a discriminated union of the internal topic's records: one schema per member in $defs
        variants = [ref["$ref"].rsplit("/", 1)[-1] for ref in schema["oneOf"]]
        members = {name: schema["$defs"][name] for name in variants}
        assert len(members) >= 2, schema
    for name, member in members.items():
        cls = getattr(records, name, None) or getattr(internal_records, name)
        required = {n for n, field in cls.model_fields.items() if field.is_required()}
        assert set(member.get("required", [])) == required, name
