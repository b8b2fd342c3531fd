"""Flag rules: which passages are worth stopping, how risky they are, and why (in words).

Rules (weights and limits in :class:`api.settings.FlagSettings`):

- **action-list hit**: any plate of the passage (tractor front, rear, trailer mark), over
  every reader candidate, matches an entry exactly, through look-alike characters or within
  the edit distance (:mod:`api.matching`);
- **soft-sided trailer**: a soft body (curtainsider plus tilt) is probable enough, and the body
  verdict is soft-sided or not settled;
- **plate unread / low confidence** on a lorry (any body type but ``other``): no plate read,
  a plate seen but unread, or a read below the confidence limit;
- **repeat**: the same mark passed within ``repeat_window_min`` minutes. If that earlier
  passage belongs to an open flag, the new passage joins that flag (its reasons are added and
  the score recomputed) instead of opening another.

The risk score is the sum, over reason kinds, of the highest points of each kind, capped at 100.
A passage becomes a new flag when its score reaches ``threshold``.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from api.db import repository as repo
from api.db.models import (
    Flag,
    FlagEvent,
    FlagReason,
    FlagStatus,
    PassagePlateRow,
    PassageRow,
    PlateCandidateRow,
)
from api.matching import Match, Matcher, MatchType
from api.settings import FlagSettings
from vision.types import BodyType, Passage, PassagePlate, PlateCandidate, PlateRole, ReadStatus, Side

ACTOR = "system"
"""Who the audit log names for automatic flag events."""

_ROLE_LABEL = {
    PlateRole.FRONT: "Tractor plate",
    PlateRole.REAR: "Rear plate",
    PlateRole.TRAILER_MARK: "Trailer mark",
    PlateRole.UNKNOWN: "Plate",
}


class ReasonCode(enum.StrEnum):
    """The kind of a reason; the score counts each kind once (its highest points)."""

    ACTION_LIST = "action_list"
    SOFT_SIDED = "soft_sided"
    UNREAD = "unread"
    LOW_CONFIDENCE = "low_confidence"
    REPEAT = "repeat"


class FlagAction(enum.StrEnum):
    """What :func:`process_passage` did with the flag queue."""

    NONE = "none"
    CREATED = "created"
    UPDATED = "updated"


@dataclass(frozen=True, slots=True)
class FlagRules:
    """The flag rules' weights (risk points 0-100) and limits; see :class:`api.settings.FlagSettings`."""

    threshold: int = 20
    hit_exact_points: int = 80
    hit_lookalike_points: int = 70
    hit_edit_points: int = 50
    soft_sided_points: int = 25
    soft_min_confidence: float = 0.5
    unread_points: int = 30
    low_confidence_points: int = 20
    low_confidence_below: float = 0.6
    repeat_points: int = 20
    repeat_window_min: int = 30

    @classmethod
    def from_settings(cls, settings: FlagSettings) -> FlagRules:
        """The rules configured in the ``flags`` settings section."""
        names = cls.__dataclass_fields__.keys()
        return cls(**{name: getattr(settings, name) for name in names})

    def hit_points(self, match_type: MatchType) -> int:
        return {
            MatchType.EXACT: self.hit_exact_points,
            MatchType.LOOKALIKE: self.hit_lookalike_points,
            MatchType.EDIT: self.hit_edit_points,
        }[match_type]


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason behind a risk score: its kind, its points and a sentence for the officer.

    ``details`` is JSON-ready (e.g. a match's provenance).
    """

    code: ReasonCode
    points: int
    text: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlateMatch:
    """An action-list match of one plate of a passage (``plate_index`` into ``Passage.plates``)."""

    plate_index: int
    role: PlateRole
    country: str | None
    plate_text: str
    match: Match


@dataclass(frozen=True, slots=True)
class Sighting:
    """An earlier passage of the same mark (for the repeat rule)."""

    passage_uid: str
    lane_id: str
    first_seen_ts_ms: int
    last_seen_ts_ms: int
    mark: str


@dataclass(frozen=True, slots=True)
class FlagOutcome:
    """What happened to one passage: where it is stored and what it did to the flag queue.

    ``risk_score`` is the flag's score after the passage (the passage's own score when no
    flag); ``reasons`` are this passage's reasons.
    """

    passage_row_id: int
    action: FlagAction
    flag_id: int | None
    risk_score: int
    reasons: tuple[Reason, ...]
    matches: tuple[PlateMatch, ...] = ()


class DuplicatePassage(ValueError):
    """The passage (by its ``passage_id``) is already stored."""


def score_of(reasons: Iterable[Reason]) -> int:
    """Risk score 0-100: the highest points of each reason kind, summed, capped at 100."""
    best: dict[ReasonCode, int] = {}
    for r in reasons:
        best[r.code] = max(best.get(r.code, 0), r.points)
    return min(100, sum(best.values()))


def match_passage(passage: Passage, matcher: Matcher) -> tuple[PlateMatch, ...]:
    """Every action-list match of every plate, strongest first; each entry once (its best plate)."""
    return match_plates(passage.plates, matcher)


def match_plates(plates: Sequence[PassagePlate], matcher: Matcher) -> tuple[PlateMatch, ...]:
    """:func:`match_passage` of a passage's ``plates``."""
    best: dict[str, PlateMatch] = {}
    for i, plate in enumerate(plates):
        for m in matcher.match_plate(plate):
            have = best.get(m.entry.mark)
            if have is None or m.sort_key < have.match.sort_key:
                best[m.entry.mark] = PlateMatch(i, plate.role, plate.country, plate.text, m)
    return tuple(sorted(best.values(), key=lambda pm: (pm.match.sort_key, pm.plate_index)))


