from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.anpr.evaluate import (
    ImageResult,
    ManifestRow,
    by_tag,
    char_accuracy,
    char_errors,
    contact_sheet,
    evaluate,
    exact_match,
    group_tag,
    load_manifest,
    miss_label,
    write_csv,
)
from vision.anpr.imageio import to_bgr8
from vision.types import BBox, Detection, DetectionSet, ImageBGR, PlateCandidate, PlateRead


def test_masked_characters_score_as_any_or_none() -> None:
    assert exact_match("AB?12", "ABX12")
    assert exact_match("AB?12", "AB12")
    assert not exact_match("AB?12", "ABXY12")
    assert not exact_match("AB?12", "AC012")
    assert exact_match("AB12", "AB12") and not exact_match("AB12", "AB13")
    assert char_errors("AB?12", "AB12") == 0
    assert char_errors("AB?12", "ABZ12") == 0
    assert char_errors("AB12", "AB1") == 1
    assert char_accuracy("AB?12", "AB?13") == pytest.approx(0.75)
    assert char_accuracy("ABCD", "") == 0.0


class FakeReader:
    """Reads the text it was told for each crop width (tests the evaluation, not OCR)."""

    name = "fake"

    def __init__(self, by_width: dict[int, str]) -> None:
        self.by_width = by_width

    def read(self, crop_bgr: ImageBGR) -> PlateRead:
        crop = to_bgr8(crop_bgr)
        text = self.by_width.get(crop.shape[1], "")
        cands = (PlateCandidate(text, 0.9),) if text else ()
        return PlateRead(BBox(0, 0, crop.shape[1], crop.shape[0]), cands, "fake")


def test_evaluate_counts_bad_inputs_and_reads_true_boxes(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.full((20, 40), 255, np.uint8))  # greyscale crop
    cv2.imwrite(str(tmp_path / "b.png"), np.full((20, 41, 3), 255, np.uint8))
    cv2.imwrite(str(tmp_path / "scene.png"), np.full((100, 200, 3), 128, np.uint8))
    cv2.imwrite(str(tmp_path / "tiny.png"), np.zeros((1, 1, 3), np.uint8))
    (tmp_path / "junk.jpg").write_text("not an image")
    (tmp_path / "empty.jpg").write_bytes(b"")
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "image_path,plate_text,country,bbox_x,bbox_y,bbox_w,bbox_h,notes\n"
        "a.png,AB12CDE,UK,,,,,\n"
        "b.png,AB?2CDE,UK,,,,,\n"
        "scene.png,XY34ZZZ,UK,10,20,50,12,\n"
        "tiny.png,A1,UK,,,,,\n"
        "junk.jpg,A1,UK,,,,,\n"
        "empty.jpg,A1,UK,,,,,\n"
        "missing.jpg,A1,UK,,,,,\n"
    )
    rows = load_manifest(manifest)
    assert rows[2].box == BBox(10, 20, 60, 32) and rows[0].box is None
    reader = FakeReader({40: "AB12CDE", 41: "ABQ2CDE", 50: "XY34ZZ"})
    results, s = evaluate(rows, reader)
    assert s.n == 7 and s.n_errors == 4 and s.n_scenes == 1 and s.n_crops == 6
    assert [r.exact for r in results[:3]] == [True, True, False]
    assert s.exact_match == pytest.approx(2 / 7)
    assert s.detection_recall is None
    assert results[3].error is not None and "too small" in results[3].error
    write_csv(results, tmp_path / "out" / "plates.csv")
    lines = (tmp_path / "out" / "plates.csv").read_text().splitlines()
    assert len(lines) == 8 and lines[0].startswith("image_path,truth,prediction")
    sheet = contact_sheet(results)
    assert sheet is not None and sheet.ndim == 3


