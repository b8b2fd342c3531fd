"""Officers' feedback as labelled samples for the model team.

Two kinds of feedback are labels:

- a **rejected read with a corrected mark** (``POST /v1/flags/{id}/reject``): the plate the
  officer corrected (the reject event records its passage and position) with the officer's mark;
- a **confirmed or corrected trailer body type** (``POST /v1/flags/{id}/passages/{pid}/body-type``,
  recorded here by :func:`record_body_feedback`): the passage's body crop with the officer's type.

:func:`export_feedback` writes them in the formats ``hgv-lane dataset import`` reads::

    OUT/plates/manifest.csv       plate manifest (../shared/data/README.md columns) + group
    OUT/plates/crops/<uid>-<position>.jpg
    OUT/trailers/<body type>/<uid>.jpg   folder-per-class crops (the classifier's 11 classes)
    OUT/trailers/manifest.csv     image_path,label,body_type,notes (label: hard|soft|other)
    OUT/trailers/groups.csv       image_path,group (the passage uid, for a grouped split)
    OUT/feedback.json             what was exported, from where, and the problems

Crop files are copied, never moved. A label whose crop is missing is counted as a problem and
left out; nothing crashes on it. Rows are sorted by image path, so the same store gives the same
files.
"""

from __future__ import annotations

import csv
import functools
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from api.db.models import BodyFeedback, Flag, FlagEvent, PassagePlateRow, PassageRow
from api.db.session import session_scope
from vision.types import BodyType

if TYPE_CHECKING:
    from vision.anpr.grammars import GrammarSet

PLATE_COLUMNS = (
    "image_path",
    "plate_text",
    "country",
    "bbox_x",
    "bbox_y",
    "bbox_w",
    "bbox_h",
    "notes",
    "group",
)
"""The plate manifest's columns (``../shared/data/README.md``) and ``group`` (the passage uid, so
that a split grouped by vehicle keeps one lorry's crops on one side)."""

TRAILER_COLUMNS = ("image_path", "label", "body_type", "notes")
"""The trailer manifest's columns (``label``: hard, soft or other)."""

GROUP_COLUMNS = ("image_path", "group")
"""The crop set's ``groups.csv`` sidecar (``dataset import`` reads it): each crop's passage uid."""

BODY_CLASSES: tuple[str, ...] = tuple(b.value for b in BodyType if b is not BodyType.UNKNOWN)
"""The classes an officer may give and the crop set's folders: the trailer classifier's classes
(``vision.types.BodyType`` but ``unknown``, as ``vision/synth/taxonomy.py: CROP_CLASSES``)."""

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
_MARK = re.compile(r"[^A-Z0-9]")

ProblemKind = Literal["missing_crop", "no_crop", "no_plate", "outside_data_dir"]


class FeedbackError(ValueError):
    """Feedback whose details do not fit (HTTP 422); the message says why."""


# --- body type: recording an officer's word -----------------------------------------------------


def resolve_body_feedback(
    machine: str, action: Literal["confirm", "correct"], body_type: BodyType | None
) -> tuple[BodyFeedback, BodyType]:
    """``(kind, body type)`` for an officer's ``action`` on a passage whose machine body type is
    ``machine``. Correcting to the machine's own type is recorded as a confirmation. Raises
    :class:`FeedbackError` for a correction without a type, to ``unknown``, or a confirmation of
    ``unknown`` or of a type other than the machine's."""
    if action == "confirm":
        if machine not in BODY_CLASSES:
            raise FeedbackError(f"the machine gave no body type ({machine}): correct it instead")
        if body_type is not None and body_type.value != machine:
            raise FeedbackError(
                f"cannot confirm {body_type.value}: the machine said {machine} (correct it instead)"
            )
        return BodyFeedback.CONFIRMED, BodyType(machine)
    if body_type is None:
        raise FeedbackError("give the body type the trailer is")
    if body_type is BodyType.UNKNOWN:
        raise FeedbackError(f"body type must be one of: {', '.join(BODY_CLASSES)}")
    kind = BodyFeedback.CONFIRMED if body_type.value == machine else BodyFeedback.CORRECTED
    return kind, body_type


