"""``vision.train.imports``: every source format, every validation problem, --strict, the
grouped and deterministic split, and that ultralytics loads what is written."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.train.datasets import manifest_image_name, split_of
from vision.train.imports import (
    BODY_TYPES,
    DEFAULT_GROUP_PATTERN,
    REPORT_JSON,
    REPORT_MD,
    SIDES,
    Format,
    ImportOptions,
    ImportResult,
    ProblemKind,
    RawBox,
    SourceError,
    SourceSpec,
    check_box,
    detect_format,
    group_key_from_name,
    import_dataset,
    inspect_image,
    near_duplicate_pairs,
    parse_class_map,
    parse_classes,
)

# --- builders ----------------------------------------------------------------------------------


def _image(path: Path, seed: int, size_hw: tuple[int, int] = (48, 64)) -> Path:
    """Random filled rectangles on a random background (a distinct perceptual hash per seed; a
    resized copy stays within a few bits), written as JPEG or PNG by suffix."""
    rng = np.random.default_rng(seed)
    h, w = size_hw
    img = np.full((h, w, 3), rng.integers(0, 256, 3), np.uint8)
    for _ in range(6):
        corners = rng.integers(0, [w, h, w, h])
        colour = [int(v) for v in rng.integers(0, 256, 3)]
        cv2.rectangle(img, (int(corners[0]), int(corners[1])), (int(corners[2]), int(corners[3])), colour, -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return path


def _resized_copy(src: Path, dst: Path) -> Path:
    """``src`` at twice its size, re-encoded (``dst``'s suffix): a near duplicate."""
    img = cv2.imread(str(src))
    assert img is not None
    h, w = img.shape[:2]
    assert cv2.imwrite(str(dst), cv2.resize(img, (2 * w, 2 * h), interpolation=cv2.INTER_LINEAR))
    return dst


def _yolo_set(root: Path, lorries: int = 6, frames: int = 3) -> Path:
    """A YOLO set (data.yaml, images/{train,val}, labels/{train,val}) of ``lorries`` x ``frames``
    images named ``lorry<L>_f000<F>``; the source's own split puts frame 0 in val, so groups
    straddle it on purpose."""
    for lorry in range(lorries):
        for f in range(frames):
            split = "val" if f == 0 else "train"
            stem = f"lorry{lorry}_f{f:04d}"
            _image(root / "images" / split / f"{stem}.jpg", seed=100 * lorry + f)
            label = root / "labels" / split / f"{stem}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("0 0.500000 0.700000 0.200000 0.100000\n1 0.500000 0.500000 0.800000 0.800000\n")
    (root / "data.yaml").write_text(
        "train: images/train\nval: images/val\nnames:\n  0: plate\n  1: vehicle\n"
    )
    return root


def _run(sources: Sequence[Path | SourceSpec], out: Path, **options: object) -> ImportResult:
    specs = [s if isinstance(s, SourceSpec) else SourceSpec(s) for s in sources]
    return import_dataset(specs, out, ImportOptions(**options))  # type: ignore[arg-type]


def _kinds(result: ImportResult) -> dict[str, int]:
    return result.report.problem_counts


def _labels(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): p.read_text() for p in sorted((out / "labels").rglob("*.txt"))}


# --- pure helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "key"),
    [
        (("lorry7_f0012.jpg",), "lorry7"),
        (("cam2-000123.png",), "cam2"),
        (("lane1", "pass-3_frame12.jpg"), "lane1/pass-3"),
        (("box_100_00007.jpg",), "box_100_00007"),  # generator's independent samples stay apart
        (("0b86cecf-67d1-4fc0.jpg",), "0b86cecf-67d1-4fc0"),
        (("car9-2.jpg",), "car9"),
    ],
)
def test_group_key_strips_a_trailing_frame_number(parts: tuple[str, ...], key: str) -> None:
    assert group_key_from_name(parts, re.compile(DEFAULT_GROUP_PATTERN)) == key


def test_group_key_without_pattern_is_the_stem() -> None:
    assert group_key_from_name(("a", "lorry7_f0012.jpg"), None) == "a/lorry7_f0012"
    assert group_key_from_name(("x_12.jpg",), re.compile(r"^(.+)_\d+$")) == "x"