def test_a_boxed_plate_with_no_text_counts_for_detection_only(tmp_path: Path) -> None:
    """``dataset import`` keeps a plate boxed for the detector whose text is unknown: such a
    scene row is found or not by the detector, and left out of the reading figures."""
    for name in ("s1.png", "s2.png"):
        cv2.imwrite(str(tmp_path / name), np.full((100, 200, 3), 128, np.uint8))
    m = tmp_path / "m.csv"
    m.write_text(
        "image_path,plate_text,country,bbox_x,bbox_y,bbox_w,bbox_h,notes\n"
        "s1.png,XY34ZZZ,UK,10,20,50,12,\ns2.png,,UK,10,20,50,12,night\n"
    )
    rows = load_manifest(m)
    assert [r.plate_text for r in rows] == ["XY34ZZZ", ""]
    reader = FakeReader({w: "XY34ZZZ" for w in range(50, 70)})  # the box read with its margins
    results, s = evaluate(rows, reader, detector=BoxDetector([BBox(10, 20, 60, 32)]))
    assert (s.n, s.n_scenes, s.n_read_scored, s.detection_recall) == (2, 2, 1, 1.0)
    assert s.exact_match == 1.0 and s.char_accuracy == 1.0
    assert "night" not in by_tag(results) and s.as_json()["n_read_scored"] == 1


def test_bad_manifest(tmp_path: Path) -> None:
    m = tmp_path / "m.csv"
    m.write_text("image,text\na.png,AB\n")
    with pytest.raises(ValueError, match="missing column"):
        load_manifest(m)
    m.write_text("image_path,plate_text\na.png,ab-12\n")
    with pytest.raises(ValueError, match="plate_text"):
        load_manifest(m)
    m.write_text("image_path,plate_text\na.png,AB12CDE\nb.png, \n")  # a crop with no truth
    with pytest.raises(ValueError, match=r"m\.csv:3: a crop with an empty plate_text"):
        load_manifest(m)
    m.write_text("image_path,plate_text,country\n")
    with pytest.raises(ValueError, match="no rows"):
        load_manifest(m)


class BoxDetector:
    """A fake plate detector returning fixed boxes."""

    name = "fake-detector"

    def __init__(self, boxes: list[BBox]) -> None:
        self.boxes = boxes

    def detect(self, image: ImageBGR) -> DetectionSet:
        dets = tuple(Detection(b, 0, "plate", 0.9) for b in self.boxes)
        return DetectionSet(dets, image.shape[1], image.shape[0])


def test_detection_recall_with_a_detector(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "s.png"), np.full((100, 200, 3), 128, np.uint8))
    m = tmp_path / "m.csv"
    m.write_text(
        "image_path,plate_text,bbox_x,bbox_y,bbox_w,bbox_h\ns.png,AB12,10,20,50,12\ns.png,AB12,100,60,40,20\n"
    )
    rows = load_manifest(m)
    # the detected box (52 px wide) is read grown by 6 % of its width at each end: 5..65 px; the
    # read, fitting no grammar, is not sure: the box grown by 12 % (66 px) is read too, as the
    # lane reads plates (read_box), and the two reads' confidences are averaged
    reader = FakeReader({50: "AB12", 60: "AB12", 66: "AB12"})
    results, s = evaluate(rows, reader, BoxDetector([BBox(9, 20, 61, 32)]))
    assert s.detection_recall == pytest.approx(0.5)
    assert [r.detected for r in results] == [True, False]
    assert results[0].exact and results[0].confidence == pytest.approx(0.9)
    one_read, _ = evaluate(rows, FakeReader({60: "AB12"}), BoxDetector([BBox(9, 20, 61, 32)]))
    assert one_read[0].exact and one_read[0].confidence == pytest.approx(0.45)  # the wider read saw none
    raw, _ = evaluate(rows, FakeReader({60: "AB12"}), BoxDetector([BBox(9, 20, 61, 32)]), wider_x=0.0)
    assert raw[0].confidence == pytest.approx(0.9)  # one read (the raw baseline's way)
    # a plate not found: the contact sheet shows the true plate (40x20 px, 50x12 px), whether
    # the detector gave a wrong box (read: 30 px wide, no text) or none at all
    wrong, _ = evaluate(rows, reader, BoxDetector([BBox(150, 0, 180, 10)]))
    assert [r.crop.shape[:2] if r.crop is not None else None for r in wrong] == [(12, 50), (20, 40)]
    nothing, none = evaluate(rows, reader, BoxDetector([]))
    assert none.detection_recall == 0.0
    assert [r.crop.shape[:2] if r.crop is not None else None for r in nothing] == [(12, 50), (20, 40)]
    assert contact_sheet(nothing) is not None
    assert [miss_label(r) for r in nothing] == ["P - 0.00 not found"] * 2
    assert miss_label(wrong[0]) == "P - 0.00 not found" and miss_label(results[0]) == "P AB12 0.90"