def record_body_feedback(
    passage: PassageRow, kind: BodyFeedback, body_type: BodyType, actor: str, now_ms: int
) -> dict[str, Any]:
    """Set the passage's feedback columns (the caller commits); returns the event detail: passage,
    the machine's type, the officer's type and side, and what the officer had said before."""
    before = passage.body_type_officer
    passage.body_feedback = kind
    passage.body_type_officer = body_type.value
    passage.body_feedback_by = actor
    passage.body_feedback_ts_ms = now_ms
    return {
        "passage": passage.passage_uid,
        "feedback": kind.value,
        "machine_body_type": passage.body_type,
        "body_type": body_type.value,
        "side": body_type.side.value,
        "before": before,
    }


# --- what is exported ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """A label that could not be exported, and why."""

    kind: ProblemKind
    what: Literal["plate", "trailer"]
    flag_id: int | None
    passage_uid: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class PlateLabel:
    """A rejected read with the officer's corrected mark, on the plate the officer corrected."""

    flag_id: int
    lane_id: str
    passage_uid: str
    plate_position: int
    plate_role: str
    read_text: str  # the machine's read of this plate (or the flag's rejected mark)
    corrected_mark: str  # A-Z0-9
    country: str  # "" when not known
    crop_path: str | None  # relative to the data dir
    ts_ms: int  # when the read was rejected
    officer: str


@dataclass(frozen=True, slots=True)
class BodyLabel:
    """A passage's trailer body type as an officer confirmed or corrected it."""

    flag_id: int | None
    lane_id: str
    passage_uid: str
    machine_body_type: str
    body_type: BodyType
    kind: BodyFeedback
    crop_path: str | None  # relative to the data dir
    ts_ms: int
    officer: str


def _plate_of(flag: Flag, event: FlagEvent) -> PassagePlateRow | None:
    """The plate the officer corrected: the one the reject event names (passage uid and plate
    position), else the plate of the flag's latest passage that carried the rejected read."""
    detail = event.detail or {}
    uid, position = detail.get("passage"), detail.get("plate_position")
    passages = sorted(flag.passages, key=lambda p: (p.last_seen_ts_ms, p.id), reverse=True)
    for p in passages:
        if p.passage_uid == uid and isinstance(position, int):
            found = next((pl for pl in p.plates if pl.position == position), None)
            if found is not None:
                return found
    read = flag.read_mark or str(detail.get("read_mark") or "")
    for p in passages:
        found = next((pl for pl in p.plates if read and pl.text == read), None)
        if found is not None:
            return found
    return None


def _country(plate: PassagePlateRow, mark: str) -> str:
    """The plate's country when the corrected mark fits one of that country's plate formats; else
    the one country whose formats it fits; else ``""`` (not known)."""
    fitting = {g.country for g in _grammar_set().grammars if g.fits(mark)}
    if plate.country and plate.country.upper() in fitting:
        return plate.country
    return next(iter(fitting)) if len(fitting) == 1 else ""


@functools.cache
def _grammar_set() -> GrammarSet:
    from vision.anpr.grammars import load_grammars  # noqa: PLC0415 - only for exports

    return load_grammars()


def plate_labels(
    session: Session, *, since_ts_ms: int | None = None, lane: str | None = None
) -> tuple[list[PlateLabel], list[Problem]]:
    """Every rejected read with a corrected mark (rejected at or after ``since_ts_ms``, on ``lane``),
    with the problems of those whose plate cannot be found."""
    query = (
        select(Flag, FlagEvent)
        .join(FlagEvent, FlagEvent.flag_id == Flag.id)
        .where(Flag.corrected_mark.is_not(None), FlagEvent.kind == "reject_read")
        .order_by(FlagEvent.ts_ms, FlagEvent.id)
        .options(selectinload(Flag.passages).selectinload(PassageRow.plates))
    )
    if since_ts_ms is not None:
        query = query.where(FlagEvent.ts_ms >= since_ts_ms)
    labels: list[PlateLabel] = []
    problems: list[Problem] = []
    for flag, event in session.execute(query):
        mark = _MARK.sub("", (flag.corrected_mark or "").upper())
        plate = _plate_of(flag, event)
        passage = plate.passage if plate is not None else None
        lane_id = passage.lane_id if passage is not None else flag.lane_id
        if lane is not None and lane_id != lane:
            continue
        if plate is None or passage is None or not mark:
            problems.append(
                Problem(
                    "no_plate",
                    "plate",
                    flag.id,
                    None,
                    f"flag {flag.id}: no stored plate carries the rejected read {flag.read_mark!r}",
                )
            )
            continue
        labels.append(
            PlateLabel(
                flag_id=flag.id,
                lane_id=lane_id,
                passage_uid=passage.passage_uid,
                plate_position=plate.position,
                plate_role=plate.role,
                read_text=plate.text or flag.read_mark or "",
                corrected_mark=mark,
                country=_country(plate, mark),
                crop_path=plate.crop_path,
                ts_ms=event.ts_ms,
                officer=event.actor,
            )
        )
    return labels, problems


