"""Data set writers: YOLO detection set, trailer-crop classification set, plate crops, contact sheet.

Every writer is deterministic: sample ``i`` of a run with seed ``s`` is rendered from
``np.random.default_rng([s, i, ...])`` alone, so the same command writes the same bytes
whatever the number of workers.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing as mp
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from .plates import PlateSpec
from .randomize import SIZES, random_spec
from .render import StaticTextures, TextureCache, process_static_textures, render_spec
from .scene import (
    SPEC_CHAR_PX,
    VIEWS,
    Box,
    Lighting,
    PlateTruth,
    Scene,
    SceneSpec,
    View,
    char_height_px,
    illegible_reasons,
)
from .taxonomy import BODY_TYPES, CROP_CLASSES, DETECT_CLASSES, SIDE_OF, BodyType

T = TypeVar("T")
R = TypeVar("R")

MANIFEST_HEADER = ("image_path", "plate_text", "country", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "notes")
CROP_SOURCES: dict[str, tuple[BodyType, ...]] = {
    c: ((c,) if c != "other" else ("rigid_box", "van", "car"))  # type: ignore[misc]
    for c in CROP_CLASSES
}


class Progress:
    """A one-line counter on stderr (``label done/total``), silent when ``enabled`` is false."""

    def __init__(self, label: str, total: int, enabled: bool = True) -> None:
        self.label, self.total, self.enabled, self.done = label, total, enabled, 0

    def step(self, n: int = 1) -> None:
        self.done += n
        if self.enabled and (self.done == self.total or self.done % 10 == 0):
            print(f"\r{self.label} {self.done}/{self.total}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled:
            print(file=sys.stderr, flush=True)


def _single_threaded_cv2() -> None:
    """Worker initialiser: the processes are the parallelism, so OpenCV uses one thread each."""
    cv2.setNumThreads(1)


def _run_blocks(
    fn: Callable[[tuple[int, int]], list[R]], n: int, workers: int, block: int = 16
) -> Iterator[R]:
    """Apply ``fn`` to index blocks ``[a, b)`` covering ``0..n`` and yield results in index order."""
    blocks = [(a, min(n, a + block)) for a in range(0, n, block)]
    if workers <= 1 or len(blocks) <= 1:
        for b in blocks:
            yield from fn(b)
        return
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ctx.Pool(workers, initializer=_single_threaded_cv2) as pool:
        for res in pool.imap(fn, blocks):
            yield from res


def encode_jpeg(img: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of a BGR uint8 image (deterministic for the same pixels and quality)."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


# --------------------------------------------------------------------------------------
# detection set


@dataclass(frozen=True)
class DetectSample:
    """One rendered detection sample: file stem, split, JPEG bytes, YOLO lines, labelled
    plates and each one's manifest notes."""

    stem: str
    split: str
    jpeg: bytes
    labels: tuple[str, ...]
    plates: tuple[PlateTruth, ...]
    notes: tuple[str, ...]


def _size_for(mode: str, rng: np.random.Generator) -> tuple[int, int]:
    if mode == "mixed":
        return SIZES[int(rng.integers(len(SIZES)))]
    w, h = (int(v) for v in mode.lower().split("x"))
    return w, h


@dataclass(frozen=True)
class _DetectJob:
    seed: int
    val_fraction: float
    size: str

    def __call__(self, block: tuple[int, int]) -> list[DetectSample]:
        static = process_static_textures()
        out = []
        for i in range(*block):
            rng = np.random.default_rng([self.seed, i])
            size = _size_for(self.size, np.random.default_rng([self.seed, i, 2]))
            spec = random_spec(
                rng, seed=int(np.random.default_rng([self.seed, i, 3]).integers(0, 2**31 - 1)), size=size
            )
            scene = render_spec(spec, cache=TextureCache(static), jpeg=False)
            split = (
                "val" if np.random.default_rng([self.seed, i, 1]).random() < self.val_fraction else "train"
            )
            q = spec.condition.jpeg_quality or 90
            plates = tuple(p for p in scene.plates if p.labelled)
            out.append(
                DetectSample(
                    f"synth_{self.seed}_{i:06d}",
                    split,
                    encode_jpeg(scene.image, q),
                    scene.yolo_lines(),
                    plates,
                    tuple(_plate_notes(p, spec) for p in plates),
                )
            )
        return out


