"""Track state and passage assembly: what one vehicle track has gathered, turned into a
:class:`vision.types.Passage` when the vehicle has left. Pure apart from JPEG encoding."""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from rapidfuzz.distance import Levenshtein

from vision.anpr.lookalike import lookalike_key
from vision.anpr.vote import PlateVote, VoteRule, vote
from vision.pipeline.config import CameraView
from vision.trailer.consensus import ConsensusRule, consensus
from vision.types import (
    BBox,
    BodyType,
    ImageBGR,
    Passage,
    PassagePlate,
    PlateRead,
    PlateRole,
    ReadStatus,
    TrailerVerdict,
)

log = logging.getLogger(__name__)

UK_TRAILER_MARK = re.compile(r"^[A-Z][0-9]{7}$")
"""A UK trailer's own DVLA mark (``A1234567``, shown on two lines)."""

SIGHTINGS_KEPT = 512
"""A vehicle track remembers its last this many sightings (time, box): enough to hand the
recent ones to a new track when another lorry took the track over (about 40 s at 12.5 Hz)."""

MAX_CROP_SIDE_PX = 640
"""Evidence crops are shrunk to at most this long side before JPEG encoding."""


def encode_jpeg(image: ImageBGR, quality: int = 90, max_side_px: int = MAX_CROP_SIDE_PX) -> bytes:
    """JPEG bytes of an ``(H, W, 3)`` uint8 BGR image, shrunk to ``max_side_px`` on its long side."""
    h, w = image.shape[:2]
    scale = max_side_px / max(h, w)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot JPEG-encode an image of shape {image.shape}")
    return buf.tobytes()


@dataclass(slots=True)
class PlateLook:
    """One read of a plate track: the read and the crop that was read (kept for evidence)."""

    ts_ms: int
    read: PlateRead
    crop: ImageBGR

    @property
    def reads_a_mark(self) -> bool:
        """Whether the best read is a UK trailer mark (:data:`UK_TRAILER_MARK`)."""
        best = self.read.best
        return best is not None and UK_TRAILER_MARK.match(best.text) is not None


PLATE_MOVED_BY = 0.5
"""How far (a share of its height, in position or in height) a plate moves over its track to count
as on a moving vehicle (:meth:`PlateTrack.moved`): an approaching plate moves 20-90 px a frame,
a sign's box jitters by a few pixels."""


@dataclass(slots=True)
class PlateTrack:
    """What one plate track has gathered. Reads are bounded by the read policy; only the
    tallest unread crop is kept besides them."""

    track_id: int
    first_ts_ms: int
    last_ts_ms: int
    box: BBox
    n_seen: int = 0
    looks: list[PlateLook] = field(default_factory=list)
    tallest_read_px: float = 0.0
    tallest_crop: ImageBGR | None = None
    tallest_crop_px: float = 0.0
    vehicles: Counter[int] = field(default_factory=Counter)
    first_box: BBox | None = None
    _vote: PlateVote | None = None

    def seen(self, ts_ms: int, box: BBox, vehicle_key: int | None) -> None:
        if self.first_box is None:
            self.first_box = box
        self.n_seen += 1
        self.last_ts_ms = max(self.last_ts_ms, ts_ms)
        self.box = box
        if vehicle_key is not None:
            self.vehicles[vehicle_key] += 1

    def moved(self, by: float = PLATE_MOVED_BY) -> bool:
        """Whether the plate moved over its track: its centre by ``by`` of its height or more,
        or its height by that share (a plate on a lorry coming or going; a sign stays put)."""
        a, b = self.first_box, self.box
        if a is None:
            return False
        h = max(a.height_px, b.height_px, 1.0)
        shift = math.hypot(b.center[0] - a.center[0], b.center[1] - a.center[1])
        return shift >= by * h or abs(b.height_px - a.height_px) >= by * h

    def keep_tallest(self, crop_img: ImageBGR) -> None:
        h = float(crop_img.shape[0])
        if h > self.tallest_crop_px:
            self.tallest_crop, self.tallest_crop_px = crop_img, h

    def add_read(self, look: PlateLook) -> None:
        self.looks.append(look)
        self.looks.sort(key=lambda lk: lk.ts_ms)
        self.tallest_read_px = max(self.tallest_read_px, float(look.crop.shape[0]))
        self._vote = None

    def drop_smallest_read(self) -> None:
        """Forget the read of the shortest crop (to make room for a better one)."""
        if self.looks:
            self.looks.remove(min(self.looks, key=lambda lk: lk.crop.shape[0]))
            self._vote = None

    def vote(self, rule: VoteRule) -> PlateVote:
        if self._vote is None:
            self._vote = vote([lk.read for lk in self.looks], rule)
        return self._vote

    @property
    def vehicle_key(self) -> int | None:
        """The vehicle this plate was most often inside."""
        return self.vehicles.most_common(1)[0][0] if self.vehicles else None

    def role(self, view: CameraView, rule: VoteRule) -> PlateRole:
        """Trailer mark when most reads' best text is a UK trailer mark, or half of them are and
        the track's vote (by ``rule``) is one; else the camera's role.

        Half and the vote: a rear track of a mark read ``S553693``, ``5193``, then ``S5513693``
        twice, voted ``S5513693`` committed, was the rear plate and lost to the lorry's own rear
        plate (bench lane set 5241, thirty-third session). A track that slid from a mark onto the
        rear plate beside it reads the plate on more crops than the mark, and stays the rear's."""
        read = [lk for lk in self.looks if lk.read.best is not None]
        marks = sum(lk.reads_a_mark for lk in read)
        if read and marks * 2 > len(read):
            return PlateRole.TRAILER_MARK
        if read and marks * 2 == len(read) and UK_TRAILER_MARK.match(self.vote(rule).text):
            return PlateRole.TRAILER_MARK
        return PlateRole.FRONT if view == "front" else PlateRole.REAR


