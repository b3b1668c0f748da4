"""INT8 quantisation's pure parts, its calibration reading on real small clips, and its refusals;
no model is quantised here (tests/integration/test_openvino_int8.py does)."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.model import runtime_weights
from detectors.openvino_ir import SOURCE_FILE, source_id
from detectors.quantize import (
    LIVE_STRIDE,
    CalibrationSource,
    calibration_frames,
    calibration_record,
    head_scope,
    int8_dir,
    int8_model,
    shares,
    spread,
)
from streams.cli import main
from streams.config.models import ModelConfig
from streams.contract.errors import ModelError, SourceError

from ...conftest import SAMPLE_CONFIG
from .test_openvino_ir import fake_ir, tiny_onnx

# (case, frames in the clip, frames wanted, indices)
SPREAD = [
    ("evenly over a long clip", 100, 4, [12, 37, 62, 87]),
    ("one frame: the middle", 9, 1, [4]),
    ("a short clip: every frame", 3, 5, [0, 1, 2]),
    ("as many as there are", 4, 4, [0, 1, 2, 3]),
    ("unknown length: one in LIVE_STRIDE", None, 3, [0, LIVE_STRIDE, 2 * LIVE_STRIDE]),
    ("none wanted", 50, 0, []),
]


@pytest.mark.parametrize(("case", "total", "want", "indices"), SPREAD, ids=[c[0] for c in SPREAD])
def test_spread(case: str, total: int | None, want: int, indices: list[int]) -> None:
    assert spread(total, want) == indices


@pytest.mark.parametrize(("total", "want"), [(302, 75), (377, 150), (1000, 7), (151, 150)])
def test_spread_picks_distinct_frames_inside_the_clip(total: int, want: int) -> None:
    picks = spread(total, want)
    assert len(set(picks)) == len(picks) == want
    assert picks == sorted(picks) and picks[0] >= 0 and picks[-1] < total


@pytest.mark.parametrize(
    ("frames", "sources", "expected"), [(150, 2, [75, 75]), (10, 3, [4, 3, 3]), (1, 3, [1, 0, 0])]
)
def test_shares(frames: int, sources: int, expected: list[int]) -> None:
    assert shares(frames, sources) == expected


YOLO11_HEAD = [  # op names of the packaged model's OpenVINO IR
    "/model.22/cv2/conv/Conv/WithoutBiases",
    "/model.23/cv2.0/cv2.0.2/Conv/WithoutBiases",
    "/model.23/cv3.0/cv3.0.0/cv3.0.0.0/conv/Conv/WithoutBiases",
    "/model.23/Concat_6",
    "/model.23/dfl/Softmax",
    "/model.23/dfl/conv/Conv",
    "/model.23/Sub",
    "/model.23/Mul_5",
    "/model.23/Sigmoid",
    "output0",
]


def test_head_scope_keeps_the_decoding_in_float_and_quantises_the_convolutions() -> None:
    patterns = head_scope(YOLO11_HEAD)
    ignored = {name for name in YOLO11_HEAD if any(re.match(p, name) for p in patterns)}
    assert ignored == {
        "/model.23/Concat_6",
        "/model.23/dfl/Softmax",
        "/model.23/dfl/conv/Conv",
        "/model.23/Sub",
        "/model.23/Mul_5",
        "/model.23/Sigmoid",
        "output0",
    }


def test_head_scope_of_a_model_without_a_dfl_head_is_empty() -> None:
    assert head_scope(["/backbone/conv1", "/head/Sigmoid"]) == []


# -- calibration frames of real clips and pictures -----------------------------------------


def numbered_clip(path: Path, n: int) -> Path:
    """A clip whose frame i is grey level 10 * i, so the frames read tell their index."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.full((48, 64, 3), 10 * i, np.uint8))
    writer.release()
    return path


def index_of(image: np.ndarray) -> int:
    return round(float(image.mean()) / 10)


def test_calibration_frames_are_spread_over_each_source(tmp_path: Path) -> None:
    clip = numbered_clip(tmp_path / "clip.avi", 20)
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), np.full((48, 64, 3), 200, np.uint8))
    got = calibration_frames(
        [CalibrationSource(str(clip), "--source"), CalibrationSource(str(still), "--source")], 8
    )
    [(first, frames), (second, pictures)] = got
    assert first.spec == str(clip) and [index_of(f) for f in frames] == spread(20, 4) == [2, 7, 12, 17]
    assert second.spec == str(still) and len(pictures) == 1  # a still is one picture however many asked
    assert pictures[0].shape == (48, 64, 3)


