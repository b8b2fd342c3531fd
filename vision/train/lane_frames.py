"""Lane-camera frames as a detection set: rendered clips (``hgv-lane synth clip --frames``) to
the vehicle detector's YOLO set (classes ``vehicle``, ``body``, as ``data/train/vehicles``).

A clip folder holds ``truth.json`` (format ``hgv-lane-synth-clip/1``, read by
:func:`vision.pipeline.truth.load_clip_truth`) and ``frames/NNNNNN.jpg``; a lane set
(``synth clip --views front,side,rear``) is a folder with ``lane.json`` and one clip folder per
camera. Every ``every``-th frame of each clip is kept (frame 0, every, 2*every, ...).

**Split by clip, not by frame**: a lane set's cameras see one queue, so the whole lane folder
(all its cameras) goes to one side, decided by a hash of the folder's name
(:func:`vision.train.datasets.split_of`); a lone clip folder is its own group. Frames of one
lorry never land on both sides.

**Boxes**: each box is clipped to the frame; a clipped box is kept only when at least
``min_in_frame`` (0.5) of its area was inside the frame and both its sides are at least
``min_side_px`` (16, the generator's ``MIN_BOX_SIDE_PX``) long; otherwise it is dropped (a
vehicle mostly outside the frame is not labelled). The generator's own ``truth.json`` already
lists only vehicles at least 35 % in frame (bodies 50 %) with boxes clipped, so for its clips
the rule only drops nothing or slivers; it guards truth files from elsewhere. A vehicle without
a body box (the body hidden or out of frame) gets only its ``vehicle`` box. Frames with no
labelled vehicle (the queue not yet in view, or only slivers of it) are background: one in
``empty_every`` of them is kept with an empty label file (the scene sets have some too); a clip
at 2 fps is otherwise about 40 % empty frames.

**Merging** with an existing set (``data/train/vehicles``): the set's images stay where they
are; ``merged.yaml`` lists the lane frames plus a seeded sample of the set's training images in
``merged_train.txt`` and the lane frames' val plus all of the set's val in ``merged_val.txt``.
``data.yaml`` always names the lane frames alone, so each part can be evaluated on its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from vision.pipeline.truth import ClipTruthData, load_clip_truth
from vision.train.datasets import split_of
from vision.types import BBox

log = logging.getLogger(__name__)

NAMES: tuple[str, ...] = ("vehicle", "body")
"""Class names of the set (ids 0, 1), as ``data/train/vehicles``."""
VEHICLE, BODY = 0, 1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True, slots=True)
class ClipSource:
    """A rendered clip folder (``truth.json`` + ``frames/``) and the group its split is decided by."""

    folder: Path
    group: str
    """Lane folder name for a lane set's cameras (all go to one side), else the clip folder's."""
    name: str
    """Prefix of its image names (``<lane>_<view>`` or ``<clip>``), unique in one run."""


@dataclass(slots=True)
class LaneFrameCounts:
    """What :func:`write_lane_frames` wrote; ``as_json`` is what the command prints."""

    clips: dict[str, int] = field(default_factory=lambda: {"train": 0, "val": 0})
    images: dict[str, int] = field(default_factory=lambda: {"train": 0, "val": 0})
    empty_images: dict[str, int] = field(default_factory=lambda: {"train": 0, "val": 0})
    boxes: dict[str, int] = field(default_factory=lambda: {"vehicle": 0, "body": 0})
    dropped_boxes: int = 0
    missing_frames: int = 0
    skipped_empty: int = 0
    merged: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "clips": self.clips,
            "images": self.images,
            "empty_images": self.empty_images,
            "boxes": self.boxes,
            "dropped_boxes": self.dropped_boxes,
            "missing_frames": self.missing_frames,
            "skipped_empty": self.skipped_empty,
            "merged": self.merged,
        }


def find_clips(roots: Sequence[Path]) -> list[ClipSource]:
    """Clip folders under ``roots`` (each a clip, a lane set, or a folder of either), in name order.

    Raises ``FileNotFoundError`` for a root that does not exist or holds no ``truth.json``,
    ``ValueError`` for a clip without a ``frames/`` folder or two clips of one name: checked
    for every clip before a data set writes anything, so a bad clip leaves no half-written set."""
    out: list[ClipSource] = []
    for root in roots:
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such folder")
        truths = sorted(root.rglob("truth.json"))
        if not truths:
            raise FileNotFoundError(
                f"{root}: no truth.json under it (render with 'hgv-lane synth clip --frames')"
            )
        for t in truths:
            clip = t.parent
            if (clip.parent / "lane.json").is_file():
                out.append(ClipSource(clip, clip.parent.name, f"{clip.parent.name}_{clip.name}"))
            else:
                out.append(ClipSource(clip, clip.name, clip.name))
    bare = next((c.folder for c in out if not (c.folder / "frames").is_dir()), None)
    if bare is not None:
        raise ValueError(f"{bare}: no frames/ folder (render with --frames)")
    names = [c.name for c in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"clip names occur twice (rename a folder): {', '.join(dup)}")
    return out


def val_groups(clips: Sequence[ClipSource], val_fraction: float) -> list[str]:
    """The groups (lane sets, or lone clips) of ``clips`` that :func:`split_of` puts in val, sorted."""
    return sorted({c.group for c in clips if split_of(c.group, val_fraction) == "val"})


def clip_box(
    box: BBox, width_px: int, height_px: int, *, min_in_frame: float, min_side_px: float
) -> BBox | None:
    """``box`` clipped to a ``width_px`` x ``height_px`` frame, or ``None`` when less than
    ``min_in_frame`` of its area is inside or a side of the clipped box is under ``min_side_px``."""
    x1, y1 = max(0.0, box.x1), max(0.0, box.y1)
    x2, y2 = min(float(width_px), box.x2), min(float(height_px), box.y2)
    if x2 <= x1 or y2 <= y1:
        return None
    area = box.area_px
    inside = (x2 - x1) * (y2 - y1)
    if area <= 0 or inside / area < min_in_frame or min(x2 - x1, y2 - y1) < min_side_px:
        return None
    return BBox(x1, y1, x2, y2)


def yolo_line(cls: int, box: BBox, width_px: int, height_px: int) -> str:
    """``cls cx cy w h``, normalised to the frame, 6 decimals."""
    cx, cy = (box.x1 + box.x2) / 2 / width_px, (box.y1 + box.y2) / 2 / height_px
    return f"{cls} {cx:.6f} {cy:.6f} {box.width_px / width_px:.6f} {box.height_px / height_px:.6f}"


def frame_labels(
    truth: ClipTruthData, index: int, *, min_in_frame: float = 0.5, min_side_px: float = 16.0
) -> tuple[list[str], dict[str, int], int]:
    """Frame ``index``'s YOLO label lines (vehicle boxes, then body boxes), kept boxes per class
    and the number of boxes dropped by :func:`clip_box`'s rule."""
    lines: list[str] = []
    kept = {"vehicle": 0, "body": 0}
    dropped = 0
    w, h = truth.width_px, truth.height_px
    for obj in truth.frames[index]:
        for cls, raw in ((VEHICLE, obj.box), (BODY, obj.body_box)):
            if raw is None:
                continue
            box = clip_box(raw, w, h, min_in_frame=min_in_frame, min_side_px=min_side_px)
            if box is None:
                dropped += 1
                continue
            lines.append(yolo_line(cls, box, w, h))
            kept[NAMES[cls]] += 1
    return lines, kept, dropped