@dataclass(slots=True)
class BodyLook:
    """One classification of a vehicle's body crop; ``size_px``: the body box's geometric mean
    side, sqrt(width * height), in frame pixels (the body-look policy keeps the biggest)."""

    ts_ms: int
    verdict: TrailerVerdict
    size_px: float


@dataclass(slots=True)
class VehicleTrack:
    """What one vehicle track has gathered: its boxes' first/last, body looks, the largest body
    crop, and (by key) the plate tracks inside it."""

    key: int
    track_ids: set[int]
    first_ts_ms: int
    last_ts_ms: int
    first_box: BBox
    box: BBox
    prev_box: BBox | None = None
    prev_ts_ms: int | None = None
    hits: int = 0
    body_looks: list[BodyLook] = field(default_factory=list)
    last_body_look_ms: int | None = None
    body_crop: ImageBGR | None = None
    body_crop_area_px: float = 0.0
    camera_ids: set[str] = field(default_factory=set)
    sightings: deque[tuple[int, BBox]] = field(default_factory=lambda: deque(maxlen=SIGHTINGS_KEPT))

    def seen(self, ts_ms: int, box: BBox) -> None:
        if ts_ms > self.last_ts_ms:
            self.prev_box, self.prev_ts_ms = self.box, self.last_ts_ms
        self.hits += 1
        self.last_ts_ms = max(self.last_ts_ms, ts_ms)
        self.box = box
        self.sightings.append((ts_ms, box))

    def can_split_at(self, ts_ms: int) -> bool:
        """Whether :meth:`split_at` can cut this track at ``ts_ms``: it was seen before and
        from then on, and every sighting from then on is still remembered."""
        if not self.sightings or self.sightings[-1][0] < ts_ms:
            return False
        return self.sightings[0][0] < ts_ms and self.first_ts_ms < ts_ms

    def found_again(self, after_ms: int, by_ms: int, lost_ms: int) -> int | None:
        """When this track was first seen again, after ``after_ms`` and by ``by_ms``, following
        ``lost_ms`` or more without a sighting that began after ``after_ms``; ``None`` if it was
        not lost so long in that time (as far as the remembered sightings tell)."""
        prev: int | None = None
        for t, _ in self.sightings:
            if t > by_ms:
                break
            if prev is not None and prev >= after_ms and t - prev >= lost_ms:
                return t
            prev = t
        return None

    def split_at(self, ts_ms: int, key: int) -> VehicleTrack:
        """Hand everything seen from ``ts_ms`` on to a new track ``key`` and return it (another
        lorry took this track over): sightings, ByteTrack ids and body looks; this track keeps
        what came before (its largest body crop stays with it). See :meth:`can_split_at`."""
        if not self.can_split_at(ts_ms):
            raise ValueError(f"vehicle {self.key}: cannot split at {ts_ms}")
        earlier = [(t, b) for t, b in self.sightings if t < ts_ms]
        later = [(t, b) for t, b in self.sightings if t >= ts_ms]
        new = VehicleTrack(
            key, self.track_ids, later[0][0], later[-1][0], later[0][1], later[-1][1], hits=len(later)
        )
        new.camera_ids = set(self.camera_ids)
        new.sightings.extend(later)
        if len(later) > 1:
            new.prev_ts_ms, new.prev_box = later[-2]
        new.body_looks = [b for b in self.body_looks if b.ts_ms >= ts_ms]
        new.last_body_look_ms = self.last_body_look_ms if new.body_looks else None
        self.body_looks = [b for b in self.body_looks if b.ts_ms < ts_ms]
        self.track_ids = set()
        self.hits -= len(later)
        self.sightings = deque(earlier, maxlen=SIGHTINGS_KEPT)
        self.last_ts_ms, self.box = earlier[-1]
        self.prev_ts_ms, self.prev_box = earlier[-2] if len(earlier) > 1 else (None, None)
        return new

    def absorb(self, part: VehicleTrack) -> None:
        """Take in what ``part``, a track of a piece of this vehicle (a side camera's track of a
        lorry's cab while another track holds the whole lorry), saw: its detections, cameras, and
        its sightings at times this track has none (so an earlier first or later last sighting;
        the first and last *boxes* stay this track's, the whole vehicle's, for its direction).
        Its body looks and crop are of the piece, not the body (a flatbed's cab looks like a
        tractor alone): they are taken only when this track has none."""
        self.hits += part.hits
        self.camera_ids |= part.camera_ids
        mine = {t for t, _ in self.sightings}
        merged = sorted(
            [*self.sightings, *((t, b) for t, b in part.sightings if t not in mine)], key=lambda tb: tb[0]
        )
        self.sightings = deque(merged, maxlen=SIGHTINGS_KEPT)
        self.first_ts_ms = min(self.first_ts_ms, part.first_ts_ms)
        self.last_ts_ms = max(self.last_ts_ms, part.last_ts_ms)
        if not self.body_looks:
            self.body_looks = list(part.body_looks)
            self.last_body_look_ms = part.last_body_look_ms
        if self.body_crop is None:
            self.body_crop, self.body_crop_area_px = part.body_crop, part.body_crop_area_px

    def predicted(self, ts_ms: int) -> BBox:
        """The box extrapolated linearly to ``ts_ms`` from the last two sightings."""
        if self.prev_box is None or self.prev_ts_ms is None or self.last_ts_ms <= self.prev_ts_ms:
            return self.box
        k = (ts_ms - self.last_ts_ms) / (self.last_ts_ms - self.prev_ts_ms)
        k = min(k, 5.0)
        a, b = self.prev_box, self.box
        x1, y1 = b.x1 + k * (b.x1 - a.x1), b.y1 + k * (b.y1 - a.y1)
        x2, y2 = b.x2 + k * (b.x2 - a.x2), b.y2 + k * (b.y2 - a.y2)
        return BBox(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))

    def continuation_iou(self, ts_ms: int, box: BBox, *, last_boxes: int = 1) -> float:
        """How well ``box``, seen at ``ts_ms``, continues this track: its IoU with the predicted
        box or with one of its last ``last_boxes`` boxes (the last at least), whichever is
        highest. The prediction alone fails when the last two sightings jittered (a box that grew over a
        passing lorry, then shrank back): its extrapolation flies off, and the vehicle, found
        again where it was, became a second passage (bench clip 5705: IoU 0.0 with the
        prediction, 0.58 with the last box). The last box alone fails when it was cut short (a
        lorry partly hidden on its last sighting: fresh lane set 5311, thirty-fifth session, a
        front camera's lorry boxed 435 x 474 px, then 336 x 353 px, lost for a frame, found again
        at 636 x 608 px: IoU 0.51 with the box before the last, 0.28 with the last)."""
        recent = [b for _, b in itertools.islice(reversed(self.sightings), last_boxes)]
        return max(b.iou(box) for b in (self.predicted(ts_ms), self.box, *recent))

    def keep_body_crop(self, crop_img: ImageBGR) -> None:
        area = float(crop_img.shape[0] * crop_img.shape[1])
        if area > self.body_crop_area_px:
            self.body_crop, self.body_crop_area_px = crop_img, area

    def direction(self) -> str:
        """``towards_camera`` when the vehicle's box grew (by a fifth or more), ``away_from_camera``
        when it shrank as much, else ``unknown``."""
        a0, a1 = self.first_box.area_px, self.box.area_px
        if a0 <= 0 or a1 <= 0:
            return "unknown"
        ratio = a1 / a0
        if ratio >= 1.2:
            return "towards_camera"
        if ratio <= 1 / 1.2:
            return "away_from_camera"
        return "unknown"


