"""``hgv-lane dataset import`` through the console script: output, report files, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from api.cli import build_parser, main
from vision.train.datasets import load_image


def _image(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    img = np.full((48, 64, 3), rng.integers(0, 256, 3), np.uint8)
    for _ in range(5):
        x1, y1, x2, y2 = (int(v) for v in rng.integers(0, [64, 48, 64, 48]))
        cv2.rectangle(img, (x1, y1), (x2, y2), [int(v) for v in rng.integers(0, 256, 3)], -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


def _manifest(root: Path, broken: bool = False) -> Path:
    """A plate manifest of 6 scenes (3 passages x 2 frames); ``broken`` adds a missing image."""
    rows = ["image_path,plate_text,country,bbox_x,bbox_y,bbox_w,bbox_h,notes"]
    for p in range(3):
        for f in range(2):
            _image(root / "lane1" / f"p{p}_f{f:04d}.jpg", 10 * p + f)
            rows.append(f"lane1/p{p}_f{f:04d}.jpg,AB{p}1CDE,GB,10,10,20,8,")
    if broken:
        rows.append("lane1/gone.jpg,AB99CDE,GB,10,10,20,8,")
    (root / "scenes.csv").write_text("\n".join(rows) + "\n")
    return root / "scenes.csv"


def _hgv(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "HGV_LANE_DATA_DIR": str(cwd / "data")},
    )


def test_import_is_registered_next_to_the_other_actions() -> None:
    args = build_parser().parse_args(["dataset", "import", "a.csv", "b", "--out", "o", "--strict"])
    assert (
        args.sources == [Path("a.csv"), Path("b")] and args.strict and args.func.__name__ == "import_dataset"
    )
    args = build_parser().parse_args(["dataset", "trailer-squares", "--src", "s", "--out", "o"])
    assert args.func.__name__ == "trailer_squares"


def test_import_writes_the_set_and_prints_the_report(tmp_path: Path) -> None:
    _manifest(tmp_path / "src")
    proc = _hgv("dataset", "import", "src/scenes.csv", "--out", "out", "--val-fraction", "0.5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "# Data-set import report (detect)" in proc.stdout and "Problems" in proc.stdout
    report = json.loads((tmp_path / "out" / "import_report.json").read_text())
    assert (report["found"], report["imported"], report["refused"]) == (6, 6, False)
    assert report["splits"]["train"]["groups"] + report["splits"]["val"]["groups"] == 3  # p0, p1, p2
    assert (tmp_path / "out" / "data.yaml").is_file() and (tmp_path / "out" / "import_report.md").is_file()
    images = sorted((tmp_path / "out" / "images").rglob("*.jpg"))
    sides = {p.name.split("_f")[0]: p.parent.name for p in images}
    assert len(images) == 6 and len(sides) == 3
    for p in images:  # both frames of a passage on one side
        assert p.parent.name == sides[p.name.split("_f")[0]]


def test_strict_refuses_with_exit_1_and_only_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _manifest(tmp_path / "src", broken=True)
    proc = _hgv(
        "dataset", "import", "src/scenes.csv", "--out", "out", "--strict", "--json", "--quiet", cwd=tmp_path
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["refused"] and report["problem_counts"] == {"missing_file": 1}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["import_report.json", "import_report.md"]
    # in-process from here (the same entry point, without a new interpreter each time)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    # without --strict the bad row is skipped and counted, and the set is written (exit 0)
    assert main(["dataset", "import", "src/scenes.csv", "--out", "out", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["found"], report["imported"], report["skipped"]) == (7, 6, 1)
    assert (tmp_path / "out" / "data.yaml").is_file()
    # a folder holding an earlier import is not overwritten: exit 2, nothing written
    assert main(["dataset", "import", "src/scenes.csv", "--out", "out", "--quiet"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["dataset", "import", "src/absent.csv", "--out", "new", "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "new").exists()
    with pytest.raises(SystemExit) as exc:  # bad arguments: argparse's exit 2
        main(["dataset", "import", "src/scenes.csv"])
    assert exc.value.code == 2


def _crops(root: Path, classes: dict[str, int]) -> None:
    """A folder-per-class set: ``n`` 30x90 crops per class, in train only, named 000..."""
    for cls, n in classes.items():
        (root / "train" / cls).mkdir(parents=True)
        for i in range(n):
            assert cv2.imwrite(
                str(root / "train" / cls / f"{i:03d}.jpg"), np.full((30, 90, 3), 40 * i, np.uint8)
            )


def test_trailer_squares_merges_sets_without_one_overwriting_another(tmp_path: Path) -> None:
    _crops(tmp_path / "crops", {"tilt": 2, "box": 1})
    _crops(tmp_path / "lane_bodies", {"tilt": 3})  # same file names as crops/train/tilt
    proc = _hgv(
        "dataset",
        "trailer-squares",
        "--src",
        "crops",
        "--src",
        "lane_bodies",
        "--out",
        "sq",
        "--size",
        "16",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["crops"] == {"train": {"box": 1, "tilt": 5}}
    tilt = sorted(p.name for p in (tmp_path / "sq" / "train" / "tilt").iterdir())
    assert tilt == [
        "crops_000.jpg",
        "crops_001.jpg",
        "lane_bodies_000.jpg",
        "lane_bodies_001.jpg",
        "lane_bodies_002.jpg",
    ]
    assert load_image(tmp_path / "sq" / "train" / "tilt" / "crops_000.jpg").shape == (16, 16, 3)


def test_trailer_squares_refuses_sets_of_the_same_folder_name_or_a_missing_one(tmp_path: Path) -> None:
    _crops(tmp_path / "a" / "crops", {"tilt": 1})
    _crops(tmp_path / "b" / "crops", {"tilt": 1})
    proc = _hgv(
        "dataset", "trailer-squares", "--src", "a/crops", "--src", "b/crops", "--out", "sq", cwd=tmp_path
    )
    assert proc.returncode == 2 and "different names" in proc.stderr and not (tmp_path / "sq").exists()
    proc = _hgv("dataset", "trailer-squares", "--src", "nowhere", "--out", "sq", cwd=tmp_path)
    assert proc.returncode == 2 and "nowhere: no such folder" in proc.stderr