def write_detect(
    out: Path,
    n: int,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    size: str = "1280x720",
    workers: int = 1,
    progress: bool = True,
) -> int:
    """Write a YOLO detection set (images/, labels/, data.yaml, scenes.csv) of ``n`` images; returns ``n``."""
    for sub in ("images/train", "images/val", "labels/train", "labels/val"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, ...]] = []
    pr = Progress("detect", n, progress)
    for s in _run_blocks(_DetectJob(seed, val_fraction, size), n, workers):
        (out / "images" / s.split / f"{s.stem}.jpg").write_bytes(s.jpeg)
        (out / "labels" / s.split / f"{s.stem}.txt").write_text("".join(line + "\n" for line in s.labels))
        for p, notes in zip(s.plates, s.notes, strict=True):
            rows.append(
                (
                    f"images/{s.split}/{s.stem}.jpg",
                    p.text,
                    p.country,
                    f"{p.box.x0:.1f}",
                    f"{p.box.y0:.1f}",
                    f"{p.box.width:.1f}",
                    f"{p.box.height:.1f}",
                    notes,
                )
            )
        pr.step()
    pr.close()
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(DETECT_CLASSES))
    (out / "data.yaml").write_text(
        "# Synthetic lane-camera detection set (vision.synth).\n"
        "# No 'path' key: ultralytics then resolves train/val against this file's folder.\n"
        f"train: images/train\nval: images/val\nnc: {len(DETECT_CLASSES)}\nnames:\n{names}\n"
    )
    _write_manifest(out / "scenes.csv", rows)
    return n


def _plate_notes(p: PlateTruth, spec: SceneSpec) -> str:
    """``;``-separated tags: two_line, the conditions, role, view, plate height, ``small_chars``
    for characters under :data:`SPEC_CHAR_PX` and, for a plate nobody could read, why
    (:func:`illegible_reasons`)."""
    notes = (
        (["two_line"] if p.two_line else [])
        + list(spec.condition.tags())
        + [p.role, spec.view, f"h{round(p.box.height)}px"]
        + (["small_chars"] if char_height_px(p) < SPEC_CHAR_PX else [])
        + list(illegible_reasons(p, spec.condition))
    )
    return ";".join(dict.fromkeys(n for n in notes if n))


