"""The model-making commands end to end on a tiny set: train (1 epoch), export, calibrate, card."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from api.settings import get_settings
from vision.trailer.classifier import TrailerClassifier
from vision.types import BodyType


def _tiny_set(root: Path) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for cls, stripes in (("box", False), ("curtainsider", True)):
            d = root / split / cls
            d.mkdir(parents=True)
            for i in range(6):
                img = np.full((40, 120, 3), 180, np.uint8)
                if stripes:
                    img[:, ::6] = 60
                img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
                cv2.imwrite(str(d / f"{cls}_{i}.jpg"), img)


def _hgv(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env={**os.environ, "HGV_LANE_DATA_DIR": str(cwd / "data")},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout


@pytest.mark.slow
def test_train_export_calibrate_card(tmp_path: Path) -> None:
    _tiny_set(tmp_path / "raw")
    out = _hgv("dataset", "trailer-squares", "--src", "raw", "--out", "sq", "--size", "32", cwd=tmp_path)
    assert json.loads(out)["crops"]["train"] == {"box": 6, "curtainsider": 6}
    out = _hgv(
        "train",
        "trailer",
        "--data",
        "sq",
        "--epochs",
        "1",
        "--imgsz",
        "32",
        "--batch",
        "4",
        "--aug",
        "hsv_h=0.3",
        "--aug",
        "close_mosaic=2",
        "--out",
        "runs/t",
        cwd=tmp_path,
    )
    assert json.loads(out.strip().splitlines()[-1])["train_seconds"] > 0
    # --aug reaches ultralytics (its record of the run's settings)
    settings = (tmp_path / "runs" / "t" / "args.yaml").read_text()
    assert "hsv_h: 0.3\n" in settings and "close_mosaic: 2\n" in settings
    out = _hgv(
        "export",
        "runs/t",
        "--out",
        "models/trailer_classifier.onnx",
        "--check-dir",
        "sq/val",
        "--calibrate",
        "sq/val",
        cwd=tmp_path,
    )
    report = json.loads(out.strip().splitlines()[-1])
    assert report["checked_images"] == 4 and report["calibration_images"] == 12
    # 12 crops are too few to trust a temperature: fitted, reported, not applied
    assert report["temperature"] == 1.0 and "fewer than 200" in report["not_applied"]
    assert 0.05 <= report["temperature_fitted"] <= 20
    clf = TrailerClassifier(tmp_path / "models" / "trailer_classifier.onnx", "cpu")
    assert clf.classes == (BodyType.BOX, BodyType.CURTAINSIDER)
    assert clf.temperature == pytest.approx(report["temperature"], rel=1e-3)
    scores = clf.classify(np.full((40, 120, 3), 180, np.uint8))
    assert sum(p for _, p in scores.probabilities) == pytest.approx(1.0, abs=1e-4)
    card = (tmp_path / "models" / "trailer_classifier.md").read_text()
    assert "box, curtainsider" in card and "hgv-lane train trailer" in card and "temperature" in card


def test_reader_width_options_parse_and_reject_bad_widths(capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli import build_parser

    base = ["train", "reader", "--data", "m.csv", "--out", "runs/r"]
    args = build_parser().parse_args([*base, "--channels", "24,48,96,144", "--hidden", "128"])
    assert args.channels == (24, 48, 96, 144) and args.hidden == 128
    assert build_parser().parse_args(base).channels is None  # taken from --from, else the default
    for bad in ("24,48,96", "24,48,x,144", "0,48,96,144"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([*base, "--channels", bad])
        assert "four positive widths" in capsys.readouterr().err


def test_aug_options_parse_and_reject_unknown_keys(capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli import build_parser

    base = ["train", "plates", "--data", "d.yaml", "--out", "runs/p"]
    args = build_parser().parse_args([*base, "--aug", "hsv_h=0.4", "--aug", "close_mosaic=3"])
    assert args.aug == [("hsv_h", 0.4), ("close_mosaic", 3)]
    assert build_parser().parse_args(base).aug == []
    for bad, message in (
        ("lr0=0.1", "unknown augmentation"),
        ("scale=big", "number >= 0"),
        ("scale=-1", ">= 0"),
    ):
        with pytest.raises(SystemExit):
            build_parser().parse_args([*base, "--aug", bad])
        assert message in capsys.readouterr().err


def test_reader_fine_tunes_the_shape_of_its_start_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``train reader --from W`` without ``--channels``/``--hidden`` trains a CRNN of W's shape
    (the shipped reader is the wide one: the old defaults would not fit it); given widths win;
    from scratch the defaults hold."""
    import torch

    import vision.train.recogniser as recogniser
    from api.cli import main

    seen: list[recogniser.TrainConfig] = []

    def fake_run(cfg: recogniser.TrainConfig) -> dict[str, object]:
        seen.append(cfg)
        return {}

    monkeypatch.setattr(recogniser, "run", fake_run)
    weights = tmp_path / "wide.pt"
    torch.save({"model": {}, "channels": [24, 48, 96, 144], "hidden": 128}, weights)
    base = ["train", "reader", "--data", "m.csv", "--out", str(tmp_path / "r")]
    assert main([*base, "--from", str(weights)]) == 0
    assert main([*base, "--from", str(weights), "--channels", "8,8,16,32", "--hidden", "16"]) == 0
    assert main(base) == 0
    shapes = [(c.channels, c.hidden) for c in seen]
    assert shapes == [((24, 48, 96, 144), 128), ((8, 8, 16, 32), 16), ((16, 32, 64, 96), 96)]
    # by default the model goes to the run folder (never over the shipped models/ file) and the
    # line cache under the data folder (a scratch HGV_LANE_DATA_DIR keeps it out of the repo)
    assert seen[-1].onnx_path == tmp_path / "r" / "plate_reader.onnx"
    assert seen[-1].data_dir == get_settings().data_dir / "train" / "reader"


