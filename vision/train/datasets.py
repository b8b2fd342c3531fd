"""Data-set preparation for the detectors: plate manifests to YOLO labels, and the plate
detector's training tiles.

The plate detector runs on the whole frame scaled so its long side is
:data:`PLATE_WORK_PX` (640: a 1280x720 frame becomes 640x360 padded to 640x384). It is
trained at 320 px on tiles cut from frames at that same scale, so a plate has the same
size in pixels in training and in service while a training step costs a quarter of a
full-frame one. Splits are deterministic: a file's side is decided by a hash of its name,
so frames of one vehicle (named by the generator ``<vehicle>_<frame>``) can be kept
together by passing ``group_of``.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vision.anpr.imageio import image_size, read_pixels
from vision.preprocess import as_bgr
from vision.types import BBox, ImageBGR

log = logging.getLogger(__name__)

PLATE_WORK_PX = 640
"""Long side, in pixels, of the frame the plate detector sees."""

TILE_PX = 320
"""Side of the square training tiles of the plate detector."""

LARGE_PLATE_PX = 256
"""Widest plate, in work pixels, that a tile shows at the service scale (4/5 of a tile); a wider
one is shown shrunk to this width."""


@dataclass(frozen=True, slots=True)
class LabelledImage:
    """An image file and its boxes (pixels, xyxy) with class ids."""

    path: Path
    boxes: tuple[tuple[int, BBox], ...]


def split_score(name: str, salt: str = "hgv-lane") -> float:
    """A hash of ``name`` in [0, 1), stable across runs and machines: :func:`split_of` puts names
    scoring below the validation fraction in val."""
    digest = hashlib.sha256(f"{salt}:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def split_of(name: str, val_fraction: float, salt: str = "hgv-lane") -> str:
    """``"val"`` or ``"train"``, decided by a hash of ``name`` (stable across runs and machines)."""
    return "val" if split_score(name, salt) < val_fraction else "train"


def manifest_image_name(manifest: Path, image: Path) -> str:
    """The name a plate manifest's image is split by (manifest stem, folder, file: stable across
    machines): ``dataset plate-tiles``, ``train reader`` and ``dataset import`` all split real
    photographs by it, so a photograph held out of one shipped model is held out of the others
    and of an imported set's val side."""
    return f"{manifest.stem}/{image.parent.name}_{image.name}"


def read_plate_manifest(manifest: Path) -> Iterator[tuple[Path, str, BBox | None]]:
    """Rows of a plate manifest (``../shared/data/README.md`` format): image path (resolved
    against the manifest's folder), plate text, and the plate box or ``None`` for crops."""
    with manifest.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            path = (manifest.parent / row["image_path"]).resolve()
            box = None
            if row.get("bbox_w"):
                box = BBox.from_xywh(
                    float(row["bbox_x"]), float(row["bbox_y"]), float(row["bbox_w"]), float(row["bbox_h"])
                )
            yield path, row["plate_text"], box


def read_yolo_dataset(root: Path, split: str) -> Iterator[LabelledImage]:
    """Images and boxes of a YOLO detection set laid out as ``images/<split>``, ``labels/<split>``."""
    for img_path in sorted((root / "images" / split).glob("*")):
        if img_path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        label = root / "labels" / split / (img_path.stem + ".txt")
        w, h = image_size(img_path)  # as shown, from the header; raises ValueError if unreadable
        yield LabelledImage(img_path, read_yolo_labels(label, w, h))


def read_yolo_labels(label: Path, width_px: int, height_px: int) -> tuple[tuple[int, BBox], ...]:
    """The boxes of a YOLO label file (``class cx cy w h`` normalised, one per line) in pixels
    (xyxy) of a ``width_px`` x ``height_px`` image; none when the file does not exist."""
    boxes: list[tuple[int, BBox]] = []
    if label.is_file():
        for line in label.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            c, cx, cy, bw, bh = line.split()[:5]
            x, y = float(cx) * width_px, float(cy) * height_px
            ww, hh = float(bw) * width_px, float(bh) * height_px
            boxes.append((int(c), BBox(x - ww / 2, y - hh / 2, x + ww / 2, y + hh / 2)))
    return tuple(boxes)


def _scaled(image: ImageBGR, work_px: int) -> tuple[ImageBGR, float]:
    h, w = image.shape[:2]
    s = work_px / max(h, w)
    if abs(s - 1.0) < 1e-6:
        return image, 1.0
    resized: ImageBGR = np.asarray(
        cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    )
    return resized, s