def body_labels(
    session: Session, *, since_ts_ms: int | None = None, lane: str | None = None
) -> list[BodyLabel]:
    """Every passage whose body type an officer confirmed or corrected (at or after
    ``since_ts_ms``, on ``lane``), oldest feedback first."""
    query = (
        select(PassageRow)
        .where(PassageRow.body_feedback.is_not(None), PassageRow.body_feedback_ts_ms.is_not(None))
        .order_by(PassageRow.body_feedback_ts_ms, PassageRow.id)
    )
    if since_ts_ms is not None:
        query = query.where(PassageRow.body_feedback_ts_ms >= since_ts_ms)
    if lane is not None:
        query = query.where(PassageRow.lane_id == lane)
    out = []
    for p in session.scalars(query):
        if p.body_type_officer not in BODY_CLASSES or p.body_feedback is None:
            continue  # not written by record_body_feedback
        out.append(
            BodyLabel(
                flag_id=p.flag_id,
                lane_id=p.lane_id,
                passage_uid=p.passage_uid,
                machine_body_type=p.body_type,
                body_type=BodyType(p.body_type_officer),
                kind=BodyFeedback(p.body_feedback),
                crop_path=p.body_crop_path,
                ts_ms=int(p.body_feedback_ts_ms or 0),
                officer=p.body_feedback_by or "",
            )
        )
    return out


# --- writing the data sets -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What :func:`export_feedback` wrote and what it could not."""

    out: Path
    plates: int
    trailers: int
    trailer_classes: dict[str, int]
    trailer_labels: dict[str, int]
    confirmed: int
    corrected: int
    problems: tuple[Problem, ...] = field(default=())
    since_ts_ms: int | None = None
    lane: str | None = None

    def summary(self) -> dict[str, Any]:
        """The report as JSON-ready data (problems counted by kind)."""
        return {
            "out": str(self.out),
            "plates": self.plates,
            "trailers": self.trailers,
            "trailer_classes": self.trailer_classes,
            "trailer_labels": self.trailer_labels,
            "body_confirmed": self.confirmed,
            "body_corrected": self.corrected,
            "problems": dict(sorted(Counter(p.kind for p in self.problems).items())),
            "since_ts_ms": self.since_ts_ms,
            "lane": self.lane,
        }


def _safe(name: str) -> str:
    return _SAFE.sub("_", name).strip(".") or "passage"


