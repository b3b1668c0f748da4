"""The OpenVINO backend's pure parts and its refusals, without converting a model."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from detectors import openvino_ir
from detectors.model import runtime_weights
from detectors.openvino_ir import SOURCE_FILE, ir_dir, ir_metadata, is_fresh, openvino_model, source_id
from streams.config.models import ModelConfig
from streams.contract.errors import ModelError


def test_metadata_of_the_onnx_as_yaml_values() -> None:
    meta = {
        "stride": "32",
        "task": "detect",
        "batch": "1",
        "imgsz": "[640, 640]",
        "names": "{0: 'person', 1: 'bicycle'}",
        "date": "2026-01-10T01:53:40.554125",
        "version": "8.3.250",
    }
    assert ir_metadata(meta) == {
        "stride": 32,
        "task": "detect",
        "batch": 1,
        "imgsz": [640, 640],
        "names": {0: "person", 1: "bicycle"},
        "date": "2026-01-10T01:53:40.554125",
        "version": "8.3.250",
    }


def test_cache_directory_is_named_for_ultralytics_openvino_loader(tmp_path: Path) -> None:
    assert ir_dir(Path("w/best.onnx"), tmp_path) == tmp_path / "best_openvino_model"


def fake_ir(directory: Path, onnx: Path, marker: str = "x", source: Path | None = None) -> None:
    """The files of a converted model of ``onnx`` (or, said made from, of ``source``)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{onnx.stem}.xml").write_text(marker, encoding="utf-8")
    (directory / f"{onnx.stem}.bin").write_text(marker, encoding="utf-8")
    (directory / "metadata.yaml").write_text("task: detect\n", encoding="utf-8")
    (directory / SOURCE_FILE).write_text(source_id(source or onnx), encoding="utf-8")


def test_cache_is_fresh_only_complete_and_of_the_same_onnx_as_it_is_now(tmp_path: Path) -> None:
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"onnx")
    fresh = tmp_path / "fresh"
    fake_ir(fresh, onnx)
    assert is_fresh(fresh, onnx)
    os.utime(onnx, ns=(1, 1))  # its times alone do not matter
    assert is_fresh(fresh, onnx)

    onnx.write_bytes(b"onnx, retrained")  # the ONNX changed since
    os.utime(onnx, ns=(1, 1))  # even with old times (a `cp -p`)
    assert not is_fresh(fresh, onnx)
    onnx.write_bytes(b"onnx")
    assert is_fresh(fresh, onnx)

    elsewhere = tmp_path / "elsewhere" / "m.onnx"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"onnx")
    other = tmp_path / "other"
    fake_ir(other, onnx, source=elsewhere)  # same name and bytes, another file
    assert not is_fresh(other, onnx)

    half = tmp_path / "half"
    fake_ir(half, onnx)
    (half / "m.bin").unlink()
    assert not is_fresh(half, onnx)


def test_pt_weights_on_openvino_say_to_export_onnx(tmp_path: Path) -> None:
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"pt")
    cfg = ModelConfig.model_construct(name=str(weights), backend="openvino", cache_dir=str(tmp_path))
    with pytest.raises(ModelError, match=r"format=onnx.*or set model.backend to onnxruntime"):
        runtime_weights(cfg)


def test_openvino_missing_says_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"onnx")
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    with pytest.raises(ModelError, match=r"pip install openvino"):
        runtime_weights(ModelConfig(name=str(onnx), backend="openvino", cache_dir=str(tmp_path)))
    assert not (tmp_path / "m_openvino_model").exists()


def test_onnxruntime_backend_runs_the_weights_as_they_are(tmp_path: Path) -> None:
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"onnx")
    assert runtime_weights(ModelConfig(name=str(onnx))) == onnx


def test_an_openvino_directory_is_loaded_as_it_is(tmp_path: Path) -> None:
    model = tmp_path / "best_openvino_model"
    model.mkdir()
    (model / "best.xml").write_text("<net/>", encoding="utf-8")
    assert runtime_weights(ModelConfig(name=str(model), backend="openvino")) == model
    assert runtime_weights(ModelConfig(name=str(model))) == model


# -- conversion put in place: a fake converter, so no OpenVINO run ---------------------------


def tiny_onnx(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph)
    helper.set_model_props(model, {"task": "detect", "names": "{0: 'box'}"})
    onnx.save(model, str(path))
    return path


def fake_convert(marker: str) -> Callable[[Path, Path, dict[str, str]], None]:
    def convert(onnx_path: Path, work: Path, meta: dict[str, str]) -> None:
        fake_ir(work, onnx_path, marker)

    return convert


def test_conversion_replaces_a_stale_cache_and_leaves_no_temporaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    onnx = tiny_onnx(tmp_path / "m.onnx")
    cache = tmp_path / "models"
    stale = ir_dir(onnx, cache)
    fake_ir(stale, onnx, "old")
    (stale / SOURCE_FILE).write_text(
        f"{onnx.resolve()}\nsha256:{'0' * 64}\n", encoding="utf-8"
    )  # of older bytes
    monkeypatch.setattr(openvino_ir, "_convert", fake_convert("new"))
    assert openvino_model(onnx, cache) == stale
    assert (stale / "m.xml").read_text(encoding="utf-8") == "new"
    assert [p.name for p in cache.iterdir()] == [stale.name]


def test_a_conversion_finished_first_by_another_process_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    onnx = tiny_onnx(tmp_path / "m.onnx")
    cache = tmp_path / "models"
    target = ir_dir(onnx, cache)

    def convert_while_another_finishes(onnx_path: Path, work: Path, meta: dict[str, str]) -> None:
        fake_ir(target, onnx_path, "theirs")  # the other process renamed its result in meanwhile
        fake_ir(work, onnx_path, "ours")

    monkeypatch.setattr(openvino_ir, "_convert", convert_while_another_finishes)
    assert openvino_model(onnx, cache) == target
    assert (target / "m.xml").read_text(encoding="utf-8") == "theirs"
    assert [p.name for p in cache.iterdir()] == [target.name]


def test_onnx_without_class_names_is_refused(tmp_path: Path) -> None:
    import onnx

    path = tiny_onnx(tmp_path / "m.onnx")
    model = onnx.load(str(path))
    del model.metadata_props[:]
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match=r"no 'names' in its metadata.*yolo export format=onnx"):
        openvino_model(path, tmp_path / "models")
    assert not (tmp_path / "models").exists()