def test_a_missing_source_is_named_with_its_fix(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere.mp4")
    with pytest.raises(
        SourceError, match=r"calibration source .*nowhere\.mp4.*\(--source\) cannot be read.*fix --source"
    ):
        calibration_frames([CalibrationSource(missing, "--source")], 4)
    with pytest.raises(
        SourceError, match=r"fix the source: of camera cam-01 in the configuration, or give --source FILE"
    ):
        calibration_frames([CalibrationSource(missing, "camera cam-01")], 4)


def test_a_file_without_frames_is_refused(tmp_path: Path) -> None:
    empty = numbered_clip(tmp_path / "empty.avi", 0)
    with pytest.raises(SourceError, match=r"empty\.avi"):
        calibration_frames([CalibrationSource(str(empty), "--source")], 4)


def test_no_source_or_no_frames_asked_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"no enabled camera; give --source FILE"):
        calibration_frames([], 100)
    clip = numbered_clip(tmp_path / "clip.avi", 3)
    with pytest.raises(SourceError, match=r"--frames 0: calibrate on at least 1 frame"):
        calibration_frames([CalibrationSource(str(clip), "--source")], 0)


# -- the cached INT8 model and its record --------------------------------------------------


def int8_config(onnx: Path, cache: Path) -> ModelConfig:
    return ModelConfig(name=str(onnx), backend="openvino", precision="int8", cache_dir=str(cache))


def test_int8_without_a_quantised_model_says_to_run_quantize(tmp_path: Path) -> None:
    onnx = tiny_onnx(tmp_path / "m.onnx")
    cfg = int8_config(onnx, tmp_path / "models")
    with pytest.raises(
        ModelError, match=r"m_int8_openvino_model is missing; make it with `citywatch model quantize`"
    ):
        runtime_weights(cfg)
    target = int8_dir(onnx, tmp_path / "models")
    fake_ir(target, onnx)
    assert runtime_weights(cfg) == int8_model(cfg) == target
    (target / SOURCE_FILE).write_text(f"{onnx.resolve()}\nsha256:{'0' * 64}\n", encoding="utf-8")
    with pytest.raises(
        ModelError, match=r"is made from other weights; make it with `citywatch model quantize`"
    ):
        runtime_weights(cfg)


def test_int8_of_an_openvino_directory_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "best_openvino_model"
    directory.mkdir()
    (directory / "best.xml").write_text("<net/>", encoding="utf-8")
    cfg = ModelConfig.model_construct(
        name=str(directory), backend="openvino", precision="int8", cache_dir=str(tmp_path)
    )
    with pytest.raises(ModelError, match=r"starts from ONNX weights.*or keep model.precision at fp32"):
        runtime_weights(cfg)


def test_calibration_record_says_what_it_was_made_from(tmp_path: Path) -> None:
    onnx = tiny_onnx(tmp_path / "m.onnx")
    sources = [
        (CalibrationSource("clips/a.mp4", "--source"), 75),
        (CalibrationSource("rtsp://admin:secret@nvr/101", "camera cam-01"), 75),
    ]
    at = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    record = calibration_record(onnx, sources, 640, {"nncf": "3.4.0", "openvino": "2026.4"}, at)
    assert record["onnx_sha256"] == source_id(onnx).rsplit("sha256:", 1)[1].strip()
    assert record["frames"] == 150
    assert record["sources"][0] == {"source": "clips/a.mp4", "from": "--source", "frames": 75}
    assert "secret" not in str(record)  # a stream's password never lands in the cache
    assert record["nncf"] == "3.4.0" and record["made_at"] == "2026-12-01T06:00:00+00:00"


# -- the command's refusals, before any model work -----------------------------------------


def test_quantize_command_refuses_an_unreadable_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.mp4"
    code = main(["model", "quantize", "--config", str(SAMPLE_CONFIG), "--source", str(missing)])
    err = capsys.readouterr().err
    assert code == 1
    assert "nowhere.mp4" in err and "cannot be read" in err and "fix --source" in err


def test_quantize_command_without_nncf_says_to_install_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nncf", None)  # import nncf raises ImportError
    code = main(["model", "quantize", "--config", str(SAMPLE_CONFIG), "--source", "any.mp4"])
    assert code == 1
    assert "needs the nncf package: `pip install nncf`" in capsys.readouterr().err
