"""One passage per lorry for a lane with several cameras: front, side (or high side), rear.

(Up to three cameras, at most one per slot. Without a side camera, :class:`LaneMerger` pairs a
lorry's front and rear passages by time and plates as the notes below say. **With a side
camera the side camera's passages are the lane's lorries** (it sees each lorry broadside, one
track per lorry, while the front and rear cameras' tracks of a queue join and miss lorries):
each front or rear passage is attached to the side passage whose span its handover time falls
in (:func:`side_fits`, :func:`side_cost`), one per camera and side passage, decided only once
no better side passage can still come, so the lane's passages do not depend on which camera's
pipeline runs ahead; the pairs are then put back in queue order (:meth:`LaneMerger._uncross`),
and a side passage seen only while another was is a piece, not a lorry
(:meth:`LaneMerger._within_another`); a front or rear passage no side passage takes is paired
with the other of the two as before, or goes alone. :func:`merge_lane_passages` takes plates
from the front and rear cameras and the body type from the side camera. ``docs/pipeline.md``
has the whole story.)

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
camera's rear plate and UK trailer mark (a role both saw: the better read; an unsure front or
rear read that is the other's sure read worse takes its number, :func:`one_number`), the camera ids of
both, first and last seen across both, the body type with the best evidence (a known type
over unknown, then the more confident; agreeing verdicts pool their looks) with its crop,
the front camera's direction, and the front passage's id.
"""

from __future__ import annotations

import itertools
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
from vision.pipeline.sinks import short_error
from vision.types import BodyType, Frame, Passage, PassagePlate, PlateCandidate, PlateRole, ReadStatus

log = logging.getLogger(__name__)

SAME_PLATE_MAX_EDITS = 1
"""Two plate texts are one plate when their look-alike forms are at most this many edits apart."""

SAME_PLATE_MIN_CHARS = 5
"""Texts shorter than this are too weak to say two passages share a plate."""

PIECE_MIN_CHARS = 4
"""Shortest run of another plate's characters that counts as a piece of it (:func:`reads_part_of`)."""

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

    With a side camera (:func:`side_fits`, :func:`side_cost`): ``side_slack_ms`` is how much
    earlier than the front camera (later than the rear camera) the side camera may pick a lorry
    up, or the front camera still see it after the side camera lost it; ``side_tolerance_ms``
    is how far outside a side passage's span a front or rear handover time may fall and still
    count as inside (a few frames and the detection stride).
    """

    max_gap_ms: int = 10_000
    max_lead_ms: int = 2_000
    max_wait_ms: int = 60_000
    side_slack_ms: int = 500
    side_tolerance_ms: int = 300

    def __post_init__(self) -> None:
        if (
            min(
                self.max_gap_ms,
                self.max_lead_ms,
                self.max_wait_ms,
                self.side_slack_ms,
                self.side_tolerance_ms,
            )
            < 0
        ):
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


def reads_part_of(weak: str, strong: str) -> bool:
    """Whether ``weak`` may be ``strong`` read worse: the same plate (:func:`same_plate`), or a
    run of at least :data:`PIECE_MIN_CHARS` of its characters (look-alike forms compared): the
    plate cut at the frame's edge, or its first characters lost (``1TSX``, ``M11TSX`` for
    ``UM11TSX``)."""
    if len(weak) < PIECE_MIN_CHARS or len(weak) > len(strong):
        return False
    return same_plate(weak, strong) or lookalike_key(weak) in lookalike_key(strong)


def one_number(plates: Mapping[PlateRole, PassagePlate]) -> dict[PlateRole, PassagePlate]:
    """One lorry's plates by role, with an unsure front or rear read replaced by the other
    plate's sure read when it may be that read worse (:func:`reads_part_of`).

    A rigid lorry carries one number front and rear, and in the UK an articulated lorry's
    trailer carries the tractor's number on its rear plate; an EU semi-trailer's own number is
    another plate, and a piece of it or one character from it is not read by chance. So a
    low-confidence read (``GL1OVY`` from three looks 22-26 px high) that is a committed,
    grammar-fitting read of the other plate read worse (``GL13OVY``) is taken to be that number
    (bench lane sets 5271, 5282). It stays low confidence: its own looks did not read it, and
    their readings stay its candidates after the number taken (action-list matching tries
    them all). A UK trailer's own mark is never compared."""
    out = dict(plates)
    front, rear = plates.get(PlateRole.FRONT), plates.get(PlateRole.REAR)
    if front is None or rear is None:
        return out
    for weak, strong in ((front, rear), (rear, front)):
        if (
            weak.status is ReadStatus.LOW_CONFIDENCE
            and strong.status is ReadStatus.COMMITTED
            and strong.format_valid
            and weak.text != strong.text
            and reads_part_of(weak.text, strong.text)
        ):
            taken = PlateCandidate(
                strong.text,
                weak.confidence,
                country=strong.country,
                format_name=strong.candidates[0].format_name if strong.candidates else None,
            )
            out[weak.role] = replace(
                weak,
                text=strong.text,
                candidates=(taken, *(c for c in weak.candidates if c.text != strong.text)),
                country=strong.country,
                format_valid=True,
            )
            log.info(
                "%s plate read %s taken as the %s plate's %s",
                weak.role.value,
                weak.text,
                strong.role.value,
                strong.text,
            )
    return out


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
    plates = one_number(plates)
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