def _write_manifest(path: Path, rows: Sequence[tuple[str, ...]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(MANIFEST_HEADER)
    w.writerows(rows)
    path.write_text(buf.getvalue())


# --------------------------------------------------------------------------------------
# trailer crops (classification)


def _crop(
    img: np.ndarray, b: Box, rng: np.random.Generator, margin: tuple[float, float], max_side: int
) -> np.ndarray:
    H, W = img.shape[:2]
    mx = b.width * float(rng.uniform(*margin))
    my = b.height * float(rng.uniform(*margin))
    x0, y0 = max(0, int(b.x0 - mx)), max(0, int(b.y0 - my))
    x1, y1 = min(W, int(np.ceil(b.x1 + mx))), min(H, int(np.ceil(b.y1 + my)))
    crop = img[y0:y1, x0:x1]
    s = max_side / max(crop.shape[:2])
    if s < 1.0:
        crop = cv2.resize(
            crop,
            (max(1, int(crop.shape[1] * s)), max(1, int(crop.shape[0] * s))),
            interpolation=cv2.INTER_AREA,
        )
    return crop


@dataclass(frozen=True)
class _CropJob:
    seed: int
    val_fraction: float
    max_side: int

    def __call__(self, block: tuple[int, int]) -> list[tuple[str, str, bytes]]:
        static = process_static_textures()
        out = []
        n_cls = len(CROP_CLASSES)
        for j in range(*block):
            cls_i, i = j % n_cls, j // n_cls
            cls = CROP_CLASSES[cls_i]
            for attempt in range(12):
                rng = np.random.default_rng([self.seed, cls_i, i, attempt])
                sources = CROP_SOURCES[cls]
                bt = sources[int(rng.integers(len(sources)))]
                view: View = ("side", "high_side", "front", "rear")[
                    int(rng.choice(4, p=[0.35, 0.25, 0.3, 0.1]))
                ]
                spec = random_spec(rng, view=view, body_type=bt, size=(1280, 720), extras=rng.random() < 0.4)
                scene = render_spec(spec, cache=TextureCache(static))
                v = scene.vehicles[0]
                identifiable = v.body_side_visible or cls in ("tractor_only", "other")
                if not (v.body_labelled and identifiable and v.body_box.height >= 40):
                    continue
                crop = _crop(scene.image, v.body_box, rng, (0.02, 0.1), self.max_side)
                split = (
                    "val"
                    if np.random.default_rng([self.seed, cls_i, i, 99]).random() < self.val_fraction
                    else "train"
                )
                out.append(
                    (
                        f"{split}/{cls}/{cls}_{self.seed}_{i:05d}.jpg",
                        cls,
                        encode_jpeg(crop, int(rng.integers(75, 95))),
                    )
                )
                break
            else:
                raise RuntimeError(f"no usable {cls} crop after 12 attempts (seed {self.seed}, index {i})")
        return out


def write_crops(
    out: Path,
    n_per_class: int,
    *,
    seed: int = 0,
    val_fraction: float = 0.15,
    max_side: int = 320,
    workers: int = 1,
    progress: bool = True,
) -> int:
    """Write ``train/<class>/*.jpg`` and ``val/<class>/*.jpg`` trailer crops (ultralytics classify layout)."""
    for split in ("train", "val"):
        for c in CROP_CLASSES:
            (out / split / c).mkdir(parents=True, exist_ok=True)
    total = n_per_class * len(CROP_CLASSES)
    pr = Progress("crops", total, progress)
    for rel, _, data in _run_blocks(_CropJob(seed, val_fraction, max_side), total, workers, block=11):
        (out / rel).write_bytes(data)
        pr.step()
    pr.close()
    return total


@dataclass(frozen=True)
class _TrailerSceneJob:
    """Whole lane photographs for ``eval trailers``: one vehicle whose body type can be told."""

    seed: int

    def __call__(self, block: tuple[int, int]) -> list[tuple[str, str, str, str, bytes]]:
        static = process_static_textures()
        out: list[tuple[str, str, str, str, bytes]] = []
        n_cls = len(CROP_CLASSES)
        for j in range(*block):
            cls_i, i = j % n_cls, j // n_cls
            cls = CROP_CLASSES[cls_i]
            for attempt in range(12):
                rng = np.random.default_rng([self.seed, cls_i, i, attempt, 5])
                sources = CROP_SOURCES[cls]
                bt = sources[int(rng.integers(len(sources)))]
                view: View = ("side", "high_side", "front", "rear")[
                    int(rng.choice(4, p=[0.35, 0.3, 0.25, 0.1]))
                ]
                spec = random_spec(rng, view=view, body_type=bt, size=SIZES[int(rng.integers(len(SIZES)))])
                scene = render_spec(spec, cache=TextureCache(static))
                v = scene.vehicles[0]
                identifiable = v.body_side_visible or cls in ("tractor_only", "other")
                if not (v.body_labelled and identifiable and v.body_box.height >= 40):
                    continue
                name = f"images/{cls}_{self.seed}_{i:05d}.jpg"
                q = spec.condition.jpeg_quality or 90
                out.append((name, SIDE_OF[bt], cls, scene.caption(), encode_jpeg(scene.image, q)))
                break
            else:
                raise RuntimeError(f"no usable {cls} scene after 12 attempts (seed {self.seed}, index {i})")
        return out


def write_trailer_scenes(
    out: Path, n_per_class: int, *, seed: int = 0, workers: int = 1, progress: bool = True
) -> int:
    """Write whole lane photographs and ``manifest.csv`` (``image_path,label,body_type,notes``,
    label ``hard|soft|other``): the trailer evaluation set format of ``../shared/data/README.md``."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    total = n_per_class * len(CROP_CLASSES)
    pr = Progress("trailer scenes", total, progress)
    rows: list[tuple[str, ...]] = []
    for name, label, body_type, notes, data in _run_blocks(_TrailerSceneJob(seed), total, workers, block=11):
        (out / name).write_bytes(data)
        rows.append((name, label, body_type, notes))
        pr.step()
    pr.close()
    with (out / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(("image_path", "label", "body_type", "notes"))
        w.writerows(sorted(rows))
    return total


# --------------------------------------------------------------------------------------
# plate crops


@dataclass(frozen=True)
class PlateCrop:
    """A plate crop: file name, JPEG bytes, text, country and notes."""

    name: str
    jpeg: bytes
    text: str
    country: str
    notes: str


MIN_CROP_PLATE_H_PX = 18.0

PLATE_CROP_MARGIN: tuple[float, float] = (0.08, 0.25)
"""``synth plates`` crops: the plate's box grown at each side by a share of its size drawn from
this range (a detector's box with a margin, loosely cut). The lane cuts tighter: the plate
detector's box plus 6 % of its width left and right, nothing above and below
(``vision.pipeline.config.ReadPolicy``); ``--margin 0.02,0.06`` makes a set cut about so."""


@dataclass(frozen=True)
class _PlateJob:
    seed: int
    lighting: Lighting | None = None
    margin: tuple[float, float] = PLATE_CROP_MARGIN

    def __call__(self, block: tuple[int, int]) -> list[PlateCrop]:
        static = process_static_textures()
        out = []
        for i in range(*block):
            rng = np.random.default_rng([self.seed, i, 7])
            view: View = ("front", "rear", "side")[int(rng.choice(3, p=[0.47, 0.47, 0.06]))]
            spec = random_spec(rng, view=view, size=SIZES[int(rng.integers(2))], lighting=self.lighting)
            scene = render_spec(spec, cache=TextureCache(static))
            for k, p in enumerate(scene.plates):
                if not p.labelled or p.box.height < MIN_CROP_PLATE_H_PX:
                    continue
                crop = _crop(scene.image, p.box, rng, self.margin, 400)
                out.append(
                    PlateCrop(
                        f"plate_{self.seed}_{i:06d}_{k}.jpg",
                        encode_jpeg(crop, 92),
                        p.text,
                        p.country,
                        _plate_notes(p, spec),
                    )
                )
        return out


def write_plates(
    out: Path,
    n: int,
    *,
    seed: int = 0,
    workers: int = 1,
    progress: bool = True,
    lighting: Lighting | None = None,
    margin: tuple[float, float] = PLATE_CROP_MARGIN,
) -> int:
    """Write ``n`` plate crops to ``out/crops`` and ``out/manifest.csv``; returns the number written.

    Each crop is the plate's box grown at each side by a random share of its width (left and
    right) and height (above and below) drawn from ``margin`` (low, high); the same seed gives
    the same plates whatever the margin (one share per crop for left and right, one for top and
    bottom)."""
    if not 0.0 <= margin[0] <= margin[1] <= 1.0:
        raise ValueError(f"plate crop margin must be 0 <= low <= high <= 1, got {margin}")
    (out / "crops").mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, ...]] = []
    pr = Progress("plates", n, progress)
    budget = max(8, n * 3)
    for pc in _run_blocks(_PlateJob(seed, lighting, margin), budget, workers, block=8):
        if len(rows) >= n:
            break
        (out / "crops" / pc.name).write_bytes(pc.jpeg)
        rows.append((f"crops/{pc.name}", pc.text, pc.country, "", "", "", "", pc.notes))
        pr.step()
    pr.close()
    _write_manifest(out / "manifest.csv", rows)
    return len(rows)


def read_manifest(path: Path) -> list[dict[str, str]]:
    """Rows of a plate manifest as dicts keyed by the header (for tests and tools)."""
    with path.open(newline="") as f:
        r = csv.DictReader(f)
        if tuple(r.fieldnames or ()) != MANIFEST_HEADER:
            raise ValueError(f"{path}: unexpected header {r.fieldnames}")
        return list(r)


# --------------------------------------------------------------------------------------
# contact sheet


def sheet_scene(seed: int, i: int, static: StaticTextures | None = None) -> Scene:
    """Sample ``i`` of a contact sheet: body types and views cycle so every type shows in several views."""
    rng = np.random.default_rng([seed, i, 5])
    bt = BODY_TYPES[i % len(BODY_TYPES)]
    view = VIEWS[(i // len(BODY_TYPES) + i) % len(VIEWS)]
    spec = random_spec(rng, view=view, body_type=bt, size=(1280, 720))
    return render_spec(spec, cache=TextureCache(static))


def _tile(scene: Scene, tw: int, th: int) -> np.ndarray:
    img = cv2.resize(scene.image, (tw, th), interpolation=cv2.INTER_AREA)
    sx, sy = tw / scene.size[0], th / scene.size[1]
    main = scene.spec.vehicles[0].vehicle_id
    for v in scene.vehicles:
        if v.body_labelled and v.vehicle_id == main:
            b = v.body_box
            cv2.rectangle(
                img, (int(b.x0 * sx), int(b.y0 * sy)), (int(b.x1 * sx), int(b.y1 * sy)), (255, 160, 0), 1
            )
    plates = sorted([p for p in scene.plates if p.labelled], key=lambda p: -p.box.height)
    x = tw
    for p in plates[:2]:
        b = p.box
        for_crop = scene.image[max(0, int(b.y0) - 2) : int(b.y1) + 3, max(0, int(b.x0) - 3) : int(b.x1) + 4]
        if for_crop.size == 0:
            continue
        h = 56 if p.two_line else 36
        w = max(1, int(for_crop.shape[1] * h / max(1, for_crop.shape[0])))
        w = min(w, tw // 2)
        inset = cv2.resize(for_crop, (w, h), interpolation=cv2.INTER_CUBIC)
        x -= w + 2
        img[2 : 2 + h, x : x + w] = inset
        cv2.rectangle(img, (x - 1, 1), (x + w, 2 + h), (0, 255, 255), 1)
        cv2.rectangle(
            img, (int(b.x0 * sx), int(b.y0 * sy)), (int(b.x1 * sx), int(b.y1 * sy)), (0, 255, 255), 1
        )
    cap = np.full((34, tw, 3), 30, np.uint8)
    main_bt = scene.spec.vehicles[0].body_type
    texts = " ".join(f"{p.text}({p.country})" for p in plates if p.vehicle_id == main) or "no readable plate"
    cv2.putText(
        cap,
        f"{main_bt} | {scene.spec.view}",
        (4, 13),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.42,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    cv2.putText(
        cap,
        f"{texts} | {'+'.join(scene.spec.condition.tags())}",
        (4, 28),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.36,
        (190, 230, 255),
        1,
        cv2.LINE_AA,
    )
    return np.vstack([img, cap])


@dataclass(frozen=True)
class _SheetJob:
    seed: int
    tw: int
    th: int

    def __call__(self, block: tuple[int, int]) -> list[np.ndarray]:
        static = process_static_textures()
        return [_tile(sheet_scene(self.seed, i, static), self.tw, self.th) for i in range(*block)]


def write_sheet(
    out: Path,
    *,
    seed: int = 0,
    n: int = 48,
    cols: int = 6,
    tile_w: int = 400,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """PNG contact sheet of ``n`` samples captioned with body type, view, plates (with insets), conditions."""
    th = tile_w * 9 // 16
    pr = Progress("sheet", n, progress)
    tiles = []
    for t in _run_blocks(_SheetJob(seed, tile_w, th), n, workers, block=4):
        tiles.append(t)
        pr.step()
    pr.close()
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [
        np.hstack([np.pad(t, ((2, 2), (2, 2), (0, 0))) for t in tiles[r : r + cols]])
        for r in range(0, len(tiles), cols)
    ]
    sheet = np.vstack(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), sheet):
        raise RuntimeError(f"could not write {out}")
    return out


def plate_specs_of(scene: Scene) -> tuple[PlateSpec, ...]:
    """The plate specs of every vehicle in a scene (convenience)."""
    return tuple(p for v in scene.spec.vehicles for p in v.plates)


def scene_truth_json(scene: Scene) -> dict[str, object]:
    """Ground truth of one scene as a JSON-serialisable dict (boxes xyxy pixels)."""

    def b(box: Box) -> list[float]:
        return [round(box.x0, 2), round(box.y0, 2), round(box.x1, 2), round(box.y1, 2)]

    return {
        "view": scene.spec.view,
        "width": scene.size[0],
        "height": scene.size[1],
        "conditions": list(scene.spec.condition.tags()),
        "vehicles": [
            {
                "vehicle_id": v.vehicle_id,
                "body_type": v.body_type,
                "side": v.side,
                "country": v.country,
                "box": b(v.box),
                "body_box": b(v.body_box),
                "labelled": v.labelled,
                "body_labelled": v.body_labelled,
            }
            for v in scene.vehicles
        ],
        "plates": [
            {
                "vehicle_id": p.vehicle_id,
                "text": p.text,
                "country": p.country,
                "role": p.role,
                "two_line": p.two_line,
                "box": b(p.box),
                "text_box": b(p.text_box),
                "labelled": p.labelled,
            }
            for p in scene.plates
        ],
    }


def write_json(path: Path, obj: object) -> None:
    """Pretty, stable JSON."""
    path.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n")