def test_exact_match_by_tag_group() -> None:
    """Tags group as they are, plate heights by range, free-text notes not at all; each group's
    exact match and char accuracy are over its rows, the largest group first."""
    assert [group_tag(t) for t in ("night_ir", "h12px", "h20px", "h37px", "h50px", "h200px")] == [
        "night_ir",
        "h<20px",
        "h20-29px",
        "h30-49px",
        "h50px+",
        "h50px+",
    ]
    assert group_tag("subset seg_and_ocr") is None and group_tag("x" * 25) is None

    def result(notes: str, truth: str, read: str) -> ImageResult:
        row = ManifestRow(Path("x.jpg"), truth, notes=notes)
        return ImageResult(row, PlateRead(BBox(0, 0, 10, 5), (PlateCandidate(read, 0.9),), "fake"), 1.0)

    groups = by_tag(
        [
            result("night_ir;rear;h25px", "AB12CDE", "AB12CDE"),
            result("night_ir;rear;h22px", "AB12CDE", "AB12CDF"),
            result("day;front;h60px", "AB12CDE", "AB12CDE"),
            result("a free-text note", "AB12CDE", "AB12CDE"),
        ]
    )
    assert list(groups)[:3] == ["h20-29px", "night_ir", "rear"]
    assert groups["night_ir"] == {"n": 2, "exact_match": 0.5, "char_accuracy": round((1 + 6 / 7) / 2, 4)}
    assert groups["day"]["n"] == 1 and groups["day"]["exact_match"] == 1.0
    assert sum(g["n"] for g in groups.values()) == 3 * 3
    # and by the manifest's country, ISO codes as vehicle codes
    by_country = by_tag(
        [
            ImageResult(
                ManifestRow(Path("x.jpg"), "AB12CDE", country=c),
                PlateRead(BBox(0, 0, 10, 5), (PlateCandidate(t, 0.9),), "f"),
                1.0,
            )
            for c, t in (("DE", "MAB12"), ("D", "MAB13"), ("PL", "WX12345"), ("", "AB12CDE"))
        ]
    )
    assert by_country["country:D"]["n"] == 2 and by_country["country:PL"]["n"] == 1
    assert not any(g.startswith("country:") and g != "country:D" and g != "country:PL" for g in by_country)


def test_photos_are_scored_as_shown(tmp_path: Path) -> None:
    # a scene and a crop stored on their side, tagged "turn 90 clockwise to show" (a phone held
    # upright): the box in the manifest is on the photo as shown, and so is what is read
    from PIL import Image

    def sideways(name: str, shown_hw: tuple[int, int]) -> None:
        stored = np.full((shown_hw[1], shown_hw[0], 3), 128, np.uint8)
        im = Image.fromarray(stored)
        exif = im.getexif()
        exif[0x0112] = 6
        im.save(tmp_path / name, exif=exif.tobytes())

    sideways("scene.jpg", (100, 200))
    sideways("crop.jpg", (20, 40))
    m = tmp_path / "m.csv"
    m.write_text(
        "image_path,plate_text,bbox_x,bbox_y,bbox_w,bbox_h\nscene.jpg,AB12,140,60,50,12\ncrop.jpg,CD34,,,,\n"
    )
    seen: list[tuple[int, ...]] = []

    class Recording(BoxDetector):
        def detect(self, image: ImageBGR) -> DetectionSet:
            seen.append(image.shape)
            return super().detect(image)

    reader = FakeReader({56: "AB12", 40: "CD34"})  # the box grown 6 % each end; the crop as shown
    results, s = evaluate(load_manifest(m), reader, Recording([BBox(143, 60, 193, 72)]))
    assert seen == [(100, 200, 3)]
    assert s.detection_recall == 1.0 and [r.exact for r in results] == [True, True]


