"""The lane pipeline: frames in, passages out. Synchronous and single-threaded (the lane worker
runs it on its own thread); every model is a protocol, so tests pass fakes.

Per frame (``process``):

1. **motion gate** (optional): frames where nothing moves in the region of interest are
   skipped while no vehicle is tracked (at least one frame per heartbeat is processed);
2. **stride**: detectors run at most every ``detect_interval_ms``; frames in between are
   counted and carry the last tracks (for the preview) but cost nothing. While a readable
   plate seen on the last detected frame has had fewer than ``first_reads`` reads, every
   frame is detected (a plate readable for a few frames only still gets its reads);
3. **detect** vehicles and bodies, and, when a vehicle is in view and the camera reads plates
   (front and rear views; a side camera is the body's), plates; detections whose
   anchor (vehicles: bottom centre, plates: centre) is outside the region are dropped;
4. **track** vehicles with ByteTrack in frame pixels. A new track that starts where a lost
   vehicle is predicted to be continues that vehicle (no duplicate passage when ByteTrack
   loses a lorry briefly). **Plates** are tracked with ByteTrack in the coordinates of the
   vehicle they are in (each vehicle its own unit square, side by side): a plate moves tens
   of pixels per frame as a lorry approaches but hardly moves relative to its lorry, so
   plate tracks hold even when consecutive plate boxes do not overlap;
5. **read** plate crops the read policy allows (tall enough; a track's first few, then only
   clearly bigger ones, a bounded number per track: see :class:`ReadPolicy`); **classify**
   body crops (big enough, spaced in time, a bounded number: past it a clearly bigger crop
   replaces the smallest look);
6. **close** vehicles not seen for ``close_after_ms``: each becomes a :class:`Passage`
   (plates voted per role, body-type consensus, best crops, direction), unless it had
   fewer than ``min_hits`` detections (then it is counted as noise), or, seen by a side
   camera, it was a piece of another vehicle (:meth:`LanePipeline._whole_of`: the detector
   boxed a lorry's cab alone, then the whole lorry, and both tracks ran for a while); the
   piece's sightings go to the whole vehicle's track (its body looks only when the whole has
   none: :meth:`VehicleTrack.absorb`).

``flush`` closes every open track (end of a file).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from vision.anpr.imageio import BadImageError
from vision.anpr.reader import read_box
from vision.anpr.vote import PlateVote
from vision.pipeline.assemble import (
    BodyLook,
    PlateLook,
    PlateTrack,
    VehicleTrack,
    all_plates_read,
    assemble_passage,
    clearly_different,
    plate_is_sure,
)
from vision.pipeline.config import LaneConfig
from vision.pipeline.gate import MotionGate
from vision.pipeline.protocols import BODY_CLASS, PLATE_CLASS, VEHICLE_CLASS, LaneModels
from vision.pipeline.track import ByteTracker, boxes_array
from vision.preprocess import crop
from vision.trailer.consensus import consensus
from vision.types import BBox, BodyType, Detection, Frame, Passage, PassagePlate, ReadStatus

log = logging.getLogger(__name__)

ORPHAN_KEY = -1
"""Vehicle key of plates seen outside every tracked vehicle."""

VEHICLE_LOST_MS = 600
"""ByteTrack keeps a lost vehicle track this long (ms) at most."""

VEHICLE_MIN_IOU = 0.3
"""Least IoU between a vehicle track's predicted box and a detection for ByteTrack to match them."""

PART_INSIDE = 0.75
"""A side camera's vehicle box at least this much inside a bigger one's, on a frame, lies in it."""

PART_SMALLER = 1.25
"""A part's biggest box is smaller than its whole's biggest by this factor at least (area): a
lorry leaving the view, its last boxes inside the next lorry's, was whole before."""

PART_MIN_FRAMES = 2
PART_FRAME_SHARE = 0.75
"""A side camera's track that lay inside another on at least :data:`PART_MIN_FRAMES` frames, and
on at least this share of the frames they were both boxed, is a part of that vehicle (bench
lane set 5210: a flatbed's cab inside the whole lorry's box on 4 shared frames, 0.79-0.94 of
its area, the last one as the whole lorry's box lagged behind)."""

HOLDER_SHARE = 0.5
"""A closing side-camera track that held an open one's box on at least this share of its own
detections (and as :data:`PART_MIN_FRAMES` and :data:`PART_FRAME_SHARE` ask) was a wrong big box
around that vehicle (:meth:`LanePipeline._whole_of`)."""

TRAVEL_SIZE_SLACK = 1.15
"""How much a lost vehicle's box may seem to grow (rear view) or shrink (front view) against the
way it travels before a new box there is taken for another lorry (:meth:`LanePipeline._travels_to`)."""

EDGE_PX = 4.0
"""A box within this many pixels of the frame's edge touches it (:func:`_clear_of_edges`)."""

BOX_JUMP = 1.8
"""How many times its box's area a rear or side camera's vehicle track may grow from one sighting
to the next before the new box is taken for the next lorry (:meth:`LanePipeline._box_jumps`)."""

BOX_JUMP_WITHIN_MS = 250
"""How soon after the sighting before it a grown box must come to count as a jump (:data:`BOX_JUMP`)."""

SIDE_LEAVING = 0.8
"""A side camera's vehicle is leaving the view when its box, on the frame's left or right edge,
is at most this share of the widest box of its track so far (:func:`_leaving_side`)."""

GROUP_SPLIT_WITHIN_MS = 500
GROUP_INSIDE = 0.5
GROUP_COVER = 0.5
"""A closing track with no plate read, two or more open tracks beginning in its last
:data:`GROUP_SPLIT_WITHIN_MS` (at or before its last sighting) with their first boxes each at
least :data:`GROUP_INSIDE` inside its box of then, and the box around those first boxes at IoU
:data:`GROUP_COVER` or more with its box, was one box around those vehicles far off until the
detector told them apart (:meth:`LanePipeline._split_into`; bench lane set 5320: 0.60 and 0.85
inside, 0.61 IoU)."""

STILL_IOU = 0.7
"""A vehicle track every one of whose boxes overlaps its first by at least this IoU never moved:
a piece of the scene the detector takes for a vehicle, not a lorry passing through the lane
(:meth:`LanePipeline._is_scene`; bench lane set 5211: a control booth, IoU 0.85 or more over
63 detections; set 5322: the side view's canopy and buildings, 0.86)."""

CONTINUE_LAST_BOXES = 3
"""How many of a lost vehicle's last boxes a new box may continue on a front camera
(:meth:`LanePipeline._key_for_new_id`; fresh lane set 5311: a last box cut short)."""

DROVE_ON_INSIDE = 0.8
"""A rear camera's new box this much inside a lost vehicle's last box (and at least
:data:`DROVE_ON_MIN_AREA` of it, lost :data:`DROVE_ON_LOST_MS` or more) continues it however
little they overlap: the lorry drove on, shrinking, while it was lost
(:meth:`LanePipeline._drove_on`)."""

DROVE_ON_MIN_AREA = 0.2
"""The least share of a lost vehicle's last box a box it drove on to may have (set 5271: 0.31)."""

DROVE_ON_LOST_MS = 240
"""How long a vehicle must have been lost before a box inside it is taken for it further off:
a vehicle far ahead whose track starts while the near lorry misses a frame or two is another."""

GLIMPSE_MIN_CONFIDENCE = 0.95
"""The read of a plate detection that no track grew from is kept from this confidence on
(:meth:`LanePipeline._glimpsed`)."""

RECENT_PASSAGES = 16
"""How many closed passages' plates the pipeline remembers (:meth:`LanePipeline._plate_only`)."""

