"""One passage per lorry for a lane with several cameras: front, side (or high side), rear.

(Up to three cameras, at most one per slot; :class:`LaneMerger` gathers one lorry's passages
of the cameras by time, plates and - with a side camera - the side camera's handover
(:func:`_handover_ms`), and :func:`merge_lane_passages` takes plates from the front and rear
cameras and the body type from the side camera. The front/rear notes below hold for any two
cameras in lane order; ``docs/pipeline.md`` has the whole story.)

Each camera has its own :class:`vision.pipeline.lane.LanePipeline` (its own tracks and
passages). A :class:`LaneMerger` sits between the two pipelines and the lane's event sink: each
camera's worker emits into its :class:`CameraFeed` (and reports every processed frame to it),
and the merger joins a front-camera passage and a rear-camera passage of the same lorry into
one passage, or lets a passage go alone once no partner can come any more.

**What is reliable evidence that two passages are one lorry**

- *Order and time.* A lane is a queue: lorries do not overtake, and the front camera (facing
  the traffic) sees each lorry before the rear camera (facing away) does, the cameras' fields
  possibly overlapping. So a front passage ``F`` and a rear passage ``R`` can be one lorry only
  when ``F.first_seen - max_lead_ms <= R.first_seen <= F.last_seen + max_gap_ms``
  (:class:`MergeRule`; ``max_gap_ms`` is the lane's geometry: the longest a lorry takes from
  leaving the front camera's view to entering the rear camera's, booth stop included). Among
  the candidates that fit, the queue's order decides (the one seen first), or, once the lane
  has a typical delay between its cameras (learned from pairs whose plates agreed), the
  candidate whose delay is nearest to it.
- *Plates, as positive evidence only.* The same text (up to one misread character, see
  :func:`same_plate`) on a front passage's plate and a rear passage's plate is one lorry: a
  rigid lorry or a van carries one number front and rear, and in the UK an articulated lorry's
  trailer carries the tractor's number on its rear plate. Different texts are *no* evidence
  against: an EU semi-trailer carries its own registration, and a UK trailer's two-line mark
  (``A1234567``) is never the tractor's number (it is not compared at all). So a candidate
  that shares a plate wins, and a candidate whose plate is shared with *another* waiting
  passage of this camera is left for that one; plates never keep a pair apart on their own.
- *Body type is not used.* The front camera sees the tractor and the trailer's side at an
  angle, the rear camera the trailer's doors; the classifier's verdicts from the two views
  disagree too often (on the benchmark's front and rear views it is right 8 % of the time)
  for a disagreement to mean two lorries.

**Waiting.** A passage waits for its partner until none can come: the other camera's frames
are past the latest time the partner could have been first seen, and the other camera has no
track open since before then (:attr:`FrameResult.open_since_ms`). In any case it goes alone
once the lane's clock (the latest frame time of either camera, or :meth:`LaneMerger.tick`'s wall
clock) is ``max_wait_ms`` past its last sighting; :meth:`LaneMerger.flush` lets everything go.
Nothing is lost: every passage is emitted, merged or alone.

**The merged passage** (:func:`merge_passages`): the front camera's front plate, the rear
camera's rear plate and UK trailer mark (a role both saw: the better read), the camera ids of
both, first and last seen across both, the body type with the best evidence (a known type
over unknown, then the more confident; agreeing verdicts pool their looks) with its crop,
the front camera's direction, and the front passage's id.
"""

from __future__ import annotations

import logging
import statistics
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from rapidfuzz.distance import Levenshtein

from vision.anpr.lookalike import lookalike_key
from vision.pipeline.config import CameraView
from vision.pipeline.lane import FrameResult
from vision.pipeline.protocols import EventSink
from vision.types import BodyType, Frame, Passage, PassagePlate, PlateRole, ReadStatus

log = logging.getLogger(__name__)

SAME_PLATE_MAX_EDITS = 1
"""Two plate texts are one plate when their look-alike forms are at most this many edits apart."""

SAME_PLATE_MIN_CHARS = 5
"""Texts shorter than this are too weak to say two passages share a plate."""