HANDOVER_MIN_EDITS = 3
"""Two plate texts are of different lorries when their look-alike forms are at least this many
edits apart (a misread drops, adds or confuses a character or two)."""


HANDOVER_MIN_READS = 2
"""Reads a plate track needs (agreeing, grammar-valid) before it can split a vehicle track."""


HANDOVER_MIN_CHARS = 4
"""A plate text shorter than this never splits a vehicle track. Such reads are mostly fragments
(a plate half hidden behind the lorry ahead, or cut by the frame): in clip 5600 a plate track
read ``C3`` three times (frames 116-137, no whole plate there), committed; it fits the UK
dateless grammar, and it split a car transporter's track in two. The cost: a lorry whose whole
plate really is that short (``C3`` is a possible UK dateless mark) cannot split a track that
runs on into it."""


def plate_is_sure(v: PlateVote) -> bool:
    """Whether a plate track's vote is sure enough to tell two lorries apart: its text has at
    least :data:`HANDOVER_MIN_CHARS` characters, fits a plate grammar and is either committed
    or the text of at least :data:`HANDOVER_MIN_READS` reads with no other text read as often
    (a plate readable for a few frames only, as the next lorry's is when it comes out from
    behind a passing trailer, rarely gets the reads a committed vote needs)."""
    if len(v.text) < HANDOVER_MIN_CHARS or not v.format_valid:
        return False
    if v.status is ReadStatus.COMMITTED:
        return True
    return v.n_read >= HANDOVER_MIN_READS and v.confidence * v.n_read >= HANDOVER_MIN_READS and v.margin > 0