PLATE_ONLY_MIN_CHARS = 5
"""A plate on no tracked vehicle makes a passage only with at least this many characters."""

PENDING_SAME_IOU = 0.3
"""A vehicle detection not yet tracked keeps the slot of last time's untracked detection it
overlaps by this much (:meth:`LanePipeline._reserve_slots`)."""

PLATE_GROW = (2.0, 4.0)
"""Plate boxes are grown this much (width, height) in plate-tracking space."""


def _remembered_text(plate: PassagePlate) -> str:
    """The text a closed passage's plate is remembered by (:meth:`LanePipeline._plate_only`):
    its read, or for a plate seen but not read from looks that disagreed
    (:func:`vision.pipeline.assemble.unsettled`) its best candidate, so a later sure read of
    the same plate on no vehicle is still taken for that lorry's, not a lorry of its own."""
    return plate.text or (plate.candidates[0].text if plate.candidates else "")


@dataclass(frozen=True, slots=True)
class TrackView:
    """One track as the preview draws it: ``label`` is the plate's current vote or the
    vehicle's body type so far."""

    track_id: int
    box: BBox
    label: str


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What the pipeline did with one frame.

    ``detected`` is False for frames skipped by the motion gate (``gated``) or by the stride;
    ``vehicles``/``plates`` are the tracks seen on the last detected frame; ``passages``
    are those closed while handling this frame; ``ms`` is the processing time;
    ``open_since_ms`` is the first sighting of the earliest vehicle track still open after this
    frame, or of a plate track on no vehicle that may still become a passage (``None``: none
    open), so a consumer knows no passage seen earlier can still come (the lane merger waits on
    it).
    """

    frame_index: int
    ts_ms: int
    detected: bool
    gated: bool
    vehicles: tuple[TrackView, ...]
    plates: tuple[TrackView, ...]
    passages: tuple[Passage, ...]
    n_reads: int = 0
    n_body_looks: int = 0
    ms: float = 0.0
    open_since_ms: int | None = None


PLATE_SIZE_WINDOW = 50
"""Plates whose tallest crop :attr:`PipelineCounters.best_plate_px` keeps."""

SPEC_PLATE_PX = 21.0
"""A one-line plate this many px high has characters of about 15 px (UK characters are 79 of
the plate's 111 mm), what plate readers are installed for (``vision.synth.scene.SPEC_CHAR_PX``);
smaller plates are read less often (synthetic plates under 24 px: 0.90-0.95, 32 px and over:
0.99)."""


@dataclass(slots=True)
class PipelineCounters:
    """Running counts of one lane's pipeline (read by the worker's health snapshot)."""

    frames: int = 0
    detected: int = 0
    gated: int = 0
    strided: int = 0
    plate_reads: int = 0
    unreadable_crops: int = 0
    body_looks: int = 0
    passages: int = 0
    passages_with_plates: int = 0
    passages_all_read: int = 0
    noise_tracks: int = 0
    parts: int = 0
    orphan_plates: int = 0
    plate_only_passages: int = 0
    stitched: int = 0
    handovers: int = 0
    glimpsed_plates: int = 0
    best_plate_px: deque[float] = field(default_factory=lambda: deque(maxlen=PLATE_SIZE_WINDOW))
    """The last :data:`PLATE_SIZE_WINDOW` plates of passages at their tallest (px high per line
    of characters, :func:`_line_px`; read or too small to read): how large this camera sees
    plates (an installer's check, :data:`SPEC_PLATE_PX`)."""


@dataclass(slots=True)
class _Seen:
    """A detection kept for one detect step while ByteTrack has not yet given it an id."""

    det: Detection
    vehicle_key: int | None = None
    ts_ms: int = 0
    read: PlateLook | None = None
    crop_px: float = 0.0
    slot: int | None = None  # a vehicle's: the plate-space slot kept for it (``_reserve_slots``)


@dataclass(slots=True)
class _State:
    vehicles: dict[int, VehicleTrack] = field(default_factory=dict)  # key -> track
    vehicle_of_id: dict[int, int] = field(default_factory=dict)  # ByteTrack id -> key
    plates: dict[int, PlateTrack] = field(default_factory=dict)  # ByteTrack plate id -> track
    slots: dict[int, int] = field(default_factory=dict)  # vehicle key -> plate-space slot
    # side views: vehicle key -> other vehicle key -> frames seen together / inside it
    together: dict[int, Counter[int]] = field(default_factory=dict)
    inside: dict[int, Counter[int]] = field(default_factory=dict)
    prev_vehicles: dict[int, _Seen] = field(default_factory=dict)  # by index in the last tracker input
    prev_plates: dict[int, _Seen] = field(default_factory=dict)
    # passages closed lately: (last sighting, plate texts), for :meth:`LanePipeline._plate_only`
    recent: deque[tuple[int, tuple[str, ...]]] = field(default_factory=lambda: deque(maxlen=RECENT_PASSAGES))
    camera_id: str = ""  # the last frame's
    next_key: int = 1
    next_glimpse_id: int = -2  # plate tracks of one sighting (:meth:`LanePipeline._glimpsed`)
    # the last detect step's handovers: vehicle key cut -> key that goes on (:meth:`_handed_on`)
    handed_to: dict[int, int] = field(default_factory=dict)
    last_ts_ms: int | None = None
    last_detect_ms: int | None = None
    last_processed_ms: int | None = None
    last_vehicle_views: tuple[TrackView, ...] = ()
    last_plate_views: tuple[TrackView, ...] = ()


class LanePipeline:
    """One lane camera's pipeline; see the module doc. Not thread-safe: one thread per lane.

    ``passage_id`` names a passage (default: ``<lane>-<camera>-<first ts_ms>-<vehicle key>``).
    All times come from the frames (``ts_ms``), never from a clock.
    """

    def __init__(
        self,
        config: LaneConfig,
        models: LaneModels,
        *,
        passage_id: Callable[[LaneConfig, VehicleTrack], str] | None = None,
    ) -> None:
        self.config = config
        self.models = models
        self.counters = PipelineCounters()
        self._gate = MotionGate(config.motion_gate, config.roi) if config.motion_gate.enabled else None
        t = config.tracking
        # Vehicles: ByteTrack holds a lost track briefly and needs a solid overlap (a lorry's box
        # moves little between frames); longer gaps are bridged by the pipeline's own stitching
        # (``_key_for_new_id``), so a lorry entering where another just left is not taken for it.
        self._vehicle_tracker = ByteTracker(
            lost_ms=min(t.close_after_ms, VEHICLE_LOST_MS),
            activation_confidence=t.track_activation_confidence,
            high_confidence=t.track_activation_confidence,
            min_iou=VEHICLE_MIN_IOU,
        )
        self._plate_tracker = ByteTracker(
            lost_ms=t.close_after_ms,
            activation_confidence=t.track_activation_confidence,
            high_confidence=t.track_activation_confidence,
            min_iou=0.05,
        )
        self._passage_id = passage_id or _default_passage_id
        self._s = _State()

    # --- public ---------------------------------------------------------------------------

    @property
    def open_vehicles(self) -> int:
        """Vehicle tracks not yet closed."""
        return len(self._s.vehicles)

    def process(self, frame: Frame) -> FrameResult:
        """Handle one frame (see the module doc); returns what happened, with any passages closed."""
        t0 = time.perf_counter()
        s, cfg = self._s, self.config
        self.counters.frames += 1
        ts = frame.ts_ms if s.last_ts_ms is None or frame.ts_ms > s.last_ts_ms else s.last_ts_ms + 1
        s.last_ts_ms = ts
        s.camera_id = frame.camera_id
        moved = self._gate.moved(frame.image) if self._gate is not None else True
        heartbeat_due = (
            s.last_processed_ms is None or ts - s.last_processed_ms >= cfg.motion_gate.heartbeat_ms
        )
        if not moved and not s.vehicles and not heartbeat_due:
            self.counters.gated += 1
            closed = self._close_expired(ts)
            return self._result(frame, ts, False, True, closed, 0, 0, t0)
        interval = cfg.tracking.detect_interval_ms
        if (
            s.last_detect_ms is not None
            and interval
            and ts - s.last_detect_ms < interval
            and not self._reading()
        ):
            self.counters.strided += 1
            closed = self._close_expired(ts)
            return self._result(frame, ts, False, False, closed, 0, 0, t0)
        s.last_detect_ms = s.last_processed_ms = ts
        self.counters.detected += 1
        n_reads, n_looks, handed = self._detect_and_track(frame, ts)
        closed = handed + self._close_expired(ts)
        return self._result(frame, ts, True, False, closed, n_reads, n_looks, t0)

    def flush(self) -> tuple[Passage, ...]:
        """Close every open vehicle track (end of the source); returns their passages, and those
        of plates read surely on no vehicle (:meth:`_plate_only`). A read of the last frame's
        untracked plates that is sure on its own is kept first (:meth:`_glimpsed`)."""
        for seen in self._s.prev_plates.values():
            self._glimpsed(seen)
        self._s.prev_plates = {}
        keys = list(self._s.vehicles)
        out = tuple(p for k in keys if (p := self._close(k)) is not None)
        orphans = [self._s.plates.pop(t) for t in list(self._s.plates)]
        return out + tuple(p for t in orphans if (p := self._plate_only(t)) is not None)

    # --- internals ------------------------------------------------------------------------

    def _result(
        self,
        frame: Frame,
        ts: int,
        detected: bool,
        gated: bool,
        closed: tuple[Passage, ...],
        n_reads: int,
        n_looks: int,
        t0: float,
    ) -> FrameResult:
        return FrameResult(
            frame.index,
            ts,
            detected,
            gated,
            self._s.last_vehicle_views,
            self._s.last_plate_views,
            closed,
            n_reads,
            n_looks,
            (time.perf_counter() - t0) * 1000.0,
            self._open_since_ms(),
        )

    def _open_since_ms(self) -> int | None:
        """The first sighting of the earliest vehicle track still open, or of a plate track on no
        vehicle that could so far be a passage (:meth:`_could_be_passage`; a sign's track, which
        never closes while traffic is in view, does not hold the lane merger up)."""
        s = self._s
        firsts = [v.first_ts_ms for v in s.vehicles.values()]
        firsts += [p.first_ts_ms for p in s.plates.values() if self._could_be_passage(p)]
        return min(firsts, default=None)

    def _in_roi(self, frame: Frame, x: float, y: float) -> bool:
        return self.config.roi.contains(x, y, frame.width_px, frame.height_px)

    def _reading(self) -> bool:
        """Whether a plate seen on the last detected frame is tall enough to read and has had
        fewer than ``first_reads`` reads (the least a vote needs): then the next frame is
        detected whatever the stride, so a plate readable for only a few frames still gets
        its reads."""
        s, policy = self._s, self.config.reads
        return any(
            p.last_ts_ms == s.last_detect_ms
            and p.box.height_px >= policy.min_plate_height_px
            and len(p.looks) < policy.first_reads
            for p in s.plates.values()
        )

    def _detect_and_track(self, frame: Frame, ts: int) -> tuple[int, int, tuple[Passage, ...]]:
        """Detect and track on one frame; returns the reads and body looks taken and the
        passages of vehicles another lorry took over (see :meth:`_handovers`)."""
        s, cfg = self._s, self.config
        tc = cfg.tracking
        found = self.models.vehicle_detector.detect(frame)
        vehicles = [
            d
            for d in found
            if d.class_name == VEHICLE_CLASS
            and d.confidence >= tc.vehicle_min_confidence
            and self._in_roi(frame, d.box.center[0], d.box.y2)
        ]
        bodies = [
            d for d in found if d.class_name == BODY_CLASS and d.confidence >= tc.vehicle_min_confidence
        ]
        # vehicles
        upd = self._vehicle_tracker.update(
            boxes_array([d.box for d in vehicles]), np.array([d.confidence for d in vehicles]), ts
        )
        matched = {s.vehicle_of_id[t] for t in upd.ids if t in s.vehicle_of_id}
        frame_vehicles: list[tuple[int, Detection]] = []  # (vehicle key, detection)
        for det, tid in zip(vehicles, upd.ids, strict=True):
            if tid < 0:
                continue
            key = s.vehicle_of_id.get(tid)
            if key is None:
                key = self._key_for_new_id(tid, det.box, ts, matched)
                matched.add(key)
                grew = upd.grew_from.get(tid)
                if grew is not None and grew in s.prev_vehicles:
                    first = s.prev_vehicles[grew]
                    self._vehicle_seen(key, first, frame)
                    if first.slot is not None and key not in s.slots and first.slot not in s.slots.values():
                        s.slots[key] = first.slot  # where its plates were tracked while it was new
            self._vehicle_seen(key, _Seen(det, ts_ms=ts), frame)
            frame_vehicles.append((key, det))
        s.prev_vehicles = self._reserve_slots(
            {i: _Seen(d, ts_ms=ts) for i, (d, t) in enumerate(zip(vehicles, upd.ids, strict=True)) if t < 0}
        )
        pending = list(s.prev_vehicles.values())
        if cfg.view == "side":
            self._note_parts(frame_vehicles)
        # bodies -> vehicles
        n_looks = self._bodies(frame, ts, bodies, frame_vehicles)
        # plates, only while a vehicle is in view, and not by a side camera (it sees the body)
        plates: list[Detection] = []
        if (vehicles or s.vehicles) and self.config.reads_plates:
            plates = [
                d
                for d in self.models.plate_detector.detect(frame)
                if d.class_name == PLATE_CLASS
                and d.confidence >= tc.plate_min_confidence
                and self._in_roi(frame, *d.box.center)
            ]
        n_reads = self._plates(frame, ts, plates, frame_vehicles, pending)
        handed = self._handovers(ts, (frame.width_px, frame.height_px))
        s.last_vehicle_views = tuple(
            TrackView(key, det.box, self._vehicle_label(s.vehicles[key]))
            for key, det in ((s.handed_to.get(k, k), d) for k, d in frame_vehicles)
        )
        return n_reads, n_looks, handed

    def _handovers(self, ts: int, frame_size: tuple[int, int]) -> tuple[Passage, ...]:
        """Split vehicle tracks that another lorry took over; returns the passages of the lorries
        that left, and keeps for each split vehicle the key of the track that goes on
        (``handed_to``, :meth:`_handed_on`) until the next detect step.

        A detector that sees a passing trailer and the next lorry behind it as one box for a
        while gives ByteTrack no reason to start a new track: the box slides from one lorry to
        the next. The plates tell: one vehicle track that shows a plate read surely
        (:func:`plate_is_sure`) and *later* (after that plate track was last seen) another plate
        read surely, of the same role and clearly different (:func:`clearly_different`), holds
        two lorries. The track is cut where the second plate was first seen: what came before is
        the first lorry's passage (closed now), the rest goes on as a new vehicle. Only plate
        tracks read on this frame are checked. A rear camera's track whose box jumped in size,
        as the next lorry coming in under the camera makes it, and a side camera's whose box
        jumped as it left the view, as the lorry behind it nose to tail makes it, are cut where
        they jumped (:meth:`_box_jumps`), when no plate cut can be made.
        """
        s, cfg = self._s, self.config
        keys = {
            k
            for p in s.plates.values()
            if p.looks and p.looks[-1].ts_ms == ts and (k := p.vehicle_key) is not None
        }
        jumps = self._box_jumps(ts, frame_size) if cfg.view in ("rear", "side") else {}
        out: list[Passage] = []
        s.handed_to = {}
        for key in sorted(keys | jumps.keys()):
            v = s.vehicles.get(key)
            if v is None:
                continue
            plate_cut = self._handover_cut(v, self._sure_plates(key)) if key in keys else None
            cut = next((c for c in (plate_cut, jumps.get(key)) if c is not None and v.can_split_at(c)), None)
            if cut is None:
                continue
            new_key = s.next_key
            s.next_key += 1
            w = v.split_at(cut, new_key)
            s.vehicles[new_key] = w
            for tid in w.track_ids:
                s.vehicle_of_id[tid] = new_key
            if key in s.slots:
                s.slots[new_key] = s.slots.pop(key)
            for p in s.plates.values():
                if p.vehicle_key == key and p.first_ts_ms >= cut:
                    p.vehicles = Counter({new_key: p.n_seen})
            s.handed_to[key] = new_key
            self.counters.handovers += 1
            log.debug("lane %s: vehicle %d taken over at %d, goes on as %d", cfg.lane_id, key, cut, new_key)
            passage = self._close(key, handed_over=True)
            if passage is not None:
                out.append(passage)
        return tuple(out)

    def _sure_plates(self, key: int) -> list[tuple[PlateTrack, PlateVote]]:
        """Vehicle ``key``'s plate tracks read surely (:func:`plate_is_sure`), with their votes."""
        rule = self.config.vote_rule
        return [
            (p, pv)
            for p in self._s.plates.values()
            if p.vehicle_key == key and plate_is_sure(pv := p.vote(rule))
        ]

    def _box_jumps(self, ts: int, frame_size: tuple[int, int]) -> dict[int, int]:
        """The vehicles seen on this frame (``ts``) whose box on this and the sighting before
        was :data:`BOX_JUMP` times or more the box of the sighting before those (the first
        jump within :data:`BOX_JUMP_WITHIN_MS`), each with when it first jumped: where a rear or
        side camera's track went from one lorry to the next. One grown box alone (a box that
        took in a passing lorry for a frame, then shrank back) is no jump; the next sighting
        that holds the size confirms it, however late (set 5207's came 4 frames later).
        ``frame_size``: width, height in pixels.

        A rear camera sees lorries drive away, their boxes shrinking; the next lorry comes in
        under the camera, big, often over the one driving off, and ByteTrack may hand it that
        one's track (bench lane set 5207, thirty-third session: a flatbed's box 492 x 556 px, on
        the next frame the next lorry's 953 x 650, 2.3 times as big, one track). The grown box
        must touch the frame's edge, as a lorry coming in under the camera does: a far lorry's
        box that grows over another far off is no jump (set 5260's lorry 2, 6 s on).

        A side camera sees a lorry leave the view across one edge, its box narrowing there; a
        lorry following nose to tail is boxed with its tail when it comes out from behind it
        (set 5282, thirty-fourth session: a car transporter's box 317 px wide on the right edge,
        on the next frame 806 px, its tractor-only follower's box and the tail as one, one
        track). A jump counts when the box before it and the grown box are on the same edge
        and the box before it was leaving (:func:`_leaving_side`); a lorry coming into view
        grows across the edge frame by frame, and a cab boxed apart from its trailer mid-frame
        is no jump (parts: :meth:`_note_parts`).

        A plate read on each lorry tells as well (:meth:`_handover_cut`); a lorry whose plates
        were not read, and a side camera, which reads none, have only the box."""
        out: dict[int, int] = {}
        rear = self.config.view == "rear"
        for key, v in self._s.vehicles.items():
            if v.last_ts_ms != ts or len(v.sightings) < 3:
                continue
            (t0, b0), (t1, b1), (t2, b2) = v.sightings[-3], v.sightings[-2], v.sightings[-1]
            if t2 != ts or t1 - t0 > BOX_JUMP_WITHIN_MS:
                continue
            before = BOX_JUMP * max(b0.area_px, 1.0)
            if b1.area_px < before or b2.area_px < before:
                continue
            width = frame_size[0]
            if (not _clear_of_edges(b1, *frame_size)) if rear else _leaving_side(v, (t0, b0), b1, width):
                out[key] = t1
        return out

    def _handover_cut(self, v: VehicleTrack, read: Sequence[tuple[PlateTrack, PlateVote]]) -> int | None:
        """Where vehicle track ``v`` goes from one lorry to the next, going by its plate tracks
        read surely (``read``, with their votes), or ``None``.

        Two plates of one role, clearly different, the second first seen after the first was
        last seen: where the second was first seen. Two of different roles (a UK trailer's mark,
        then a rear plate) say the same only when the vehicle was also lost in between, for
        :data:`VEHICLE_LOST_MS` or more, and picked up again by :meth:`_key_for_new_id`: then
        where it was picked up. One lorry shows its rear plate and its trailer mark together; a
        lorry that leaves the rear camera's view as the next comes in under it can hand its
        track to that one, whose rear plate is then read (bench lane set 5207: lorry 1's mark
        read 7.76-7.92 s, the track lost 8.72-10.16 s, lorry 2's rear plate read from 10.24 s).
        """
        # each role scans its track's looks: once per track
        role = {p.track_id: p.role(self.config.view, self.config.vote_rule) for p, _ in read}
        cuts: list[int] = []
        for new, nv in read:
            for old, ov in read:
                if old.last_ts_ms >= new.first_ts_ms or not clearly_different(ov.text, nv.text):
                    continue
                if role[old.track_id] == role[new.track_id]:
                    cuts.append(new.first_ts_ms)
                elif (back := v.found_again(old.last_ts_ms, new.first_ts_ms, VEHICLE_LOST_MS)) is not None:
                    cuts.append(back)
        return min(cuts, default=None)

    def _note_parts(self, frame_vehicles: list[tuple[int, Detection]]) -> None:
        """Count, for each pair of vehicles boxed on this frame, that they were seen together
        and whether the first's box lay inside the (bigger) second's (:data:`PART_INSIDE`)."""
        s = self._s
        for a, da in frame_vehicles:
            for b, db in frame_vehicles:
                if a == b:
                    continue
                s.together.setdefault(a, Counter())[b] += 1
                if db.box.area_px > da.box.area_px and da.box.inside_fraction(db.box) >= PART_INSIDE:
                    s.inside.setdefault(a, Counter())[b] += 1

    def _whole_of(self, key: int, part: VehicleTrack) -> int | None:
        """The open vehicle that a closing side-camera track ``key`` (``part``) was a part of, or
        ``None``; what :meth:`_note_parts` counted for ``key`` is forgotten either way.

        A side camera sees one lane's lorries one after another along the lane, so one
        vehicle's box inside another's on most of the frames they shared (at least
        :data:`PART_MIN_FRAMES`) is a piece of it: a flatbed's cab, boxed alone as it came into
        view and still tracked for a while after the whole lorry was (bench lane set 5210). A
        piece is smaller than its whole at its biggest (:data:`PART_SMALLER`); a lorry leaving the
        view, its last boxes inside the next lorry's, was as big as that one before.
        Not for front and rear views: there the lorries of a queue overlap each other's boxes by
        0.7-0.9, and a part cannot be told from the lorry behind. A part whose whole has already
        closed (or was noise: a big box around a lorry for a few frames) is a passage of its own
        (:meth:`_close`): a duplicate at worst, never a lorry lost.

        The other way round, a closing track whose box held an open one's on most of the frames
        they shared and on at least :data:`HOLDER_SHARE` of its own detections was a wrong big
        box around that vehicle, not a lorry (fresh lane set 5322, thirtieth session: a
        frame-wide box for 10 frames as lorry 2 left and lorry 3 came in, holding lorry 3's own
        box on 5 of its 7 detections; it took lorry 3's front passage and the lorry got two). A
        lorry's own track that ends in such a box held the next lorry only on its last few
        detections, and keeps its passage.
        """
        s = self._s
        inside, together = s.inside.pop(key, Counter()), s.together.pop(key, Counter())
        wholes = [
            (n, other)
            for other, n in inside.items()
            if _mostly_inside(n, together[other])
            and other in s.vehicles
            and _biggest_px(s.vehicles[other]) >= PART_SMALLER * _biggest_px(part)
        ]
        if wholes:
            return max(wholes)[1]
        held = [
            (n, other)
            for other in s.vehicles
            if _mostly_inside(n := s.inside.get(other, Counter())[key], together[other])
            and n >= HOLDER_SHARE * part.hits
        ]
        return max(held)[1] if held else None

    def _queue_whole_of(self, part: VehicleTrack, plates: list[PlateTrack]) -> int | None:
        """The open vehicle that a closing track ``part`` (its plate tracks ``plates``) was a
        piece of, or ``None``, when none of its plate tracks read any text: the latest-started
        of the open vehicles first seen before it, else the biggest-boxed of the vehicles it
        split into (:meth:`_split_into`).

        A queue's lorries come into any of the lane's cameras' views one after another and leave
        it in the same order, so a track that started after another and closes while that one
        is still open is not a lorry of the queue: it is a piece of one (fresh lane set 5321,
        twenty-ninth session: the front camera tracked lorry 2's trailer alone for 1.4 s inside
        lorry 2's own track; the piece took lorry 2's side passage and the lorry got two; set
        5330, thirtieth session: the side camera tracked lorry 3's tractor twice, 0.7 s inside
        its own 3.3 s track, and the piece went on as a passage of its own). A track with a
        plate read keeps its passage: that is a lorry, whatever its times say (a side camera
        reads no plates). On a side camera the box rule (:meth:`_whole_of`) is asked first."""
        if any(p.vote(self.config.vote_rule).text for p in plates):
            return None
        open_ = self._s.vehicles.items()
        earlier = [(o.first_ts_ms, k) for k, o in open_ if o.first_ts_ms < part.first_ts_ms]
        if earlier:
            return max(earlier)[1]
        split = self._split_into(part)
        return max(split)[1] if split else None

    def _split_into(self, part: VehicleTrack) -> list[tuple[float, int]]:
        """The open vehicles (first box's area in px², key) that began in the last
        :data:`GROUP_SPLIT_WITHIN_MS` of closing track ``part``'s life with their first box
        :data:`GROUP_INSIDE` inside its box of then (its last sighting at or before), when there
        are two or more and the box around their first boxes covers its last box (IoU
        :data:`GROUP_COVER`); else none.

        Two or more such are lorries far off that ``part`` boxed as one until the detector told
        them apart (fresh lane set 5320, thirty-fifth session: the front camera boxed lorries 1
        and 2 together for 23 frames, then tracked each; the group's track closed two frames
        later with no plate and went on as a passage of its own, a duplicate of lorry 2). A
        lorry's own track does not end just as two others begin inside its box and fill it; one
        other beginning there may be the lorry behind it, two small ones the lorries far off it
        hid."""
        out: list[tuple[float, int]] = []
        firsts: list[BBox] = []
        since = part.last_ts_ms - GROUP_SPLIT_WITHIN_MS
        for k, o in self._s.vehicles.items():
            if not since <= o.first_ts_ms <= part.last_ts_ms or o.first_ts_ms <= part.first_ts_ms:
                continue
            held = [b for t, b in part.sightings if t <= o.first_ts_ms]
            if held and o.first_box.inside_fraction(held[-1]) >= GROUP_INSIDE:
                out.append((o.first_box.area_px, k))
                firsts.append(o.first_box)
        if len(out) < 2:
            return []
        around = BBox(
            min(b.x1 for b in firsts),
            min(b.y1 for b in firsts),
            max(b.x2 for b in firsts),
            max(b.y2 for b in firsts),
        )
        return out if around.iou(part.box) >= GROUP_COVER else []

    def _vehicle_label(self, v: VehicleTrack) -> str:
        if not v.body_looks:
            return ""
        best = max(v.body_looks, key=lambda b: b.verdict.confidence).verdict
        return f"{best.body_type.value} {best.confidence:.2f}"

    def _key_for_new_id(self, tid: int, box: BBox, ts: int, matched: set[int]) -> int:
        """The vehicle a new ByteTrack id belongs to: a vehicle not matched on this frame whose
        predicted box or one of its last boxes overlaps ``box`` (ByteTrack lost it for a while;
        IoU over 0.3, :meth:`VehicleTrack.continuation_iou`; its last boxes on a front camera,
        the last one elsewhere) and that could have come to ``box`` the way lorries travel in this
        view (:meth:`_travels_to`), or on a rear camera one it drove on inside of
        (:meth:`_drove_on`); the best overlap of them, else a new one.

        A front camera's lorries come from afar, small; the next lorry is not boxed big where the
        last one was lost. A rear camera's next lorry comes in big under the camera, over the
        place the one before drove off (fresh lane set 5206, thirty-fifth session: with its last
        three boxes, lorry 2 continued lorry 1 and gave it its rear plate); a side camera's
        comes in where the one before left."""
        s = self._s
        last_boxes = CONTINUE_LAST_BOXES if self.config.view == "front" else 1
        fits: list[tuple[float, int]] = []
        for key, v in s.vehicles.items():
            if key in matched:
                continue
            iou = v.continuation_iou(ts, box, last_boxes=last_boxes)
            if (iou > 0.3 or self._drove_on(v, box, ts)) and self._travels_to(v, box):
                fits.append((iou, key))
        best_key = max(fits)[1] if fits else None
        if best_key is not None:
            s.vehicle_of_id[tid] = best_key
            s.vehicles[best_key].track_ids.add(tid)
            self.counters.stitched += 1
            log.debug("lane %s: track %d continues vehicle %d", self.config.lane_id, tid, best_key)
            return best_key
        key = s.next_key
        s.next_key += 1
        s.vehicle_of_id[tid] = key
        s.vehicles[key] = VehicleTrack(key, {tid}, ts, ts, box, box)
        return key

    def _drove_on(self, v: VehicleTrack, box: BBox, ts: int) -> bool:
        """Whether ``box``, seen at ``ts`` on a rear camera, is lost vehicle ``v`` further off:
        :data:`DROVE_ON_INSIDE` inside its last box, at least :data:`DROVE_ON_MIN_AREA` of it,
        lost for :data:`DROVE_ON_LOST_MS` or more. A lorry driving away shrinks toward the middle
        of where it was; ByteTrack's prediction from two jittered boxes misses it (fresh lane set
        5271: lost for 6 frames, found again 0.82 inside its last box at IoU 0.24, a plateless
        second passage). The next lorry comes in bigger (not inside); a vehicle far ahead is
        small, and starts its track while the near lorry is boxed, or missed a frame or two."""
        return (
            self.config.view == "rear"
            and ts - v.last_ts_ms >= DROVE_ON_LOST_MS
            and box.area_px >= DROVE_ON_MIN_AREA * v.box.area_px
            and box.inside_fraction(v.box) >= DROVE_ON_INSIDE
        )

    def _travels_to(self, v: VehicleTrack, box: BBox) -> bool:
        """Whether lost vehicle ``v`` can be the one now boxed at ``box``, going by size.

        A rear camera sees lorries drive away: a lorry's box does not grow past the biggest of
        its first and last boxes (by :data:`TRAVEL_SIZE_SLACK`); a bigger box where it was lost is
        the next lorry coming in, often over the place the first one, hidden behind it, was lost
        (bench lane set 5213: a tractor seen for 11 frames, then the next lorry 1.30 times its
        box). A front camera sees them come closer: a box smaller than the smallest of the two
        is another lorry. Side views: any size.
        """
        area = box.area_px
        if self.config.view == "rear":
            return area <= TRAVEL_SIZE_SLACK * max(v.first_box.area_px, v.box.area_px)
        if self.config.view == "front":
            return area * TRAVEL_SIZE_SLACK >= min(v.first_box.area_px, v.box.area_px)
        return True

    def _vehicle_seen(self, key: int, seen: _Seen, frame: Frame) -> None:
        v = self._s.vehicles[key]
        v.camera_ids.add(frame.camera_id)
        if seen.ts_ms < v.first_ts_ms:  # a sighting from before ByteTrack gave the track an id
            v.hits += 1
            v.first_ts_ms, v.first_box = seen.ts_ms, seen.det.box
            if len(v.sightings) < (v.sightings.maxlen or 0):
                v.sightings.appendleft((seen.ts_ms, seen.det.box))
            return
        v.seen(seen.ts_ms, seen.det.box)

    def _bodies(
        self, frame: Frame, ts: int, bodies: list[Detection], frame_vehicles: list[tuple[int, Detection]]
    ) -> int:
        policy = self.config.reads
        classifier = self.models.body_classifier
        n = 0
        for body in bodies:
            best = max(frame_vehicles, key=lambda kv: kv[1].box.iou(body.box), default=None)
            if best is None or best[1].box.iou(body.box) < 0.2:
                continue
            v = self._s.vehicles[best[0]]
            if min(body.box.width_px, body.box.height_px) < policy.min_body_side_px:
                continue
            img = crop(frame.image, body.box, policy.body_margin)
            v.keep_body_crop(img)
            if classifier is None or policy.max_body_looks == 0:
                continue
            if v.last_body_look_ms is not None and ts - v.last_body_look_ms < policy.body_look_interval_ms:
                continue
            size = math.sqrt(body.box.area_px)
            if len(v.body_looks) >= policy.max_body_looks:
                if size < policy.bigger_by * max(b.size_px for b in v.body_looks):
                    continue
                # a view clearly bigger than any so far takes the smallest one's place
                v.body_looks.remove(min(v.body_looks, key=lambda b: b.size_px))
            v.body_looks.append(BodyLook(ts, classifier.classify_body(img), size))
            v.last_body_look_ms = ts
            n += 1
        self.counters.body_looks += n
        return n

    def _slot(self, key: int) -> int:
        """Vehicle ``key``'s slot in plate-tracking space: the lowest free one on first use (a
        slot kept for a vehicle not yet tracked is not free)."""
        s = self._s
        if key not in s.slots:
            s.slots[key] = _lowest_free(
                set(s.slots.values()) | {p.slot for p in s.prev_vehicles.values() if p.slot is not None}
            )
        return s.slots[key]

    def _reserve_slots(self, pending: dict[int, _Seen]) -> dict[int, _Seen]:
        """Give each vehicle detection not yet tracked (``pending``, by tracker input index) a
        plate-space slot: the slot of last time's untracked detection it overlaps (IoU at least
        :data:`PENDING_SAME_IOU`: a box seen again that the tracker has not taken up yet, so its
        plates stay in one place), else the lowest free one. A track that grows from it takes
        that slot, so its plates' tracks go on (:meth:`_plate_space`)."""
        s = self._s
        taken = set(s.slots.values())
        before = [p for p in s.prev_vehicles.values() if p.slot is not None]
        for seen in pending.values():
            same = max(
                (
                    p
                    for p in before
                    if p.slot not in taken and p.det.box.iou(seen.det.box) >= PENDING_SAME_IOU
                ),
                key=lambda p: p.det.box.iou(seen.det.box),
                default=None,
            )
            slot = same.slot if same is not None and same.slot is not None else _lowest_free(taken)
            seen.slot = slot
            taken.add(slot)
        return pending

    def _plate_space(
        self,
        frame: Frame,
        det: Detection,
        frame_vehicles: list[tuple[int, Detection]],
        pending: Sequence[_Seen] = (),
    ) -> tuple[int, BBox]:
        """The vehicle a plate is on (``ORPHAN_KEY``: none) and its box in plate-tracking space:
        the vehicle's box as the unit square, vehicles side by side 2 units apart (orphans in
        frame-normalised coordinates left of them), grown by :data:`PLATE_GROW`.

        A plate on a vehicle detection not yet tracked (``pending``: a track starts from it at
        its next sighting) is already placed in that vehicle's space, at the slot kept for it
        (:meth:`_reserve_slots`), which the track takes, but on no vehicle yet: so the plate's
        track goes on when the vehicle's starts. A rear camera sees a lorry's plates largest in
        its first frames; placed in frame coordinates, that first read was lost with the track
        that held it (lane set 5233's trailer mark, readable only while the lorry came into view)."""
        b = det.box
        cx, cy = b.center

        def holding(vs: Sequence[tuple[int, Detection]]) -> list[tuple[int, Detection]]:
            return [(k, v) for k, v in vs if v.box.x1 <= cx <= v.box.x2 and v.box.y1 <= cy <= v.box.y2]

        def lowest(vs: list[tuple[int, Detection]]) -> tuple[int, Detection]:
            # plates sit low on their vehicle: the vehicle whose bottom is nearest the plate's
            return min(vs, key=lambda kv: abs(kv[1].box.y2 - b.y2) / max(1.0, kv[1].box.height_px))

        key = ORPHAN_KEY
        if inside := holding(frame_vehicles):
            key, v = lowest(inside)
            slot = self._slot(key)
        elif around := holding([(p.slot, p.det) for p in pending if p.slot is not None]):
            slot, v = lowest(around)
        else:
            w, h = frame.width_px, frame.height_px
            return ORPHAN_KEY, BBox(b.x1 / w - 2.0, b.y1 / h, b.x2 / w - 2.0, b.y2 / h)
        vb, off = v.box, 2.0 * slot
        sx, sy = max(1.0, vb.width_px), max(1.0, vb.height_px)
        # grown (x2 wide, x4 tall: a vehicle box clipped by the frame edge shifts plates
        # vertically in its coordinates), so consecutive boxes of one plate still overlap
        ux, uy = (cx - vb.x1) / sx + off, (cy - vb.y1) / sy
        hw, hh = PLATE_GROW[0] * b.width_px / sx / 2, PLATE_GROW[1] * b.height_px / sy / 2
        return key, BBox(ux - hw, uy - hh, ux + hw, uy + hh)

    def _plates(
        self,
        frame: Frame,
        ts: int,
        plates: list[Detection],
        frame_vehicles: list[tuple[int, Detection]],
        pending: Sequence[_Seen] = (),
    ) -> int:
        s = self._s
        spaces = [self._plate_space(frame, d, frame_vehicles, pending) for d in plates]
        upd = self._plate_tracker.update(
            boxes_array([b for _, b in spaces]), np.array([d.confidence for d in plates]), ts
        )
        grown = set(upd.grew_from.values())
        for i, seen in s.prev_plates.items():
            if i not in grown:
                self._glimpsed(seen)
        n_reads = 0
        seen_now: dict[int, _Seen] = {}
        views: list[TrackView] = []
        for i, (det, (vkey, _), tid) in enumerate(zip(plates, spaces, upd.ids, strict=True)):
            key = vkey if vkey != ORPHAN_KEY else None
            if tid < 0:
                seen = _Seen(det, key, ts)
                look = self._maybe_read(frame, ts, det, None)
                if look is not None:
                    n_reads += 1
                    seen.read = look
                seen_now[i] = seen
                continue
            track = s.plates.get(tid)
            if track is None:
                track = PlateTrack(tid, ts, ts, det.box)
                s.plates[tid] = track
                grew = upd.grew_from.get(tid)
                if grew is not None and grew in s.prev_plates:
                    prev = s.prev_plates[grew]
                    track.seen(prev.ts_ms, prev.det.box, self._handed_on(prev.vehicle_key))
                    track.first_ts_ms = min(track.first_ts_ms, prev.ts_ms)
                    if prev.read is not None:
                        track.add_read(prev.read)
            track.seen(ts, det.box, key)
            if key is None:
                self.counters.orphan_plates += 1
            look = self._maybe_read(frame, ts, det, track)
            if look is not None:
                n_reads += 1
                track.add_read(look)
            pv = track.vote(self.config.vote_rule)
            views.append(
                TrackView(tid, det.box, pv.text + ("" if pv.status is ReadStatus.COMMITTED else "?"))
            )
        s.prev_plates = seen_now
        s.last_plate_views = tuple(views)
        self.counters.plate_reads += n_reads
        return n_reads

    def _glimpsed(self, seen: _Seen) -> None:
        """Keep a plate detection that no track grew from (ByteTrack gives an id from the second
        sighting, and only at ``track_activation_confidence``) as a plate track of its one read
        when that read is sure on its own: its best text fits a plate grammar, is
        :data:`PLATE_ONLY_MIN_CHARS` long or more, read at :data:`GLIMPSE_MIN_CONFIDENCE` or
        more, on a vehicle still open. Its vote is low-confidence while the vote rule asks for
        more than one look to commit (``min_looks``, 3), so it does not cut a track in two
        (:meth:`_handover_cut`); the role's vote pools it with the others.

        Fresh lane sets, thirty-fifth session: 5205's rear camera detected lorry 1's rear plate
        on one frame and read it ``BDZ637`` at 1.0; 5233's detected lorry 1's at 0.31-0.44 on
        three frames and read ``AWP5Y`` at 1.0 and 0.99. Each read was dropped with its
        detection, and the passage had no rear plate. A detection on the vehicle a handover cut
        on the frame it was seen is the lorry's that goes on (:meth:`_handed_on`)."""
        look, key, s = seen.read, self._handed_on(seen.vehicle_key), self._s
        best = None if look is None else look.read.best
        if look is None or best is None or key not in s.vehicles or not best.format_valid:
            return
        if len(best.text) < PLATE_ONLY_MIN_CHARS or best.confidence < GLIMPSE_MIN_CONFIDENCE:
            return
        tid, s.next_glimpse_id = s.next_glimpse_id, s.next_glimpse_id - 1
        track = PlateTrack(tid, seen.ts_ms, seen.ts_ms, seen.det.box)
        track.seen(seen.ts_ms, seen.det.box, key)
        track.add_read(look)
        s.plates[tid] = track
        self.counters.glimpsed_plates += 1

    def _handed_on(self, key: int | None) -> int | None:
        """The vehicle a detection of the last detect step, seen on vehicle ``key``, is on now:
        the lorry that goes on when a handover cut ``key`` on that step (it is cut where the new
        lorry's plate was first seen, never after that step, :meth:`_handovers`)."""
        return self._s.handed_to.get(key, key) if key is not None else None

    def _maybe_read(
        self, frame: Frame, ts: int, det: Detection, track: PlateTrack | None
    ) -> PlateLook | None:
        policy = self.config.reads
        h = det.box.height_px
        img = crop(frame.image, det.box, policy.plate_margin_x, margin_y=0.0)
        if track is not None:
            track.keep_tallest(img)
        if h < policy.min_plate_height_px or img.shape[0] < 2 or img.shape[1] < 2:
            return None
        if track is not None and track.looks:
            n = len(track.looks)
            bigger = h >= policy.bigger_by * track.tallest_read_px
            if n >= policy.max_reads_per_plate:
                if not bigger:
                    return None
                track.drop_smallest_read()
            elif n >= policy.first_reads and not bigger:
                committed = track.vote(self.config.vote_rule).status is ReadStatus.COMMITTED
                if committed or ts - track.looks[-1].ts_ms < policy.reread_interval_ms:
                    return None
        try:
            read, img = read_box(
                self.models.plate_reader,
                frame.image,
                det.box,
                policy.plate_margin_x,
                policy.plate_wider_margin_x,
            )
        except BadImageError as e:
            self.counters.unreadable_crops += 1
            log.debug("lane %s: plate crop not readable: %s", self.config.lane_id, e)
            return None
        return PlateLook(ts, read, img)

    def _close_expired(self, ts: int) -> tuple[Passage, ...]:
        after = self.config.tracking.close_after_ms
        expired = [k for k, v in self._s.vehicles.items() if ts - v.last_ts_ms > after]
        out = tuple(p for k in expired if (p := self._close(k)) is not None)
        # plate tracks on no open vehicle (orphans), not seen for the close time, are dropped,
        # unless one read surely on no vehicle at all is a lorry the vehicle detector missed
        s = self._s
        orphans = [
            s.plates.pop(t)
            for t, p in list(s.plates.items())
            if ts - p.last_ts_ms > after and (p.vehicle_key is None or p.vehicle_key not in s.vehicles)
        ]
        return out + tuple(p for t in orphans if (p := self._plate_only(t)) is not None)

    def _could_be_passage(self, plate: PlateTrack) -> bool:
        """Whether a plate track on no tracked vehicle is, so far, what :meth:`_plate_only` makes a
        passage of: never inside a tracked vehicle, moved, its vote committed, fitting a plate
        grammar, at least :data:`PLATE_ONLY_MIN_CHARS` long and sure (:func:`plate_is_sure`)."""
        if plate.vehicles or not plate.moved():
            return False
        vote = plate.vote(self.config.vote_rule)
        return (
            vote.status is ReadStatus.COMMITTED
            and len(vote.text) >= PLATE_ONLY_MIN_CHARS
            and plate_is_sure(vote)
        )

    def _plate_only(self, plate: PlateTrack) -> Passage | None:
        """The passage of a plate track that was never inside a tracked vehicle but could be one
        (:meth:`_could_be_passage`): a lorry the vehicle detector did not track (a car
        transporter coming into view in set 5400), with that plate and an unknown body. Not when
        a vehicle open now, or one whose passage closed within ``close_after_ms`` before the plate
        was first seen, shows a plate that could be the same (:func:`clearly_different`): that
        lorry's plate track broke when its vehicle's box was lost or came late, and this is a
        piece of it. Else ``None``: the track is dropped (a plate of a vehicle already gone, a
        fragment, or a sign: set 5906's ``CONTROL`` over the lane was read ``SNIR1``, a
        Northern Irish format, at low confidence and standing still)."""
        if not self._could_be_passage(plate):
            return None
        s, cfg = self._s, self.config
        text = plate.vote(cfg.vote_rule).text
        since = plate.first_ts_ms - cfg.tracking.close_after_ms
        near = [t for last, texts in s.recent if last >= since for t in texts]
        near += [p.vote(cfg.vote_rule).text for p in s.plates.values() if p.vehicle_key in s.vehicles]
        if any(t and not clearly_different(t, text) for t in near):
            return None
        key, s.next_key = s.next_key, s.next_key + 1
        first = plate.first_box or plate.box
        v = VehicleTrack(key, set(), plate.first_ts_ms, plate.last_ts_ms, first, plate.box, hits=plate.n_seen)
        v.camera_ids.add(s.camera_id or cfg.camera_id)
        self.counters.plate_only_passages += 1
        return self._passage(v, [plate])

    def _close(self, key: int, *, handed_over: bool = False) -> Passage | None:
        """Close vehicle ``key``: its passage, or ``None`` when it was noise or a part of another.
        ``handed_over``: what came before a handover cut (:meth:`_handovers`), a lorry of its
        own even with no plate read, not a piece of a lorry still open."""
        s, cfg = self._s, self.config
        v = s.vehicles.pop(key)
        for tid in v.track_ids:
            s.vehicle_of_id.pop(tid, None)
        s.slots.pop(key, None)
        whole = self._whole_of(key, v) if cfg.view == "side" else None
        if whole is not None:
            self._absorb_part(key, v, whole, "its boxes inside another's or around them")
            return None
        mine = [p for p in s.plates.values() if p.vehicle_key == key]
        for p in mine:
            s.plates.pop(p.track_id, None)
        if self._is_noise(v, mine, handed_over=handed_over):
            self.counters.noise_tracks += 1
            return None
        whole = None if handed_over else self._queue_whole_of(v, mine)
        if whole is not None:
            self._absorb_part(key, v, whole, "no plate read, closed inside")
            return None
        return self._passage(v, mine)

    def _absorb_part(self, key: int, part: VehicleTrack, whole: int, why: str) -> None:
        """Closing vehicle ``key`` (``part``) was a piece of open vehicle ``whole``: it takes the
        piece in (:meth:`VehicleTrack.absorb`), counted in ``parts`` and logged with ``why``."""
        self.counters.parts += 1
        log.debug("lane %s: vehicle %d was a part of vehicle %d (%s)", self.config.lane_id, key, whole, why)
        self._s.vehicles[whole].absorb(part)

    def _passage(self, v: VehicleTrack, plates: list[PlateTrack]) -> Passage:
        """Assemble and count the passage of vehicle track ``v`` with its plate tracks."""
        cfg = self.config
        passage = assemble_passage(
            self._passage_id(cfg, v),
            cfg.lane_id,
            v,
            plates,
            view=cfg.view,
            vote_rule=cfg.vote_rule,
            consensus_rule=cfg.consensus_rule,
            classified=self.models.body_classifier is not None,
            jpeg_quality=cfg.reads.jpeg_quality,
        )
        self._s.recent.append((v.last_ts_ms, tuple(t for p in passage.plates if (t := _remembered_text(p)))))
        self.counters.passages += 1
        self.counters.best_plate_px.extend(_line_px(p) for p in plates if p.tallest_crop_px > 0)
        if passage.plates:
            self.counters.passages_with_plates += 1
        if all_plates_read(passage):
            self.counters.passages_all_read += 1
        return passage

    def _is_scene(self, v: VehicleTrack, plates: list[PlateTrack]) -> bool:
        """Whether a finished vehicle track was a piece of the scene boxed as a vehicle: it never
        moved (:func:`_still`), its body looks say no body type, and no plate text was read on
        it at all (a lorry standing still whose plate was read, even once, is kept). Never
        without a body classifier (nothing to tell by).

        A lorry passes through the lane: its track moves, if only as it comes in and stops for
        an officer, and its trailer or tractor is classified. The detector boxes parts of the
        empty lane now and then (fresh lane sets 5211 and 5322, thirty-fifth session: a control
        booth beside the lane, boxed at confidence 0.3-0.5 for 5.6 s by the rear camera with no
        body seen on it; the canopy and buildings across the side camera's view boxed on and
        off for 2.2 s after the last lorry left, one body look, no type); each went on as a
        passage of no lorry. A lorry standing still whose track broke keeps the passage of the
        track that saw it come in."""
        if self.models.body_classifier is None or not _still(v):
            return False
        looks = [b.verdict for b in v.body_looks]
        if consensus(looks, self.config.consensus_rule).body_type is not BodyType.UNKNOWN:
            return False
        return not any(p.vote(self.config.vote_rule).text for p in plates)

    def _is_noise(self, v: VehicleTrack, plates: list[PlateTrack], *, handed_over: bool = False) -> bool:
        """Whether a finished vehicle track is noise: fewer than ``min_hits`` detections, or seen
        for less than ``min_track_ms`` with no plate read on it that fits a plate grammar (a
        piece of a passing trailer picked up for a few frames after its lorry's track was lost;
        a haulier's name read on it does not make it a lorry), or, unless another lorry took
        the track over after it (``handed_over``), the scene (:meth:`_is_scene`)."""
        t = self.config.tracking
        if v.hits < t.min_hits or (not handed_over and self._is_scene(v, plates)):
            return True
        if v.last_ts_ms - v.first_ts_ms >= t.min_track_ms:
            return False
        return not any(p.vote(self.config.vote_rule).format_valid for p in plates)


def _lowest_free(used: set[int]) -> int:
    """The lowest plate-space slot (0, 1, ...) not in ``used``."""
    return next(i for i in range(len(used) + 1) if i not in used)


def _clear_of_edges(box: BBox, width_px: int, height_px: int) -> bool:
    """Whether ``box`` stays :data:`EDGE_PX` or more inside every edge of a ``width_px`` x
    ``height_px`` frame."""
    return (
        box.x1 >= EDGE_PX
        and box.y1 >= EDGE_PX
        and box.x2 <= width_px - EDGE_PX
        and box.y2 <= height_px - EDGE_PX
    )


def _leaving_side(v: VehicleTrack, seen: tuple[int, BBox], grown: BBox, width_px: int) -> bool:
    """Whether side-view track ``v``'s sighting ``seen`` (ms, box) before a jump to ``grown`` was
    leaving the view: both boxes on the same left or right edge of a ``width_px`` wide frame
    (:data:`EDGE_PX`), and that box at most :data:`SIDE_LEAVING` of the width of the widest box
    of the track up to then."""
    before_ms, before = seen
    widest = max(b.width_px for t, b in v.sightings if t <= before_ms)
    on_left = before.x1 <= EDGE_PX and grown.x1 <= EDGE_PX
    on_right = before.x2 >= width_px - EDGE_PX and grown.x2 >= width_px - EDGE_PX
    return (on_left or on_right) and before.width_px <= SIDE_LEAVING * widest


def _still(v: VehicleTrack) -> bool:
    """Whether vehicle track ``v`` never moved: its first box and each box it remembers (its
    last :data:`vision.pipeline.assemble.SIGHTINGS_KEPT`) overlap by :data:`STILL_IOU` or more."""
    return all(b.iou(v.first_box) >= STILL_IOU for b in (v.box, *(b for _, b in v.sightings)))


def _biggest_px(v: VehicleTrack) -> float:
    """The area (px²) of the biggest box among a vehicle track's remembered sightings."""
    return max((b.area_px for _, b in v.sightings), default=v.box.area_px)


def _mostly_inside(n_inside: int, n_together: int) -> bool:
    """Whether one box lay inside another on :data:`PART_MIN_FRAMES` frames or more and on at
    least :data:`PART_FRAME_SHARE` of the ``n_together`` frames both were boxed."""
    return n_inside >= PART_MIN_FRAMES and n_inside >= PART_FRAME_SHARE * n_together


def _default_passage_id(config: LaneConfig, vehicle: VehicleTrack) -> str:
    return f"{config.lane_id}-{config.camera_id}-{vehicle.first_ts_ms}-{vehicle.key}"


def _line_px(track: PlateTrack) -> float:
    """A plate track's tallest crop (px), per line of characters: a two-line plate (a UK trailer
    mark) read as two lines counts half its height, so it compares with a one-line plate's
    :data:`SPEC_PLATE_PX` (its characters are half as tall)."""
    two = any(look.read.two_line for look in track.looks)
    return track.tallest_crop_px / (2.0 if two else 1.0)