OTHER_SLOT = {"front": "rear", "rear": "front"}
"""A front or rear camera's counterpart: the one whose passages a side anchor's may share a plate with."""


def slot_fits(rule: MergeRule, a_slot: str, a: Passage, b_slot: str, b: Passage) -> bool:
    """Whether passages ``a`` (camera slot ``a_slot``) and ``b`` can be one lorry by their times:
    :meth:`MergeRule.fits` with the slot the lorry reaches first as its ``front``."""
    return rule.fits(a, b) if ORDER_OF_SLOT[a_slot] <= ORDER_OF_SLOT[b_slot] else rule.fits(b, a)


def handover_ts_ms(slot: str, passage: Passage) -> int:
    """When a front passage's lorry went on towards the side camera (its last sighting), or a rear
    passage's lorry came from it (its first sighting)."""
    if slot == "front":
        return passage.last_seen_ts_ms
    if slot == "rear":
        return passage.first_seen_ts_ms
    raise ValueError(f"no handover for camera slot {slot!r}")


def side_fits(rule: MergeRule, slot: str, passage: Passage, side: Passage) -> bool:
    """Whether front or rear passage ``passage`` (``slot``) and side passage ``side`` can be one
    lorry by their times. The lane is a queue past a gantry: the front camera picks a lorry up
    before the side camera does and loses it by the time the side camera does (each within
    ``side_slack_ms``), at most ``max_gap_ms`` before the side camera first sees it; the rear
    camera picks it up no earlier than the side camera (less the slack), at most ``max_gap_ms``
    after the side camera lost it, and still sees it when the side camera loses it."""
    slack, gap = rule.side_slack_ms, rule.max_gap_ms
    first, last = passage.first_seen_ts_ms, passage.last_seen_ts_ms
    if slot == "front":
        return (
            first <= side.first_seen_ts_ms + slack
            and last <= side.last_seen_ts_ms + slack
            and last >= side.first_seen_ts_ms - gap
        )
    if slot == "rear":
        return (
            first >= side.first_seen_ts_ms - slack
            and last >= side.last_seen_ts_ms - slack
            and first <= side.last_seen_ts_ms + gap
        )
    raise ValueError(f"a side passage is joined by front or rear passages, not {slot!r}")