def identity_marks(passage: Passage) -> tuple[str, ...]:
    """The marks that identify the vehicle (read plates, committed or low confidence)."""
    return tuple(
        dict.fromkeys(p.text for p in passage.plates if p.status is not ReadStatus.UNREAD and p.text)
    )


def _pounds(amount: object) -> str:
    try:
        return f"£{float(str(amount)):,.2f}"
    except ValueError:
        return f"£{amount}"


def hit_reason(pm: PlateMatch, rules: FlagRules) -> Reason:
    """The officer's sentence for an action-list match, e.g. "Trailer mark PL WGM1O34 matches
    action list trailer WGM1034 (look-alike O/0 at position 5), penalty CP-2024-0183 (£2,000.00),
    haulier X"."""
    m, e = pm.match, pm.match.entry
    how = {
        MatchType.EXACT: "exact match",
        MatchType.LOOKALIKE: m.describe(),
        MatchType.EDIT: f"near miss, {m.describe()}",
    }[m.match_type]
    country = f"{pm.country} " if pm.country else ""
    which = ""
    if m.candidate_rank > 0:
        which = f" (reader's candidate {m.candidate_rank}; plate read as {pm.plate_text or 'nothing'})"
    text = (
        f"{_ROLE_LABEL[pm.role]} {country}{m.candidate}{which} matches action list {e.kind} {e.mark} "
        f"({how}), penalty {e.penalty_ref} ({_pounds(e.amount_gbp)}), haulier {e.haulier}"
    )
    details = {
        "mark": e.mark,
        "kind": e.kind,
        "match_type": m.match_type.value,
        "distance": m.distance,
        "candidate": m.candidate,
        "candidate_rank": m.candidate_rank,
        "plate_index": pm.plate_index,
        "plate_role": pm.role.value,
        "plate_text": pm.plate_text,
        "penalty_ref": e.penalty_ref,
        "haulier": e.haulier,
        "amount_gbp": str(e.amount_gbp),
        "diffs": [
            {"position": d.position, "read": d.read, "mark": d.mark, "lookalike": d.lookalike}
            for d in m.diffs
        ],
    }
    return Reason(ReasonCode.ACTION_LIST, rules.hit_points(m.match_type), text, details)


def _plate_label(plate: PassagePlate) -> str:
    return _ROLE_LABEL[plate.role]