SIDE_HANDOVER_MS = 3_000
"""A side-camera passage and a front or rear passage whose handover (:func:`_handover_ms`) is
within this are joined before any other candidate that fits (nearest first)."""

LAGS_KEPT = 20
"""The lane's typical delay between its cameras is the median of this many recent plate-confirmed pairs."""

MIN_LAGS = 3
"""Plate-confirmed pairs needed before the typical delay is used to choose between candidates."""


@dataclass(frozen=True, slots=True)
class MergeRule:
    """When a front-camera and a rear-camera passage of one lane can be one lorry (module doc).

    - ``max_gap_ms``: the rear camera first sees a lorry at most this long after the front
      camera last saw it (the lane's geometry, a stop at the booth included);
    - ``max_lead_ms``: ... and at most this long before the front camera first saw it (clocks
      a little apart, or the rear camera's field reaching back over the front camera's);
    - ``max_wait_ms``: a passage waits at most this long after its last sighting (lane clock)
      for its partner, then goes alone.
    """

    max_gap_ms: int = 10_000
    max_lead_ms: int = 2_000
    max_wait_ms: int = 60_000

    def __post_init__(self) -> None:
        if self.max_gap_ms < 0 or self.max_lead_ms < 0 or self.max_wait_ms < 0:
            raise ValueError(f"invalid merge rule {self}")

    def fits(self, front: Passage, rear: Passage) -> bool:
        """Whether the two passages' times allow one lorry."""
        return (
            front.first_seen_ts_ms - self.max_lead_ms
            <= rear.first_seen_ts_ms
            <= front.last_seen_ts_ms + self.max_gap_ms
        )


def _comparable(p: PassagePlate) -> str | None:
    """The text of a plate worth comparing across cameras (read, long enough, not a trailer mark)."""
    if (
        p.role is PlateRole.TRAILER_MARK
        or p.status is ReadStatus.UNREAD
        or len(p.text) < SAME_PLATE_MIN_CHARS
    ):
        return None
    return p.text


def same_plate(a: str, b: str) -> bool:
    """Whether two plate texts are one plate read twice: their look-alike keys
    (``vision.anpr.lookalike``) at most :data:`SAME_PLATE_MAX_EDITS` edits apart."""
    return Levenshtein.distance(lookalike_key(a), lookalike_key(b)) <= SAME_PLATE_MAX_EDITS


def share_a_plate(a: Passage, b: Passage) -> bool:
    """Whether passages ``a`` and ``b`` show the same plate (see :func:`same_plate`)."""
    ta = [t for p in a.plates if (t := _comparable(p))]
    tb = [t for p in b.plates if (t := _comparable(p))]
    return any(same_plate(x, y) for x in ta for y in tb)


_STATUS_RANK = {ReadStatus.COMMITTED: 2, ReadStatus.LOW_CONFIDENCE: 1, ReadStatus.UNREAD: 0}
_ROLE_ORDER = {PlateRole.FRONT: 0, PlateRole.TRAILER_MARK: 1, PlateRole.REAR: 2, PlateRole.UNKNOWN: 3}


def _better_plate(a: PassagePlate, b: PassagePlate) -> PassagePlate:
    return max((a, b), key=lambda p: (_STATUS_RANK[p.status], p.confidence, p.n_looks))