def test_country_match_counts_exact_reads_of_countries_with_grammars(tmp_path: Path) -> None:
    class Countries:
        """Reads each crop's width as a text and a country."""

        name = "countries"

        def read(self, crop_bgr: ImageBGR) -> PlateRead:
            text, country = {40: ("AB12CDE", "UK"), 41: ("CJ12ABC", "UK"), 42: ("WX12345", "PL")}.get(
                crop_bgr.shape[1], ("", None)
            )
            cands = (PlateCandidate(text, 0.9, country=country),) if text else ()
            return PlateRead(BBox(0, 0, crop_bgr.shape[1], crop_bgr.shape[0]), cands, "countries")

    for w in (40, 41, 42, 43):
        cv2.imwrite(str(tmp_path / f"{w}.png"), np.full((20, w, 3), 255, np.uint8))
    m = tmp_path / "m.csv"
    m.write_text(
        "image_path,plate_text,country\n"
        "40.png,AB12CDE,GB\n"  # right, GB is UK
        "41.png,CJ12ABC,RO\n"  # read exactly, reported UK: a wrong country
        "42.png,WX12345,US\n"  # no US grammars: not counted
        "43.png,XY34ZZZ,UK\n"  # not read exactly: not counted
    )
    _, s = evaluate(load_manifest(m), Countries())
    assert s.n_country == 2 and s.country_match == pytest.approx(0.5)
    assert s.as_json()["country_match"] == 0.5
    _, none = evaluate(load_manifest(m)[2:3], Countries())
    assert none.country_match is None and none.as_json()["n_country"] == 0


def test_country_match_covers_the_readers_countries_and_iso_codes(tmp_path: Path) -> None:
    class Names:
        name = "names"

        def read(self, crop_bgr: ImageBGR) -> PlateRead:
            box = BBox(0, 0, crop_bgr.shape[1], crop_bgr.shape[0])
            return PlateRead(box, (PlateCandidate("MAB12", 0.9, country="D"),), "names")

    cv2.imwrite(str(tmp_path / "a.png"), np.full((20, 40, 3), 255, np.uint8))
    m = tmp_path / "m.csv"
    m.write_text("image_path,plate_text,country\na.png,MAB12,DE\na.png,MAB12,pl\n")
    rows = load_manifest(m)
    _, every = evaluate(rows, Names())  # DE is D (right), PL has grammars (wrong)
    assert (every.n_country, every.country_match) == (2, 0.5)
    _, german = evaluate(rows, Names(), countries=["d"])  # a reader of German plates only
    assert (german.n_country, german.country_match) == (1, 1.0)
    _, raw = evaluate(rows, Names(), countries=())  # no grammars: nothing named
    assert (raw.n_country, raw.country_match) == (0, None)


def test_an_unsure_crop_row_is_read_again_from_the_plate_found_in_it(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "loose.png"), np.full((30, 100, 3), 128, np.uint8))
    cv2.imwrite(str(tmp_path / "s.png"), np.full((100, 200, 3), 128, np.uint8))
    m = tmp_path / "m.csv"
    m.write_text(
        "image_path,plate_text,bbox_x,bbox_y,bbox_w,bbox_h\nloose.png,AB12,,,,\ns.png,AB12,10,20,50,12\n"
    )
    rows = load_manifest(m)
    shown: list[tuple[int, int]] = []

    def find(crop: ImageBGR) -> BBox | None:
        shown.append(crop.shape[:2])
        return BBox(20, 5, 70, 25)  # 50 px wide: read 56 px wide (6 % at each end)

    reader = FakeReader({56: "AB12", 62: "AB12"})  # the whole crop reads nothing
    results, s = evaluate(rows, reader, BoxDetector([BBox(9, 20, 61, 32)]), find=find)
    assert shown == [(30, 100)]  # the crop row only: a scene's plate is the detector's box
    assert results[0].exact and s.n_crops == 1
    whole, _ = evaluate(rows, reader, BoxDetector([BBox(9, 20, 61, 32)]))
    assert not whole[0].exact and whole[0].read is not None and whole[0].read.best is None