LIVERY_MIN_CHARS = 4
"""A text read on a vehicle with no digit, fitting no plate grammar, is taken for a word on the
lorry (a haulier's name, a maker's badge) when it has at least this many characters."""


CONTAINER_CODE = re.compile(r"^([1-4A-HKLMNP][024-689CDEFLMNP][A-Z][0-9]|[A-Z]{3}[UJZ][0-9]{6,7})$")
"""ISO 6346 markings painted on a container's ends and sides: its size and type code (``42G1``,
``45R1``, ``22T6``) and its owner code with serial number (``MSCU 123456 7``, check digit
optional). A four-character piece of a 2013-on Irish plate read without its half-year digit
(``22D1`` of ``222D1...``) has the same shape and is dropped too: a piece, not the plate."""


def is_livery(v: PlateVote) -> bool:
    """Whether a plate track's vote is something painted on the vehicle rather than a plate. It
    fits no plate grammar and is either a word (at least :data:`LIVERY_MIN_CHARS` characters, no
    digit: every UK and EU plate format has digits, ``../shared/docs/plate-formats.md``) or a
    container code (:data:`CONTAINER_CODE`). In set 5900 a haulier's name ``MAREK`` on a cab was
    kept as the front plate of a lorry whose plate was hidden; in lane set 5230 a container's
    ``42G1`` was (then read as an Irish plate of a year never issued). Shorter digit-free texts
    (``C``) are kept: they are mostly fragments of a real plate, and their crop is the plate's
    evidence."""
    if v.format_valid:
        return False
    return _livery_word(v.text) or CONTAINER_CODE.match(v.text) is not None


