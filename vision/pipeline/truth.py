"""Ground truth of synthetic passage clips (``truth.json`` written by :mod:`vision.synth.clip`):
loading it, a detector that answers from it (a test double and a way to measure the rest of
the pipeline without detector error), and scoring passages against it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vision.pipeline.config import ReadPolicy
from vision.pipeline.protocols import BODY_CLASS, PLATE_CLASS, VEHICLE_CLASS
from vision.types import BBox, BodyType, Detection, DetectionSet, Frame, Passage, PlateRole


@dataclass(frozen=True, slots=True)
class TruthPlate:
    """A plate of a clip vehicle; ``n_frames`` counts the frames where it is labelled (readable)."""

    role: PlateRole
    text: str
    country: str
    two_line: bool
    n_frames: int


BODY_SHOWN_FRACTION = 0.25
"""A body counts as shown in a frame when at least this share of it shows, its own cab counted
as hiding it (``body_shown`` in ``truth.json``), ..."""
BODY_SHOWN_SIDE_PX = float(ReadPolicy().min_body_side_px)
"""... and its box is at least this many pixels on each side (48: the pipeline's least body
crop, ``ReadPolicy.min_body_side_px``) ..."""
BODY_SHOWN_FRAMES = 5
"""... and a lorry's body counts as shown by the clip when it is shown in at least this many
frames (0.2 s at 25 fps). A body hardly shown (a tanker behind its cab, seen from the front)
is scored all the same; :attr:`ClipScore.body_shown` says how many were not."""


@dataclass(frozen=True, slots=True)
class TruthVehicle:
    """A clip vehicle. ``body_shown_frames``: frames in which its body is shown (the rule of
    :data:`BODY_SHOWN_FRAMES`); ``None`` for a truth file without ``body_shown``."""

    vehicle_id: int
    body_type: BodyType
    plates: tuple[TruthPlate, ...]
    first_frame: int | None
    last_frame: int | None
    body_shown_frames: int | None = None

    @property
    def body_shown(self) -> bool:
        """Whether the clip shows the body well enough to tell its type (unknown counts as yes)."""
        return self.body_shown_frames is None or self.body_shown_frames >= BODY_SHOWN_FRAMES

    @property
    def labelled(self) -> bool:
        """Whether the vehicle is labelled in at least one frame (so a passage is expected)."""
        return self.first_frame is not None

    @property
    def readable_plates(self) -> tuple[TruthPlate, ...]:
        """Plates labelled (readable) in at least one frame."""
        return tuple(p for p in self.plates if p.n_frames > 0)


@dataclass(frozen=True, slots=True)
class TruthObject:
    """One labelled vehicle in one frame; boxes in pixels."""

    vehicle_id: int
    box: BBox
    body_box: BBox | None
    plates: tuple[tuple[PlateRole, str, BBox], ...]
    body_shown: float | None = None


@dataclass(frozen=True, slots=True)
class ClipTruthData:
    """A clip's ground truth as read from ``truth.json``. A vehicle's ``body_type`` is its
    classifier class (``crop_class``: rigid lorries, vans and cars are ``other``)."""

    fps: float
    width_px: int
    height_px: int
    n_frames: int
    view: str
    vehicles: tuple[TruthVehicle, ...]
    frames: tuple[tuple[TruthObject, ...], ...]


def _box(raw: Sequence[float]) -> BBox:
    return BBox(float(raw[0]), float(raw[1]), float(raw[2]), float(raw[3]))


def has_body_shown(raw: dict[str, Any]) -> bool:
    """Whether a parsed ``truth.json`` gives ``body_shown`` with its body boxes (clips rendered
    before it was added do not; one without any body box has nothing to give)."""
    return all(
        "body_shown" in o for f in raw["frames"] for o in f["objects"] if o.get("body_box") is not None
    )


def _shown_frames(frames: Sequence[Sequence[TruthObject]], vehicle_id: int) -> int:
    return sum(
        1
        for objs in frames
        for o in objs
        if o.vehicle_id == vehicle_id
        and o.body_box is not None
        and o.body_shown is not None
        and o.body_shown >= BODY_SHOWN_FRACTION
        and min(o.body_box.width_px, o.body_box.height_px) >= BODY_SHOWN_SIDE_PX
    )


def load_clip_truth(path: Path) -> ClipTruthData:
    """Read a clip's ``truth.json`` (format ``hgv-lane-synth-clip/1``; ``body_shown`` optional)."""
    d = json.loads(path.read_text())
    if d.get("format") != "hgv-lane-synth-clip/1":
        raise ValueError(f"{path}: not a synthetic clip truth file (format {d.get('format')!r})")
    frames = tuple(
        tuple(
            TruthObject(
                int(o["vehicle_id"]),
                _box(o["box"]),
                _box(o["body_box"]) if o["body_box"] is not None else None,
                tuple((PlateRole(p["role"]), p["text"], _box(p["box"])) for p in o["plates"]),
                None if o.get("body_shown") is None else float(o["body_shown"]),
            )
            for o in f["objects"]
        )
        for f in d["frames"]
    )
    shown_known = any("body_shown" in o for f in d["frames"] for o in f["objects"])
    vehicles = tuple(
        TruthVehicle(
            int(v["vehicle_id"]),
            BodyType(v["crop_class"]),
            tuple(
                TruthPlate(
                    PlateRole(p["role"]), p["text"], p["country"], bool(p["two_line"]), int(p["n_frames"])
                )
                for p in v["plates"]
            ),
            v["first_frame"],
            v["last_frame"],
            _shown_frames(frames, int(v["vehicle_id"])) if shown_known else None,
        )
        for v in d["vehicles"]
    )
    return ClipTruthData(
        float(d["fps"]), int(d["width"]), int(d["height"]), int(d["n_frames"]), d["view"], vehicles, frames
    )