def test_near_duplicate_pairs_match_brute_force() -> None:
    rng = np.random.default_rng(1)
    base = [int.from_bytes(rng.bytes(32), "big") for _ in range(40)]
    hashes = base + [h ^ (1 << int(rng.integers(256))) ^ (1 << int(rng.integers(256))) for h in base[:10]]
    for threshold in (0, 3, 10):
        want = sorted(
            (i, j, (hashes[i] ^ hashes[j]).bit_count())
            for i in range(len(hashes))
            for j in range(i + 1, len(hashes))
            if (hashes[i] ^ hashes[j]).bit_count() <= threshold
        )
        assert near_duplicate_pairs(hashes, threshold) == want
    assert len(near_duplicate_pairs(hashes, 2)) == 10


def test_check_box() -> None:
    ok = RawBox("plate", 10, 20, 30, 60, normalised=False, where="row 2")
    box, kind, detail = check_box(ok, 100, 200)
    assert box == pytest.approx((0.2, 0.2, 0.2, 0.2)) and kind is None
    assert detail == "row 2: plate box (10, 20, 30, 60) px in a 100x200 image"
    box, kind, _ = check_box(RawBox("plate", -10, 20, 30, 60, normalised=False, where=""), 100, 200)
    assert kind is ProblemKind.BOX_OUT_OF_RANGE and box is not None and box[0] == pytest.approx(0.15)
    _, kind, _ = check_box(RawBox("plate", 0.5, 0.5, 0.5, 0.6, normalised=True, where=""), 100, 200)
    assert kind is ProblemKind.BOX_EMPTY
    box, kind, detail = check_box(RawBox("plate", 1.1, 0.5, 1.3, 0.6, normalised=True, where=""), 100, 200)
    assert box is None and kind is ProblemKind.BOX_EMPTY and "wholly outside" in detail


def test_parse_classes_and_maps(tmp_path: Path) -> None:
    assert parse_classes("sides") == SIDES
    assert parse_classes("body-types") == BODY_TYPES and "unknown" not in BODY_TYPES
    assert parse_classes("plate, vehicle") == ("plate", "vehicle")
    (tmp_path / "d.yaml").write_text("names:\n  1: b\n  0: a\n")
    assert parse_classes(str(tmp_path / "d.yaml")) == ("a", "b")
    with pytest.raises(SourceError):
        parse_classes("a,a")
    assert parse_class_map(["lorry=vehicle,junk=", "car=vehicle"]) == {
        "lorry": "vehicle",
        "junk": None,
        "car": "vehicle",
    }
    sides = parse_class_map(["body-to-side"])
    assert sides["curtainsider"] == "soft" and sides["reefer"] == "hard" and sides["flatbed"] == "other"
    with pytest.raises(SourceError):
        parse_class_map(["nonsense"])


