"""Lane-camera body crops as a classifier set: rendered clips (``hgv-lane synth clip --frames``)
to the trailer classifier's folder-per-class set (``<split>/<class>/*.jpg``, as
``data/train/crops``), so the classifier also learns the oblique views of front and rear lane
cameras, not only the side views of the scene set.

Each kept frame's labelled body box (the vehicle's trailer or load body, from ``truth.json``) is
clipped to the frame by :func:`vision.train.lane_frames.clip_box` and cut with the lane
pipeline's own :func:`vision.preprocess.crop` and ``body_margin``, so training crops are
cut as service crops are; bodies whose clipped box has a side under ``min_side_px`` (the
pipeline's ``min_body_side_px``, 48) are not classified in service and are skipped here. The
class is the vehicle's ``crop_class`` (rigid lorries, vans and cars are ``other``).

**Hidden bodies are skipped**: a body whose box is covered for more than ``max_hidden`` (0.5)
of its area by the box of a nearer vehicle (one whose box reaches lower in the frame: all three
lane cameras look down the road from above) mostly shows that other vehicle, and labelled with
its own class it would teach the classifier the wrong thing. With ``min_shown`` (``dataset
lane-bodies --min-shown``), so is a body less than that share of which shows with its own cab
counted as hiding it too (``body_shown`` in ``truth.json``: a front camera sees a trailer behind
its cab only above and beside it); clips rendered before ``body_shown`` was added are refused.

**Detector boxes** (``detector=``, ``dataset lane-bodies --boxes detector``): in service the
crop is cut around the vehicle detector's ``body`` box, not the labelled one, and the two differ
most where the classifier is weakest: from the front, a flatbed's or a low trailer's box takes in
the whole cab (``bench pipeline --seed 5400``: such crops read ``tractor_only``, while the
labelled box reads ``flatbed``). With a detector, each kept frame's body detections (at least
:data:`DETECTOR_MIN_CONFIDENCE`, the pipeline's ``vehicle_min_confidence``) are cut instead and
labelled with the vehicle whose labelled body box they overlap most (IoU at least
``min_iou``); a detection the pipeline would give another vehicle (the one whose box it overlaps
most) is skipped as ambiguous, and so is one whose labelled body is hidden as above.

**Split by lane set** (all cameras of one queue on one side), with the same hash as
``dataset lane-frames`` (:func:`vision.train.datasets.split_of`), so a lane set held out of the
vehicle detector's lane frames is held out here too with the same ``val_fraction``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vision.pipeline.config import ReadPolicy, TrackingConfig
from vision.pipeline.protocols import BODY_CLASS
from vision.pipeline.truth import TruthObject, has_body_shown, load_clip_truth
from vision.preprocess import crop
from vision.trailer.evaluate import BodyLocator
from vision.train.datasets import load_image, split_of
from vision.train.lane_frames import clip_box, find_clips, frame_image, val_groups
from vision.types import BBox, DetectionSet

log = logging.getLogger(__name__)

DETECTOR_MIN_CONFIDENCE = TrackingConfig().vehicle_min_confidence
"""Body detections below this confidence are not cut (the lane pipeline ignores them)."""


@dataclass(slots=True)
class LaneBodyCounts:
    """What :func:`write_lane_bodies` wrote; ``as_json`` is what the command prints."""

    clips: dict[str, int] = field(default_factory=lambda: {"train": 0, "val": 0})
    crops: dict[str, Counter[str]] = field(default_factory=lambda: {"train": Counter(), "val": Counter()})
    by_view: Counter[str] = field(default_factory=Counter)
    skipped_small: int = 0
    skipped_hidden: int = 0
    skipped_unshown: int = 0
    skipped_unmatched: int = 0
    skipped_ambiguous: int = 0
    missing_frames: int = 0
    unreadable_frames: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "clips": self.clips,
            "crops": {s: dict(sorted(c.items())) for s, c in self.crops.items()},
            "by_view": dict(sorted(self.by_view.items())),
            "skipped_small": self.skipped_small,
            "skipped_hidden": self.skipped_hidden,
            "skipped_unshown": self.skipped_unshown,
            "skipped_unmatched": self.skipped_unmatched,
            "skipped_ambiguous": self.skipped_ambiguous,
            "missing_frames": self.missing_frames,
            "unreadable_frames": self.unreadable_frames,
        }


def hidden_share(body: BBox, own: BBox, others: Sequence[BBox]) -> float:
    """Share of ``body``'s area (0-1) under the boxes of ``others`` nearer the camera than the
    vehicle of box ``own`` (their bottom edge lower in the frame), counted once where they overlap
    (on a 1/4-px grid of the body's box at most 256 cells a side)."""
    nearer = [b for b in others if b.y2 > own.y2]
    if not nearer or body.area_px <= 0:
        return 0.0
    nx = max(1, min(256, round(body.width_px / 4)))
    ny = max(1, min(256, round(body.height_px / 4)))
    xs = body.x1 + (np.arange(nx) + 0.5) * body.width_px / nx
    ys = body.y1 + (np.arange(ny) + 0.5) * body.height_px / ny
    covered = np.zeros((ny, nx), bool)
    for b in nearer:
        covered |= ((ys >= b.y1) & (ys < b.y2))[:, None] & ((xs >= b.x1) & (xs < b.x2))[None, :]
    return float(covered.mean())


def _labelled_bodies(
    objects: Sequence[TruthObject],
    width_px: int,
    height_px: int,
    counts: LaneBodyCounts | None,
    *,
    min_in_frame: float,
    min_side_px: float,
    max_hidden: float,
    min_shown: float = 0.0,
) -> tuple[list[tuple[int, BBox]], frozenset[int]]:
    """One frame's labelled bodies worth cutting, as (vehicle id, box clipped to the frame):
    enough of the box in the frame, both sides at least ``min_side_px``, not hidden by a nearer
    vehicle (:func:`hidden_share` at most ``max_hidden``), at least ``min_shown`` of it showing
    (``body_shown``; None, a truth without it, passes only ``min_shown`` 0); and the vehicles
    left out for ``min_shown`` alone. The skips are counted in ``counts`` (None: not counted, as
    when a detector's boxes are cut and counted instead)."""
    bodies: list[tuple[int, BBox]] = []
    unshown: set[int] = set()
    for o in objects:
        if o.body_box is None:
            continue
        box = clip_box(o.body_box, width_px, height_px, min_in_frame=min_in_frame, min_side_px=0.0)
        if box is None:
            continue
        if min(box.width_px, box.height_px) < min_side_px:
            if counts is not None:
                counts.skipped_small += 1
        elif hidden_share(box, o.box, [q.box for q in objects if q is not o]) > max_hidden:
            if counts is not None:
                counts.skipped_hidden += 1
        elif min_shown > 0.0 and (o.body_shown is None or o.body_shown < min_shown):
            unshown.add(o.vehicle_id)
            if counts is not None:
                counts.skipped_unshown += 1
        else:
            bodies.append((o.vehicle_id, box))
    return bodies, frozenset(unshown)


def _detected_bodies(
    found: DetectionSet,
    objects: Sequence[TruthObject],
    visible: dict[int, BBox],
    counts: LaneBodyCounts,
    *,
    min_iou: float,
    min_side_px: float,
    unshown: frozenset[int] = frozenset(),
) -> list[tuple[int, BBox]]:
    """The detector's body boxes of one frame (``found``, frame pixels) as (vehicle id, box): each
    labelled with the vehicle whose labelled body box it overlaps most (IoU >= ``min_iou``), kept
    when the lane pipeline would give it that vehicle too (the one whose vehicle box it overlaps
    most), that vehicle's body is in ``visible`` (:func:`_labelled_bodies`) and both sides are at
    least ``min_side_px``; the skips are counted (a vehicle in ``unshown``, its body left out for
    ``min_shown`` alone by :func:`_labelled_bodies`, as ``skipped_unshown``)."""
    labelled = [(o.vehicle_id, o.body_box) for o in objects if o.body_box is not None]
    kept: list[tuple[int, BBox]] = []
    for d in found:
        if d.class_name != BODY_CLASS or d.confidence < DETECTOR_MIN_CONFIDENCE:
            continue
        if min(d.box.width_px, d.box.height_px) < min_side_px:
            counts.skipped_small += 1
            continue
        iou, vehicle_id = max(((d.box.iou(b), v) for v, b in labelled), default=(0.0, -1))
        if iou < min_iou:
            counts.skipped_unmatched += 1
        elif max(objects, key=lambda o: d.box.iou(o.box)).vehicle_id != vehicle_id:
            counts.skipped_ambiguous += 1
        elif vehicle_id in unshown:
            counts.skipped_unshown += 1
        elif vehicle_id not in visible:
            counts.skipped_hidden += 1
        else:
            kept.append((vehicle_id, d.box))
    return kept


def write_lane_bodies(
    roots: Sequence[Path],
    out: Path,
    *,
    every: int = 1,
    val_fraction: float = 0.2,
    min_in_frame: float = 0.5,
    min_side_px: float = float(ReadPolicy().min_body_side_px),
    margin: float = ReadPolicy().body_margin,
    max_hidden: float = 0.5,
    min_shown: float = 0.0,
    detector: BodyLocator | None = None,
    min_iou: float = 0.3,
    progress: Callable[[int], None] | None = None,
) -> LaneBodyCounts:
    """Write the body crops of every ``every``-th frame of the clips under ``roots`` to
    ``out/<split>/<class>/<lane>_<view>_<frame>_v<id>.jpg`` (with ``detector``: its body boxes
    instead of the labelled ones, named ``..._v<id>_d<k>.jpg``, module doc; JPEG quality 95) and
    ``out/lane_bodies.json`` (settings, val groups, counts). With a detector ``skipped_hidden``
    also counts detections of bodies less than ``min_in_frame`` in the frame, and
    ``skipped_unshown`` the detections of bodies left out for ``min_shown`` alone (a frame with no
    labelled body to keep nor one left out so is not run through the detector). Raises ``FileExistsError``
    when ``out`` holds ``train/`` or ``val/`` (write a new folder), ``FileNotFoundError`` when a
    root holds no clip, ``ValueError`` on bad arguments, a clip without frames or, with
    ``min_shown``, a clip whose truth has no ``body_shown`` (render it again)."""
    if every < 1:
        raise ValueError(f"every must be >= 1 (got {every})")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1) (got {val_fraction})")
    if not 0.0 <= max_hidden <= 1.0:
        raise ValueError(f"max_hidden must be in [0, 1] (got {max_hidden})")
    if not 0.0 <= min_shown <= 1.0:
        raise ValueError(f"min_shown must be in [0, 1] (got {min_shown})")
    if (out / "train").exists() or (out / "val").exists():
        raise FileExistsError(f"{out} already holds a set: write the crops into a new folder")
    clips = find_clips(roots)
    for clip in clips if min_shown > 0.0 else ():  # refused before anything is written
        if not has_body_shown(json.loads((clip.folder / "truth.json").read_text())):
            raise ValueError(
                f"{clip.folder / 'truth.json'} has no body_shown (rendered before it was added): "
                "render the clip again or leave out --min-shown"
            )
    counts = LaneBodyCounts()
    n_written = 0
    for clip in clips:
        truth = load_clip_truth(clip.folder / "truth.json")
        classes = {v.vehicle_id: v.body_type.value for v in truth.vehicles}
        split = split_of(clip.group, val_fraction)
        counts.clips[split] += 1
        for i in range(0, truth.n_frames, every):
            objects = truth.frames[i]
            bodies, unshown = _labelled_bodies(
                objects,
                truth.width_px,
                truth.height_px,
                counts if detector is None else None,  # with a detector: its boxes are counted
                min_in_frame=min_in_frame,
                min_side_px=min_side_px if detector is None else 0.0,
                max_hidden=max_hidden,
                min_shown=min_shown,
            )
            if not bodies and (detector is None or not unshown):  # (a detection of an unshown
                continue  # body is counted as one)
            path = frame_image(clip.folder, i)
            if path is None:
                counts.missing_frames += 1
                continue
            try:
                image = load_image(path)
            except ValueError as e:  # a corrupt frame: counted, the set goes on without it
                log.warning("skipped %s", e)
                counts.unreadable_frames += 1
                continue
            if detector is not None:
                bodies = _detected_bodies(
                    detector.detect(image),
                    objects,
                    dict(bodies),
                    counts,
                    min_iou=min_iou,
                    min_side_px=min_side_px,
                    unshown=unshown,
                )
            for j, (vehicle_id, box) in enumerate(bodies):
                cls = classes[vehicle_id]
                target = out / split / cls
                target.mkdir(parents=True, exist_ok=True)
                name = f"{clip.name}_{i:06d}_v{vehicle_id}" + ("" if detector is None else f"_d{j}") + ".jpg"
                cv2.imwrite(str(target / name), crop(image, box, margin), [cv2.IMWRITE_JPEG_QUALITY, 95])
                counts.crops[split][cls] += 1
                counts.by_view[truth.view] += 1
                n_written += 1
                if progress is not None:
                    progress(n_written)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lane_bodies.json").write_text(
        json.dumps(
            {
                "format": "hgv-lane-lane-bodies/1",
                "roots": [str(r) for r in roots],
                "every": every,
                "val_fraction": val_fraction,
                "min_in_frame": min_in_frame,
                "min_side_px": min_side_px,
                "margin": margin,
                "max_hidden": max_hidden,
                "min_shown": min_shown,
                "boxes": "labelled" if detector is None else "detector",
                "min_iou": min_iou if detector is not None else None,
                "val_groups": val_groups(clips, val_fraction),
                **counts.as_json(),
            },
            indent=1,
        )
        + "\n"
    )
    return counts