def side_cost(rule: MergeRule, slot: str, passage: Passage, side: Passage) -> tuple[int, int]:
    """How well front or rear passage ``passage`` (``slot``) goes with side passage ``side``, lower
    is better, compared in order: (1) how far its handover time (:func:`handover_ts_ms`) falls
    outside the side passage's span widened by ``side_tolerance_ms`` (0: inside); (2) how far it
    is from the end of that span where the handover happens.

    The front camera loses a lorry either when its cab leaves the view (the side camera picks
    the lorry up then: ground-truth boxes, a detector that boxes the cab) or, when the detector
    keeps boxing the passing trailer, when its tail does (the side camera loses it soon after):
    (2) is the distance to the nearer end of the side passage. The rear camera picks a lorry up
    as its cab comes out past the gantry or once the whole lorry is past: (2) is the distance
    to the side passage's last sighting. (1) sorts out all but lorries nose to tail, whose side
    passages overlap; (2) chooses between those.

    A front passage whose front plate was read (:func:`front_plate_last_seen`) is nearer the
    side passage first seen nearest to the plate's last sighting, in (2): the plate goes out of
    the front camera's view as the cab goes under it, into the side camera's, whatever the track
    did after. Over the 178 front passages of 15 ``bench lane`` seeds (thirty-second session),
    the plate's last sighting was 8 frames before to 9 after its lorry's side passage's first
    sighting for 171 of the 172 with a plate and a side passage of their own (0.7 s at 12.5
    fps; the other side track began 3 s early, on the empty lane), the track's last 46 frames
    before to 75 after it. Taken alone, 172 of the 178 went nearest their own lorry's side
    passage with the plate, 124 by the track alone; in the merger the queue order rule
    (:meth:`LaneMerger._uncross`) put the others right but one, set 5206: lorry 2's front track
    boxed its passing trailer and ran on into lorry 3 (frames 50-127), its last sighting 8
    frames from the end of lorry 2's side passage (89-135) and 7 from the start of lorry 3's
    (120-174); its plate was last seen at frame 85."""
    t = handover_ts_ms(slot, passage)
    a, b = side.first_seen_ts_ms, side.last_seen_ts_ms
    tol = rule.side_tolerance_ms
    outside = max(0, a - tol - t, t - b - tol)
    if slot == "rear":
        return outside, abs(t - b)
    seen = front_plate_last_seen(passage)
    return outside, abs(seen - a) if seen is not None else min(abs(t - a), abs(t - b))


def front_plate_last_seen(passage: Passage) -> int | None:
    """When the front camera last saw the passage's front plate (ms), if it read one."""
    return next(
        (
            p.last_seen_ts_ms
            for p in passage.plates
            if p.role is PlateRole.FRONT and p.text and p.last_seen_ts_ms is not None
        ),
        None,
    )