def _minutes(ms: int) -> str:
    minutes = round(abs(ms) / 60_000)
    return "under a minute" if minutes == 0 else f"{minutes} minute{'s' if minutes != 1 else ''}"


_MAYBE_SOFT = (Side.SOFT, Side.UNKNOWN)
"""Body sides the soft-sided flag looks at: a named hard or open body is not flagged however
its probability is shared, an unsettled one is when a soft body is probable enough."""


def _low_confidence_text(p: PassagePlate, rules: FlagRules) -> str:
    """Why a read plate is flagged as unsure: a low share of the vote, or a vote that did not
    settle (too few looks agreeing to commit, however sure: ``EM59PPL (96%)`` alone read as
    unsure puzzled officers; the percentage may be of a plate read worse whose number was taken
    from the lorry's other plate, :func:`vision.pipeline.merge.one_number`)."""
    said = f"{_plate_label(p)} read with low confidence: {p.text} ({p.confidence:.0%}"
    if p.confidence >= rules.low_confidence_below:
        looks = f"{p.n_looks} look{'s' if p.n_looks != 1 else ''}"
        return f"{said}, not settled over {looks})"
    return f"{said})"


def assess(
    passage: Passage, matches: Sequence[PlateMatch], rules: FlagRules, earlier: Sequence[Sighting] = ()
) -> tuple[Reason, ...]:
    """The reasons (possibly none) why ``passage`` is risky; pure."""
    reasons: list[Reason] = []
    if rules.hit_exact_points or rules.hit_lookalike_points or rules.hit_edit_points:
        reasons.extend(hit_reason(pm, rules) for pm in matches if rules.hit_points(pm.match.match_type) > 0)
    body = passage.body
    body_name = body.body_type.value.replace("_", " ")
    soft = body.soft_probability
    if rules.soft_sided_points and body.side in _MAYBE_SOFT and soft >= rules.soft_min_confidence:
        what = body_name if body.side is Side.SOFT else "curtainsider or tilt (body type not settled)"
        reasons.append(
            Reason(
                ReasonCode.SOFT_SIDED,
                rules.soft_sided_points,
                f"Soft-sided trailer: {what} ({soft:.0%} confident)",
                {"body_type": body.body_type.value, "confidence": body.confidence, "soft_probability": soft},
            )
        )
    if body.body_type is not BodyType.OTHER:  # a lorry (or a body the classifier could not tell)
        read = [p for p in passage.plates if p.status is not ReadStatus.UNREAD and p.text]
        if rules.unread_points and not read:
            reasons.append(
                Reason(
                    ReasonCode.UNREAD,
                    rules.unread_points,
                    "No plate read on this lorry" if passage.plates else "No plate seen on this lorry",
                    {"plates_seen": len(passage.plates)},
                )
            )
        elif rules.unread_points:
            reasons.extend(
                Reason(
                    ReasonCode.UNREAD,
                    rules.unread_points,
                    f"{_plate_label(p)} seen but not read",
                    {"plate_role": p.role.value},
                )
                for p in passage.plates
                if p.status is ReadStatus.UNREAD or not p.text
            )
        if rules.low_confidence_points:
            reasons.extend(
                Reason(
                    ReasonCode.LOW_CONFIDENCE,
                    rules.low_confidence_points,
                    _low_confidence_text(p, rules),
                    {"plate_role": p.role.value, "text": p.text, "confidence": p.confidence},
                )
                for p in read
                if p.status is ReadStatus.LOW_CONFIDENCE or p.confidence < rules.low_confidence_below
            )
    if rules.repeat_points and earlier:
        s = earlier[0]  # the closest in time
        gap = passage.first_seen_ts_ms - s.last_seen_ts_ms
        when = f"{_minutes(gap)} {'earlier' if gap >= 0 else 'later'}"
        also = f" (and {len(earlier) - 1} more time(s))" if len(earlier) > 1 else ""
        reasons.append(
            Reason(
                ReasonCode.REPEAT,
                rules.repeat_points,
                f"Same vehicle {s.mark} seen {when} in lane {s.lane_id}{also}",
                {"mark": s.mark, "passage": s.passage_uid, "gap_ms": gap, "sightings": len(earlier)},
            )
        )
    return tuple(reasons)


