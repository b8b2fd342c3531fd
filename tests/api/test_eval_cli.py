from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from api.cli import build_parser, main
from api.settings import get_settings

DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "plates-dev"


@pytest.fixture(autouse=True)
def _settings(tmp_path: Path, reader_only_models: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HGV_LANE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HGV_LANE_MODELS__DIR", str(reader_only_models))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _plate(text: str) -> np.ndarray:
    img = np.full((100, 380, 3), 255, np.uint8)
    cv2.putText(img, text, (20, 75), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (0, 0, 0), 6, cv2.LINE_AA)
    return img


def test_eval_is_a_group_with_plates() -> None:
    parser = build_parser()
    for argv in (["eval", "--help"], ["eval", "plates", "--help"]):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(argv)
        assert exc.value.code == 0
    with pytest.raises(SystemExit):
        parser.parse_args(["eval"])


def test_bad_manifest_and_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "plates", str(tmp_path / "nope.csv")]) == 2
    m = tmp_path / "m.csv"
    m.write_text("image_path,plate_text\n")
    assert main(["eval", "plates", str(m), "--engine", "tesseract"]) == 2
    assert "unknown engine" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_plates_json_out_and_bad_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cv2.imwrite(str(tmp_path / "good.png"), _plate("AB12 CDE"))
    scene = np.full((300, 600, 3), 90, np.uint8)
    scene[100:200, 100:480] = _plate("XY34 ZZZ")
    cv2.imwrite(str(tmp_path / "scene.png"), scene)
    cv2.imwrite(str(tmp_path / "tiny.png"), np.zeros((1, 1, 3), np.uint8))
    (tmp_path / "text.jpg").write_text("hello")
    m = tmp_path / "m.csv"
    m.write_text(
        "image_path,plate_text,country,bbox_x,bbox_y,bbox_w,bbox_h,notes\n"
        "good.png,AB12CDE,UK,,,,,\n"
        "scene.png,XY34ZZZ,UK,100,100,380,100,\n"
        "tiny.png,A1,UK,,,,,\n"
        "text.jpg,A1,UK,,,,,\n"
    )
    out = tmp_path / "out"
    code = main(["eval", "plates", str(m), "--json", "--out", str(out), "--engine", "rapidocr"])
    captured = capsys.readouterr()
    assert code == 0
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert {"n", "detection_recall", "exact_match", "char_accuracy", "ms_per_image_p50"} <= set(summary)
    assert summary["n"] == 4 and summary["n_errors"] == 2
    assert summary["detection_recall"] is None
    assert summary["exact_match"] == pytest.approx(0.5)
    assert "TRUE plate box" in captured.err and "detection_recall is null" in captured.err
    assert "3 crop(s) are read whole only" in captured.err  # and not looked for a plate in
    assert "too small" in captured.err
    assert (out / "plates.csv").read_text().count("\n") == 5
    assert (out / "plates_misses.png").is_file() is False  # no readable misses to show


@pytest.mark.skipif(not DEV.is_dir(), reason="shared dev data not present")
@pytest.mark.slow
def test_eval_on_a_few_dev_crops(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "plates", str(DEV / "crops.csv"), "--limit", "10", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["n"] == 10 and summary["exact_match"] >= 0.5


@pytest.mark.slow
def test_skip_tag_leaves_out_tagged_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # rows whose notes carry a skipped tag are not read; the rest are, and the JSON says how many went
    cv2.imwrite(str(tmp_path / "good.png"), _plate("AB12 CDE"))
    (tmp_path / "text.jpg").write_text("not an image")
    m = tmp_path / "m.csv"
    m.write_text(
        "image_path,plate_text,country,bbox_x,bbox_y,bbox_w,bbox_h,notes\n"
        "good.png,AB12CDE,UK,,,,,day;front;h40px\n"
        "text.jpg,A1,UK,,,,,day;defocus;illegible\n"
        "text.jpg,A2,UK,,,,,dusk;char_hidden\n"
    )
    argv = ["eval", "plates", str(m), "--json", "--engine", "rapidocr"]
    assert main([*argv, "--skip-tag", "illegible", "--skip-tag", "char_hidden"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["n"] == 1 and summary["n_skipped"] == 2 and summary["n_errors"] == 0
    assert "skipped 2 row(s) tagged char_hidden, illegible" in captured.err
    assert main([*argv, "--skip-tag", "illegible,defocus"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["n"] == 2 and summary["n_skipped"] == 1 and summary["n_errors"] == 1
    assert main([*argv, "--skip-tag", "day,dusk"]) == 2
    assert "every row is tagged" in capsys.readouterr().err
    # --by-tag: exact match per tag group, printed and in the JSON
    assert main([*argv, "--skip-tag", "illegible", "--by-tag"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out.strip().splitlines()[-1])
    assert set(summary["by_tag"]) == {"day", "front", "h30-49px", "dusk", "char_hidden", "country:UK"}
    assert summary["by_tag"]["day"]["n"] == 1 and "h30-49px" in out


def test_eval_plates_finds_plates_with_the_promoted_detector(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model team promotes its plate detector, then measures: the run must use the version the
    lanes use, not the file in models/ (it had measured the shipped file whatever was promoted;
    here models/ has no detector at all)."""
    registry = get_settings().model_registry()
    shipped = Path(__file__).resolve().parents[2] / "models" / "plate_detector.onnx"
    registry.promote("plate_detector", registry.add("plate_detector", shipped).version)
    scene = np.full((300, 600, 3), 90, np.uint8)
    scene[100:200, 100:480] = _plate("XY34 ZZZ")
    cv2.imwrite(str(tmp_path / "scene.png"), scene)
    m = tmp_path / "m.csv"
    m.write_text(
        "image_path,plate_text,country,bbox_x,bbox_y,bbox_w,bbox_h,notes\nscene.png,XY34ZZZ,UK,100,100,380,100,\n"
    )
    assert main(["eval", "plates", str(m), "--json", "--engine", "rapidocr"]) == 0
    err = capsys.readouterr().err
    assert "scenes: plates found by plate_detector v1 (model.onnx)" in err and "TRUE plate box" not in err


def test_eval_trailers_uses_the_promoted_classifier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = get_settings().model_registry()
    shipped = Path(__file__).resolve().parents[2] / "models" / "trailer_classifier.onnx"
    registry.promote("trailer_classifier", registry.add("trailer_classifier", shipped).version)
    img = np.full((224, 224, 3), 200, np.uint8)
    cv2.imwrite(str(tmp_path / "side.jpg"), img)
    m = tmp_path / "m.csv"
    m.write_text("image_path,label\nside.jpg,hard\n")
    assert main(["eval", "trailers", str(m), "--no-detector", "--json"]) == 0
    said = capsys.readouterr()
    assert "trailer_classifier v1 (" in said.err and json.loads(said.out.strip().splitlines()[-1])["n"] == 1