def merge_lane_passages(parts: Mapping[str, Passage]) -> Passage:
    """One passage from one lorry's passages of a lane's cameras, by slot (``front``, ``side``,
    ``rear``; at least one): plates from the front and rear cameras as
    :func:`merge_passages` (a side camera's only when neither is there), the body type from
    the side camera's consensus when it has a known one (agreeing verdicts of the other cameras
    pool their looks; a side ``tractor_only`` gives way to a trailer the rear camera names,
    :func:`_rear_sees_a_trailer`), else the best of the others; times across all, camera ids of all, the
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
    if _rear_sees_a_trailer(side, rear):
        assert rear is not None
        body, crop = rear.body, rear.body_crop_jpeg or crop
    elif side.body.body_type is not BodyType.UNKNOWN:
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


def _rear_sees_a_trailer(side: Passage, rear: Passage | None) -> bool:
    """Whether the rear camera's body type overrules the side camera's ``tractor_only``: it names
    a trailer (a known type other than ``tractor_only``). A side view of a flatbed's low deck, or
    of a cab as it comes into view before its trailer, looks like a tractor alone (bench lane
    sets 5220-5223: all four flatbeds called ``tractor_only`` 0.64-0.87 from the side, ``flatbed``
    0.73-0.84 from the rear), while from behind a trailer is plain to see (the rear camera called
    every tractor alone of sets 5200-5223 ``tractor_only``, 0.89-1.0)."""
    if side.body.body_type is not BodyType.TRACTOR_ONLY or rear is None:
        return False
    return rear.body.body_type not in (BodyType.UNKNOWN, BodyType.TRACTOR_ONLY)


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


@dataclass(slots=True, eq=False)
class _Anchor:
    """One lorry of a lane with a side camera, by the passage it is known by (``key``, of camera
    slot ``kind``): a side passage, which front and rear passages join; or a front passage no
    side passage took (the side camera missed the lorry), which a rear passage no side passage
    took may join. ``parts``: the passages joined so far, by slot."""

    kind: str
    key: Passage
    parts: dict[str, Passage]

    @property
    def last_seen_ts_ms(self) -> int:
        return max(p.last_seen_ts_ms for p in (self.key, *self.parts.values()))

    def group(self) -> _Group:
        return _Group({self.kind: self.key, **self.parts})


@dataclass(slots=True)
class MergeCounters:
    """What a lane merger did: passages in per camera view (``side_in`` counts side and high
    side), merged passages (of two cameras or more), passages that went alone, merges where the
    front and rear passages shared a plate, and passages the sink raised on (``failed``, not
    delivered; ``last_error`` says why)."""

    front_in: int = 0
    rear_in: int = 0
    side_in: int = 0
    merged: int = 0
    alone: int = 0
    by_plate: int = 0
    failed: int = 0
    last_error: str | None = None


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
    benchmark scores with it).

    **With a side camera** its passages are the lane's lorries (anchors). A front or rear
    passage waits until the side camera can send no other passage it could go with (the side
    camera's clock and open tracks are past the latest time such a passage could have been
    first seen), then joins the anchor it goes with best (:func:`side_fits`, :func:`side_cost`;
    one that shares a plate with the anchor's other camera's passage first). An anchor holds
    one passage per camera: a better one takes the place of the one it holds, which tries its
    next choice. A front passage no side passage takes becomes an anchor itself, for the rear
    passages no side passage takes (:meth:`MergeRule.fits`, a shared plate first, then the
    nearest handover); a rear passage no anchor takes goes alone, and so does a front passage
    of a lane without a rear camera. An anchor goes (merged with what it holds, or alone) once
    no camera can send it a better passage any more: none still to come or waiting that fits
    it, and none held by an anchor that may still lose it. So what a lane records does not
    depend on which camera's pipeline runs ahead of the others (deferred acceptance: each
    passage chooses among every anchor it could join, anchors keep the best).
    """

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
        self._by_slot = {cam.slot: cam for cam in self._cameras.values()}
        self._slots = frozenset(slots)
        self._anchored = "side" in self._slots
        # a lane without a side camera: lorries' passages so far
        self._waiting: list[_Group] = []
        # a lane with one: anchors, front/rear passages to be placed, rear passages no side
        # passage took (to be placed on front anchors), passages that go alone
        self._anchors: list[_Anchor] = []
        self._pending: list[tuple[str, Passage]] = []
        self._strays: list[Passage] = []
        self._alone: list[Passage] = []
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
        """Passages not yet emitted (waiting for a partner, or to be placed)."""
        with self._lock:
            return (
                sum(len(g.parts) for g in self._waiting)
                + sum(1 + len(a.parts) for a in self._anchors)
                + len(self._pending)
                + len(self._strays)
                + len(self._alone)
            )

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
            if not self._anchored:
                out = self._join(slot, passage, merged)
            elif slot == "side":
                self._anchors.append(_Anchor("side", passage, {}))
                out = []
            else:
                self._pending.append((slot, passage))
                out = []
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
            busy = self._waiting or self._anchors or self._pending or self._strays
            out = self._release(None, merged) if busy else []
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
            for slot, p in _placing_order(self._pending):
                self._place(slot, p, "side")
            self._pending.clear()
            self._uncross()
            for p in sorted(self._strays, key=_seen_order):
                self._place("rear", p, "front")
            self._strays.clear()
            out = [self._merge(a.group(), merged) for a in self._anchors]
            self._anchors.clear()
            out += [self._merge(g, merged) for g in self._waiting]
            self._waiting.clear()
            out += self._lone(merged)
        self._tell(merged)
        self._emit(out)

    def close(self) -> None:
        """:meth:`flush`, then close the sink."""
        self.flush()
        self.sink.close()

    # --- internals (under the lock) ---------------------------------------------------------

    def _emit(self, passages: list[Passage]) -> None:
        """Each passage to the sink; one the sink raises on is counted and logged, and the rest
        still go (they are already out of the merger's state)."""
        for p in passages:
            try:
                self.sink.emit(p)
            except Exception as e:
                with self._lock:  # _emit runs outside the lock, from several cameras' threads
                    self.counters.failed += 1
                    self.counters.last_error = short_error(e)
                log.exception("lane %s: merged passage %s not delivered", self.lane_id, p.passage_id)

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

    def _lone(self, merged: list[tuple[dict[str, Passage], Passage]]) -> list[Passage]:
        out = [self._merge(_Group({"lone": p}), merged) for p in self._alone]
        self._alone.clear()
        return out

    def _lane_clock(self, now_ms: int | None) -> int | None:
        clocks = [c.clock_ms for c in self._cameras.values() if c.clock_ms is not None]
        return max([*clocks, *([now_ms] if now_ms is not None else [])], default=None)

    def _expired(self, lane_clock: int | None, last_seen_ts_ms: int) -> bool:
        return lane_clock is not None and lane_clock - last_seen_ts_ms > self.rule.max_wait_ms

    def _release(self, now_ms: int | None, merged: list[tuple[dict[str, Passage], Passage]]) -> list[Passage]:
        """Everything that can go now (see the class doc)."""
        lane_clock = self._lane_clock(now_ms)
        if self._anchored:
            return self._release_anchors(lane_clock, merged)
        return self._release_groups(lane_clock, merged)

    # --- a lane with a side camera: anchors -------------------------------------------------

    def _release_anchors(
        self, lane_clock: int | None, merged: list[tuple[dict[str, Passage], Passage]]
    ) -> list[Passage]:
        decided = [
            (slot, p)
            for slot, p in _placing_order(self._pending)
            if self._expired(lane_clock, p.last_seen_ts_ms) or self._side_done(slot, p)
        ]
        if decided:
            gone = {id(p) for _, p in decided}
            self._pending = [sp for sp in self._pending if id(sp[1]) not in gone]
            for slot, p in decided:
                self._place(slot, p, "side")
            self._uncross()
        if self._strays:
            side_busy = self._may_still_change("side")
            ready = [
                p
                for p in sorted(self._strays, key=_seen_order)
                if self._expired(lane_clock, p.last_seen_ts_ms) or self._fronts_done(p, side_busy)
            ]
            gone = {id(p) for p in ready}
            self._strays = [p for p in self._strays if id(p) not in gone]
            for p in ready:
                self._place("rear", p, "front")
        out: list[Passage] = []
        if self._anchors:
            busy = self._may_still_change("side")
            busy += self._may_still_change("front", busy)
            keep: list[_Anchor] = []
            for a in self._anchors:
                if a in busy and not self._expired(lane_clock, a.last_seen_ts_ms):
                    keep.append(a)
                else:
                    out.append(self._merge(a.group(), merged))
            self._anchors = keep
        return out + self._lone(merged)

    def _side_done(self, slot: str, passage: Passage) -> bool:
        """Whether the side camera can send no other passage that fits ``passage`` (``slot``):
        its frames are past the latest time such a passage could have been first seen, and no
        track of it is open since before then."""
        if slot == "front":
            bound = passage.last_seen_ts_ms + self.rule.max_gap_ms
        else:
            bound = passage.first_seen_ts_ms + self.rule.side_slack_ms
        return _past(self._by_slot["side"], bound)

    def _fronts_done(self, rear: Passage, side_busy: list[_Anchor]) -> bool:
        """Whether no front passage that fits rear passage ``rear`` (no side passage took it) can
        still become a front anchor: the front camera can send no new one, none waits to be
        placed, none is held by a side anchor that may still let it go."""
        cam = self._by_slot.get("front")
        if cam is None:
            return True
        fits = self.rule.fits
        if any(s == "front" and fits(p, rear) for s, p in self._pending):
            return False
        if any((f := a.parts.get("front")) is not None and fits(f, rear) for a in side_busy):
            return False
        return _past(cam, rear.first_seen_ts_ms + self.rule.max_lead_ms)

    def _fits(self, anchor: _Anchor, slot: str, passage: Passage) -> bool:
        if anchor.kind == "side":
            return side_fits(self.rule, slot, passage, anchor.key) and not self._within_another(anchor)
        return slot == "rear" and self.rule.fits(anchor.key, passage)

    def _within_another(self, anchor: _Anchor) -> bool:
        """Whether side anchor ``anchor``'s passage was seen only while another side passage was:
        first seen no earlier and last seen no later. In a queue past the gantry a lorry comes
        into the side camera's view after the one ahead and leaves it after that one too, so such
        a passage is a piece of a lorry tracked twice (set 5281: a trailer's second track, 1 s
        inside its first), not a lorry: it takes no front or rear passage and goes alone."""
        k = anchor.key
        return any(
            b is not anchor
            and b.kind == "side"
            and b.key.first_seen_ts_ms <= k.first_seen_ts_ms
            and k.last_seen_ts_ms <= b.key.last_seen_ts_ms
            and (b.key.first_seen_ts_ms, b.key.last_seen_ts_ms) != (k.first_seen_ts_ms, k.last_seen_ts_ms)
            for b in self._anchors
        )

    def _rank(self, anchor: _Anchor, slot: str, passage: Passage) -> tuple[int, int, int, int, str]:
        """How well ``passage`` goes with ``anchor``, lower is better: sharing a plate with the
        anchor's other front/rear passage first, then :func:`side_cost` (a front anchor: how far
        apart the front camera lost the lorry and the rear camera picked it up), then the earlier."""
        if anchor.kind == "side":
            shares = bool(self._shares(anchor, slot, passage))
            outside, near = side_cost(self.rule, slot, passage, anchor.key)
        else:
            shares = share_a_plate(passage, anchor.key)
            outside, near = 0, abs(passage.first_seen_ts_ms - anchor.key.last_seen_ts_ms)
        return (0 if shares else 1, outside, near, passage.first_seen_ts_ms, passage.passage_id)

    def _place(self, slot: str, passage: Passage, kind: str) -> None:
        """Attach ``passage`` to the anchor of ``kind`` it goes with best that takes it (one that
        holds no passage of ``slot``, or one it is better for than the passage held, which then
        tries its next choice); else it is left over (:meth:`_left_over`)."""
        fits = [a for a in self._anchors if a.kind == kind and self._fits(a, slot, passage)]
        for a in sorted(fits, key=lambda a: (self._rank(a, slot, passage), *_queue_key(a))):
            held = a.parts.get(slot)
            if held is None:
                a.parts[slot] = passage
                return
            if self._rank(a, slot, passage) < self._rank(a, slot, held):
                a.parts[slot] = passage
                self._place(slot, held, kind)
                return
        self._left_over(slot, passage, kind)

    def _uncross(self) -> None:
        """Keep the queue's order: side anchors in the order the side camera first saw them hold
        front (and rear) passages in the order their lorries went past the camera towards the
        side camera (:func:`_handover_order`: a front camera's last sightings, a rear camera's
        first). Two neighbours
        holding theirs the other way round swap them when each still fits its new side passage
        and no shared plate is lost; when a swap alone would lose one (a passage shares a plate
        with its anchor's passage of the other camera), the two anchors swap their passages of
        both cameras, when each still fits and the other camera's passages end up no more out of
        queue order than before (:meth:`_swap`); until none are crossed.

        Why: deferred acceptance ranks each passage's side passages by its handover time alone
        (:func:`side_cost`), and for lorries nose to tail that is ambiguous. Set 5200 of
        ``bench lane``: the front camera lost lorry 1 as its cab went under the gantry and lorry 2
        as its tail did, just before the side camera lost lorry 1, so lorry 2's front passage
        went nearest to lorry 1's side passage and lorry 1's to lorry 2's. Lorries do not
        overtake in a lane, so crossed pairs are wrong whatever the costs said. Set 5204: the
        rear camera picked lorry 2 up (a rigid tipper, one number front and rear) as lorry 1
        came out, so its rear passage went to lorry 1's side passage and drew lorry 2's front
        passage after it by their shared plate; lorry 1's front passage went to lorry 2's. The
        pair moves back together."""
        for slot in ("front", "rear"):
            sides = (a for a in self._anchors if a.kind == "side" and slot in a.parts)
            holders = sorted(sides, key=_queue_key)
            swapped = True
            while swapped:
                swapped = False
                for a, b in itertools.pairwise(holders):
                    pa, pb = a.parts[slot], b.parts[slot]
                    if _handover_order(slot, pa) <= _handover_order(slot, pb):
                        continue
                    if self._swap(a, b, (slot,)) or self._swap(a, b, (slot, OTHER_SLOT[slot])):
                        swapped = True

    def _swap(self, a: _Anchor, b: _Anchor, slots: tuple[str, ...]) -> bool:
        """Swap side anchors ``a`` and ``b``'s passages of ``slots`` (a passage or none each)
        when every moved passage fits its new anchor, no plate shared between an anchor's front
        and rear passages is lost, and the passages of ``slots`` after the first are held no
        more out of queue order than before (:meth:`_crossings`); return whether they were
        swapped. The caller swaps a crossed pair of ``slots[0]``."""
        before = self._shared(a) + self._shared(b)
        crossed = {s: self._crossings(s) for s in slots[1:]}
        moved = [(s, a.parts.get(s), b.parts.get(s)) for s in slots]
        if all(pa is None and pb is None for _, pa, pb in moved):
            return False
        for s, pa, pb in moved:
            if (pb is not None and not self._fits(a, s, pb)) or (pa is not None and not self._fits(b, s, pa)):
                return False

        def put(x: _Anchor, s: str, p: Passage | None) -> None:
            if p is None:
                x.parts.pop(s, None)
            else:
                x.parts[s] = p

        for s, pa, pb in moved:
            put(a, s, pb)
            put(b, s, pa)
        if self._shared(a) + self._shared(b) >= before and all(
            self._crossings(s) <= n for s, n in crossed.items()
        ):
            return True
        for s, pa, pb in moved:
            put(a, s, pa)
            put(b, s, pb)
        return False

    @staticmethod
    def _shared(anchor: _Anchor) -> int:
        """1 when the anchor's front and rear passages share a plate."""
        f, r = anchor.parts.get("front"), anchor.parts.get("rear")
        return int(f is not None and r is not None and share_a_plate(f, r))

    def _crossings(self, slot: str) -> int:
        """How many pairs of side anchors (in the order the side camera first saw them) hold
        their passages of ``slot`` the other way round from their handover order
        (:func:`_handover_order`)."""
        sides = sorted((a for a in self._anchors if a.kind == "side"), key=_queue_key)
        held = [_handover_order(slot, p) for a in sides if (p := a.parts.get(slot)) is not None]
        return sum(x > y for x, y in itertools.combinations(held, 2))

    @staticmethod
    def _shares(anchor: _Anchor, slot: str, passage: Passage) -> int:
        """1 when ``passage`` shares a plate with the anchor's passage of the other camera."""
        return int(any(share_a_plate(passage, q) for s, q in anchor.parts.items() if s != slot))

    def _left_over(self, slot: str, passage: Passage, kind: str) -> None:
        """A passage no anchor of ``kind`` took: a front passage no side passage took becomes a
        front anchor (when the lane has a rear camera), a rear passage no side passage took
        waits for the front anchors (when the lane has a front camera); else it goes alone."""
        if kind == "side" and slot == "front" and "rear" in self._slots:
            self._anchors.append(_Anchor("front", passage, {}))
        elif kind == "side" and slot == "rear" and "front" in self._slots:
            self._strays.append(passage)
        else:
            self._alone.append(passage)

    def _may_still_change(self, kind: str, busy_sides: list[_Anchor] | None = None) -> list[_Anchor]:
        """Anchors of ``kind`` that may still be given a better front or rear passage: a camera
        may still send one that fits (or one waits to be placed), or a passage that would be
        better there is held by an anchor that may still lose it (``busy_sides``: the side
        anchors that may, for front anchors)."""
        anchors = [a for a in self._anchors if a.kind == kind]
        busy: list[_Anchor] = []
        for slot in ("front", "rear") if kind == "side" else ("rear",):
            if slot not in self._slots:
                continue
            open_ = [a for a in anchors if not self._slot_done(a, slot, busy_sides or [])]
            grew = True
            while grew:
                grew = False
                for b in open_:
                    held = b.parts.get(slot)
                    if held is None:
                        continue
                    for a in anchors:
                        if a in open_ or not self._fits(a, slot, held):
                            continue
                        other = a.parts.get(slot)
                        if other is None or self._rank(a, slot, held) < self._rank(a, slot, other):
                            open_.append(a)
                            grew = True
            busy += [a for a in open_ if a not in busy]
        return busy

    def _slot_done(self, anchor: _Anchor, slot: str, busy_sides: list[_Anchor]) -> bool:
        """Whether no new passage of ``slot`` that fits ``anchor`` can come: the camera can send
        none, none waits to be placed (and, for a front anchor, none is held by a side anchor
        that may still let it go)."""
        if any(s == slot and self._fits(anchor, s, p) for s, p in self._pending):
            return False
        if anchor.kind == "front":
            if any(self._fits(anchor, "rear", p) for p in self._strays):
                return False
            if any(
                (r := a.parts.get("rear")) is not None and self._fits(anchor, "rear", r) for a in busy_sides
            ):
                return False
            bound = anchor.key.last_seen_ts_ms + self.rule.max_gap_ms
        elif slot == "front":
            bound = anchor.key.first_seen_ts_ms + self.rule.side_slack_ms
        else:
            bound = anchor.key.last_seen_ts_ms + self.rule.max_gap_ms
        return _past(self._by_slot[slot], bound)

    # --- a lane without a side camera: groups by time and plates -----------------------------

    def _join(
        self, slot: str, passage: Passage, merged: list[tuple[dict[str, Passage], Passage]]
    ) -> list[Passage]:
        group = self._partner(passage, slot)
        if group is None:
            self._waiting.append(_Group({slot: passage}))
            return []
        group.parts[slot] = passage
        if set(group.parts) == self._slots:
            self._waiting.remove(group)
            return [self._merge(group, merged)]
        return []

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
            if not _past(cam, bound):
                return True  # a partner may still appear, or is in view now
        return False

    def _release_groups(
        self, lane_clock: int | None, merged: list[tuple[dict[str, Passage], Passage]]
    ) -> list[Passage]:
        out: list[Passage] = []
        keep: list[_Group] = []
        for g in self._waiting:
            if self._expired(lane_clock, g.last_seen_ts_ms) or not self._partner_possible(g):
                out.append(self._merge(g, merged))
            else:
                keep.append(g)
        if out:
            self._waiting = keep
            log.debug("lane %s: %d passage(s) go without every camera's", self.lane_id, len(out))
        return out


