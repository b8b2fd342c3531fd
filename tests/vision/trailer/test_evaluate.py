from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.trailer.evaluate import (
    evaluate,
    locate_body,
    read_manifest,
    write_confusion_png,
    write_csv,
)
from vision.types import BBox, BodyType, Detection, DetectionSet, ImageBGR, TrailerVerdict


class ColourClassifier:
    """Fake classifier: a bright crop is a curtainsider, a dark one a box."""

    def classify(self, crop: ImageBGR) -> TrailerVerdict:
        body = BodyType.CURTAINSIDER if crop.mean() > 127 else BodyType.BOX
        return TrailerVerdict(body, 0.9)


class FixedLocator:
    def __init__(self, box: BBox | None) -> None:
        self.box = box

    def detect(self, image: ImageBGR) -> DetectionSet:
        if self.box is None:
            return DetectionSet((), image.shape[1], image.shape[0])
        return DetectionSet(
            (Detection(self.box, 1, "body", 0.8), Detection(BBox(0, 0, 5, 5), 0, "vehicle", 0.9))
        )


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    bright = np.full((60, 80, 3), 230, np.uint8)
    dark = np.full((60, 80, 3), 20, np.uint8)
    cv2.imwrite(str(tmp_path / "soft.jpg"), bright)
    cv2.imwrite(str(tmp_path / "hard.jpg"), dark)
    cv2.imwrite(str(tmp_path / "wrong.jpg"), dark)  # labelled soft, predicted hard
    (tmp_path / "garbage.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "m.csv").write_text(
        "image_path,label,body_type,notes\n"
        "soft.jpg,soft,curtainsider,\n"
        "hard.jpg,hard,box,\n"
        "wrong.jpg,soft,tilt,\n"
        "garbage.jpg,hard,,\n"
        "empty.jpg,other,,\n"
        "missing.jpg,hard,,\n"
    )
    return tmp_path / "m.csv"


def test_scores_sides_and_counts_bad_rows(manifest: Path, tmp_path: Path) -> None:
    rows = read_manifest(manifest)
    results, s = evaluate(rows, None, ColourClassifier())
    assert s.n == 6 and s.n_errors == 3
    assert [r.error != "" for r in results] == [False, False, False, True, True, True]
    assert "not a readable image" in results[3].error and "empty file" in results[4].error
    assert "no such file" in results[5].error
    assert s.accuracy == pytest.approx(2 / 3)
    assert s.soft_recall == pytest.approx(0.5) and s.hard_recall == pytest.approx(1.0)
    assert s.body_type_accuracy == pytest.approx(2 / 3)
    assert s.confusion[0] == (1, 1, 0, 0) and s.confusion[1] == (0, 1, 0, 0)
    # macro F1 over the classes present (soft: p=1, r=.5; hard: p=.5, r=1)
    assert s.macro_f1 == pytest.approx(2 / 3)
    write_csv(results, tmp_path / "out" / "pred.csv")
    write_confusion_png(s, tmp_path / "out" / "confusion.png")
    assert (tmp_path / "out" / "pred.csv").read_text().count("\n") == 7
    png = cv2.imread(str(tmp_path / "out" / "confusion.png"))
    assert png is not None and png.shape[0] > 100


def test_locator_prefers_body_then_vehicle() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    box, how = locate_body(img, FixedLocator(BBox(10, 10, 50, 40)))
    assert how == "body" and box == BBox(10, 10, 50, 40)
    assert locate_body(img, FixedLocator(None)) == (None, "whole_image")
    assert locate_body(img, None) == (None, "whole_image")


def test_bad_manifest_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("image_path,label\nx.jpg,soft\ny.jpg,squishy\n")
    with pytest.raises(ValueError, match=r"bad\.csv:3: label must be"):
        read_manifest(bad)
    (tmp_path / "nohdr.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="header"):
        read_manifest(tmp_path / "nohdr.csv")