def _livery_word(text: str) -> bool:
    """A text with no digit and at least :data:`LIVERY_MIN_CHARS` characters (no UK or EU plate
    format is one): a word on the lorry, when it fits no plate grammar."""
    return len(text) >= LIVERY_MIN_CHARS and not any(c.isdigit() for c in text)


def is_livery_piece(track: PlateTrack, v: PlateVote) -> bool:
    """Whether ``track``'s vote ``v`` is a piece of a livery word the same track read whole: the
    vote is not committed, its text fits no plate grammar, has no digit and is part of a look's
    best read that is a word (at least :data:`LIVERY_MIN_CHARS` characters, no digit, fitting no
    grammar), and the track's reads say the word at least as much as the piece
    (:func:`text_evidence`; a look that read the piece counts for the word by the share it
    covers). In set 5900 a haulier's name on a cab was read ``MAREK`` in one look and ``REK``
    (its end, the rest cut by the crop) in another, about as surely; whichever of the two the
    vote chose decided whether the lorry got a front plate. A short plate read the same way
    many times and once as a longer misread (``NPB`` eight times, ``WOBNPB`` once) stays: the
    word's one read says less than the plate's eight."""
    if v.status is ReadStatus.COMMITTED or v.format_valid or not v.text:
        return False
    if any(c.isdigit() for c in v.text):
        return False
    words = {
        best.text
        for lk in track.looks
        if (best := lk.read.best) is not None
        and not best.format_valid
        and best.text != v.text
        and v.text in best.text
        and _livery_word(best.text)
    }
    piece = text_evidence(track, v.text)
    return any(text_evidence(track, w) >= piece for w in words)


def clearly_different(a: str, b: str) -> bool:
    """Whether plate texts ``a`` and ``b`` cannot be misreads of one plate: their look-alike
    keys (``vision.anpr.lookalike``) are :data:`HANDOVER_MIN_EDITS` or more edits apart."""
    return Levenshtein.distance(lookalike_key(a), lookalike_key(b)) >= HANDOVER_MIN_EDITS


def text_evidence(track: PlateTrack, text: str) -> float:
    """How much of ``track``'s reading says ``text``: over its looks whose best read is ``text``
    or a piece of it (a plate cut at an edge), the read's confidence times the share of ``text``'s
    characters it covers. A look that read something else adds nothing."""
    total = 0.0
    for lk in track.looks:
        best = lk.read.best
        if best is not None and best.text and text and best.text in text:
            total += best.confidence * len(best.text) / len(text)
    return total


def agreeing_tracks(group: Sequence[PlateTrack], rule: VoteRule) -> list[PlateTrack]:
    """The plate tracks of one role whose reads are pooled: the track with the strongest vote of its
    own (a text that fits a plate grammar first, then one that is no livery word nor a piece of one
    (:func:`is_livery`, :func:`is_livery_piece`), then committed, then the most sure reads saying
    its text, :func:`text_evidence`) and every track whose own text could be a misread of it
    (fragments of one plate's track). Tracks whose text is clearly another
    (:func:`clearly_different`: a maker's badge, a haulier's name, a headlight read as text) are
    left out; tracks with no text read add nothing and are kept for their crops. When the strongest
    text is a livery word, only the tracks with no text are kept (an empty list when there are
    none): a haulier's name never stands in for a plate.

    Evidence, not the vote's share times its reads: a sign read four ways (``L814``, ``LB4``,
    ``LBT444``, ``L8744``) won its share with one 0.49-sure read of a short text that fits a
    permissive grammar, over the plate read ``BL851T`` twice at 0.99 (``docs/pipeline.md``)."""
    votes = [(t, t.vote(rule)) for t in group]
    texted = [(t, v) for t, v in votes if v.text]
    if not texted:
        return list(group)
    best_track, best = max(
        texted,
        key=lambda tv: (
            tv[1].format_valid,
            not (is_livery(tv[1]) or is_livery_piece(*tv)),
            tv[1].status is ReadStatus.COMMITTED,
            text_evidence(tv[0], tv[1].text),
        ),
    )
    if is_livery(best) or is_livery_piece(best_track, best):
        return [t for t, v in votes if not v.text]
    return [t for t, v in votes if not v.text or not clearly_different(v.text, best.text)]