def _yolo_line(cls: int, box: BBox, w: int, h: int) -> str:
    cx, cy = (box.x1 + box.x2) / 2 / w, (box.y1 + box.y2) / 2 / h
    return f"{cls} {cx:.6f} {cy:.6f} {box.width_px / w:.6f} {box.height_px / h:.6f}"


def plate_tiles(
    image: ImageBGR,
    plates: Sequence[BBox],
    rng: np.random.Generator,
    *,
    n_per_plate: int = 1,
    n_negative: int = 1,
    min_visible: float = 0.7,
) -> list[tuple[ImageBGR, list[BBox]]]:
    """Cut :data:`TILE_PX` tiles from ``image`` scaled to :data:`PLATE_WORK_PX`: ``n_per_plate``
    tiles placed at random around each plate, plus ``n_negative`` random tiles. Boxes come back
    in tile pixels; a plate less than ``min_visible`` inside a tile is greyed out there so
    no half plate is left unlabelled.

    A plate wider than :data:`LARGE_PLATE_PX` at that scale (a close-up photograph) could not
    be whole in a tile: its tiles are cut from the image shrunk further, so that plate is
    :data:`LARGE_PLATE_PX` wide, and the detector still learns what a close-up plate looks like.
    """
    scaled, s = _scaled(image, PLATE_WORK_PX)
    work = [BBox(b.x1 * s, b.y1 * s, b.x2 * s, b.y2 * s) for b in plates]
    views: dict[float, tuple[ImageBGR, list[BBox]]] = {1.0: (scaled, work)}
    cuts: list[tuple[float, int, int]] = []  # (view, x0, y0)
    for i, plate in enumerate(work):
        zoom = 1.0 if plate.width_px <= LARGE_PLATE_PX else LARGE_PLATE_PX / plate.width_px
        if zoom not in views:
            small, k = _scaled(scaled, round(max(scaled.shape[:2]) * zoom))
            views[zoom] = (small, [BBox(p.x1 * k, p.y1 * k, p.x2 * k, p.y2 * k) for p in work])
        view, boxes = views[zoom]
        h, w = view.shape[:2]
        b = boxes[i]
        lo_x, hi_x = max(0, int(b.x2) - TILE_PX), min(w - TILE_PX, int(b.x1))
        lo_y, hi_y = max(0, int(b.y2) - TILE_PX), min(h - TILE_PX, int(b.y1))
        for _ in range(n_per_plate):
            x0 = int(rng.integers(lo_x, hi_x + 1)) if hi_x >= lo_x else max(0, min(w - TILE_PX, int(b.x1)))
            y0 = int(rng.integers(lo_y, hi_y + 1)) if hi_y >= lo_y else max(0, min(h - TILE_PX, int(b.y1)))
            cuts.append((zoom, x0, y0))
    h, w = scaled.shape[:2]
    for _ in range(n_negative):
        cuts.append(
            (
                1.0,
                int(rng.integers(0, max(1, w - TILE_PX + 1))),
                int(rng.integers(0, max(1, h - TILE_PX + 1))),
            )
        )
    return [_tile(*views[zoom], x0, y0, min_visible) for zoom, x0, y0 in cuts]


def _tile(
    view: ImageBGR, boxes: Sequence[BBox], x0: int, y0: int, min_visible: float
) -> tuple[ImageBGR, list[BBox]]:
    """The :data:`TILE_PX` tile of ``view`` at ``(x0, y0)`` (grey where the view ends) and its
    plate boxes in tile pixels; plates less than ``min_visible`` inside are greyed out."""
    tile = np.full((TILE_PX, TILE_PX, 3), 114, np.uint8)
    crop = view[y0 : y0 + TILE_PX, x0 : x0 + TILE_PX]
    tile[: crop.shape[0], : crop.shape[1]] = crop
    kept: list[BBox] = []
    for b in boxes:
        moved = BBox(b.x1 - x0, b.y1 - y0, b.x2 - x0, b.y2 - y0)
        inside = moved.clip(crop.shape[1], crop.shape[0])
        if inside.area_px <= 0:
            continue
        if inside.area_px / max(moved.area_px, 1e-6) >= min_visible:
            kept.append(inside)
        else:
            x1, y1, x2, y2 = inside.as_int()
            tile[y1:y2, x1:x2] = 114
    return tile, kept