_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def _write_crop(data_dir: Path, folder: Path, name: str, jpeg: bytes, written: list[Path]) -> str | None:
    """Write one evidence crop; returns its path relative to ``data_dir`` (``None`` for no crop)."""
    if not jpeg:
        return None
    path = data_dir / folder / f"{_SAFE.sub('_', name)}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg)
    written.append(path)
    return path.relative_to(data_dir).as_posix()


def _store_passage(
    session: Session, passage: Passage, data_dir: Path, now_ms: int, written: list[Path]
) -> PassageRow:
    row = PassageRow(
        passage_uid=passage.passage_id,
        lane_id=passage.lane_id,
        first_seen_ts_ms=passage.first_seen_ts_ms,
        last_seen_ts_ms=passage.last_seen_ts_ms,
        direction=passage.direction,
        body_type=passage.body.body_type.value,
        body_side=passage.body.side.value,
        body_confidence=passage.body.confidence,
        body_n_looks=passage.body.n_looks,
        read_quality=passage.read_quality,
        camera_ids=list(passage.camera_ids),
        created_ts_ms=now_ms,
        plates=[
            PassagePlateRow(
                position=i,
                role=p.role.value,
                text=p.text,
                confidence=p.confidence,
                status=p.status.value,
                country=p.country,
                format_valid=p.format_valid,
                n_looks=p.n_looks,
                candidates=[
                    PlateCandidateRow(
                        rank=r,
                        text=c.text,
                        confidence=c.confidence,
                        char_confidences=list(c.char_confidences),
                        country=c.country,
                        format_name=c.format_name,
                    )
                    for r, c in enumerate(p.candidates)
                ],
            )
            for i, p in enumerate(passage.plates)
        ],
    )
    session.add(row)
    session.flush()  # the id names the evidence folder
    day = datetime.fromtimestamp(passage.first_seen_ts_ms / 1000, tz=UTC)
    # the row id keeps folders apart; the uid too, as SQLite may reuse a rolled-back id
    folder = (
        Path("evidence")
        / f"{day:%Y}"
        / f"{day:%m}"
        / f"{day:%d}"
        / f"{row.id:09d}-{_SAFE.sub('_', passage.passage_id)[:40]}"
    )
    row.body_crop_path = _write_crop(data_dir, folder, "body", passage.body_crop_jpeg, written)
    for i, (plate_row, plate) in enumerate(zip(row.plates, passage.plates, strict=True)):
        plate_row.crop_path = _write_crop(
            data_dir, folder, f"plate-{i}-{plate.role.value}", plate.crop_jpeg, written
        )
    return row


def _new_flag(
    session: Session,
    row: PassageRow,
    reasons: Sequence[Reason],
    score: int,
    mark: str,
    action_list_version_id: int | None,
    now: int,
    detail: dict[str, Any],
) -> Flag:
    """A ``new`` flag of the stored passage ``row`` with its ``created`` event (``detail``)."""
    flag = Flag(
        status=FlagStatus.NEW,
        risk_score=score,
        vehicle_mark=mark,
        lane_id=row.lane_id,
        first_seen_ts_ms=row.first_seen_ts_ms,
        last_seen_ts_ms=row.last_seen_ts_ms,
        n_passages=1,
        action_list_version_id=action_list_version_id,
        created_ts_ms=now,
        updated_ts_ms=now,
        reasons=[_reason_row(r, row.id) for r in reasons],
        events=[
            FlagEvent(
                ts_ms=now,
                actor=ACTOR,
                kind="created",
                to_status=FlagStatus.NEW,
                passage_id=row.id,
                detail=detail,
            )
        ],
    )
    session.add(flag)
    row.flag = flag
    session.flush()
    return flag


def _reason_row(reason: Reason, passage_row_id: int | None) -> FlagReason:
    return FlagReason(
        passage_id=passage_row_id,
        code=reason.code.value,
        points=reason.points,
        text=reason.text,
        details=reason.details,
    )