def merge_passages(front: Passage, rear: Passage) -> Passage:
    """One passage from a front-camera passage and a rear-camera passage of the same lorry
    (see the module doc for what comes from which)."""
    native = {PlateRole.FRONT: front, PlateRole.REAR: rear, PlateRole.TRAILER_MARK: rear}
    plates: dict[PlateRole, PassagePlate] = {}
    for p in (*front.plates, *rear.plates):  # each role from the camera that faces it
        if native.get(p.role) is None or any(q is p for q in native[p.role].plates):
            plates[p.role] = p if p.role not in plates else _better_plate(plates[p.role], p)
    for p in (*front.plates, *rear.plates):  # a role only the other camera read
        plates.setdefault(p.role, p)
    # the body with the best evidence: known over unknown, then the more confident
    fb, rb = front.body, rear.body
    known = [
        (b, c)
        for b, c in ((fb, front.body_crop_jpeg), (rear.body, rear.body_crop_jpeg))
        if b.body_type is not BodyType.UNKNOWN
    ]
    if not known:
        body, crop = (fb, front.body_crop_jpeg) if fb.n_looks >= rb.n_looks else (rb, rear.body_crop_jpeg)
    else:
        body, crop = max(known, key=lambda bc: (bc[0].confidence, bc[0].n_looks))
        if len(known) == 2 and fb.body_type is rb.body_type:
            body = replace(body, n_looks=fb.n_looks + rb.n_looks)
    return Passage(
        passage_id=front.passage_id,
        lane_id=front.lane_id,
        first_seen_ts_ms=min(front.first_seen_ts_ms, rear.first_seen_ts_ms),
        last_seen_ts_ms=max(front.last_seen_ts_ms, rear.last_seen_ts_ms),
        plates=tuple(sorted(plates.values(), key=lambda p: _ROLE_ORDER[p.role])),
        body=body,
        direction=front.direction if front.direction != "unknown" else rear.direction,
        body_crop_jpeg=crop or front.body_crop_jpeg or rear.body_crop_jpeg,
        camera_ids=tuple(sorted(set(front.camera_ids) | set(rear.camera_ids))),
    )


SLOT_OF: dict[CameraView, str] = {"front": "front", "side": "side", "high_side": "side", "rear": "rear"}
"""A lane has at most one camera per slot: front, side (``side`` or ``high_side``), rear."""

ORDER_OF_SLOT = {"front": 0, "side": 1, "rear": 2}
"""The order in which a lorry first comes into the slots' cameras' views (a queue: the front
camera faces it as it approaches, the side camera sees it pass the gantry, the rear camera
sees it drive away)."""


def slot_fits(rule: MergeRule, a_slot: str, a: Passage, b_slot: str, b: Passage) -> bool:
    """Whether passages ``a`` (camera slot ``a_slot``) and ``b`` can be one lorry by their times:
    :meth:`MergeRule.fits` with the slot the lorry reaches first as its ``front``."""
    return rule.fits(a, b) if ORDER_OF_SLOT[a_slot] <= ORDER_OF_SLOT[b_slot] else rule.fits(b, a)


def merge_lane_passages(parts: Mapping[str, Passage]) -> Passage:
    """One passage from one lorry's passages of a lane's cameras, by slot (``front``, ``side``,
    ``rear``; at least one): plates from the front and rear cameras as
    :func:`merge_passages` (a side camera's only when neither is there), the body type from
    the side camera's consensus when it has a known one (agreeing verdicts of the other cameras
    pool their looks), else the best of the others; times across all, camera ids of all, the
    front camera's id and direction (else the earliest camera's)."""
    if not parts:
        raise ValueError("no passages to merge")
    front, side, rear = parts.get("front"), parts.get("side"), parts.get("rear")
    first = front or rear or side
    assert first is not None
    base = merge_passages(front, rear) if front is not None and rear is not None else first
    if side is None or side is base:
        return base
    body, crop = base.body, base.body_crop_jpeg
    if side.body.body_type is not BodyType.UNKNOWN:
        body, crop = side.body, side.body_crop_jpeg or crop
        others = [p for p in (front, rear) if p is not None and p.body.body_type is side.body.body_type]
        if others:
            body = replace(body, n_looks=body.n_looks + sum(p.body.n_looks for p in others))
    elif base.body.body_type is BodyType.UNKNOWN and side.body.n_looks > base.body.n_looks:
        body, crop = side.body, side.body_crop_jpeg
    return replace(
        base,
        first_seen_ts_ms=min(base.first_seen_ts_ms, side.first_seen_ts_ms),
        last_seen_ts_ms=max(base.last_seen_ts_ms, side.last_seen_ts_ms),
        body=body,
        body_crop_jpeg=crop or base.body_crop_jpeg,
        camera_ids=tuple(sorted(set(base.camera_ids) | set(side.camera_ids))),
    )


@dataclass(slots=True)
class _Camera:
    camera_id: str
    view: CameraView
    clock_ms: int | None = None
    open_since_ms: int | None = None
    finished: bool = False

    @property
    def slot(self) -> str:
        return SLOT_OF[self.view]