def write_plate_tiles(
    sources: Sequence[tuple[str, Callable[[], ImageBGR], Sequence[BBox]]],
    out: Path,
    *,
    val_fraction: float,
    seed: int = 0,
    group_of: Callable[[str], str] = lambda name: name,
    train_tiles_per_plate: Callable[[str], int] = lambda name: 1,
) -> dict[str, int]:
    """Write a one-class (``plate``) YOLO set of tiles to ``out`` from ``(name, load, plates)``
    sources; returns the number of tiles per split. Validation tiles come from whole groups.
    A training-side source gets ``train_tiles_per_plate(name)`` tiles around each plate, each
    placed at random (more views of scarce real photographs); validation sources get one."""
    counts = {"train": 0, "val": 0}
    for split in counts:
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for i, (name, load, plates) in enumerate(sources):
        split = split_of(group_of(name), val_fraction)
        rng = np.random.default_rng([seed, i])
        per_plate = train_tiles_per_plate(name) if split == "train" else 1
        for j, (tile, boxes) in enumerate(plate_tiles(load(), plates, rng, n_per_plate=per_plate)):
            stem = f"{Path(name).stem}_{j}"
            cv2.imwrite(str(out / "images" / split / f"{stem}.jpg"), tile, [cv2.IMWRITE_JPEG_QUALITY, 92])
            lines = [_yolo_line(0, b, TILE_PX, TILE_PX) for b in boxes]
            (out / "labels" / split / f"{stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
            counts[split] += 1
    (out / "data.yaml").write_text(
        f"path: {out.resolve()}\ntrain: images/train\nval: images/val\nnames:\n  0: plate\n"
    )
    return counts


def write_square_crops(src: Path, out: Path, size_px: int, *, prefix: str = "") -> dict[str, dict[str, int]]:
    """Copy a folder-per-class set (``<split>/<class>/*.jpg``) to ``out`` with every crop
    squashed to ``size_px`` square (the classifier's input), named ``prefix`` + its stem +
    ``.jpg``; returns counts per split and class. Unreadable files are reported and skipped,
    never silently dropped."""
    from vision.preprocess import squash_square  # noqa: PLC0415 - keeps this module's import light

    counts: dict[str, dict[str, int]] = {}
    for split_dir in sorted(p for p in src.iterdir() if p.is_dir()):
        for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
            target = out / split_dir.name / class_dir.name
            target.mkdir(parents=True, exist_ok=True)
            n = 0
            for f in sorted(class_dir.iterdir()):
                if f.suffix.lower() not in (".jpg", ".jpeg", ".png"):
                    continue
                try:
                    img = load_image(f)
                except ValueError as e:
                    log.warning("skipped %s", e)
                    continue
                cv2.imwrite(
                    str(target / (prefix + f.stem + ".jpg")),
                    squash_square(img, size_px),
                    [cv2.IMWRITE_JPEG_QUALITY, 95],
                )
                n += 1
            counts.setdefault(split_dir.name, {})[class_dir.name] = n
    return counts


def load_image(path: Path) -> ImageBGR:
    """Read an image file as (H, W, 3) uint8 BGR as shown (EXIF orientation applied, as
    ultralytics reads it for training); raises ``ValueError`` naming the file, also for one PIL
    cannot identify or over :data:`vision.anpr.imageio.MAX_PIXELS` (64 Mpx)."""
    return as_bgr(read_pixels(path))


def write_class_subset(src: Path, out: Path, keep: dict[int, int], names: Sequence[str]) -> dict[str, int]:
    """A YOLO set at ``out`` with only the classes in ``keep`` (old id -> new id); images are
    hard-linked (copied across file systems), labels rewritten. Returns images per split."""
    counts: dict[str, int] = {}
    for split in ("train", "val"):
        img_dir, lbl_dir = out / "images" / split, out / "labels" / split
        img_dir.mkdir(parents=True, exist_ok=True)
        lbl_dir.mkdir(parents=True, exist_ok=True)
        n = 0
        for img in sorted((src / "images" / split).glob("*")):
            target = img_dir / img.name
            if not target.exists():
                try:
                    target.hardlink_to(img)
                except OSError:
                    target.write_bytes(img.read_bytes())
            label = src / "labels" / split / (img.stem + ".txt")
            lines = label.read_text().splitlines() if label.is_file() else []
            kept = [
                f"{keep[int(ln.split()[0])]} {ln.split(maxsplit=1)[1]}"
                for ln in lines
                if ln.strip() and int(ln.split()[0]) in keep
            ]
            (lbl_dir / (img.stem + ".txt")).write_text("\n".join(kept) + ("\n" if kept else ""))
            n += 1
        counts[split] = n
    names_yaml = "".join(f"  {i}: {n}\n" for i, n in enumerate(names))
    (out / "data.yaml").write_text(
        f"path: {out.resolve()}\ntrain: images/train\nval: images/val\nnames:\n{names_yaml}"
    )
    return counts