class TruthDetector:
    """Answers a detector's question from ground truth, by ``frame.index`` (a test double).

    ``kind`` ``"vehicle"`` gives ``vehicle`` and ``body`` boxes, ``"plate"`` gives ``plate``
    boxes; confidence 0.9. ``index_offset`` maps frame indices to clip frames (looping
    sources count on: the clip index is ``index % n_frames``).
    """

    def __init__(self, truth: ClipTruthData, kind: str) -> None:
        if kind not in ("vehicle", "plate"):
            raise ValueError(f"kind must be 'vehicle' or 'plate', got {kind!r}")
        self.truth = truth
        self.kind = kind
        self.calls = 0

    def detect(self, frame: Frame) -> DetectionSet:
        self.calls += 1
        objs = self.truth.frames[frame.index % self.truth.n_frames] if self.truth.n_frames else ()
        dets: list[Detection] = []
        for o in objs:
            if self.kind == "vehicle":
                dets.append(Detection(o.box, 0, VEHICLE_CLASS, 0.9))
                if o.body_box is not None:
                    dets.append(Detection(o.body_box, 1, BODY_CLASS, 0.9))
            else:
                dets.extend(Detection(box, 0, PLATE_CLASS, 0.9) for _, _, box in o.plates)
        return DetectionSet(tuple(dets), frame.width_px, frame.height_px)


@dataclass(frozen=True, slots=True)
class ClipScore:
    """Passages of one or more clips against their ground truth.

    ``expected``: labelled vehicles; ``found``: passages; ``matched``: vehicles with a
    passage (passages matched to vehicles by time overlap); ``duplicates``: passages beyond
    the first for one vehicle; ``spurious``: passages matching no vehicle; ``read_ok``:
    matched passages whose plates are exactly the vehicle's readable plates (same roles and
    texts, nothing else); ``body_ok``: matched passages with the right body type;
    ``body_shown`` / ``body_shown_ok``: the same two counts over the vehicles whose body the
    clip shows (:attr:`TruthVehicle.body_shown`).
    """

    expected: int
    found: int
    matched: int
    duplicates: int
    spurious: int
    read_ok: int
    body_ok: int
    misses: tuple[str, ...] = ()
    body_shown: int = 0
    body_shown_ok: int = 0

    def __add__(self, other: ClipScore) -> ClipScore:
        return ClipScore(
            self.expected + other.expected,
            self.found + other.found,
            self.matched + other.matched,
            self.duplicates + other.duplicates,
            self.spurious + other.spurious,
            self.read_ok + other.read_ok,
            self.body_ok + other.body_ok,
            self.misses + other.misses,
            self.body_shown + other.body_shown,
            self.body_shown_ok + other.body_shown_ok,
        )

    @property
    def read_rate(self) -> float:
        return self.read_ok / self.expected if self.expected else 0.0

    @property
    def body_accuracy(self) -> float:
        return self.body_ok / self.expected if self.expected else 0.0

    @property
    def body_accuracy_shown(self) -> float | None:
        """Body type accuracy over the vehicles whose body the clip shows; None when it shows none."""
        return self.body_shown_ok / self.body_shown if self.body_shown else None


def plates_read(passage: Passage) -> list[tuple[str, str]]:
    """A passage's plates that were read, as sorted ``(role, text)`` pairs: what the scorers
    compare with a vehicle's readable plates. A plate seen but not read (no text) is no read,
    right or wrong: the passage says the plate was there, as the truth does of a plate too
    small or blurred to read (bench lane set 5282's rear plate)."""
    return sorted((pp.role.value, pp.text) for pp in passage.plates if pp.text)


PassageBoxes = Mapping[str, Sequence[tuple[int, BBox]]]
"""Per passage id, the vehicle boxes its track had on the frames it was detected:
``(clip frame index, box in pixels)``."""

