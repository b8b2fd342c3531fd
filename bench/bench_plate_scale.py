"""Plate size benchmark: real scenes re-framed so the plate is a given share of the photo's width.

Usage: ``.venv/bin/python bench/bench_plate_scale.py [--manifest CSV] [--fractions 0.08,0.4]
[--seed 7] [--width 1280] [--angle 0] [--orientation 1] [--keep DIR]``.

Lane frames show plates at 3-15 % of the frame's width, level, but photographs from other
cameras (a hand-held close-up, a parking camera) show them far bigger, smaller or turned. For
each fraction ``f`` every scene row of the manifest (default: the held-out real scenes, never
trained on) is cut to a 4:3 window ``plate width / f`` wide around its plate (the plate off
centre by up to 30 % of the free space, seeded), scaled to 1280x960 (``--width``; cubic when
enlarging, area when shrinking), turned about the plate (``--angle``; the true box becomes the
one around the turned box) and written with its moved box to a temporary manifest (with
``--orientation N`` the file stores the photo turned or mirrored and tagged with EXIF
orientation N, so that it shows as framed: a phone or a camera mounted on its side), which
``hgv-lane eval plates`` then scores (``bench_plates.run_one``). Prints one line per fraction
(detection recall, exact match, time) with the command, and, last, one JSON object
``{"fractions": {f: summary}}``. Exits 0 with a note when the manifest is absent (the shared
dev photographs are not part of the project).
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

from vision.anpr.imageio import EXIF_ORIENTATION, apply_orientation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_plates import heldout_scenes, run_one  # a sibling script: bench/ is not a package

ROOT = Path(__file__).resolve().parent.parent
HELDOUT_SCENES = heldout_scenes()
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
    angle: float = 0.0,
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``image`` (H, W, 3) cut to a window of ``size``'s shape around ``box`` (x, y, w, h px)
    in which the box is ``fraction`` of the width, scaled to ``size`` (width, height; edges
    replicated outside the photo) and turned ``angle`` degrees (anticlockwise) about the box's
    centre; the new image and the box in its pixels (x, y, w, h: around the turned box)."""
    x, y, w, h = box
    out_w, out_h = size
    win_w = w / fraction
    win_h = win_w * out_h / out_w
    cx = x + w / 2 + rng.uniform(-0.3, 0.3) * (win_w - w)
    cy = y + h / 2 + rng.uniform(-0.3, 0.3) * max(0.0, win_h - h)
    x0, y0 = cx - win_w / 2, cy - win_h / 2
    s = out_w / win_w
    if s < 1:  # shrink by area first (warpAffine has no area interpolation)
        ih, iw = image.shape[:2]
        image = cv2.resize(
            image, (max(1, round(iw * s)), max(1, round(ih * s))), interpolation=cv2.INTER_AREA
        )
        sx, sy = image.shape[1] / iw, image.shape[0] / ih
    else:
        sx = sy = 1.0
    scale = np.array([[s / sx, 0, -x0 * s], [0, s / sy, -y0 * s], [0, 0, 1]], np.float64)
    corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]], np.float64)
    corners[:, :2] *= (sx, sy)
    centre = ((x + w / 2 - x0) * s, (y + h / 2 - y0) * s)
    turn = np.vstack([cv2.getRotationMatrix2D(centre, angle, 1.0), [0, 0, 1]])
    m = (turn @ scale)[:2]
    flags = cv2.INTER_CUBIC if s > 1 else cv2.INTER_LINEAR
    out = cv2.warpAffine(image, m, (out_w, out_h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    pts = corners @ m.T
    (bx0, by0), (bx1, by1) = pts.min(axis=0), pts.max(axis=0)
    return out, (round(bx0), round(by0), round(bx1 - bx0), round(by1 - by0))


def write_set(
    manifest: Path,
    fraction: float,
    out: Path,
    seed: int,
    size: tuple[int, int] = (OUT_W, OUT_H),
    angle: float = 0.0,
    orientation: int = 1,
) -> Path:
    """The re-framed copy of ``manifest``'s scene rows (crop rows skipped) in ``out``; its path.
    Boxes are on the photo as shown; with ``orientation`` other than 1 the files store it
    turned so that the EXIF tag shows it so."""
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
            framed, (bx, by, bw, bh) = reframe(image, box, fraction, rng, size, angle)  # type: ignore[arg-type]
            name = f"images/{i:04d}.jpg"
            write_tagged(out / name, framed, orientation)
            moved = {"bbox_x": bx, "bbox_y": by, "bbox_w": bw, "bbox_h": bh}
            rows.append(
                {
                    **row,
                    **moved,
                    "image_path": name,
                    "notes": f"plate {fraction:.0%} of the width, turned {angle:g} degrees",
                }
            )
    target = out / "scenes.csv"
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return target


INVERSE_ORIENTATION = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}
"""The EXIF orientation that undoes each one (a quarter turn one way undoes one the other way)."""


def write_tagged(path: Path, shown: np.ndarray, orientation: int) -> None:
    """Save ``shown`` (H, W, 3) BGR as a JPEG (quality 92) whose stored pixels, shown under EXIF
    ``orientation``, are ``shown``; orientation 1: an ordinary untagged file."""
    if orientation == 1:
        cv2.imwrite(str(path), shown, [cv2.IMWRITE_JPEG_QUALITY, 92])
        return
    from PIL import Image  # noqa: PLC0415 - only for tagged files

    stored = apply_orientation(shown, INVERSE_ORIENTATION[orientation])
    im = Image.fromarray(np.ascontiguousarray(stored[:, :, ::-1]))
    exif = im.getexif()
    exif[EXIF_ORIENTATION] = orientation
    im.save(path, quality=92, exif=exif.tobytes())


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
    parser.add_argument(
        "--angle", type=float, default=0.0, help="turn each photo this many degrees about its plate"
    )
    parser.add_argument(
        "--orientation",
        type=int,
        choices=range(1, 9),
        default=1,
        help="store each photo turned, with this EXIF orientation tag to show it upright (6: a phone)",
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
            framed = write_set(
                args.manifest, f, base / f"plate_{f:g}", args.seed, size, args.angle, args.orientation
            )
            cmd, summary = run_one(framed, None, None, raw=False)
            results[f"{f:g}"] = summary
            print(
                f"plate {f:>5.0%} of width: n {summary['n']}, "
                f"detection recall {summary['detection_recall']}, exact {summary['exact_match']}, "
                f"{summary['ms_per_image_p50']} ms p50  ({' '.join(cmd)})"
            )
    print(
        json.dumps(
            {
                "manifest": str(args.manifest),
                "seed": args.seed,
                "width": args.width,
                "angle": args.angle,
                "orientation": args.orientation,
                "fractions": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