SURE_READ = 0.95
"""A look whose best read is this sure says its text on its own (:func:`unsettled`)."""


def unsettled(v: PlateVote, reads: Sequence[PlateRead], rule: VoteRule) -> bool:
    """Whether a role's pooled vote ``v`` of ``reads`` is no reading of the plate: two looks or
    more read it, fewer than the rule needs to commit (``min_looks``), its text's share is
    under ``min_share``, no look read it :data:`SURE_READ` sure, and some look's best read is
    another plate's: neither a start or end of the consensus with half its characters
    (:func:`_agree`) nor a misread of it (:func:`clearly_different`, look-alikes and an edit
    or two forgiven). The passage reports such a plate as seen, not read (no text, country
    or confidence), its candidates kept for the action-list match and the officer.

    Lane sets 5230 and 5272 (thirty-sixth session): front plates far off, never legible, each
    in two looks, read ``7`` and ``ER917`` (the plate ``JZR917``), ``I6`` and ``PJE8``
    (``WP72VPC``); the passages reported ``ER917`` and ``PJE8``. Set 5207's trailer mark, read
    ``K559`` and ``K5592948`` (the mark), is a reading; so are ``AB12CDE`` and ``A812CDE``."""
    if (
        v.status is not ReadStatus.LOW_CONFIDENCE
        or not 2 <= v.n_read < rule.min_looks
        or v.confidence >= rule.min_share
    ):
        return False
    firsts = [c for r in reads for c in r.candidates[:1] if c.text]
    if any(c.text == v.text and c.confidence >= SURE_READ for c in firsts):
        return False
    return any(not _agree(c.text, v.text) and clearly_different(c.text, v.text) for c in firsts)


def _agree(a: str, b: str) -> bool:
    """Whether texts ``a`` and ``b`` read one plate alike: equal, or the shorter a start or an
    end of the longer with at least half its characters (a plate cut at an edge)."""
    short, long_ = sorted((a, b), key=len)
    cut = long_.startswith(short) or long_.endswith(short)
    return short == long_ or (2 * len(short) >= len(long_) and cut)


_ROLE_ORDER = {PlateRole.FRONT: 0, PlateRole.TRAILER_MARK: 1, PlateRole.REAR: 2, PlateRole.UNKNOWN: 3}