MATCH_IOU = 0.3
"""Least IoU between a passage's box and a lorry's labelled box for the frame to count."""


def score_passages(
    passages: Sequence[Passage],
    truth: ClipTruthData,
    *,
    start_ts_ms: int,
    label: str = "",
    boxes: PassageBoxes | None = None,
    matched_to: dict[str, int] | None = None,
) -> ClipScore:
    """Match passages of one run over a clip (frame ``i`` at ``start_ts_ms + i * 1000 / fps``)
    to the clip's vehicles, one passage per vehicle, and score them. Passages left over count
    as duplicates when they overlap a vehicle, else as spurious.

    With ``boxes`` (the track boxes of each passage), a passage overlaps a vehicle on the frames
    where one of its boxes and the vehicle's labelled box have IoU >= :data:`MATCH_IOU`, and
    the similarity is the share of its boxes that do: what the track followed, frame by frame.
    (A lorry is labelled only while it is in full enough view, so a lorry the detector picks up
    earlier or later than its label makes a time span that does not fit its label's.) Without
    ``boxes``, or for a passage with none, it is the IoU of their time spans. Either way a
    shared plate text weighs most, and the assignment is greedy, most similar pair first.
    ``matched_to`` (optional) is filled with each matched passage's vehicle id, by passage id.
    """
    period = 1000.0 / truth.fps
    expected = [v for v in truth.vehicles if v.labelled]
    spans = [
        (start_ts_ms + (v.first_frame or 0) * period, start_ts_ms + (v.last_frame or 0) * period)
        for v in expected
    ]
    texts = [{tp.text for tp in v.plates} for v in expected]
    column = {v.vehicle_id: j for j, v in enumerate(expected)}
    sim = np.zeros((len(passages), len(expected)))
    for i, p in enumerate(passages):
        read = {pp.text for pp in p.plates if pp.text}
        track = boxes.get(p.passage_id, ()) if boxes is not None else ()
        if track:
            hits = np.zeros(len(expected))
            for index, box in track:
                for o in truth.frames[index % truth.n_frames] if truth.n_frames else ():
                    j = column.get(o.vehicle_id)
                    if j is not None and o.box.iou(box) >= MATCH_IOU:
                        hits[j] += 1
            sim[i] = hits / len(track)
        else:
            for j, (a, b) in enumerate(spans):
                inter = min(b, p.last_seen_ts_ms) - max(a, p.first_seen_ts_ms)
                union = max(b, p.last_seen_ts_ms) - min(a, p.first_seen_ts_ms)
                if inter >= 0:
                    sim[i, j] = (inter + period) / (union + period)
        for j in range(len(expected)):
            if sim[i, j] > 0 and read & texts[j]:
                sim[i, j] += 2.0
    by_vehicle: dict[int, list[Passage]] = {}
    assigned: set[int] = set()
    taken: set[int] = set()
    for flat in np.argsort(-sim, axis=None) if sim.size else ():  # greedy, most similar pair first
        i, j = divmod(int(flat), len(expected))
        if sim[i, j] <= 0:
            break
        if i in assigned or j in taken:
            continue
        by_vehicle.setdefault(expected[j].vehicle_id, []).append(passages[i])
        assigned.add(i)
        taken.add(j)
    if matched_to is not None:
        matched_to.update({p.passage_id: v for v, ps in by_vehicle.items() for p in ps})
    spurious = duplicates = 0
    for i in range(len(passages)):
        if i in assigned:
            continue
        if sim[i].max(initial=0.0) > 0:
            duplicates += 1  # overlaps a vehicle that already has its passage
        else:
            spurious += 1
    read_ok = body_ok = body_shown = body_shown_ok = 0
    misses: list[str] = []
    for v in expected:
        body_shown += v.body_shown
        ps = by_vehicle.get(v.vehicle_id, [])
        if not ps:
            misses.append(f"{label}vehicle {v.vehicle_id} ({v.body_type.value}): no passage")
            continue
        p = ps[0]
        want = sorted((tp.role.value, tp.text) for tp in v.readable_plates)
        got = plates_read(p)
        if want == got:
            read_ok += 1
        else:
            misses.append(f"{label}vehicle {v.vehicle_id}: plates {got} != truth {want}")
        if p.body.body_type is v.body_type:
            body_ok += 1
            body_shown_ok += v.body_shown
        else:
            hardly = "" if v.body_shown else f" (body hardly shown: {v.body_shown_frames} frames)"
            misses.append(
                f"{label}vehicle {v.vehicle_id}: body {p.body.body_type.value} != truth "
                f"{v.body_type.value}{hardly}"
            )
    return ClipScore(
        len(expected),
        len(passages),
        len(by_vehicle),
        duplicates,
        spurious,
        read_ok,
        body_ok,
        tuple(misses),
        body_shown,
        body_shown_ok,
    )
