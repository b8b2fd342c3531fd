"""Training the CTC plate recogniser: labelling, the real-data split, and a tiny run end to end."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from api.settings import PROJECT_ROOT
from vision.anpr.ctc import PLATE_ALPHABET
from vision.anpr.engines import CRNN_TASK, CrnnRecogniser
from vision.anpr.line_input import LINE_HEIGHT_PX, LINE_WIDTH_PX
from vision.train.datasets import manifest_image_name, split_of
from vision.train.recogniser import (
    LineSet,
    TrainConfig,
    augment,
    blank_lines,
    build_data,
    checkpoint_shape,
    encode_labels,
    greedy_texts,
    labelled_lines,
    load_weights,
    manifest_items,
    recorded_commands,
    render_flat_plate,
    run,
    split_lines,
)

FIXTURES = PROJECT_ROOT / "fixtures" / "synth" / "plates"
SHARED = PROJECT_ROOT.parent / "shared" / "data" / "plates-dev"


def test_two_line_plates_split_as_printed() -> None:
    assert split_lines("A1234567", "UK", True) == ("A123", "4567")
    assert split_lines("WGM12345", "PL", True) == ("WGM", "12345")
    assert split_lines("HHAB123", "D", True) == ("HHAB", "123")
    assert split_lines("AB12CDE", "UK", False) == ("AB12CDE",)
    assert split_lines("ABCDEF", "PL", True) == ("ABCDEF",)  # no digit: cannot be split


def test_flat_plates_are_deterministic_and_labelled_line_by_line() -> None:
    a = render_flat_plate(np.random.default_rng([5, 1]))
    b = render_flat_plate(np.random.default_rng([5, 1]))
    assert np.array_equal(a[0], b[0]) and a[1:] == b[1:]
    for i in range(12):
        crop, lines, _country, _notes = render_flat_plate(np.random.default_rng([5, i]))
        assert crop.ndim == 3 and crop.dtype == np.uint8
        assert all(ch in PLATE_ALPHABET for line in lines for ch in line)
        got, reason = labelled_lines(crop, lines)
        if reason:
            assert got == []
            continue
        assert [t for _, _, t in got] == list(lines)
        for grey, width, _ in got:
            assert grey.shape == (LINE_HEIGHT_PX, LINE_WIDTH_PX) and 0 < width <= LINE_WIDTH_PX


def test_augment_keeps_shape_and_type() -> None:
    grey = np.random.default_rng(0).integers(0, 255, (LINE_HEIGHT_PX, LINE_WIDTH_PX)).astype(np.uint8)
    for seed in range(10):
        out = augment(grey, 100, np.random.default_rng(seed))
        assert out.shape == grey.shape and out.dtype == np.uint8


def test_ctc_targets_and_greedy_decoding() -> None:
    targets, lengths = encode_labels(["AB1", "Z"])
    assert targets.tolist() == [1, 2, 28, 26] and lengths.tolist() == [3, 1]
    probs = np.zeros((1, 6, 37), np.float32)
    for t, c in enumerate([1, 1, 0, 1, 28, 0]):  # A A - A 1 -  ->  "AA1"
        probs[0, t, c] = 1.0
    assert greedy_texts(probs, [6]) == ["AA1"]
    assert greedy_texts(probs, [2]) == ["A"]


def test_line_set_round_trips(tmp_path: Path) -> None:
    g = np.zeros((LINE_HEIGHT_PX, LINE_WIDTH_PX), np.uint8)
    s = LineSet.of([(g, 100, "AB12", 0), (g + 1, 50, "X9", 2)])
    s.save(tmp_path / "l.npz")
    t = LineSet.load(tmp_path / "l.npz")
    assert t.labels == ("AB12", "X9") and t.widths.tolist() == [100, 50] and t.sources.tolist() == [0, 2]
    assert np.array_equal(t.images, s.images)
    assert t.counts() == {"synth-flat": 1, "real-crop": 1}


@pytest.mark.skipif(not (SHARED / "scenes.csv").is_file(), reason="../shared/data/plates-dev is absent")
def test_real_scenes_are_held_out_exactly_like_the_detectors() -> None:
    from api.commands.dataset import held_out_rows

    items, held, _ = manifest_items(SHARED / "scenes.csv", real=True, val_fraction=0.2)
    expected = held_out_rows(SHARED / "scenes.csv", 0.2)
    assert [r["image_path"] for r in held] == [r["image_path"] for r in expected]
    assert not {str(i.path) for i in items} & {r["image_path"] for r in held}


def _real_manifest(tmp_path: Path, n: int) -> Path:
    """A stand-in 'real' crops manifest (fixture crops, absolute paths)."""
    with (FIXTURES / "manifest.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))[:n]
    out = tmp_path / "real" / "crops.csv"
    out.parent.mkdir(parents=True)
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({**r, "image_path": str(FIXTURES / r["image_path"])})
    return out


def test_tiny_training_run_exports_a_model_the_engine_loads(tmp_path: Path) -> None:
    real = _real_manifest(tmp_path, 16)
    cfg = TrainConfig(
        out=tmp_path / "run",
        data_dir=tmp_path / "lines",
        synth_manifests=(FIXTURES / "manifest.csv",),
        real_manifests=(real,),
        onnx_path=tmp_path / "m" / "plate_reader.onnx",
        n_flat=16,
        n_val=6,
        real_variants=2,
        real_repeat=2,
        val_fraction=0.3,
        epochs=1,
        batch=16,
        workers=1,
        channels=(8, 8, 16, 16),
        hidden=16,
        n_blank=4,
        command="test",
    )
    result = run(cfg)
    assert result["lines"]["synth-flat"] > 0 and result["lines"]["synth-scene"] > 0
    assert result["lines"]["blank"] == 4
    assert result["onnx_max_abs_diff"] < 1e-4
    # the held-out side of the split is written and not trained on
    with (cfg.data_dir / "heldout" / "crops.csv").open(newline="") as f:
        held = [r["image_path"] for r in csv.DictReader(f)]
    expected = [
        str(FIXTURES / r)
        for r in (row["image_path"] for row in csv.DictReader((FIXTURES / "manifest.csv").open()))
    ][:16]
    assert held == [p for p in expected if split_of(manifest_image_name(real, Path(p)), 0.3) == "val"]
    assert held, "the stand-in manifest should put some rows on the held-out side"
    assert str(cfg.data_dir / "heldout" / "crops.csv") in result["eval"]
    # the exported model is one the engine accepts
    engine = CrnnRecogniser(cfg.onnx_path, providers="cpu")
    assert engine.model.info.metadata["task"] == CRNN_TASK
    assert len(engine.recognise([np.full((30, 200, 3), 128, np.uint8)])) == 1
    card = cfg.onnx_path.with_suffix(".md").read_text()
    for needle in ("training command", "test", "held-out real rows", "data fingerprints", "epochs"):
        assert needle in card
    saved = json.loads((cfg.out / "result.json").read_text())
    assert saved["epochs"][0]["epoch"] == 1
    # resuming a finished run trains no further and reuses the cached lines
    again = run(replace(cfg, resume=True, command="test again"))
    assert again["train_seconds"] == result["train_seconds"]
    card = cfg.onnx_path.with_suffix(".md").read_text()
    assert "- **training command**: test\n" in card
    assert "- **this command (export, evaluation, card)**: test again\n" in card
    # the weights beside the export fine-tune a new run: at learning rate 0 they come out unchanged
    # (batch-norm statistics still move)
    pt = cfg.onnx_path.with_suffix(".pt")
    tuned = replace(
        cfg,
        out=tmp_path / "tuned",
        onnx_path=tmp_path / "m2" / "plate_reader.onnx",
        init=pt,
        lr=0.0,
        command="tune",
    )
    run(tuned)
    before, after = (
        load_weights(pt, cfg.channels, cfg.hidden),
        load_weights(tuned.onnx_path.with_suffix(".pt"), cfg.channels, cfg.hidden),
    )
    assert before.keys() == after.keys()
    learnt = [k for k in before if "running_" not in k and "num_batches" not in k]  # not BN statistics
    assert learnt and all(np.array_equal(before[k].numpy(), after[k].numpy()) for k in learnt)
    assert f"- **started from**: {pt}, made by: test\n" in tuned.onnx_path.with_suffix(".md").read_text()
    assert recorded_commands(tuned.onnx_path.with_suffix(".pt")) == ["test", "tune"]  # the whole chain
    assert recorded_commands(tuned.out / "last.pt") == ["test", "tune"]  # a run's checkpoint too
    assert checkpoint_shape(pt) == checkpoint_shape(tuned.out / "last.pt") == (cfg.channels, cfg.hidden)
    # weights of another shape, or a file of something else, are refused with a clear error
    with pytest.raises(ValueError, match="do not fit a CRNN"):
        load_weights(pt, (8, 8, 16, 32), cfg.hidden)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a reader checkpoint"):
        load_weights(tmp_path / "junk.pt", cfg.channels, cfg.hidden)


def test_real_manifests_with_one_name_are_refused(tmp_path: Path) -> None:
    """Held-out rows are written per manifest file name, so two ``crops.csv`` would collide."""

    a, b = _real_manifest(tmp_path / "a", 4), _real_manifest(tmp_path / "b", 4)
    cfg = TrainConfig(out=tmp_path / "run", data_dir=tmp_path / "lines", real_manifests=(a, b))
    with pytest.raises(ValueError, match="share a file name"):
        build_data(cfg)


def test_blank_lines_have_no_text_and_are_deterministic() -> None:
    a, b = blank_lines(30, seed=0), blank_lines(30, seed=0)
    assert len(a) == 30 and a.counts() == {"blank": 30} and set(a.labels) == {""}
    assert a.images.shape == (30, LINE_HEIGHT_PX, LINE_WIDTH_PX) and a.images.dtype == np.uint8
    assert np.array_equal(a.images, b.images) and not np.array_equal(a.images, blank_lines(30, seed=1).images)
    assert ((a.widths >= 1) & (a.widths <= LINE_WIDTH_PX)).all()
    assert len({img.tobytes() for img in a.images}) == 30  # all different