def test_inspect_image_hashes_and_rejects_broken_files(tmp_path: Path) -> None:
    a = _image(tmp_path / "a.jpg", 1)
    facts = inspect_image(a)
    assert (facts.width_px, facts.height_px) == (64, 48) and len(facts.sha256) == 64
    _resized_copy(a, tmp_path / "big.png")
    assert (inspect_image(tmp_path / "big.png").phash ^ facts.phash).bit_count() <= 10
    (tmp_path / "cut.jpg").write_bytes(a.read_bytes()[: a.stat().st_size // 2])
    (tmp_path / "text.jpg").write_bytes(b"not an image")
    for name in ("cut.jpg", "text.jpg"):
        with pytest.raises((OSError, ValueError)):
            inspect_image(tmp_path / name)


def test_sizes_are_of_the_photo_as_shown(tmp_path: Path) -> None:
    # a photo stored on its side and tagged "turn 90 clockwise to show": its boxes are checked
    # and normalised against the photo as shown (200x100), as ultralytics reads it to train
    from PIL import Image

    im = Image.fromarray(np.zeros((200, 100, 3), np.uint8))
    exif = im.getexif()
    exif[0x0112] = 6
    root = tmp_path / "plates"
    root.mkdir()
    im.save(root / "side.jpg", exif=exif.tobytes())
    facts = inspect_image(root / "side.jpg")
    assert (facts.width_px, facts.height_px) == (200, 100)
    (root / "m.csv").write_text(
        "image_path,plate_text,bbox_x,bbox_y,bbox_w,bbox_h\nside.jpg,AB12CDE,140,60,40,10\n"
    )
    result = _run([root / "m.csv"], tmp_path / "out")
    assert _kinds(result) == {}
    (item,) = result.items
    assert item.boxes[0][1:] == pytest.approx((0.8, 0.65, 0.2, 0.1))


def test_detect_format(tmp_path: Path) -> None:
    yolo = _yolo_set(tmp_path / "y", lorries=1, frames=1)
    assert detect_format(yolo) is Format.YOLO and detect_format(yolo / "data.yaml") is Format.YOLO
    (tmp_path / "c.json").write_text("{}")
    (tmp_path / "m.csv").write_text("")
    (tmp_path / "crops" / "box").mkdir(parents=True)
    assert detect_format(tmp_path / "c.json") is Format.COCO
    assert detect_format(tmp_path / "m.csv") is Format.MANIFEST
    assert detect_format(tmp_path / "crops") is Format.FOLDERS
    with pytest.raises(SourceError):
        detect_format(tmp_path / "absent")


# --- sources -----------------------------------------------------------------------------------


def test_yolo_set_is_regrouped_and_loads_the_same_boxes(tmp_path: Path) -> None:
    src = _yolo_set(tmp_path / "src")
    result = _run([src], tmp_path / "out", val_fraction=0.5, link=True)
    report = result.report
    assert (report.found, report.imported, report.skipped) == (18, 18, 0)
    assert report.classes == ("plate", "vehicle") and not report.problems
    assert report.group_key_from == {"file name": 18}
    sides: dict[str, set[str]] = {}
    for it in result.items:
        sides.setdefault(it.group, set()).add(it.split)
        assert (tmp_path / "out" / "images" / it.split / it.name).samefile(it.path)  # --link
    assert len(sides) == 6 and all(len(s) == 1 for s in sides.values())  # no lorry on both sides
    assert {s for v in sides.values() for s in v} == {"train", "val"}
    labels = _labels(tmp_path / "out")
    assert len(labels) == 18
    assert set(labels.values()) == {
        "0 0.500000 0.700000 0.200000 0.100000\n1 0.500000 0.500000 0.800000 0.800000\n"
    }
    assert "nc: 2" in (tmp_path / "out" / "data.yaml").read_text()
    assert (tmp_path / "out" / REPORT_JSON).is_file() and (tmp_path / "out" / REPORT_MD).is_file()
    assert (
        report.splits["train"].per_class["plate"].boxes + report.splits["val"].per_class["plate"].boxes == 18
    )


def test_yolo_lists_read_and_an_image_listed_twice_counts_once(tmp_path: Path) -> None:
    src = _yolo_set(tmp_path / "src", lorries=2, frames=2)
    (src / "all.txt").write_text("./images/train/lorry0_f0001.jpg\nimages/val/lorry1_f0000.jpg\n")
    (src / "data.yaml").write_text("train: all.txt\nval: [images/val]\nnames: [plate, vehicle]\n")
    result = _run([src], tmp_path / "out")
    assert result.report.found == 3 and result.report.notes["images_listed_twice_by_a_source"] == 1
    assert not result.report.problems


def test_yolo_without_data_yaml_needs_names(tmp_path: Path) -> None:
    src = tmp_path / "flat"
    _image(src / "images" / "a_f0001.jpg", 1)
    (src / "labels").mkdir()
    (src / "labels" / "a_f0001.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    with pytest.raises(SourceError, match="--classes"):
        _run([src], tmp_path / "o1")
    result = _run([src], tmp_path / "o2", classes=("lorry",))
    assert result.report.classes == ("lorry",) and result.report.imported == 1
    (src / "classes.txt").write_text("truck\n")
    assert _run([src], tmp_path / "o3").report.classes == ("truck",)


def _coco(tmp_path: Path) -> Path:
    root = tmp_path / "coco"
    for i in range(4):
        _image(root / "images" / f"img{i}.jpg", 10 + i, size_hw=(100, 200))
    doc = {
        "images": [
            {"id": 1, "file_name": "img0.jpg", "width": 200, "height": 100, "passage_id": "P1"},
            {"id": 2, "file_name": "img1.jpg", "width": 200, "height": 100, "passage_id": "P1"},
            {"id": 3, "file_name": "img2.jpg", "width": 300, "height": 100},  # wrong size
            {"id": 4, "file_name": "img3.jpg", "width": 200, "height": 100},
            {"id": 5, "file_name": "gone.jpg", "width": 200, "height": 100},
        ],
        "categories": [{"id": 1, "name": "plate"}, {"id": 2, "name": "truck"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [20, 10, 40, 20]},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [0, 0, 200, 100]},
            {"id": 3, "image_id": 2, "category_id": 2, "bbox": [0, 0, 100, 50], "iscrowd": 1},
            {"id": 4, "image_id": 4, "category_id": 9, "bbox": [0, 0, 10, 10]},  # unknown category
            {"id": 5, "image_id": 99, "category_id": 1, "bbox": [0, 0, 10, 10]},  # no such image
        ],
    }
    (root / "instances.json").write_text(json.dumps(doc))
    return root / "instances.json"


def test_coco_source(tmp_path: Path) -> None:
    result = _run([_coco(tmp_path)], tmp_path / "out", class_map={"truck": "vehicle"})
    report = result.report
    assert report.classes == ("plate", "vehicle")
    assert _kinds(result) == {"bad_label": 1, "missing_file": 1, "size_mismatch": 1, "unknown_class": 1}
    assert report.imported == 2 and report.skipped == 3 and report.notes["crowd_boxes_dropped"] == 1
    assert report.group_key_from == {"column": 2}
    by_rel = {it.rel: it for it in result.items}
    assert by_rel["img0.jpg"].group == by_rel["img1.jpg"].group == "P1"
    plate, truck = by_rel["img0.jpg"].boxes
    assert plate[0] == 0 and plate[1:] == pytest.approx((0.2, 0.2, 0.2, 0.2))
    assert truck == (1, 0.5, 0.5, 1.0, 1.0)
    assert by_rel["img1.jpg"].boxes == ()
    label = (tmp_path / "out" / "labels" / by_rel["img0.jpg"].split / "instances__img0.txt").read_text()
    assert label == "0 0.200000 0.200000 0.200000 0.200000\n1 0.500000 0.500000 1.000000 1.000000\n"


def test_plate_manifest_source(tmp_path: Path) -> None:
    root = tmp_path / "plates"
    _image(root / "scenes" / "a.jpg", 1, size_hw=(100, 200))
    _image(root / "scenes" / "b.jpg", 2, size_hw=(100, 200))
    _image(root / "scenes" / "c.jpg", 3, size_hw=(100, 200))
    _image(root / "crops" / "k.png", 4, size_hw=(20, 80))
    _image(root / "crops" / "l.png", 5, size_hw=(20, 80))
    (root / "m.csv").write_text(
        "image_path,plate_text,country,bbox_x,bbox_y,bbox_w,bbox_h,notes,passage_id\n"
        "scenes/a.jpg,ab12cde,GB,10,20,40,10,front,P7\n"
        "scenes/a.jpg,XY34ZZZ,GB,190,20,40,10,rear plate cut by the edge,P7\n"
        "scenes/b.jpg,AB1?CDE,GB,5,5,30,10,,P7\n"
        "scenes/c.jpg,AB-12,GB,5,5,30,10,bad text,\n"
        "crops/k.png,K123,GB,,,,,crop,\n"
        "crops/l.png,,GB,,,,,crop without text,\n"
        "scenes/missing.jpg,A1,GB,1,1,5,5,,\n"
        "scenes/b.jpg,B2,GB,x,1,5,5,bad box,\n"
    )
    result = _run([root / "m.csv"], tmp_path / "out")
    report = result.report
    assert report.classes == ("plate",)
    assert _kinds(result) == {"bad_label": 1, "bad_text": 2, "box_out_of_range": 1, "missing_file": 1}
    assert sorted(it.rel for it in result.items) == ["crops/k.png", "scenes/a.jpg"]
    a = next(it for it in result.items if it.rel == "scenes/a.jpg")
    assert a.group == "P7" and len(a.boxes) == 2 and a.boxes[1][0] == 0
    assert a.boxes[1][1] + a.boxes[1][3] / 2 == pytest.approx(1.0)  # clipped at the right edge
    rows = [
        line.split(",")[:7]
        for s in ("train", "val")
        for line in (tmp_path / "out" / f"plates_{s}.csv").read_text().splitlines()[1:]
    ]
    texts = sorted(r[1] for r in rows)
    assert texts == ["AB12CDE", "K123", "XY34ZZZ"]
    crop = next(r for r in rows if r[1] == "K123")
    assert crop[0].startswith("crops/") and crop[3:7] == ["", "", "", ""]
    assert next(r for r in rows if r[1] == "XY34ZZZ")[3:7] == ["190", "20", "10", "10"]
    assert report.splits["train"].plate_crops + report.splits["val"].plate_crops == 1


def test_a_plate_manifests_photographs_are_split_as_the_shipped_models_split_them(tmp_path: Path) -> None:
    # plate-tiles and train reader held out the photographs manifest_image_name puts in val; an
    # import of the same manifest must not put a photograph they trained on in its val side.
    root = tmp_path / "plates-dev"
    lines = ["image_path,plate_text,country,bbox_x,bbox_y,bbox_w,bbox_h,notes"]
    for i in range(40):
        _image(root / "us" / f"{i:04x}-photo.jpg", 100 + i, size_hw=(60, 120))
        lines.append(f"us/{i:04x}-photo.jpg,AB{i:02d}CDE,GB,10,10,40,12,")
    for i in range(12):  # numbered photographs of different cars (plates-dev's wts-lg-NNN)
        _image(root / "us" / f"wts-lg-{i:06d}.jpg", 300 + i, size_hw=(60, 120))
        lines.append(f"us/wts-lg-{i:06d}.jpg,CA{i:02d}XYZ,GB,10,10,40,12,")
    # frames of one lorry stay together whatever their names hash to: a part-read mark and the
    # tractor's own plate among them too
    marks = ["LR07ABC"] * 6 + ["LR07AB?", "TR12XYZ"]
    for k, mark in enumerate(marks):
        _image(root / "us" / f"lorry7_f{k:04d}.jpg", 200 + k, size_hw=(60, 120))
        lines.append(f"us/lorry7_f{k:04d}.jpg,{mark},GB,10,10,40,12,")
    manifest = root / "scenes.csv"
    manifest.write_text("\n".join(lines) + "\n")
    result = _run([manifest], tmp_path / "out")
    photos = {it.rel: it.split for it in result.items if "lorry7" not in it.rel}
    expected = {rel: split_of(manifest_image_name(manifest, (root / rel).resolve()), 0.2) for rel in photos}
    assert len(photos) == 52 and photos == expected and set(photos.values()) == {"train", "val"}
    frames = [it for it in result.items if "lorry7" in it.rel]
    assert len(frames) == 8 and len({(it.group, it.split) for it in frames}) == 1
    # one group, in val only if the shipped split held out every frame
    both_held = all(split_of(manifest_image_name(manifest, it.path), 0.2) == "val" for it in frames)
    assert (frames[0].split == "val") == both_held


@pytest.mark.parametrize(
    ("rows", "groups"),
    [
        ([("us/car9-0.jpg", "AB12CDE"), ("us/car9-1.jpg", "XY34ZZZ")], 2),  # two cars
        ([(f"us/wts-{i:03d}.jpg", f"CA{i:02d}XYZ") for i in range(9)] + [("us/wts-009.jpg", "CA00XYZ")], 9),
        ([(f"us/lorry7_f{i:04d}.jpg", t) for i, t in enumerate(["LR07ABC"] * 3 + [""] * 5)], 1),  # 5 unread
        ([(f"us/lorry7_f{i:04d}.jpg", t) for i, t in enumerate(["LR07ABC", "TR12XYZ"] * 2 + ["LR07ABD"])], 1),
    ],
)
def test_a_plate_manifests_file_name_groups_are_refined_by_their_texts(
    rows: list[tuple[str, str]], groups: int
) -> None:
    from vision.train.imports import _manifest_groups

    by_image = {image: [(i, {"plate_text": text})] for i, (image, text) in enumerate(rows)}
    assert len(set(_manifest_groups(Path("/x/m.csv"), by_image, ImportOptions()).values())) == groups


def test_trailer_manifest_is_refused_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("image_path,label\na.jpg,soft\n")
    with pytest.raises(SourceError, match="crops"):
        _run([tmp_path / "t.csv"], tmp_path / "out")


def test_folder_per_class_sources(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    for i, cls in enumerate(["curtainsider", "box", "tilt", "curtainsider", "flatbed"]):
        _image(flat / cls / f"{cls}_{i}.jpg", 200 + i)
    _image(flat / "caravan" / "c_0.jpg", 300)  # not a body type
    _image(flat / "loose.jpg", 301)  # not in a class folder
    result = _run([flat], tmp_path / "o1")
    assert result.report.classes == tuple(sorted(BODY_TYPES))
    assert _kinds(result) == {"bad_label": 1, "unknown_class": 1}
    assert result.report.imported == 5
    for it in result.items:
        assert (tmp_path / "o1" / it.split / str(it.label) / it.name).is_file()

    split = tmp_path / "split"
    for s, cls, i in [("train", "soft", 0), ("train", "hard", 1), ("val", "soft", 2), ("val", "other", 3)]:
        _image(split / s / cls / f"x{i}.jpg", 400 + i)
    result = _run([split], tmp_path / "o2")
    assert result.report.classes == SIDES and result.report.imported == 4 and not result.report.problems
    mapped = _run([flat], tmp_path / "o3", class_map=parse_class_map(["body-to-side"]))
    assert sorted(str(it.label) for it in mapped.items) == ["hard", "other", "soft", "soft", "soft"]


def test_a_folder_with_no_image_says_there_is_nothing_to_import_yet(tmp_path: Path) -> None:
    empty = tmp_path / "feedback" / "trailers"  # an export before any officer corrected a body
    empty.mkdir(parents=True)
    (empty / "manifest.csv").write_text("image_path,label,body_type,notes\n")
    with pytest.raises(SourceError, match="holds no image, nothing to import yet"):
        _run([SourceSpec(empty, Format.FOLDERS)], tmp_path / "o")


def test_every_class_with_two_groups_lands_on_both_sides(tmp_path: Path) -> None:
    src = tmp_path / "crops"
    for c, cls in enumerate(("box", "tilt", "tanker")):
        for lorry in range(3):
            for f in range(2):
                _image(src / cls / f"{cls}{lorry}_f{f:03d}.jpg", 1000 + 100 * c + 10 * lorry + f)
    _image(src / "reefer" / "reefer0_f000.jpg", 2000)  # one group only: stays where it falls
    result = _run([src], tmp_path / "out", val_fraction=0.01)  # a hash split alone puts all in train
    sides: dict[str, set[str]] = {}
    for it in result.items:
        sides.setdefault(str(it.label), set()).add(it.split)
    assert sides == {
        "box": {"train", "val"},
        "tilt": {"train", "val"},
        "tanker": {"train", "val"},
        "reefer": {"train"},
    }
    for it in result.items:  # a moved group moves whole: both frames of a lorry on one side
        assert all(o.split == it.split for o in result.items if o.group == it.group)
    assert result.report.notes["images_moved_so_every_class_is_in_both_splits"] == 6


def test_mixing_detection_and_crop_sources_is_refused(tmp_path: Path) -> None:
    _image(tmp_path / "crops" / "box" / "a.jpg", 1)
    with pytest.raises(SourceError, match="mix"):
        _run([_yolo_set(tmp_path / "y", 1, 1), tmp_path / "crops"], tmp_path / "out")


# --- validation --------------------------------------------------------------------------------


def _names_on_sides(prefix: str) -> tuple[str, str]:
    """Two group keys ``prefix<N>`` that the split (0.5) puts in train and in val."""
    train = next(f"{prefix}{i}" for i in range(100) if split_of(f"{prefix}{i}", 0.5) == "train")
    val = next(f"{prefix}{i}" for i in range(100) if split_of(f"{prefix}{i}", 0.5) == "val")
    return train, val


def _broken_yolo(root: Path) -> Path:
    """A YOLO set with one of every problem a YOLO source can have."""
    img, lbl = root / "images" / "train", root / "labels" / "train"
    lbl.mkdir(parents=True)
    good = "0 0.5 0.5 0.2 0.2\n"
    cases = {
        "ok": good,
        "edge": "0 0.95 0.5 0.2 0.2\n",  # sticks out on the right: clipped
        "beyond": good + "0 1.2 0.5 0.1 0.1\n",  # normalised > 1, wholly outside: box dropped
        "flat": good + "0 0.5 0.5 0 0.1\n",  # zero area: box dropped
        "alien": "7 0.5 0.5 0.1 0.1\n",  # class id not in names: skipped
        "garbled": "0 0.5 0.5\n",  # too few fields: skipped
        "background": None,  # no label file: a background image
    }
    for i, (stem, text) in enumerate(cases.items()):
        _image(img / f"{stem}.jpg", 500 + i)
        if text is not None:
            (lbl / f"{stem}.txt").write_text(text)
    (img / "truncated.jpg").write_bytes((img / "ok.jpg").read_bytes()[:200])
    (lbl / "truncated.txt").write_text(good)
    (img / "text.png").write_bytes(b"this is not a PNG")
    shutil.copyfile(img / "ok.jpg", img / "ok_copy.jpg")  # exact duplicate
    (lbl / "ok_copy.txt").write_text(good)
    (lbl / "ghost.txt").write_text(good)  # label without image
    # a near duplicate (resized, re-encoded as PNG) whose group lands on the other side
    train_key, val_key = _names_on_sides("pass")
    _image(img / f"{train_key}.jpg", 900, size_hw=(48, 64))
    _resized_copy(img / f"{train_key}.jpg", img / f"{val_key}.png")
    (lbl / f"{train_key}.txt").write_text(good)
    (lbl / f"{val_key}.txt").write_text(good)
    (root / "missing.txt").write_text("images/train/nowhere.jpg\n")
    (root / "data.yaml").write_text("train: images/train\nval: missing.txt\nnames: [plate]\n")
    return root


def test_every_problem_is_reported_and_bad_items_are_skipped(tmp_path: Path) -> None:
    src = _broken_yolo(tmp_path / "src")
    result = _run([src], tmp_path / "out", val_fraction=0.5)
    report = result.report
    assert _kinds(result) == {
        "bad_label": 1,
        "box_empty": 2,
        "box_out_of_range": 1,
        "exact_duplicate": 1,
        "missing_file": 1,
        "near_duplicate_across_split": 1,
        "orphan_label": 1,
        "unknown_class": 1,
        "unreadable_image": 2,
    }
    assert report.found == 13 and report.imported == 7 and report.skipped == 6
    skipped = {p.item for p in report.problems if p.action == "skipped"}
    assert skipped == {
        "images/train/alien.jpg",
        "images/train/garbled.jpg",
        "images/train/truncated.jpg",
        "images/train/text.png",
        "images/train/ok_copy.jpg",
        "images/train/nowhere.jpg",
    }
    assert report.notes["background_images"] == 1
    # the near-duplicate pair ended on one side, and the report says so
    near = [d for d in report.duplicates if d.kind == "near"]
    assert len(near) == 1 and near[0].straddled_split and near[0].first_split == near[0].second_split
    splits = {it.rel.split("/")[-1].split(".")[0]: it.split for it in result.items}
    train_key, val_key = _names_on_sides("pass")
    assert splits[train_key] == splits[val_key]
    exact = next(d for d in report.duplicates if d.kind == "exact")
    assert exact.first.endswith("ok.jpg") and exact.second.endswith("ok_copy.jpg")
    labels = _labels(tmp_path / "out")
    beyond = next(v for k, v in labels.items() if k.endswith("src__beyond.txt"))
    assert beyond == "0 0.500000 0.500000 0.200000 0.200000\n"  # the box outside was dropped
    edge = next(v for k, v in labels.items() if k.endswith("src__edge.txt"))
    assert edge == "0 0.925000 0.500000 0.150000 0.200000\n"  # clipped to x2 = 1
    md = (tmp_path / "out" / REPORT_MD).read_text()
    assert "straddled the split" in md and "unreadable_image" in md
    assert json.loads((tmp_path / "out" / REPORT_JSON).read_text())["problem_counts"] == report.problem_counts


def test_strict_refuses_and_writes_only_the_report(tmp_path: Path) -> None:
    src = _broken_yolo(tmp_path / "src")
    result = _run([src], tmp_path / "out", strict=True)
    assert result.report.refused and "--strict" in result.report.refusal and result.items == ()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [REPORT_JSON, REPORT_MD]
    # a clean set passes --strict; the folder holding only a report may be reused
    clean = _run([_yolo_set(tmp_path / "clean", 2, 2)], tmp_path / "out", strict=True)
    assert not clean.report.refused and (tmp_path / "out" / "data.yaml").is_file()
    with pytest.raises(SourceError, match="not empty"):
        _run([tmp_path / "clean"], tmp_path / "out")


def test_nothing_importable_is_refused(tmp_path: Path) -> None:
    (tmp_path / "crops" / "box").mkdir(parents=True)
    (tmp_path / "crops" / "box" / "a.jpg").write_bytes(b"junk")
    result = _run([tmp_path / "crops"], tmp_path / "out")
    assert result.report.refused and result.report.refusal == "no image could be imported"


def test_near_duplicate_check_can_be_off(tmp_path: Path) -> None:
    result = _run([_broken_yolo(tmp_path / "src")], tmp_path / "out", near_threshold=None)
    assert "near_duplicate_across_split" not in _kinds(result)


# --- groups and determinism --------------------------------------------------------------------


def test_group_sources_column_sidecar_and_name(tmp_path: Path) -> None:
    src = tmp_path / "crops"
    for i in range(8):
        _image(src / "box" / f"shot{i}.jpg", 600 + i)
    (src / "groups.csv").write_text(
        "image_path,group\n" + "".join(f"box/shot{i}.jpg,lorry{i % 2}\n" for i in range(6))
    )
    result = _run([src], tmp_path / "out")
    assert result.report.group_key_from == {"file name": 2, "sidecar": 6}
    assert {it.group for it in result.items} == {"lorry0", "lorry1", "shot6", "shot7"}
    explicit = tmp_path / "explicit.csv"
    explicit.write_text("image_path,group\n" + "".join(f"crops/box/shot{i}.jpg,one\n" for i in range(8)))
    one = _run([src], tmp_path / "out2", groups_csv=explicit)
    assert {it.group for it in one.items} == {"one"} and len({it.split for it in one.items}) == 1


def test_split_is_grouped_and_deterministic(tmp_path: Path) -> None:
    src = _yolo_set(tmp_path / "src", lorries=12, frames=3)
    a = _run([src], tmp_path / "a", val_fraction=0.3)
    b = _run([src], tmp_path / "b", val_fraction=0.3)
    assert [(it.name, it.split, it.group) for it in a.items] == [
        (it.name, it.split, it.group) for it in b.items
    ]
    assert _labels(tmp_path / "a") == _labels(tmp_path / "b")
    ja = json.loads((tmp_path / "a" / REPORT_JSON).read_text())
    jb = json.loads((tmp_path / "b" / REPORT_JSON).read_text())
    assert {**ja, "out": ""} == {**jb, "out": ""}
    for report in (a.report,):
        assert report.splits["train"].groups + report.splits["val"].groups == 12
    for it in a.items:  # the split is split_of(group): the project's usual hash split
        assert it.split == split_of(it.group, 0.3)
    other_seed = _run([src], tmp_path / "c", val_fraction=0.3, seed=5)
    assert [it.split for it in other_seed.items] != [it.split for it in a.items]
    sides: dict[str, set[str]] = {}
    for it in other_seed.items:
        sides.setdefault(it.group, set()).add(it.split)
    assert all(len(s) == 1 for s in sides.values())


def test_two_sources_combine_with_unique_names(tmp_path: Path) -> None:
    one = _yolo_set(tmp_path / "one" / "set", lorries=2, frames=1)
    two = _yolo_set(tmp_path / "two" / "set", lorries=2, frames=1)
    for i, p in enumerate(sorted((two / "images").rglob("*.jpg"))):  # other pixels, same names
        _image(p, 700 + i)
    result = _run([one, two], tmp_path / "out")
    assert [s.name for s in result.report.sources] == ["set", "set_2"]
    names = [it.name for it in result.items]
    assert len(set(names)) == 4 and {n.split("__")[0] for n in names} == {"set", "set_2"}


# --- what the trainer reads --------------------------------------------------------------------


def test_ultralytics_reads_the_imported_sets(tmp_path: Path) -> None:
    """In a fresh interpreter (ultralytics fixes its settings at import), offline: the detection
    set passes check_det_dataset and its labels load; the crop set passes check_cls_dataset."""
    _run([_yolo_set(tmp_path / "src", lorries=4, frames=2)], tmp_path / "det", val_fraction=0.5)
    crops = tmp_path / "crops"
    for i in range(8):
        _image(crops / ("box" if i % 2 else "tilt") / f"c{i}.jpg", 800 + i)
    _run([crops], tmp_path / "cls", val_fraction=0.5)
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from vision.offline import configure_ultralytics
        configure_ultralytics(Path({str(tmp_path / "data")!r}))
        from ultralytics.data.dataset import YOLODataset
        from ultralytics.data.utils import check_cls_dataset, check_det_dataset
        d = check_det_dataset({str(tmp_path / "det" / "data.yaml")!r}, autodownload=False)
        assert d["names"] == {{0: "plate", 1: "vehicle"}}, d["names"]
        n = 0
        for split in ("train", "val"):
            ds = YOLODataset(img_path=d[split], data=d, task="detect", augment=False, imgsz=64)
            n += sum(len(lb["cls"]) for lb in ds.labels)
        assert n == 16, n
        c = check_cls_dataset({str(tmp_path / "cls")!r})
        print(sorted(c["names"].values()))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "YOLO_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert proc.stdout.strip().splitlines()[-1] == "['box', 'tilt']"
