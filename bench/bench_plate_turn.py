"""Turned-plate benchmark: real plate crops turned by given angles, read by ``eval plates``.

Usage: ``.venv/bin/python bench/bench_plate_turn.py [--manifest CSV] [--angles 0,10,-10,15,20,-20]
[--shears 0.1,-0.2] [--keep DIR]``.

A plate photographed by a camera that is not level, or on a lorry that is, reaches the reader
turned. Every crop row of the manifest (default: the real crops held out of the recogniser's
training) is turned about its centre on a canvas just big enough for the turned crop, edges
replicated (``vision.preprocess.turn_whole``), written to a temporary manifest, and read by
``hgv-lane eval plates`` (``bench_plates.run_one``). ``--shears`` also shears them vertically
(a plate seen from one side: rows sloping, characters upright). Prints one line per angle (exact match,
time) with the command, and, last, one JSON object ``{"angles": {a: summary}}``. Exits 0 with
a note when the manifest is absent (the shared dev photographs are not part of the project).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_plates import run_one  # a sibling script: bench/ is not a package

from vision.preprocess import turn_whole

ROOT = Path(__file__).resolve().parent.parent
HELDOUT_CROPS = ROOT / "data" / "train" / "reader" / "heldout" / "crops.csv"
ANGLES = (0.0, 10.0, -10.0, 15.0, 20.0, -20.0)


def shear_whole(image: np.ndarray, slope: float) -> np.ndarray:
    """``image`` (H, W, 3) sheared vertically (``y += slope * x``: the plate seen from one side,
    its characters still upright, its rows sloping) on a canvas tall enough for all of it."""
    h, w = image.shape[:2]
    rise = abs(slope) * w
    m = np.array([[1.0, 0.0, 0.0], [slope, 1.0, rise if slope < 0 else 0.0]], np.float32)
    return np.asarray(
        cv2.warpAffine(image, m, (w, round(h + rise)), borderMode=cv2.BORDER_REPLICATE), np.uint8
    )


def write_set(manifest: Path, angle: float, out: Path, shear: float = 0.0) -> Path:
    """The turned (``angle`` degrees) or sheared (``shear``: slope) copy of ``manifest``'s crop
    rows (scene rows skipped) in ``out``; its path."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    with manifest.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames or [])
        for i, row in enumerate(reader):
            if row.get("bbox_w"):
                continue
            path = Path(row["image_path"])
            raw = cv2.imread(str(path if path.is_absolute() else manifest.parent / path), cv2.IMREAD_COLOR)
            if raw is None:
                raise SystemExit(f"cannot read {path} (row {i + 2} of {manifest})")
            name = f"images/{i:04d}.png"
            image = np.asarray(raw, np.uint8)
            changed = shear_whole(image, shear) if shear else turn_whole(image, angle)
            cv2.imwrite(str(out / name), changed)
            rows.append({**row, "image_path": name})
    target = out / "crops.csv"
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--manifest", type=Path, default=HELDOUT_CROPS, help="crop manifest")
    parser.add_argument("--angles", default=",".join(f"{a:g}" for a in ANGLES), help="degrees")
    parser.add_argument(
        "--shears", default="", help="also vertical shear slopes (y += s * x), e.g. 0.1,-0.2,0.3"
    )
    parser.add_argument("--keep", type=Path, default=None, help="write the sets here and keep them")
    args = parser.parse_args(argv)
    if not args.manifest.is_file():
        print(f"no {args.manifest}: skipped (made by 'train reader' from ../shared/data)")
        return 0
    angles = [float(a) for a in args.angles.split(",") if a]
    shears = [float(v) for v in args.shears.split(",") if v]
    # (result group, its key, angle, shear, folder, what the line says)
    jobs = [("angles", f"{a:g}", a, 0.0, f"turn_{a:g}", f"turned {a:>5g} degrees") for a in angles]
    jobs += [("shears", f"{v:g}", 0.0, v, f"shear_{v:g}", f"sheared {v:>5g}") for v in shears]
    results: dict[str, dict[str, dict[str, object]]] = {"angles": {}, "shears": {}}
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for group, key, angle, shear, folder, label in jobs:
            changed = write_set(args.manifest, angle, base / folder, shear=shear)
            cmd, summary = run_one(changed, None, None, raw=False)
            results[group][key] = summary
            print(
                f"{label}: n {summary['n']}, exact {summary['exact_match']}, "
                f"{summary['ms_per_image_p50']} ms p50  ({' '.join(cmd)})"
            )
    print(json.dumps({"manifest": str(args.manifest), **results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