def _vehicle_mark(plates: Sequence[PassagePlate]) -> str:
    """The mark a flag is known by: the committed reads first, the tractor's plate first."""
    order = {PlateRole.FRONT: 0, PlateRole.TRAILER_MARK: 1, PlateRole.REAR: 2, PlateRole.UNKNOWN: 3}
    read = sorted(
        (p for p in plates if p.status is not ReadStatus.UNREAD and p.text),
        key=lambda p: (p.status is not ReadStatus.COMMITTED, order[p.role]),
    )
    return read[0].text if read else ""


def process_passage(
    session: Session,
    passage: Passage,
    matcher: Matcher,
    rules: FlagRules,
    *,
    data_dir: Path,
    now_ms: int | None = None,
) -> FlagOutcome:
    """Store ``passage`` (crops as files under ``data_dir/evidence/``), apply the flag rules, and
    create a flag, update the vehicle's open flag, or neither.

    The caller owns the transaction; the crop files are tied to it: if it rolls back (here or
    in the caller), they are removed again, so a rolled-back passage leaves nothing behind.
    Raises :class:`DuplicatePassage` when the passage is already stored.
    """
    if repo.passage_by_uid(session, passage.passage_id) is not None:
        raise DuplicatePassage(f"passage {passage.passage_id!r} is already stored")
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    written = _pending_files(session)
    return _process(session, passage, matcher, rules, data_dir, now, written)


_FILES_KEY = "hgv_lane.evidence_files"


def _forget_files(session: Session) -> None:
    session.info.get(_FILES_KEY, []).clear()


def _remove_files(session: Session) -> None:
    files: list[Path] = session.info.get(_FILES_KEY, [])
    for path in files:
        path.unlink(missing_ok=True)
    files.clear()


def _pending_files(session: Session) -> list[Path]:
    """Crop files written in the session's current transaction: kept on commit, removed on rollback."""
    if _FILES_KEY not in session.info:
        session.info[_FILES_KEY] = []
        event.listen(session, "after_commit", _forget_files)
        event.listen(session, "after_rollback", _remove_files)
    files: list[Path] = session.info[_FILES_KEY]
    return files


def _process(
    session: Session,
    passage: Passage,
    matcher: Matcher,
    rules: FlagRules,
    data_dir: Path,
    now: int,
    written: list[Path],
) -> FlagOutcome:
    matches = match_passage(passage, matcher)
    marks = identity_marks(passage)
    window_ms = rules.repeat_window_min * 60_000
    earlier_rows = repo.passages_with_marks(
        session,
        marks,
        from_ts_ms=passage.first_seen_ts_ms - window_ms,
        to_ts_ms=passage.last_seen_ts_ms + window_ms,
    )
    earlier_rows.sort(key=lambda r: abs(passage.first_seen_ts_ms - r.last_seen_ts_ms))
    sightings = [
        Sighting(
            r.passage_uid,
            r.lane_id,
            r.first_seen_ts_ms,
            r.last_seen_ts_ms,
            next(p.text for p in r.plates if p.text in marks),
        )
        for r in earlier_rows
    ]
    reasons = assess(passage, matches, rules, sightings)
    own_score = score_of(reasons)
    row = _store_passage(session, passage, data_dir, now, written)

    open_flag: Flag | None = next(
        (r.flag for r in earlier_rows if r.flag is not None and FlagStatus(r.flag.status).is_open), None
    )
    if open_flag is not None:
        before = open_flag.risk_score
        open_flag.reasons.extend(_reason_row(r, row.id) for r in reasons)
        all_reasons = [Reason(ReasonCode(fr.code), fr.points, fr.text) for fr in open_flag.reasons]
        open_flag.risk_score = score_of(all_reasons)
        open_flag.n_passages += 1
        open_flag.first_seen_ts_ms = min(open_flag.first_seen_ts_ms, passage.first_seen_ts_ms)
        open_flag.last_seen_ts_ms = max(open_flag.last_seen_ts_ms, passage.last_seen_ts_ms)
        open_flag.lane_id = passage.lane_id
        open_flag.updated_ts_ms = now
        # an officer acting on the version seen before the risk changed gets 409 and reloads;
        # in SQL (version = version + 1), so a transition committed meanwhile is not undone
        open_flag.version = Flag.version + 1
        if matcher.version_id is not None and matches:
            open_flag.action_list_version_id = matcher.version_id
        row.flag = open_flag
        open_flag.events.append(
            FlagEvent(
                ts_ms=now,
                actor=ACTOR,
                kind="passage_added",
                passage_id=row.id,
                detail={
                    "passage": passage.passage_id,
                    "lane": passage.lane_id,
                    "score_before": before,
                    "score_after": open_flag.risk_score,
                    "reasons": [r.text for r in reasons],
                },
            )
        )
        session.flush()
        return FlagOutcome(row.id, FlagAction.UPDATED, open_flag.id, open_flag.risk_score, reasons, matches)

    if reasons and own_score >= rules.threshold:
        flag = _new_flag(
            session,
            row,
            reasons,
            own_score,
            _vehicle_mark(passage.plates),
            matcher.version_id if matches else None,
            now,
            {"passage": passage.passage_id, "score": own_score},
        )
        return FlagOutcome(row.id, FlagAction.CREATED, flag.id, own_score, reasons, matches)

    session.flush()
    return FlagOutcome(row.id, FlagAction.NONE, None, own_score, reasons, matches)