class _Copier:
    """Copies crops from the data dir into the export, counting what is missing."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir.resolve()
        self.problems: list[Problem] = []
        self.used: set[Path] = set()

    def unique(self, path: Path) -> Path:
        """``path`` or, when an earlier label took it (two uids that differ only in characters
        unsafe in file names), ``path`` with ``-2``, ``-3``, ... before the extension."""
        found, n = path, 1
        while found in self.used:
            n += 1
            found = path.with_name(f"{path.stem}-{n}{path.suffix}")
        self.used.add(found)
        return found

    def copy(
        self,
        rel: str | None,
        dest: Path,
        what: Literal["plate", "trailer"],
        flag_id: int | None,
        uid: str,
    ) -> bool:
        """Copy the crop ``rel`` (relative to the data dir) to ``dest``; False (and a problem)
        when there is none, it is outside the data dir, or the file is gone."""
        if not rel:
            self.problems.append(
                Problem("no_crop", what, flag_id, uid, f"passage {uid}: no {what} crop stored")
            )
            return False
        src = (self.root / rel).resolve()
        if not src.is_relative_to(self.root):
            self.problems.append(
                Problem(
                    "outside_data_dir", what, flag_id, uid, f"passage {uid}: {rel} is outside the data dir"
                )
            )
            return False
        if not src.is_file():
            self.problems.append(
                Problem("missing_crop", what, flag_id, uid, f"passage {uid}: {src} is missing")
            )
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        return True


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def _write_plates(labels: Sequence[PlateLabel], out: Path, copier: _Copier) -> list[dict[str, str]]:
    rows = []
    for label in labels:
        name = f"{_safe(label.passage_uid)}-{label.plate_position}"
        dest = copier.unique(out / "crops" / f"{name}.jpg")
        if not copier.copy(label.crop_path, dest, "plate", label.flag_id, label.passage_uid):
            continue
        notes = (
            f"officer correction of flag {label.flag_id} by {label.officer}; lane {label.lane_id}; "
            f"machine read {label.read_text or '(none)'}; {label.plate_role} plate; crop is the plate"
        )
        rows.append(
            {
                "image_path": dest.relative_to(out).as_posix(),
                "plate_text": label.corrected_mark,
                "country": label.country,
                **dict.fromkeys(("bbox_x", "bbox_y", "bbox_w", "bbox_h"), ""),
                "notes": notes,
                "group": label.passage_uid,
            }
        )
    rows.sort(key=lambda r: r["image_path"])
    _write_csv(out / "manifest.csv", PLATE_COLUMNS, rows)
    return rows


def _write_trailers(
    labels: Sequence[BodyLabel], out: Path, copier: _Copier
) -> tuple[list[dict[str, str]], list[BodyLabel]]:
    rows, done = [], []
    for label in labels:
        cls = label.body_type.value
        dest = copier.unique(out / cls / f"{_safe(label.passage_uid)}.jpg")
        if not copier.copy(label.crop_path, dest, "trailer", label.flag_id, label.passage_uid):
            continue
        said = (
            f"confirmed {cls}"
            if label.kind is BodyFeedback.CONFIRMED
            else f"corrected {label.machine_body_type} to {cls}"
        )
        rows.append(
            {
                "image_path": dest.relative_to(out).as_posix(),
                "label": label.body_type.side.value,
                "body_type": cls,
                "notes": f"officer {said} by {label.officer}; flag {label.flag_id}; lane {label.lane_id}; "
                f"passage {label.passage_uid}; crop is the trailer body",
            }
        )
        done.append(label)
    groups = sorted(
        ({"image_path": r["image_path"], "group": lb.passage_uid} for r, lb in zip(rows, done, strict=True)),
        key=lambda r: r["image_path"],
    )
    rows.sort(key=lambda r: r["image_path"])
    _write_csv(out / "manifest.csv", TRAILER_COLUMNS, rows)
    _write_csv(out / "groups.csv", GROUP_COLUMNS, groups)
    return rows, done


def export_feedback(
    engine: Engine,
    data_dir: Path,
    out: Path,
    *,
    since_ts_ms: int | None = None,
    lane: str | None = None,
) -> ExportReport:
    """Export the officers' labels from the store on ``engine`` (crops under ``data_dir``) into
    ``out`` (see the module doc). Raises :class:`FileExistsError` when ``out`` is a non-empty
    folder (an export never mixes with, or overwrites, earlier files)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder: choose a new one")
    with session_scope(engine) as session:
        plates, plate_problems = plate_labels(session, since_ts_ms=since_ts_ms, lane=lane)
        bodies = body_labels(session, since_ts_ms=since_ts_ms, lane=lane)
    out.mkdir(parents=True, exist_ok=True)
    copier = _Copier(data_dir)
    plate_rows = _write_plates(plates, out / "plates", copier)
    trailer_rows, exported = _write_trailers(bodies, out / "trailers", copier)
    kinds = Counter(b.kind for b in exported)
    report = ExportReport(
        out=out,
        plates=len(plate_rows),
        trailers=len(trailer_rows),
        trailer_classes=dict(sorted(Counter(r["body_type"] for r in trailer_rows).items())),
        trailer_labels=dict(sorted(Counter(r["label"] for r in trailer_rows).items())),
        confirmed=kinds[BodyFeedback.CONFIRMED],
        corrected=kinds[BodyFeedback.CORRECTED],
        problems=tuple(plate_problems + copier.problems),
        since_ts_ms=since_ts_ms,
        lane=lane,
    )
    record = {**report.summary(), "problem_list": [asdict(p) for p in report.problems]}
    (out / "feedback.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return report