@dataclass(slots=True)
class _Group:
    """Passages of one lorry so far, by camera slot."""

    parts: dict[str, Passage]

    @property
    def first_seen_ts_ms(self) -> int:
        return min(p.first_seen_ts_ms for p in self.parts.values())

    @property
    def last_seen_ts_ms(self) -> int:
        return max(p.last_seen_ts_ms for p in self.parts.values())


def _handover_ms(passage: Passage, slot: str, group: _Group) -> float | None:
    """How far apart (ms) the lorry of ``group`` left one camera and came into the next, when one
    of the two is the side camera: it stands on the gantry, so a lorry comes into its view as it
    leaves the front camera's and leaves it as it comes into the rear camera's (about 0 for the
    right lorry, the time between lorries for the next one). None when the group gives no such
    pair."""
    if slot == "side":
        offs = []
        if (f := group.parts.get("front")) is not None:
            offs.append(abs(passage.first_seen_ts_ms - f.last_seen_ts_ms))
        if (r := group.parts.get("rear")) is not None:
            offs.append(abs(r.first_seen_ts_ms - passage.last_seen_ts_ms))
        return sum(offs) / len(offs) if offs else None
    side = group.parts.get("side")
    if side is None:
        return None
    if slot == "rear":
        return abs(passage.first_seen_ts_ms - side.last_seen_ts_ms)
    return abs(side.first_seen_ts_ms - passage.last_seen_ts_ms)


@dataclass(slots=True)
class MergeCounters:
    """What a lane merger did: passages in per camera view (``side_in`` counts side and high
    side), merged passages (of two cameras or more), passages that went alone, merges where the
    front and rear passages shared a plate."""

    front_in: int = 0
    rear_in: int = 0
    side_in: int = 0
    merged: int = 0
    alone: int = 0
    by_plate: int = 0


class CameraFeed:
    """One camera's side of a :class:`LaneMerger`: the :class:`EventSink` its lane worker emits
    into, and :meth:`observe`, its worker's ``on_frame`` callback (the camera's clock)."""

    def __init__(self, merger: LaneMerger, camera_id: str) -> None:
        self.merger = merger
        self.camera_id = camera_id

    def emit(self, passage: Passage) -> None:
        self.merger.arrive(self.camera_id, passage)

    def observe(self, frame: Frame, result: FrameResult) -> None:
        """The worker processed ``frame``: the camera's clock and its earliest open track."""
        self.merger.observe(self.camera_id, result.ts_ms, result.open_since_ms)

    def close(self) -> None:
        """The camera's pipeline has ended (its open tracks were flushed before)."""
        self.merger.finish(self.camera_id)


OnMerge = Callable[[Mapping[str, Passage], Passage], None]
"""Told of every merged passage: its parts by camera slot (``front``/``side``/``rear``) and the
merged passage."""


