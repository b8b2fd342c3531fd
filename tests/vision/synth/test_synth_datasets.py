"""Data set writers, manifests, clips and the CLI: formats, determinism, consistency."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.synth import CROP_CLASSES, DETECT_CLASSES, write_crops, write_detect, write_plates
from vision.synth.cli import main as cli_main
from vision.synth.clip import random_clip_spec, render_clip
from vision.synth.datasets import MANIFEST_HEADER, read_manifest
from vision.synth.plates import matches_country


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_detect_set_is_deterministic_and_well_formed(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_detect(a, 6, seed=5, val_fraction=0.34, workers=1, progress=False)
    write_detect(b, 6, seed=5, val_fraction=0.34, workers=2, progress=False)
    write_detect(c, 6, seed=6, val_fraction=0.34, workers=1, progress=False)
    da, db, dc = _digest(a), _digest(b), _digest(c)
    assert da == db  # same seed -> same bytes, whatever the number of workers
    assert da != dc
    yaml = (a / "data.yaml").read_text()
    for i, name in enumerate(DETECT_CLASSES):
        assert f"  {i}: {name}" in yaml
    imgs = sorted((a / "images").rglob("*.jpg"))
    assert len(imgs) == 6
    n_boxes = 0
    for img_path in imgs:
        split = img_path.parent.name
        lab = a / "labels" / split / (img_path.stem + ".txt")
        assert lab.exists()
        img = cv2.imread(str(img_path))
        assert img is not None and img.shape[2] == 3
        for line in lab.read_text().splitlines():
            cls, *vals = line.split()
            assert int(cls) in (0, 1, 2)
            cx, _cy, w, h = map(float, vals)
            assert cx - w / 2 + 1e-6 >= 0 and cx + w / 2 <= 1 + 1e-6 and w > 0 and h > 0
            n_boxes += 1
    assert n_boxes >= 6
    rows = read_manifest(a / "scenes.csv")
    for r in rows:
        assert (a / r["image_path"]).exists()
        assert float(r["bbox_h"]) >= 12
        assert matches_country(r["plate_text"], r["country"])


def test_plate_manifest_format_and_grammars(tmp_path: Path) -> None:
    n = write_plates(tmp_path, 10, seed=3, workers=1, progress=False)
    assert n == 10
    text = (tmp_path / "manifest.csv").read_text()
    assert text.splitlines()[0] == ",".join(MANIFEST_HEADER)
    rows = read_manifest(tmp_path / "manifest.csv")
    assert len(rows) == 10
    for r in rows:
        assert re.fullmatch(r"[A-Z0-9]+", r["plate_text"])
        assert matches_country(r["plate_text"], r["country"]), r
        assert r["bbox_x"] == r["bbox_y"] == r["bbox_w"] == r["bbox_h"] == ""
        img = cv2.imread(str(tmp_path / r["image_path"]))
        assert img is not None and img.shape[0] >= 18
        assert r["notes"] and ("front" in r["notes"] or "rear" in r["notes"] or "trailer_mark" in r["notes"])


def test_plate_crops_are_cut_with_the_margin_asked_for(tmp_path: Path) -> None:
    # the same seed gives the same plates; a tighter margin gives smaller crops of each
    loose, tight = tmp_path / "loose", tmp_path / "tight"
    assert write_plates(loose, 6, seed=5, workers=1, progress=False) == 6
    assert write_plates(tight, 6, seed=5, workers=1, progress=False, margin=(0.02, 0.06)) == 6
    rows_loose, rows_tight = read_manifest(loose / "manifest.csv"), read_manifest(tight / "manifest.csv")
    assert [r["plate_text"] for r in rows_loose] == [r["plate_text"] for r in rows_tight]
    for a, b in zip(rows_loose, rows_tight, strict=True):
        big = cv2.imread(str(loose / a["image_path"]))
        small = cv2.imread(str(tight / b["image_path"]))
        assert big is not None and small is not None
        assert small.shape[1] < big.shape[1] and small.shape[0] <= big.shape[0]
    with pytest.raises(ValueError, match="margin"):
        write_plates(tmp_path / "bad", 1, seed=5, workers=1, progress=False, margin=(0.3, 0.1))


def test_synth_plates_takes_a_margin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tight"
    assert (
        cli_main(
            [
                "synth",
                "plates",
                "--out",
                str(out),
                "--n",
                "2",
                "--seed",
                "5",
                "--margin",
                "0.02,0.06",
                "--quiet",
            ]
        )
        == 0
    )
    assert len(read_manifest(out / "manifest.csv")) == 2
    for bad in ("0.3,0.1", "0.1", "a,b", "-0.1,0.2"):
        with pytest.raises(SystemExit):
            cli_main(["synth", "plates", "--out", str(out), "--n", "2", "--margin", bad])
        assert "--margin" in capsys.readouterr().err


def test_crop_set_has_every_class(tmp_path: Path) -> None:
    write_crops(tmp_path, 1, seed=2, val_fraction=0.0, workers=1, progress=False)
    for c in CROP_CLASSES:
        files = list((tmp_path / "train" / c).glob("*.jpg"))
        assert len(files) == 1, c
        img = cv2.imread(str(files[0]))
        assert img is not None and max(img.shape[:2]) <= 320 and min(img.shape[:2]) >= 16


def test_clip_truth_is_consistent(tmp_path: Path) -> None:
    spec = random_clip_spec(11, view="front", n_vehicles=2, seconds=2.4, fps=5.0, size=(1280, 720))
    truth = render_clip(spec, tmp_path, video=True, frames=True)
    data = json.loads((tmp_path / "truth.json").read_text())
    assert data["n_frames"] == spec.n_frames == len(data["frames"]) == 12
    assert (tmp_path / "clip.mp4").stat().st_size > 1000
    cap = cv2.VideoCapture(str(tmp_path / "clip.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == spec.n_frames
    cap.release()
    assert len(list((tmp_path / "frames").glob("*.jpg"))) == spec.n_frames
    seen: dict[int, list[int]] = {}
    for fr in data["frames"]:
        for o in fr["objects"]:
            seen.setdefault(o["vehicle_id"], []).append(fr["frame"])
            x0, y0, x1, y1 = o["box"]
            assert 0 <= x0 < x1 <= 1280 and 0 <= y0 < y1 <= 720
            for p in o["plates"]:
                px0, py0, px1, py1 = p["box"]
                assert x0 - 1 <= px0 and px1 <= x1 + 1 and y0 - 1 <= py0 and py1 <= y1 + 1
    for v in data["vehicles"]:
        frames = seen.get(v["vehicle_id"], [])
        assert v["first_frame"] == (min(frames) if frames else None)
        assert v["last_frame"] == (max(frames) if frames else None)
        for p in v["plates"]:
            pf = [
                fr["frame"]
                for fr in data["frames"]
                for o in fr["objects"]
                if o["vehicle_id"] == v["vehicle_id"]
                for q in o["plates"]
                if q["role"] == p["role"]
            ]
            assert p["n_frames"] == len(pf)
            assert p["role"] != "rear" or p["n_frames"] == 0  # a front camera never reads rear plates
    # vehicles approach: the first vehicle's box grows while it is in view
    first = truth.vehicles[0]
    assert first.first_frame is not None and first.last_frame is not None
    areas = [
        (o.box.width * o.box.height) for f in truth.frames for o in f if o.vehicle_id == first.vehicle_id
    ]
    assert areas[-1] > areas[0]
    # at least one front plate is readable for several consecutive frames
    assert max(p.n_frames for v in truth.vehicles for p in v.plates) >= 2


def test_cli_sheet_and_help(tmp_path: Path, capsys: object) -> None:
    out = tmp_path / "sheet.png"
    assert cli_main(["synth", "sheet", "--out", str(out), "--n", "3", "--workers", "1", "--quiet"]) == 0
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 200 and img.shape[1] > 1000
    assert float(np.std(img)) > 20