def _placing_order(pending: list[tuple[str, Passage]]) -> list[tuple[str, Passage]]:
    return sorted(pending, key=lambda sp: (sp[0], *_handover_order(*sp)))


def _seen_order(p: Passage) -> tuple[int, str]:
    """Passages in the order their camera first saw them (ties by passage id): a lane's queue."""
    return p.first_seen_ts_ms, p.passage_id


def _handover_order(slot: str, p: Passage) -> tuple[int, str]:
    """Front or rear passages in the order their lorries passed the side camera's end of the
    camera's view (:func:`handover_ts_ms`; ties by passage id): a rear camera's first sightings,
    a front camera's last. Not a front camera's first sightings: it may pick a lorry up far
    off before the one ahead of it (set 5311: lorry 3 from frame 33, lorry 2 from 62)."""
    return handover_ts_ms(slot, p), p.passage_id


def _queue_key(anchor: _Anchor) -> tuple[int, str]:
    """Anchors in the order their camera first saw their passage (:func:`_seen_order`)."""
    return _seen_order(anchor.key)


def _past(cam: _Camera, bound_ms: int) -> bool:
    """Whether camera ``cam`` can no longer send a passage first seen at ``bound_ms`` or before:
    it finished, or its frames are past that time and no track of it is open since then or
    before."""
    if cam.finished:
        return True
    if cam.clock_ms is None or cam.clock_ms <= bound_ms:
        return False
    return cam.open_since_ms is None or cam.open_since_ms > bound_ms
