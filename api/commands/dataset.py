"""``hgv-lane dataset ...``: prepare and import training data sets.

The shipped models' data sets are made by these commands (see ``make models``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vision.types import BBox, ImageBGR


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dataset``."""
    p = sub.add_parser("dataset", help="prepare training data sets")
    dsub = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    d = dsub.add_parser(
        "plate-tiles", help="one-class plate tiles (320 px) from YOLO sets and plate manifests"
    )
    d.add_argument("--out", type=Path, required=True, help="output folder (a YOLO data set)")
    d.add_argument("--yolo", type=Path, action="append", default=[], help="YOLO set whose class 0 is plate")
    d.add_argument("--manifest", type=Path, action="append", default=[], help="plate manifest with boxes")
    d.add_argument("--val-fraction", type=float, default=0.2, help="share of sources held out (by name)")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=plate_tiles)
    d = dsub.add_parser("vehicles", help="the vehicle/body classes of a synthetic YOLO set")
    d.add_argument("--yolo", type=Path, required=True, help="YOLO set with classes plate, vehicle, body")
    d.add_argument("--out", type=Path, required=True)
    d.set_defaults(func=vehicle_subset)

    d = dsub.add_parser(
        "trailer-squares", help="folder-per-class crops squashed to the classifier's square input"
    )
    d.add_argument("--src", type=Path, required=True, help="folder-per-class set: <split>/<class>/*.jpg")
    d.add_argument("--out", type=Path, required=True)
    d.add_argument("--size", type=int, default=128, help="side in pixels (the classifier's input size)")
    d.set_defaults(func=trailer_squares)


def plate_tiles(args: argparse.Namespace) -> int:
    """Build the plate detector's tile set."""
    from vision.train.datasets import (  # noqa: PLC0415
        load_image,
        read_plate_manifest,
        read_yolo_dataset,
        write_plate_tiles,
    )

    sources: list[tuple[str, Callable[[], ImageBGR], Sequence[BBox]]] = []
    for root in args.yolo:
        for split in ("train", "val"):
            for item in read_yolo_dataset(root, split):
                plates = [b for c, b in item.boxes if c == 0]
                sources.append((f"{root.name}/{item.path.name}", partial(load_image, item.path), plates))
    heldout: dict[str, list[dict[str, str]]] = {}
    for manifest in args.manifest:
        by_image: dict[Path, list[BBox]] = {}
        for path, _text, box in read_plate_manifest(manifest):
            if box is not None:
                by_image.setdefault(path, []).append(box)
        for path, boxes in by_image.items():
            sources.append((_source_name(manifest, path), partial(load_image, path), boxes))
        heldout[manifest.stem] = held_out_rows(manifest, args.val_fraction)
    t0 = time.perf_counter()
    counts = write_plate_tiles(sources, args.out, val_fraction=args.val_fraction, seed=args.seed)
    for stem, rows in heldout.items():
        write_manifest_rows(args.out / "heldout" / f"{stem}.csv", rows)
    summary = {
        "sources": len(sources),
        "tiles": counts,
        "heldout_rows": {k: len(v) for k, v in heldout.items()},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(summary))
    return 0


def _source_name(manifest: Path, image: Path) -> str:
    """The name a manifest image is split by (stable: manifest stem, folder, file)."""
    return f"{manifest.stem}/{image.parent.name}_{image.name}"


def held_out_rows(manifest: Path, val_fraction: float) -> list[dict[str, str]]:
    """The manifest's rows whose image went to the validation side (never trained on), with
    absolute image paths, for evaluating on real images the detector has not seen."""
    import csv  # noqa: PLC0415

    from vision.train.datasets import split_of  # noqa: PLC0415

    rows = []
    with manifest.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            path = (manifest.parent / row["image_path"]).resolve()
            if row.get("bbox_w") and split_of(_source_name(manifest, path), val_fraction) == "val":
                rows.append({**row, "image_path": str(path)})
    return rows


def write_manifest_rows(path: Path, rows: list[dict[str, str]]) -> None:
    """Write plate-manifest rows (the ``../shared/data/README.md`` columns)."""
    import csv  # noqa: PLC0415

    path.parent.mkdir(parents=True, exist_ok=True)
    cols = ["image_path", "plate_text", "country", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "notes"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def vehicle_subset(args: argparse.Namespace) -> int:
    """The vehicle/body detector's set: classes 1, 2 of the synthetic set as 0, 1."""
    from vision.train.datasets import write_class_subset  # noqa: PLC0415

    counts = write_class_subset(args.yolo, args.out, {1: 0, 2: 1}, ("vehicle", "body"))
    print(json.dumps({"images": counts}))
    return 0


def trailer_squares(args: argparse.Namespace) -> int:
    """Squash a folder-per-class crop set to the classifier's input size."""
    from vision.train.datasets import write_square_crops  # noqa: PLC0415

    print(json.dumps({"crops": write_square_crops(args.src, args.out, args.size)}))
    return 0