def _link(src: Path, dst: Path) -> None:
    if dst.exists():
        dst.unlink()
    try:
        dst.hardlink_to(src)
    except OSError:
        dst.write_bytes(src.read_bytes())


def frame_image(clip: Path, index: int) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        p = clip / "frames" / f"{index:06d}{suffix}"
        if p.is_file():
            return p
    return None


def write_lane_frames(
    roots: Sequence[Path],
    out: Path,
    *,
    every: int = 3,
    val_fraction: float = 0.2,
    min_in_frame: float = 0.5,
    min_side_px: float = 16.0,
    empty_every: int = 2,
    progress: Callable[[int], None] | None = None,
) -> LaneFrameCounts:
    """Write every ``every``-th frame of the clips under ``roots`` as a YOLO set at ``out``
    (``images/<split>/<clip>_<frame>.jpg`` hard-linked, ``labels/<split>/*.txt``, ``data.yaml``
    with classes :data:`NAMES`, ``lane_frames.json`` with the settings, val groups and counts),
    split by clip group; one in ``empty_every`` frames without a kept box is kept (module
    docstring). Raises
    ``FileExistsError`` when ``out/images`` exists (write a new folder), ``FileNotFoundError``
    when a root holds no clip, ``ValueError`` on bad arguments or a clip without frames."""
    if every < 1 or empty_every < 1:
        raise ValueError(f"every and empty_every must be >= 1 (got {every}, {empty_every})")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1) (got {val_fraction})")
    if (out / "images").exists():
        raise FileExistsError(f"{out / 'images'} exists: write the set into a new folder")
    clips = find_clips(roots)
    counts = LaneFrameCounts()
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    n_written = 0
    for clip in clips:
        truth = load_clip_truth(clip.folder / "truth.json")
        split = split_of(clip.group, val_fraction)
        counts.clips[split] += 1
        n_empty = 0
        for i in range(0, truth.n_frames, every):
            image = frame_image(clip.folder, i)
            if image is None:
                counts.missing_frames += 1
                continue
            lines, kept, dropped = frame_labels(truth, i, min_in_frame=min_in_frame, min_side_px=min_side_px)
            if not lines:
                n_empty += 1
                if (n_empty - 1) % empty_every:
                    counts.skipped_empty += 1
                    continue
            stem = f"{clip.name}_{i:06d}"
            _link(image, out / "images" / split / f"{stem}{image.suffix.lower()}")
            (out / "labels" / split / f"{stem}.txt").write_text("".join(ln + "\n" for ln in lines))
            counts.images[split] += 1
            counts.empty_images[split] += 0 if lines else 1
            for k, v in kept.items():
                counts.boxes[k] += v
            counts.dropped_boxes += dropped
            n_written += 1
            if progress is not None:
                progress(n_written)
    _write_yaml(out / "data.yaml", "images/train", "images/val")
    (out / "lane_frames.json").write_text(
        json.dumps(
            {
                "format": "hgv-lane-lane-frames/1",
                "roots": [str(r) for r in roots],
                "every": every,
                "val_fraction": val_fraction,
                "min_in_frame": min_in_frame,
                "min_side_px": min_side_px,
                "empty_every": empty_every,
                "val_groups": val_groups(clips, val_fraction),
                **counts.as_json(),
            },
            indent=1,
        )
        + "\n"
    )
    return counts


