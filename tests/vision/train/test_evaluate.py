"""Evaluating exported models: the matching rule, detectors on a YOLO set, the classifier on crops."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.trailer.classifier import TrailerClassifier
from vision.train.datasets import load_image
from vision.train.evaluate import comparison_table, evaluate_model, match_predictions, read_yolo_split

ROOT = Path(__file__).resolve().parents[3]
SCENES = ROOT / "fixtures" / "synth" / "scenes"
MODELS = ROOT / "models"


def scene_set(root: Path) -> Path:
    """The fixture scenes as a YOLO set (val split only), classes plate, vehicle, body."""
    for sub in ("images/val", "labels/val"):
        (root / sub).mkdir(parents=True)
    for img in sorted(SCENES.glob("*.jpg")):
        shutil.copy(img, root / "images" / "val" / img.name)
        shutil.copy(img.with_suffix(".txt"), root / "labels" / "val" / img.with_suffix(".txt").name)
    (root / "data.yaml").write_text(
        f"path: {root}\ntrain: images/val\nval: images/val\nnames:\n  0: plate\n  1: vehicle\n  2: body\n"
    )
    return root / "data.yaml"


def body_crops(root: Path, classes: set[str]) -> Path:
    """Folder-per-class crops of the fixture scenes' body boxes (class from the file name),
    for the body types in ``classes``."""
    for img_path in sorted(SCENES.glob("*.jpg")):
        match = re.match(r"^(.+?)_(front|rear|side|high_side)_\d+$", img_path.stem)
        assert match, img_path.name
        body_type = match.group(1)
        if body_type not in classes:
            continue
        img = load_image(img_path)
        h, w = img.shape[:2]
        for n, line in enumerate(img_path.with_suffix(".txt").read_text().splitlines()):
            c, cx, cy, bw, bh = (float(v) for v in line.split())
            if int(c) != 2:
                continue
            x1, y1 = int((cx - bw / 2) * w), int((cy - bh / 2) * h)
            x2, y2 = int((cx + bw / 2) * w), int((cy + bh / 2) * h)
            (root / body_type).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / body_type / f"{img_path.stem}_{n}.jpg"), img[y1:y2, x1:x2])
    return root


def test_matching_is_ultralytics_validator_rule() -> None:
    torch = pytest.importorskip("torch")
    from ultralytics.models.yolo.detect import DetectionValidator
    from ultralytics.utils.metrics import box_iou

    validator = DetectionValidator()
    validator.iouv = torch.linspace(0.5, 0.95, 10)
    rng = np.random.default_rng(1)
    for _ in range(100):
        tb = rng.uniform(0, 100, (5, 2))
        tb = np.concatenate([tb, tb + rng.uniform(5, 40, (5, 2))], axis=1)
        pb = tb[rng.integers(0, 5, 8)] + rng.normal(0, 4, (8, 4))
        tc, pc = rng.integers(0, 2, 5), rng.integers(0, 2, 8)
        ours = match_predictions(pb, pc, tb, tc)
        ref = validator.match_predictions(
            torch.tensor(pc), torch.tensor(tc), box_iou(torch.tensor(tb), torch.tensor(pb))
        )
        np.testing.assert_array_equal(ours, np.asarray(ref))


def test_matching_simple_cases() -> None:
    t = np.array([[0, 0, 10, 10]], np.float64)
    same = match_predictions(t.copy(), np.array([0]), t, np.array([0]))
    assert same.all()
    wrong_class = match_predictions(t.copy(), np.array([1]), t, np.array([0]))
    assert not wrong_class.any()
    part = match_predictions(np.array([[0, 0, 10, 6.1]]), np.array([0]), t, np.array([0]))
    assert part[0].tolist() == [True, True, True] + [False] * 7  # IoU 0.61
    twice = match_predictions(np.vstack([t, t]), np.array([0, 0]), t, np.array([0]))
    assert twice.sum(axis=0).tolist() == [1] * 10  # one true box matches one prediction


@pytest.mark.slow
def test_vehicle_detector_on_the_fixture_scenes(tmp_path: Path) -> None:
    data = scene_set(tmp_path / "set")
    report = evaluate_model(MODELS / "vehicle_detector.onnx", data, out_dir=tmp_path / "out")
    assert report.task == "detect" and report.n_images == len(list(SCENES.glob("*.jpg")))
    assert report.unknown_classes == ("plate",)  # the set's plate boxes are not this model's
    assert set(report.per_class) == {"vehicle", "body"}
    assert 0.3 < report.metrics["map50"] <= 1.0 and report.metrics["map50_95"] <= report.metrics["map50"]
    assert {Path(p).name for p in report.plots} >= {"PR_curve.png", "F1_curve.png"}
    table = comparison_table([("a", report), ("b", report)])
    assert "| map50 |" in table and "| vehicle ap50 |" in table


@pytest.mark.slow
def test_trailer_classifier_on_fixture_body_crops(tmp_path: Path) -> None:
    model = MODELS / "trailer_classifier.onnx"
    crops = body_crops(tmp_path / "crops", {c.value for c in TrailerClassifier(model, "cpu").classes})
    (crops / "unicycle").mkdir()
    cv2.imwrite(str(crops / "unicycle" / "u.jpg"), np.zeros((20, 20, 3), np.uint8))
    (crops / "box" / "broken.jpg").write_bytes(b"not a jpeg")
    report = evaluate_model(model, crops, out_dir=tmp_path / "out")
    n_crops = sum(1 for p in crops.rglob("*.jpg") if p.parent.name != "unicycle") - 1
    assert report.task == "classify" and report.n_images == n_crops
    assert report.unknown_classes == ("unicycle",) and len(report.unreadable) == 1
    assert sum(map(sum, report.confusion)) == n_crops
    assert report.metrics["accuracy"] > 0.5
    assert (tmp_path / "out" / "confusion_matrix.png").stat().st_size > 1000


def test_data_must_fit_the_task(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="folder-per-class"):
        evaluate_model(MODELS / "trailer_classifier.onnx", tmp_path / "data.yaml")
    with pytest.raises(ValueError, match=r"data\.yaml"):
        evaluate_model(MODELS / "plate_detector.onnx", tmp_path)


def test_an_empty_split_is_an_error_not_a_perfect_score(tmp_path: Path) -> None:
    for split in ("train", "val"):
        (tmp_path / "set" / split / "box").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "set" / "train" / "box" / "a.jpg"), np.zeros((20, 40, 3), np.uint8))
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate_model(MODELS / "trailer_classifier.onnx", tmp_path / "set")  # val is empty
    report = evaluate_model(MODELS / "trailer_classifier.onnx", tmp_path / "set", split="train")
    assert report.n_images == 1
    with pytest.raises(ValueError, match="no 'test' split"):
        evaluate_model(MODELS / "trailer_classifier.onnx", tmp_path / "set", split="test")


def test_a_relative_data_yaml_without_path_reads_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `dataset import` writes data.yaml without `path:`; given as a relative path it was read
    # from <folder>/<folder> (the folder joined twice)
    root = tmp_path / "sets" / "one"
    (root / "images" / "val").mkdir(parents=True)
    (root / "labels" / "val").mkdir(parents=True)
    cv2.imwrite(str(root / "images" / "val" / "a.jpg"), np.full((32, 48, 3), 128, np.uint8))
    (root / "labels" / "val" / "a.txt").write_text("0 0.5 0.5 0.25 0.25\n")
    (root / "data.yaml").write_text("val: images/val\nnames:\n  0: plate\n")
    monkeypatch.chdir(tmp_path)
    names, items, unreadable = read_yolo_split(Path("sets/one/data.yaml"))
    assert names == {0: "plate"} and len(items) == 1 and not unreadable
    assert items[0].boxes[0][0] == 0


def test_a_promotion_judges_a_detector_on_the_classes_its_role_uses() -> None:
    """A plate detector trained with vehicle and body classes as well is compared on its plates
    (its mean over all classes, zeros for the classes a plate-only model lacks, had decided)."""
    from vision.registry import ROLES
    from vision.train.evaluate import EvalReport, role_metric

    per_class = {"plate": {"ap50_95": 0.6}, "vehicle": {"ap50_95": 0.0}, "body": {"ap50_95": 0.0}}
    three = EvalReport(
        "m.onnx", "detect", "d", 10, {"map50_95": 0.2}, per_class, ("plate", "vehicle", "body")
    )
    assert role_metric(three, ROLES["plate_detector"]) == ("ap50_95 of plate", pytest.approx(0.6))
    vehicles = {"vehicle": {"ap50_95": 0.8}}
    lacks_body = EvalReport(
        "m.onnx", "detect", "d", 10, {}, vehicles, ("vehicle",), unknown_classes=("body",)
    )
    # the data has bodies, the model no class for them: 0 for body
    assert role_metric(lacks_body, ROLES["vehicle_detector"]) == (
        "ap50_95 of vehicle, body",
        pytest.approx(0.4),
    )
    no_bodies = EvalReport("m.onnx", "detect", "d", 10, {}, vehicles, ("vehicle", "body"))
    # the data has no bodies: judged on vehicles alone, as the model in use is
    assert role_metric(no_bodies, ROLES["vehicle_detector"]) == ("ap50_95 of vehicle", pytest.approx(0.8))
    classifier = EvalReport("c.onnx", "classify", "d", 10, {"accuracy": 0.9}, {})
    assert role_metric(classifier, ROLES["trailer_classifier"]) == ("accuracy", 0.9)


@pytest.mark.slow
def test_a_plate_reader_is_judged_in_the_lanes_reader_engine(tmp_path: Path) -> None:
    """A recogniser is judged as the lanes read with it (``crnn+rapidocr`` by default), not
    alone: one that cannot read (untrained) reads nothing alone and what RapidOCR reads for it
    in the engine pair. (Promotion had compared recognisers alone, where one that reads better
    alone can read worse beside its second opinion: reader21, ``docs/anpr-log.md``.)"""
    import torch

    from vision.train.recogniser import LineSet, build_model, export_onnx, reader_metadata

    torch.manual_seed(0)
    untrained = tmp_path / "untrained.onnx"
    export_onnx(build_model(), untrained, LineSet.of([]), reader_metadata())
    manifest = ROOT / "fixtures" / "synth" / "plates" / "manifest.csv"
    alone = evaluate_model(untrained, manifest, reader_engine="crnn")
    paired = evaluate_model(untrained, manifest, reader_engine="crnn+rapidocr", work_dir=tmp_path)
    assert alone.reader_engine == "crnn" and paired.reader_engine == "crnn+rapidocr"
    assert alone.metrics["exact_match"] < 0.1 < paired.metrics["exact_match"]
    with pytest.raises(ValueError, match="does not use crnn"):
        evaluate_model(untrained, manifest, reader_engine="rapidocr")