# --- a new action-list version ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rematched:
    """A flag that a new action-list version changed (:func:`rematch`): made (``CREATED``, from a
    recent passage without a flag) or its action-list reasons replaced (``UPDATED``)."""

    flag_id: int
    action: FlagAction
    score_before: int
    score_after: int


def plate_from_row(row: PassagePlateRow) -> PassagePlate:
    """A stored plate as the matcher sees it: its voted text, status and the reader's candidates."""
    return PassagePlate(
        role=PlateRole(row.role),
        text=row.text,
        confidence=row.confidence,
        status=ReadStatus(row.status),
        candidates=tuple(
            PlateCandidate(c.text, c.confidence, tuple(c.char_confidences), c.country, c.format_name)
            for c in sorted(row.candidates, key=lambda c: c.rank)
        ),
        country=row.country,
        format_valid=row.format_valid,
        n_looks=row.n_looks,
    )


def _row_plates(row: PassageRow) -> list[PassagePlate]:
    return [plate_from_row(p) for p in sorted(row.plates, key=lambda p: p.position)]


def _hit_reasons(row: PassageRow, matcher: Matcher, rules: FlagRules) -> list[Reason]:
    plates = _row_plates(row)
    return [
        hit_reason(pm, rules)
        for pm in match_plates(plates, matcher)
        if rules.hit_points(pm.match.match_type) > 0
    ]


def replace_hit_reasons(flag: Flag, hits: Sequence[tuple[int | None, Reason]]) -> int:
    """Replace ``flag``'s action-list reasons by ``hits`` (``(passage row id, reason)``) and
    recompute its risk; returns the risk before."""
    before = flag.risk_score
    for fr in [fr for fr in flag.reasons if fr.code == ReasonCode.ACTION_LIST.value]:
        flag.reasons.remove(fr)
    flag.reasons.extend(_reason_row(r, pid) for pid, r in hits)
    flag.risk_score = score_of(Reason(ReasonCode(fr.code), fr.points, fr.text) for fr in flag.reasons)
    return before


