"""The whole retraining loop on a tiny set, through the commands a model team runs:
import -> train (fine-tune the model in use, 1 epoch) -> export --register -> evaluate
against the model in use -> promote (refused when worse unless forced) -> the running
service's watcher swaps the model in -> rollback swaps it back."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from vision.pipeline.reload import ModelSlot, ModelWatcher
from vision.registry import ModelRegistry
from vision.trailer.classifier import TrailerClassifier
from vision.train.datasets import load_image

ROOT = Path(__file__).resolve().parents[2]
SCENES = ROOT / "fixtures" / "synth" / "scenes"
CLASSES = ("box", "container", "curtainsider", "flatbed", "tanker")


def _raw_crops(root: Path) -> int:
    """Body crops of the fixture scenes, three jittered frames per scene (``<scene>_f00N``: one
    vehicle, so the import must keep its frames on one side of the split). Returns the count."""
    rng = np.random.default_rng(0)
    n = 0
    for img_path in sorted(SCENES.glob("*.jpg")):
        m = re.match(r"^(.+?)_(front|rear|side|high_side)_\d+$", img_path.stem)
        if not m or m.group(1) not in CLASSES:
            continue
        img = load_image(img_path)
        h, w = img.shape[:2]
        for line in img_path.with_suffix(".txt").read_text().splitlines():
            c, cx, cy, bw, bh = (float(v) for v in line.split())
            if int(c) != 2:
                continue
            for f in range(3):
                dx, dy = rng.integers(-8, 9, 2)
                x1, y1 = max(0, int((cx - bw / 2) * w) + dx), max(0, int((cy - bh / 2) * h) + dy)
                x2, y2 = min(w, int((cx + bw / 2) * w) + dx), min(h, int((cy + bh / 2) * h) + dy)
                (root / m.group(1)).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / m.group(1) / f"{img_path.stem}_f{f:03d}.jpg"), img[y1:y2, x1:x2])
                n += 1
    return n


def _hgv(*args: str, cwd: Path, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "HGV_LANE_DATA_DIR": str(cwd / "data")},
    )
    assert proc.returncode in ok, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


def _last_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


@pytest.mark.slow
def test_import_train_evaluate_promote_reload_rollback(tmp_path: Path) -> None:
    n_raw = _raw_crops(tmp_path / "raw")
    assert n_raw >= 15

    # import: a folder-per-class set split by vehicle
    _hgv("dataset", "import", "raw", "--out", "set", "--val-fraction", "0.4", cwd=tmp_path)
    sides = {
        split: {p.stem.rsplit("_f", 1)[0] for p in (tmp_path / "set" / split).rglob("*.jpg")}
        for split in ("train", "val")
    }
    assert sides["train"] and sides["val"] and not sides["train"] & sides["val"]

    # train: fine-tunes the trailer classifier in use (the shipped one) by default
    proc = _hgv(
        "train", "trailer", "--data", "set", "--epochs", "1", "--imgsz", "32", "--batch", "8",
        "--out", "runs/t", cwd=tmp_path,
    )  # fmt: skip
    assert _last_json(proc)["train_seconds"]
    assert "epoch 1/1" in proc.stderr and "accuracy_top1" in proc.stderr  # progress, one line per epoch
    assert (
        "trailer_classifier shipped"
        in json.loads((tmp_path / "runs/t/train_result.json").read_text())["parent"]
    )

    # export, checked against torch, registered as a candidate
    exported = _last_json(
        _hgv(
            "export",
            "runs/t",
            "--out",
            "exports/trailer.onnx",
            "--check-dir",
            "set/val",
            "--register",
            cwd=tmp_path,
        )
    )
    assert exported["role"] == "trailer_classifier" and exported["version"] == "v1"
    assert exported["checked_images"] and (tmp_path / "exports/trailer.pt").is_file()
    card = (tmp_path / "exports/trailer.md").read_text()
    assert "parent model" in card and "trailer_classifier shipped" in card and "sha256" in card

    # evaluate the candidate beside the model in use, with plots
    ev = _last_json(
        _hgv("evaluate", "trailer_classifier:v1", "--data", "set", "--out", "ev", "--json", cwd=tmp_path)
    )
    reports = ev["reports"]
    assert isinstance(reports, list) and len(reports) == 2
    cand, in_use = (r["metrics"]["accuracy"] for r in reports)
    assert (tmp_path / "ev/model/confusion_matrix.png").is_file() and (
        tmp_path / "ev/comparison.md"
    ).is_file()

    # the service's watcher, on the registry the commands write
    registry = ModelRegistry(tmp_path / "data" / "registry", ROOT / "models")
    slot = ModelSlot(TrailerClassifier(registry.current("trailer_classifier").onnx, "cpu"))
    shipped_px = slot.model.size_px  # the shipped model's input size; the candidate's is 32
    assert shipped_px != 32
    watcher = ModelWatcher(registry)
    watcher.watch("trailer_classifier", slot, lambda p: TrailerClassifier(p, "cpu"))

    # promote: refused when worse on the reference set, unless forced
    proc = _hgv(
        "models", "promote", "trailer_classifier", "v1", "--reference", "set", cwd=tmp_path, ok=(0, 3)
    )
    if cand < in_use:
        assert proc.returncode == 3 and "refused" in proc.stderr
        assert watcher.check() == [] and slot.version == "shipped"
        _hgv(
            "models",
            "promote",
            "trailer_classifier",
            "v1",
            "--reference",
            "set",
            "--force",
            "--reason",
            "loop test",
            cwd=tmp_path,
        )
    else:
        assert proc.returncode == 0
    assert watcher.check() == ["trailer_classifier"]
    assert slot.version == "v1" and slot.model.size_px == 32
    listed = _last_json(_hgv("models", "list", "--role", "trailer_classifier", "--json", cwd=tmp_path))
    assert [(v["version"], v["in_use"]) for v in listed["versions"]] == [("shipped", False), ("v1", True)]

    # rollback: the shipped model is back in the running service
    _hgv("models", "rollback", "trailer_classifier", cwd=tmp_path)
    assert (
        watcher.check() == ["trailer_classifier"]
        and slot.version == "shipped"
        and slot.model.size_px == shipped_px
    )