def assemble_plates(
    tracks: Sequence[PlateTrack], view: CameraView, rule: VoteRule, jpeg_quality: int = 90
) -> tuple[PassagePlate, ...]:
    """One :class:`PassagePlate` per role seen: the reads of every plate track with that role
    pooled (fragments of one plate's track join up again) and voted; the evidence crop is the
    read crop that best supports the consensus (else the tallest crop seen). A role whose tracks
    read only livery words or pieces of them (:func:`is_livery`, :func:`is_livery_piece`), with
    no unread track to keep for its crops, gives no plate; the words are logged.

    Every read kept is voted (the read policy keeps at most 8 per track, the taller crops
    first), as a track's own vote does: the vote weighs each by its confidence and, under
    :data:`vision.anpr.vote.LEGIBLE_HEIGHT_PX`, its height. Until the twenty-ninth session only
    the reads at least 0.7 as tall as the tallest were voted, and the pooled vote could differ
    from the track's own: lane set 5290's front track began on a cab's lettering (crops 20-43
    px, ``XT2``, ``DAVE``, ``P49``, none over 0.24 sure) and then read the plate ``CMS9237G``
    (13-18 px, up to 0.98 sure): the track's vote was the plate, the passage's ``DAVE``. Set
    5261's rear track voted ``PYJ2220V``, committed; without its 13-px read (0.93) the passage
    had the piece ``PYJ2220``."""
    by_role: dict[PlateRole, list[PlateTrack]] = {}
    for t in tracks:
        by_role.setdefault(t.role(view, rule), []).append(t)
    plates: list[PassagePlate] = []
    for role in sorted(by_role, key=lambda r: _ROLE_ORDER[r]):
        group = by_role[role]
        agreeing = agreeing_tracks(group, rule)
        if not agreeing:
            log.debug(
                "%s: only %s read, no digit and no plate format: not a plate",
                role.value,
                sorted({t.vote(rule).text for t in group}),
            )
            continue
        pooled = [lk for t in agreeing for lk in t.looks]
        if role is not PlateRole.TRAILER_MARK:
            # a plate track can slide from a UK trailer's own mark onto the plate beside it (its
            # first, tallest crops the mark's: bench lane set 5240's rear plate voted Y6379111);
            # the mark's reads are the mark's, and its own track gives the mark
            pooled = [lk for lk in pooled if not lk.reads_a_mark]
        # crops that read nothing have no vote (nor the evidence crop, while a read crop is there)
        looks = [lk for lk in pooled if lk.read.best is not None] or pooled
        n_looks = sum(t.n_seen for t in agreeing)
        # when the plate was seen: by the tracks that read it (a track that read nothing, kept for
        # its crops, may be a headlight or a sign boxed on and on)
        seen = [t for t in agreeing if t.vote(rule).text] or agreeing
        reads = [lk.read for lk in looks]
        v = vote(reads, rule)
        best_crop: ImageBGR | None = None
        if v.text:
            supporting = [
                (c.confidence, lk.crop.shape[0], lk.crop)
                for lk in looks
                for c in lk.read.candidates[:1]
                if c.text == v.text
            ]
            if supporting:
                best_crop = max(supporting, key=lambda s: (s[0], s[1]))[2]
        if best_crop is None:
            tallest = max(agreeing, key=lambda t: t.tallest_crop_px)
            best_crop = tallest.tallest_crop
            if looks and (
                best_crop is None or max(lk.crop.shape[0] for lk in looks) >= tallest.tallest_crop_px
            ):
                best_crop = max(looks, key=lambda lk: lk.crop.shape[0]).crop
        blank = unsettled(v, reads, rule)
        plates.append(
            PassagePlate(
                role=role,
                text="" if blank else v.text,
                confidence=0.0 if blank else v.confidence,
                status=ReadStatus.UNREAD if blank else v.status,
                candidates=v.candidates,
                country=None if blank else v.country,
                format_valid=v.format_valid and not blank,
                n_looks=n_looks,
                crop_jpeg=encode_jpeg(best_crop, jpeg_quality) if best_crop is not None else b"",
                first_seen_ts_ms=min(t.first_ts_ms for t in seen),
                last_seen_ts_ms=max(t.last_ts_ms for t in seen),
            )
        )
    return tuple(plates)


def assemble_passage(
    passage_id: str,
    lane_id: str,
    vehicle: VehicleTrack,
    plate_tracks: Sequence[PlateTrack],
    *,
    view: CameraView,
    vote_rule: VoteRule,
    consensus_rule: ConsensusRule,
    classified: bool,
    jpeg_quality: int = 90,
) -> Passage:
    """The passage of a finished vehicle track. ``classified`` says whether body looks were
    taken at all (no classifier: the body type is unknown with 0 looks)."""
    looks = [b.verdict for b in vehicle.body_looks]
    body = consensus(looks, consensus_rule) if classified else TrailerVerdict(BodyType.UNKNOWN, 0.0, 0)
    return Passage(
        passage_id=passage_id,
        lane_id=lane_id,
        first_seen_ts_ms=vehicle.first_ts_ms,
        last_seen_ts_ms=vehicle.last_ts_ms,
        plates=assemble_plates(plate_tracks, view, vote_rule, jpeg_quality),
        body=body,
        direction=vehicle.direction(),
        body_crop_jpeg=encode_jpeg(vehicle.body_crop, jpeg_quality) if vehicle.body_crop is not None else b"",
        camera_ids=tuple(sorted(vehicle.camera_ids)),
    )


def all_plates_read(passage: Passage) -> bool:
    """Whether the passage has plates and every one is committed (the health's read rate)."""
    return bool(passage.plates) and all(p.status is ReadStatus.COMMITTED for p in passage.plates)