def correction_hit_reasons(
    flag: Flag, corrected: str, position: int | None, matcher: Matcher, rules: FlagRules
) -> tuple[PassageRow | None, int, list[Reason]]:
    """The action-list reasons of an officer's corrected read ``corrected`` of ``flag``: matched
    as the plate at ``position`` of the flag's latest passage (else the plate that carried the
    rejected read), each reason saying it is the officer's (``details["source"]``). Returns the
    latest passage, the plate's position (-1: none) and the reasons."""
    latest = max(flag.passages, key=lambda p: (p.last_seen_ts_ms, p.id), default=None)
    plates = sorted(latest.plates, key=lambda p: p.position) if latest is not None else []
    plate = None
    if position is not None and position < len(plates):
        plate = plates[position]
    if plate is None:  # the plate that carried the rejected read (vehicle_mark is the correction now)
        rejected = flag.read_mark or flag.vehicle_mark
        plate = next((p for p in plates if p.text and p.text == rejected), plates[0] if plates else None)
    role = PlateRole(plate.role) if plate is not None else PlateRole.UNKNOWN
    index = plate.position if plate is not None else -1
    reasons: list[Reason] = []
    for m in matcher.match([corrected]):
        r = hit_reason(PlateMatch(index, role, plate.country if plate else None, corrected, m), rules)
        reasons.append(
            Reason(
                r.code,
                r.points,
                f"Officer's corrected read: {r.text}",
                {**r.details, "source": "officer_correction"},
            )
        )
    return latest, index, reasons


def rematch(
    session: Session, matcher: Matcher, rules: FlagRules, *, now_ms: int | None = None
) -> list[Rematched]:
    """Apply the action-list version ``matcher`` indexes to what is still being worked on.

    - An **open flag's** action-list reasons become its passages' matches against this version:
      a mark added to the list raises the risk, a mark taken off (penalty paid) lowers it and its
      reason goes. The flag's ``version`` grows, so an officer acting on what they saw gets 409
      and reloads, and an ``actionlist_rematched`` event says what changed. A flag whose reasons
      are the same is left alone (so matching again changes nothing).
    - A **passage without a flag** stored within ``repeat_window_min`` before now (the lorry may
      still be in the port) that hits this version becomes a flag, its reasons the hits.

    Rejected and disposed flags keep the reasons they were decided on. The caller owns the
    transaction.
    """
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    changed: list[Rematched] = []
    for flag in repo.open_flags(session):
        old = [fr for fr in flag.reasons if fr.code == ReasonCode.ACTION_LIST.value]
        if flag.corrected_mark:  # an officer's reading replaced the machine's: match it
            latest, _index, corrected = correction_hit_reasons(
                flag, flag.corrected_mark, None, matcher, rules
            )
            new = [(latest.id if latest is not None else None, r) for r in corrected]
        else:
            new = [(row.id, r) for row in flag.passages for r in _hit_reasons(row, matcher, rules)]
        if sorted((fr.passage_id or 0, fr.text, fr.points) for fr in old) == sorted(
            (pid or 0, r.text, r.points) for pid, r in new
        ):
            continue
        before = replace_hit_reasons(flag, new)
        flag.action_list_version_id = matcher.version_id if new else None
        flag.updated_ts_ms = now
        flag.version = Flag.version + 1  # in SQL, as for a passage added
        gone = {fr.text for fr in old} - {r.text for _, r in new}
        flag.events.append(
            FlagEvent(
                ts_ms=now,
                actor=ACTOR,
                kind="actionlist_rematched",
                detail={
                    "action_list_version": matcher.version_id,
                    "score_before": before,
                    "score_after": flag.risk_score,
                    "added": sorted({r.text for _, r in new} - {fr.text for fr in old}),
                    "removed": sorted(gone),
                },
            )
        )
        changed.append(Rematched(flag.id, FlagAction.UPDATED, before, flag.risk_score))
    window_ms = rules.repeat_window_min * 60_000
    for row in repo.recent_unflagged_passages(session, since_created_ts_ms=now - window_ms):
        hits = _hit_reasons(row, matcher, rules)
        score = score_of(hits)
        if not hits or score < rules.threshold:
            continue
        detail = {
            "passage": row.passage_uid,
            "score": score,
            "action_list_version": matcher.version_id,
            "after_passage": True,
        }
        flag = _new_flag(
            session, row, hits, score, _vehicle_mark(_row_plates(row)), matcher.version_id, now, detail
        )
        changed.append(Rematched(flag.id, FlagAction.CREATED, 0, score))
    session.flush()
    return changed