def test_json_safe_turns_an_accuracy_over_no_lines_into_null() -> None:
    from vision.train.recogniser import json_safe

    out = json_safe({"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": 0.5}, "e": "x"})
    assert out == {"a": None, "b": [1.0, None], "c": {"d": 0.5}, "e": "x"}


def test_reader_refuses_aug(tmp_path: Path) -> None:
    from api.cli import build_parser

    args = build_parser().parse_args(
        ["train", "reader", "--data", "m.csv", "--out", str(tmp_path / "r"), "--aug", "hsv_h=0.4"]
    )
    with pytest.raises(SystemExit, match="--aug applies to"):
        args.func(args)


def test_reader_starts_from_scratch_unless_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.commands.train import reader_start
    from api.settings import get_settings

    assert reader_start(None) is None and reader_start("scratch") is None
    with pytest.raises(SystemExit, match="no such file"):
        reader_start(str(tmp_path / "missing.pt"))
    weights = tmp_path / "last.pt"
    weights.write_bytes(b"x")
    assert reader_start(str(weights)) == weights
    # 'current' is the .pt beside the reader in use, and a clear exit when there is none
    monkeypatch.setenv("HGV_LANE_MODELS__DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit, match="no weights beside it"):
            reader_start("current")
        (tmp_path / "models").mkdir()
        (tmp_path / "models" / "plate_reader.pt").write_bytes(b"x")
        assert reader_start("current") == tmp_path / "models" / "plate_reader.pt"
    finally:
        get_settings.cache_clear()


def test_subset_samples_folders_and_listed_sets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--subset samples a set whose splits are folders, and a merged set whose splits are .txt
    lists of images (what 'dataset lane-frames --merge' writes), relative lines included."""
    import yaml

    from api.commands.train import subset_yaml

    for split, n in (("train", 10), ("val", 5)):
        d = tmp_path / "set" / "images" / split
        d.mkdir(parents=True)
        for i in range(n):
            (d / f"{split}{i}.jpg").write_bytes(b"x")
    (tmp_path / "set" / "data.yaml").write_text("train: images/train\nval: images/val\nnames:\n  0: plate\n")
    lines = [str(tmp_path / "set" / "images" / "train" / f"train{i}.jpg") for i in range(6)]
    (tmp_path / "set" / "merged_train.txt").write_text("\n".join([*lines, "images/train/train9.jpg", ""]))
    (tmp_path / "set" / "merged_val.txt").write_text("images/val/val0.jpg\nimages/val/val1.jpg\n")
    (tmp_path / "set" / "merged.yaml").write_text(
        "train: merged_train.txt\nval: merged_val.txt\nnames:\n  0: plate\n"
    )
    (tmp_path / "set" / "empty_path.yaml").write_text(
        "path:\ntrain: images/train\nval: images/val\nnames:\n  0: plate\n"
    )
    monkeypatch.chdir(tmp_path)  # the sets named by relative paths, as on the command line
    for name, n_train, n_val in (("data.yaml", 4, 1), ("merged.yaml", 4, 1), ("empty_path.yaml", 4, 1)):
        out = subset_yaml(Path("set") / name, Path("runs") / name, 4)
        spec = yaml.safe_load(out.read_text())
        train = Path(spec["train"]).read_text().split()
        val = Path(spec["val"]).read_text().split()
        assert (len(train), len(val)) == (n_train, n_val), name
        assert all(Path(p).is_file() for p in train + val), name
    listed = subset_yaml(tmp_path / "set" / "merged.yaml", tmp_path / "runs" / "all", 100)
    assert len(Path(yaml.safe_load(listed.read_text())["train"]).read_text().split()) == 7


def test_reader_takes_repeated_data_and_detectors_refuse_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``train reader --data A --data B`` trains on both synthetic manifests, in order; a
    detector or the trailer classifier takes one data set and says so."""
    import vision.train.recogniser as recogniser
    from api.cli import build_parser, main

    seen: list[recogniser.TrainConfig] = []

    def fake_run(cfg: recogniser.TrainConfig) -> dict[str, object]:
        seen.append(cfg)
        return {}

    monkeypatch.setattr(recogniser, "run", fake_run)
    assert main(["train", "reader", "--data", "a.csv", "--data", "b.csv", "--out", str(tmp_path / "r")]) == 0
    assert seen[0].synth_manifests == (Path("a.csv"), Path("b.csv"))
    for kind in ("plates", "trailer"):
        args = build_parser().parse_args(
            ["train", kind, "--data", "a.yaml", "--data", "b.yaml", "--out", str(tmp_path / "p")]
        )
        with pytest.raises(SystemExit, match=f"train {kind} takes one --data, got 2"):
            args.func(args)


def test_a_fine_tune_keeps_the_parents_sizes(tmp_path: Path) -> None:
    """Fine-tuning the shipped classifier trains at 224 px, as it was, and the plate detector is
    exported at its parent's 384 x 640 by default (the kinds' defaults, 128 and 320, had silently
    made a smaller model)."""
    from api.commands.train import parent_sizes

    models = Path(__file__).resolve().parents[2] / "models"
    assert parent_sizes(models / "trailer_classifier.pt") == (224, [224, 224])
    assert parent_sizes(models / "plate_detector.pt") == (320, [384, 640])
    assert parent_sizes(Path("vision/train/cfg/hgv-cls-pico.yaml")) == (None, None)
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint")
    assert parent_sizes(tmp_path / "x.pt") == (None, None)
