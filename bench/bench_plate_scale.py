"""Plate size benchmark: real scenes re-framed so the plate is a given share of the photo's width.

Usage: ``.venv/bin/python bench/bench_plate_scale.py [--manifest CSV] [--fractions 0.08,0.4]
[--seed 7] [--width 1280] [--keep DIR]``.

Lane frames show plates at 3-15 % of the frame's width, but photographs from other cameras
(a hand-held close-up, a parking camera) show them far bigger. For each fraction ``f`` every
scene row of the manifest (default: the held-out real scenes, never trained on) is cut to a
4:3 window ``plate width / f`` wide around its plate (the plate off centre by up to 30 % of the
free space, seeded), scaled to 1280x960 (``--width``; cubic when enlarging, area when shrinking) and
written with its moved box to a temporary manifest, which ``hgv-lane eval plates`` then
scores (``bench_plates.run_one``). Prints one line per fraction (detection recall, exact
match, time) with the command, and, last, one JSON object ``{"fractions": {f: summary}}``.
Exits 0 with a note when the manifest is absent (the shared dev photographs are not part of
the project).
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

ROOT = Path(__file__).resolve().parent.parent
HELDOUT_SCENES = ROOT / "data" / "train" / "plate_tiles" / "heldout" / "scenes.csv"
FRACTIONS = (0.08, 0.15, 0.25, 0.4, 0.6)
OUT_W, OUT_H = 1280, 960
"""The re-framed photograph's size (px), unless ``--width`` says otherwise (4:3)."""
COLUMNS = ["image_path", "plate_text", "country", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "notes"]


def reframe(
    image: np.ndarray,
    box: tuple[float, float, float, float],
    fraction: float,
    rng: np.random.Generator,
    size: tuple[int, int] = (OUT_W, OUT_H),
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``image`` (H, W, 3) cut to a window of ``size``'s shape around ``box`` (x, y, w, h px)
    in which the box is ``fraction`` of the width, scaled to ``size`` (width, height; edges
    replicated outside the photo); the new image and the box in its pixels (x, y, w, h)."""
    x, y, w, h = box
    out_w, out_h = size
    win_w = w / fraction
    win_h = win_w * out_h / out_w
    cx = x + w / 2 + rng.uniform(-0.3, 0.3) * (win_w - w)
    cy = y + h / 2 + rng.uniform(-0.3, 0.3) * max(0.0, win_h - h)
    x0, y0 = cx - win_w / 2, cy - win_h / 2
    s = out_w / win_w
    m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float32)
    flags = cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA
    out = cv2.warpAffine(image, m, (out_w, out_h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    return out, (round((x - x0) * s), round((y - y0) * s), round(w * s), round(h * s))


def write_set(
    manifest: Path, fraction: float, out: Path, seed: int, size: tuple[int, int] = (OUT_W, OUT_H)
) -> Path:
    """The re-framed copy of ``manifest``'s scene rows (crop rows skipped) in ``out``; its path."""
    rng = np.random.default_rng(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    with manifest.open(newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f)):
            if not row.get("bbox_w"):
                continue
            path = Path(row["image_path"])
            image = cv2.imread(str(path if path.is_absolute() else manifest.parent / path), cv2.IMREAD_COLOR)
            if image is None:
                raise SystemExit(f"cannot read {path} (row {i + 2} of {manifest})")
            box = tuple(float(row[k]) for k in ("bbox_x", "bbox_y", "bbox_w", "bbox_h"))
            framed, (bx, by, bw, bh) = reframe(image, box, fraction, rng, size)  # type: ignore[arg-type]
            name = f"images/{i:04d}.jpg"
            cv2.imwrite(str(out / name), framed, [cv2.IMWRITE_JPEG_QUALITY, 92])
            moved = {"bbox_x": bx, "bbox_y": by, "bbox_w": bw, "bbox_h": bh}
            rows.append({**row, **moved, "image_path": name, "notes": f"plate {fraction:.0%} of the width"})
    target = out / "scenes.csv"
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--manifest", type=Path, default=HELDOUT_SCENES, help="scene manifest")
    parser.add_argument(
        "--fractions", default=",".join(map(str, FRACTIONS)), help="plate width / photo width"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--width", type=int, default=OUT_W, help="photo width in px (4:3; e.g. 4000 for a 12 MP camera)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="write the sets here and keep them")
    args = parser.parse_args(argv)
    if not args.manifest.is_file():
        print(f"no {args.manifest}: skipped (made by 'dataset plate-tiles' from ../shared/data)")
        return 0
    fractions = [float(f) for f in args.fractions.split(",") if f]
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for f in fractions:
            size = (args.width, round(args.width * OUT_H / OUT_W))
            framed = write_set(args.manifest, f, base / f"plate_{f:g}", args.seed, size)
            cmd, summary = run_one(framed, None, None, raw=False)
            results[f"{f:g}"] = summary
            print(
                f"plate {f:>5.0%} of width: n {summary['n']}, "
                f"detection recall {summary['detection_recall']}, exact {summary['exact_match']}, "
                f"{summary['ms_per_image_p50']} ms p50  ({' '.join(cmd)})"
            )
    print(
        json.dumps(
            {"manifest": str(args.manifest), "seed": args.seed, "width": args.width, "fractions": results}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