class LaneMerger:
    """Joins one lane's cameras' passages of each lorry (see the module doc) and emits them,
    merged or alone, to ``sink``. A lane has two or three cameras, at most one per slot: front,
    side (``side`` or ``high_side``), rear. Thread-safe: the cameras' workers call it from their
    own threads; ``sink`` is called outside the merger's lock, from whichever thread released
    the passage. ``on_merge(parts, merged)`` (optional) is told of every merged passage (the
    benchmark scores with it)."""

    def __init__(
        self,
        lane_id: str,
        cameras: Mapping[str, CameraView],
        sink: EventSink,
        rule: MergeRule | None = None,
        *,
        on_merge: OnMerge | None = None,
    ) -> None:
        slots = sorted(SLOT_OF.get(v, "?") for v in cameras.values())
        if len(slots) < 2 or len(set(slots)) != len(slots) or "?" in slots:
            raise ValueError(
                f"lane {lane_id}: a merger needs two or three cameras with distinct views (one front, "
                f"one rear, one side or high_side), got {dict(cameras)}"
            )
        self.lane_id = lane_id
        self.sink = sink
        self.rule = rule or MergeRule()
        self.counters = MergeCounters()
        self._cameras = {c: _Camera(c, v) for c, v in cameras.items()}
        self._slots = frozenset(slots)
        self._waiting: list[_Group] = []
        self._lags: dict[tuple[str, str], deque[int]] = {}
        self._lock = threading.Lock()
        self._on_merge = on_merge

    # --- feeds ----------------------------------------------------------------------------

    def feed(self, camera_id: str) -> CameraFeed:
        """The sink (and frame observer) for camera ``camera_id``'s worker."""
        if camera_id not in self._cameras:
            raise KeyError(f"lane {self.lane_id}: no camera {camera_id!r} in this merger")
        return CameraFeed(self, camera_id)

    @property
    def waiting(self) -> int:
        """Passages waiting for a partner."""
        with self._lock:
            return sum(len(g.parts) for g in self._waiting)

    def arrive(self, camera_id: str, passage: Passage) -> None:
        """A passage of camera ``camera_id``: joins a waiting lorry's passages, or waits."""
        merged: list[tuple[dict[str, Passage], Passage]] = []
        with self._lock:
            slot = self._cameras[camera_id].slot
            if slot == "front":
                self.counters.front_in += 1
            elif slot == "rear":
                self.counters.rear_in += 1
            else:
                self.counters.side_in += 1
            group = self._partner(passage, slot)
            if group is None:
                group = _Group({slot: passage})
                self._waiting.append(group)
            else:
                group.parts[slot] = passage
            out: list[Passage] = []
            if set(group.parts) == self._slots:
                self._waiting.remove(group)
                out.append(self._merge(group, merged))
            out.extend(self._release(None, merged))
        self._tell(merged)
        self._emit(out)

    def observe(self, camera_id: str, ts_ms: int, open_since_ms: int | None) -> None:
        """Camera ``camera_id`` processed a frame at ``ts_ms``; its earliest open track was first
        seen at ``open_since_ms`` (``None``: no track open)."""
        merged: list[tuple[dict[str, Passage], Passage]] = []
        with self._lock:
            cam = self._cameras[camera_id]
            cam.clock_ms = ts_ms if cam.clock_ms is None else max(cam.clock_ms, ts_ms)
            cam.open_since_ms = open_since_ms
            out = self._release(None, merged) if self._waiting else []
        self._tell(merged)
        self._emit(out)

    def finish(self, camera_id: str) -> None:
        """Camera ``camera_id``'s pipeline ended: nothing more will come from it."""
        merged: list[tuple[dict[str, Passage], Passage]] = []
        with self._lock:
            self._cameras[camera_id].finished = True
            out = self._release(None, merged)
        self._tell(merged)
        self._emit(out)

    def tick(self, now_ms: int) -> None:
        """The wall clock (for cameras whose frames carry wall-clock times): passages waiting
        ``max_wait_ms`` past their last sighting go alone (or merged with what they have) even
        when no frame comes."""
        merged: list[tuple[dict[str, Passage], Passage]] = []
        with self._lock:
            out = self._release(now_ms, merged)
        self._tell(merged)
        self._emit(out)

    def flush(self) -> None:
        """Let every waiting lorry's passages go, merged as far as they are (shutting down)."""
        merged: list[tuple[dict[str, Passage], Passage]] = []
        with self._lock:
            out = [self._merge(g, merged) for g in self._waiting]
            self._waiting.clear()
        self._tell(merged)
        self._emit(out)

    def close(self) -> None:
        """:meth:`flush`, then close the sink."""
        self.flush()
        self.sink.close()

    # --- internals (under the lock) ---------------------------------------------------------

    def _emit(self, passages: list[Passage]) -> None:
        for p in passages:
            self.sink.emit(p)

    def _tell(self, merged: list[tuple[dict[str, Passage], Passage]]) -> None:
        if self._on_merge is not None:
            for parts, m in merged:
                self._on_merge(parts, m)

    def _merge(self, group: _Group, merged: list[tuple[dict[str, Passage], Passage]]) -> Passage:
        """The group's passage (alone when it has one camera's), counted; learns the lane's
        delays between cameras when its front and rear passages share a plate."""
        if len(group.parts) == 1:
            self.counters.alone += 1
            return next(iter(group.parts.values()))
        front, rear = group.parts.get("front"), group.parts.get("rear")
        if front is not None and rear is not None and share_a_plate(front, rear):
            self.counters.by_plate += 1
            for a, pa in group.parts.items():
                for b, pb in group.parts.items():
                    if ORDER_OF_SLOT[a] < ORDER_OF_SLOT[b]:
                        lags = self._lags.setdefault((a, b), deque(maxlen=LAGS_KEPT))
                        lags.append(pb.first_seen_ts_ms - pa.first_seen_ts_ms)
        self.counters.merged += 1
        m = merge_lane_passages(group.parts)
        merged.append((dict(group.parts), m))
        return m

    def _lag_off(self, passage: Passage, slot: str, group: _Group) -> float | None:
        """How far the group's delays to ``passage`` are from the lane's typical ones (ms; mean
        over the group's cameras with enough plate-confirmed pairs), or None when none has."""
        offs = []
        for s, q in group.parts.items():
            a, b = (s, slot) if ORDER_OF_SLOT[s] < ORDER_OF_SLOT[slot] else (slot, s)
            lags = self._lags.get((a, b))
            if lags is None or len(lags) < MIN_LAGS:
                continue
            lag = passage.first_seen_ts_ms - q.first_seen_ts_ms
            offs.append(abs((lag if a == s else -lag) - statistics.median(lags)))
        return sum(offs) / len(offs) if offs else None

    def _partner(self, passage: Passage, slot: str) -> _Group | None:
        rule = self.rule
        fits = [
            g
            for g in self._waiting
            if slot not in g.parts and all(slot_fits(rule, slot, passage, s, q) for s, q in g.parts.items())
        ]
        if not fits:
            return None
        sharing = [g for g in fits if any(share_a_plate(passage, q) for q in g.parts.values())]
        if sharing:
            return min(sharing, key=lambda g: g.first_seen_ts_ms)
        mine = [g.parts[slot] for g in self._waiting if slot in g.parts]
        free = [g for g in fits if not any(share_a_plate(q, m) for q in g.parts.values() for m in mine)]
        if not free:
            return None
        near = [
            (o, g)
            for g in free
            if (o := _handover_ms(passage, slot, g)) is not None and o <= SIDE_HANDOVER_MS
        ]
        if near:
            return min(near, key=lambda og: og[0])[1]
        offs = [(o, g) for g in free if (o := self._lag_off(passage, slot, g)) is not None]
        if offs:
            return min(offs, key=lambda og: og[0])[1]
        return min(free, key=lambda g: g.first_seen_ts_ms)

    def _partner_possible(self, group: _Group) -> bool:
        """Whether a camera the group has no passage of may still emit one for it."""
        rule = self.rule
        for cam in self._cameras.values():
            if cam.slot in group.parts or cam.finished:
                continue
            # the latest first sighting a partner can have, by every passage the group has
            bound = min(
                q.last_seen_ts_ms + rule.max_gap_ms
                if ORDER_OF_SLOT[s] < ORDER_OF_SLOT[cam.slot]
                else q.first_seen_ts_ms + rule.max_lead_ms
                for s, q in group.parts.items()
            )
            if cam.clock_ms is None or cam.clock_ms <= bound:
                return True  # a partner may still appear
            if cam.open_since_ms is not None and cam.open_since_ms <= bound:
                return True  # or is in view now
        return False

    def _release(self, now_ms: int | None, merged: list[tuple[dict[str, Passage], Passage]]) -> list[Passage]:
        clocks = [c.clock_ms for c in self._cameras.values() if c.clock_ms is not None]
        lane_clock = max([*clocks, *([now_ms] if now_ms is not None else [])], default=None)
        out: list[Passage] = []
        keep: list[_Group] = []
        for g in self._waiting:
            expired = lane_clock is not None and lane_clock - g.last_seen_ts_ms > self.rule.max_wait_ms
            if expired or not self._partner_possible(g):
                out.append(self._merge(g, merged))
            else:
                keep.append(g)
        if out:
            self._waiting = keep
            log.debug("lane %s: %d passage(s) go without every camera's", self.lane_id, len(out))
        return out