@dataclass(frozen=True, slots=True)
class PlateFrame:
    """A lane-camera frame with labelled plates, as a source of the plate detector's tiles."""

    name: str
    """``<clip>_<frame>``: unique in one run, the tile files' stem."""
    group: str
    """The split group (:attr:`ClipSource.group`): a lane set's cameras go to one side."""
    image: Path
    plates: tuple[BBox, ...]
    """Plate boxes in frame pixels (xyxy), as the generator labels them (at least 12 px high,
    80 % visible, 90 % in frame)."""


def plate_frames(roots: Sequence[Path], *, every: int = 2) -> list[PlateFrame]:
    """Every ``every``-th frame of the clips under ``roots`` that shows a labelled plate; side
    cameras are left out (the lane reads no plates from them). A frame whose image is missing
    (a clip rendered without ``--frames``, or cut short) is skipped, and each clip's count of
    them logged as a warning. Raises as :func:`find_clips`, ``ValueError`` for ``every`` under 1."""
    if every < 1:
        raise ValueError(f"every must be >= 1 (got {every})")
    out: list[PlateFrame] = []
    for clip in find_clips(roots):
        truth = load_clip_truth(clip.folder / "truth.json")
        if truth.view == "side":
            continue
        missing = 0
        for i in range(0, truth.n_frames, every):
            plates = tuple(box for obj in truth.frames[i] for _, _, box in obj.plates)
            if not plates:
                continue
            image = frame_image(clip.folder, i)
            if image is None:
                missing += 1
            else:
                out.append(PlateFrame(f"{clip.name}_{i:06d}", clip.group, image, plates))
        if missing:
            log.warning("%s: %d frame(s) with a labelled plate have no image: skipped", clip.folder, missing)
    return out


def _write_yaml(path: Path, train: str, val: str) -> None:
    """A ``data.yaml`` without ``path:`` (entries resolve against its folder, as the importer's)."""
    spec = {"train": train, "val": val, "names": dict(enumerate(NAMES))}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _split_images(data_yaml: Path, split: str) -> list[Path]:
    """Images of a YOLO set's ``split`` (a folder of ``data.yaml``'s root, or a ``.txt`` list)."""
    spec = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
    names = spec.get("names")
    listed = list(names.values()) if isinstance(names, dict) else list(names or [])
    if tuple(listed) != NAMES:
        raise ValueError(f"{data_yaml}: classes {listed}, not {list(NAMES)}")
    base = data_yaml.resolve().parent
    root = Path(spec.get("path") or base)
    root = root if root.is_absolute() else (base / root).resolve()
    entry = root / spec[split]
    if entry.suffix == ".txt":
        return [Path(ln.strip()) for ln in entry.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return _images(entry)


def write_merged(out: Path, other: Path, *, sample: int | None = None, seed: int = 0) -> dict[str, int]:
    """Write ``out/merged.yaml`` (+ ``merged_train.txt``, ``merged_val.txt``): the lane frames at
    ``out`` plus ``other``'s (a ``data.yaml`` with the same classes) training images - all of them,
    or a seeded random ``sample`` - and all its val images, left where they are. Returns the
    image counts ``{"train", "val", "other_train", "other_val"}``."""
    other_yaml = other / "data.yaml" if other.is_dir() else other
    other_train = _split_images(other_yaml, "train")
    other_val = _split_images(other_yaml, "val")
    if sample is not None and sample < len(other_train):
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.choice(len(other_train), size=sample, replace=False))
        other_train = [other_train[int(i)] for i in chosen]
    lists = {
        "train": [p.resolve() for p in _images(out / "images" / "train")]
        + [p.resolve() for p in other_train],
        "val": [p.resolve() for p in _images(out / "images" / "val")] + [p.resolve() for p in other_val],
    }
    for split, paths in lists.items():
        (out / f"merged_{split}.txt").write_text("".join(f"{p}\n" for p in paths))
    _write_yaml(out / "merged.yaml", "merged_train.txt", "merged_val.txt")
    return {
        "train": len(lists["train"]),
        "val": len(lists["val"]),
        "other_train": len(other_train),
        "other_val": len(other_val),
    }
