"""The action list: CSV import (validated, atomic, versioned with a diff) and the current matcher.

CSV header: ``mark,kind,haulier,penalty_ref,amount_gbp,date,notes`` (``notes`` optional;
other header names can be mapped, e.g. ``{"registration": "mark"}``). The file must be
UTF-8 (a BOM is fine). Every bad row is reported with its line number and the reason;
one bad row rejects the whole file and the store is left exactly as it was. Each
accepted import becomes a new version; entries are kept from the version that added them
until the one that removed or changed them, so every version can be listed and diffed.
Text fields are stored verbatim (bound parameters, never interpolated); marks must be
plate-like.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import io
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db import repository as repo
from api.db.models import MARK_LEN, ActionListEntry, ActionListVersion, MarkKind
from api.matching import ListEntry, Matcher
from vision.anpr.lookalike import normalise

COLUMNS: tuple[str, ...] = ("mark", "kind", "haulier", "penalty_ref", "amount_gbp", "date", "notes")
REQUIRED: tuple[str, ...] = COLUMNS[:-1]
MAX_LEN: Mapping[str, int] = {
    "mark": 64,
    "haulier": 200,
    "penalty_ref": 64,
    "amount_gbp": 32,
    "date": 32,
    "notes": 2000,
    "kind": 16,
}
"""Longest accepted value per column (characters)."""
MAX_AMOUNT_GBP = Decimal("9999999999.99")
COMPARED: tuple[str, ...] = ("kind", "haulier", "penalty_ref", "amount_gbp", "penalty_date", "notes")
"""Fields whose change makes an entry *changed* in a diff (the mark's spelling is not one)."""

_MARK_CHARS = re.compile(r"^[0-9A-Za-zÄÖÜäöü][0-9A-Za-zÄÖÜäöü \-]*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class RowError:
    """One reason a file was rejected; ``line`` is 1-based in the file (0: the file as a whole)."""

    line: int
    reason: str
    column: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}: {self.column + ': ' if self.column else ''}{self.reason}"


@dataclass(frozen=True, slots=True)
class ImportEntry:
    """One validated row. ``mark`` is normalised; ``mark_as_given`` is the file's spelling."""

    mark: str
    mark_as_given: str
    kind: MarkKind
    haulier: str
    penalty_ref: str
    amount_gbp: Decimal
    penalty_date: date
    notes: str
    line_no: int

    def comparable(self) -> tuple[object, ...]:
        """The values a diff compares (:data:`COMPARED`)."""
        return tuple(getattr(self, f) for f in COMPARED)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What a file holds: valid entries, or the errors that reject it (plus harmless warnings)."""

    entries: tuple[ImportEntry, ...]
    errors: tuple[RowError, ...]
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True, slots=True)
class EntryChange:
    """A mark whose entry changed, and which fields (:data:`COMPARED`) differ."""

    mark: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListDiff:
    """Marks added, removed and changed between two versions (each sorted)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[EntryChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """A successful import (or dry run): the new version (``None`` for a dry run) and its diff."""

    version_id: int | None
    previous_version_id: int | None
    n_entries: int
    diff: ListDiff
    warnings: tuple[str, ...] = ()
    dry_run: bool = False


class ImportRejected(ValueError):
    """The file was rejected; nothing was stored. ``errors`` says why, row by row."""

    def __init__(self, errors: Sequence[RowError], warnings: Sequence[str] = ()) -> None:
        self.errors = tuple(errors)
        self.warnings = tuple(warnings)
        super().__init__(f"action list rejected: {len(self.errors)} error(s); first: {self.errors[0]}")


class ConcurrentImport(RuntimeError):
    """Another import committed a version on top of the same one; retry."""


def parse_mapping(items: Sequence[str]) -> dict[str, str]:
    """``["registration=mark", ...]`` -> ``{"registration": "mark"}`` (file header -> our column)."""
    mapping: dict[str, str] = {}
    for item in items:
        source, sep, target = item.partition("=")
        source, target = source.strip().lower(), target.strip().lower()
        if not sep or not source or not target:
            raise ValueError(f"map {item!r}: expected FILE_COLUMN=COLUMN, e.g. registration=mark")
        if target not in COLUMNS:
            raise ValueError(f"map {item!r}: {target!r} is not one of {', '.join(COLUMNS)}")
        mapping[source] = target
    return mapping


def _show(value: str, limit: int = 40) -> str:
    """A value quoted for an error message, shortened."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _decode(data: bytes) -> tuple[str | None, RowError | None]:
    """UTF-8 text of the file (BOM removed) or the reason it is not UTF-8."""
    hint = "save it as 'CSV UTF-8' and import again"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) >= 4 and data[:200].count(b"\x00") > 10):
        return None, RowError(0, f"the file is UTF-16 encoded, not UTF-8; {hint}")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start : exc.start + 1].hex().upper()
        return None, RowError(
            line,
            f"the file is not UTF-8 (byte 0x{byte} at column {column}; Latin-1 or Windows-1252?); {hint}",
        )


def _check_mark(raw: str) -> tuple[str | None, str | None]:
    """``(normalised mark, None)`` or ``(None, reason)``."""
    if not raw:
        return None, "empty mark"
    if not _MARK_CHARS.match(raw):
        return None, f"mark {_show(raw)} is not plate-like: only letters, digits, spaces and hyphens"
    mark = normalise(raw)
    if not 2 <= len(mark) <= min(10, MARK_LEN):
        return None, f"mark {_show(raw)} is not plate-like: {len(mark)} characters (2 to 10 expected)"
    if not (any(c.isdigit() for c in mark) and any(c.isalpha() for c in mark)):
        return None, f"mark {_show(raw)} is not plate-like: needs both letters and digits"
    return mark, None


def _check_amount(raw: str) -> tuple[Decimal | None, str | None]:
    text = raw.replace("£", "").replace(",", "").strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None, f"amount {_show(raw)} is not a number of pounds"
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT_GBP:
        return None, f"amount {_show(raw)} is out of range (0 to {MAX_AMOUNT_GBP})"
    if amount != amount.quantize(Decimal("0.01")):
        return None, f"amount {_show(raw)} has more than 2 decimal places"
    return amount.quantize(Decimal("0.01")), None


def _check_date(raw: str) -> tuple[date | None, str | None]:
    try:
        return date.fromisoformat(raw), None
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(raw).date(), None
    except ValueError:
        return None, f"date {_show(raw)} is not an ISO 8601 date (YYYY-MM-DD)"


def _parse_row(values: Mapping[str, str], line: int) -> tuple[ImportEntry | None, list[RowError]]:
    errors: list[RowError] = []
    for column, value in values.items():
        if _CONTROL.search(value):
            errors.append(RowError(line, "contains control characters", column))
        elif len(value) > MAX_LEN[column]:
            errors.append(RowError(line, f"longer than {MAX_LEN[column]} characters ({len(value)})", column))
    if errors:
        return None, errors
    mark, why = _check_mark(values["mark"])
    if why:
        errors.append(RowError(line, why, "mark"))
    kind_text = values["kind"].lower()
    if kind_text not in {k.value for k in MarkKind}:
        errors.append(RowError(line, f"kind {_show(values['kind'])} is not 'vehicle' or 'trailer'", "kind"))
    for column in ("haulier", "penalty_ref"):
        if not values[column]:
            errors.append(RowError(line, "empty", column))
    amount, why = _check_amount(values["amount_gbp"])
    if why:
        errors.append(RowError(line, why, "amount_gbp"))
    day, why = _check_date(values["date"])
    if why:
        errors.append(RowError(line, why, "date"))
    if errors or mark is None or amount is None or day is None:
        return None, errors
    return (
        ImportEntry(
            mark=mark,
            mark_as_given=values["mark"],
            kind=MarkKind(kind_text),
            haulier=values["haulier"],
            penalty_ref=values["penalty_ref"],
            amount_gbp=amount,
            penalty_date=day,
            notes=values.get("notes", ""),
            line_no=line,
        ),
        [],
    )


def parse_csv(data: bytes, column_map: Mapping[str, str] | None = None) -> ParseResult:
    """Validate a whole action-list file; pure (no store). Collects every row's errors."""
    text, error = _decode(data)
    if text is None:
        return ParseResult((), (error or RowError(0, "unreadable"),))
    mapping = {k.lower(): v for k, v in (column_map or {}).items()}
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    errors: list[RowError] = []
    warnings: list[str] = []
    entries: list[ImportEntry] = []
    first_line: dict[str, int] = {}
    header: list[str] | None = None
    positions: dict[str, int] = {}
    last_line = 0
    try:
        for row in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [mapping.get(h.strip().lower(), h.strip().lower()) for h in row]
                dupes = sorted({h for h in header if header.count(h) > 1})
                if dupes:
                    errors.append(RowError(line, f"column(s) named twice: {', '.join(dupes)}"))
                missing = [c for c in REQUIRED if c not in header]
                if missing:
                    errors.append(
                        RowError(
                            line,
                            f"missing column(s): {', '.join(missing)}; the header must be {','.join(COLUMNS)}"
                            " (map other names: FILE_COLUMN=COLUMN, with --map on the command line"
                            " or map= in the API)",
                        )
                    )
                ignored = [h for h in header if h not in COLUMNS]
                if ignored:
                    warnings.append(f"ignored column(s): {', '.join(_show(h, 30) for h in ignored)}")
                if errors:
                    return ParseResult((), tuple(errors), tuple(warnings))
                positions = {c: header.index(c) for c in COLUMNS if c in header}
                continue
            if len(row) != len(header):
                errors.append(RowError(line, f"expected {len(header)} fields, found {len(row)}"))
                continue
            values = {c: row[i].strip() for c, i in positions.items()}
            entry, row_errors = _parse_row(values, line)
            errors.extend(row_errors)
            if entry is None:
                continue
            if entry.mark in first_line:
                errors.append(
                    RowError(
                        line, f"duplicate mark {entry.mark} (also on line {first_line[entry.mark]})", "mark"
                    )
                )
                continue
            first_line[entry.mark] = line
            entries.append(entry)
    except csv.Error as exc:
        line = last_line + 1
        reason = str(exc)
        if "field larger than field limit" in reason:
            reason = (
                f"a field is longer than the CSV limit of {csv.field_size_limit()} characters; "
                "is this really the action list?"
            )
        errors.append(RowError(line, f"unreadable CSV: {reason}; nothing after this line was read"))
    if header is None and not errors:
        errors.append(RowError(0, "the file is empty"))
    elif not entries and not errors:
        errors.append(RowError(0, "the file has a header but no entries"))
    return ParseResult(tuple(entries) if not errors else (), tuple(errors), tuple(warnings))


def _stored_comparable(row: ActionListEntry) -> tuple[object, ...]:
    values = {
        "kind": MarkKind(row.kind),
        "haulier": row.haulier,
        "penalty_ref": row.penalty_ref,
        "amount_gbp": Decimal(row.amount_gbp).quantize(Decimal("0.01")),
        "penalty_date": row.penalty_date,
        "notes": row.notes,
    }
    return tuple(values[f] for f in COMPARED)


def diff_against(current: Sequence[ActionListEntry], new: Sequence[ImportEntry]) -> ListDiff:
    """What importing ``new`` changes with respect to the ``current`` stored entries."""
    old = {row.mark: _stored_comparable(row) for row in current}
    incoming = {e.mark: e.comparable() for e in new}
    changed = []
    for mark in sorted(old.keys() & incoming.keys()):
        if old[mark] != incoming[mark]:
            fields = tuple(f for f, a, b in zip(COMPARED, old[mark], incoming[mark], strict=True) if a != b)
            changed.append(EntryChange(mark, fields))
    return ListDiff(
        added=tuple(sorted(incoming.keys() - old.keys())),
        removed=tuple(sorted(old.keys() - incoming.keys())),
        changed=tuple(changed),
    )


def version_diff(session: Session, version_id: int) -> ListDiff:
    """The stored diff of one version against the one before it."""
    opened, closed = repo.entries_changed_in(session, version_id)
    opened_marks = {r.mark: r for r in opened}
    closed_marks = {r.mark: r for r in closed}
    changed = []
    for mark in sorted(opened_marks.keys() & closed_marks.keys()):
        a, b = _stored_comparable(closed_marks[mark]), _stored_comparable(opened_marks[mark])
        changed.append(EntryChange(mark, tuple(f for f, x, y in zip(COMPARED, a, b, strict=True) if x != y)))
    return ListDiff(
        added=tuple(sorted(opened_marks.keys() - closed_marks.keys())),
        removed=tuple(sorted(closed_marks.keys() - opened_marks.keys())),
        changed=tuple(changed),
    )


def _actor() -> str:
    try:
        return getpass.getuser()[:64]
    except (OSError, KeyError):  # no login name in some containers; the audit still records the import
        return "unknown"


def import_action_list(
    session: Session,
    data: bytes,
    *,
    source_name: str,
    column_map: Mapping[str, str] | None = None,
    dry_run: bool = False,
    actor: str | None = None,
    now_ms: int | None = None,
) -> ImportOutcome:
    """Validate ``data`` and store it as a new version (or, with ``dry_run``, only compute the diff).

    Raises :class:`ImportRejected` with every row error when the file is bad; nothing is
    written then. The caller owns the transaction (commit on return, roll back on error),
    so the version, its entries and the audit row land together or not at all.
    """
    parsed = parse_csv(data, column_map)
    if not parsed.ok:
        raise ImportRejected(parsed.errors, parsed.warnings)
    previous = repo.latest_version(session)
    current = repo.entries_at(session) if previous is not None else []
    diff = diff_against(current, parsed.entries)
    previous_id = previous.id if previous is not None else None
    if dry_run:
        return ImportOutcome(None, previous_id, len(parsed.entries), diff, parsed.warnings, dry_run=True)
    ts_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    who = actor or _actor()
    try:
        version = repo.add_version(
            session,
            created_ts_ms=ts_ms,
            source_name=source_name[-255:],
            source_sha256=hashlib.sha256(data).hexdigest(),
            imported_by=who,
            previous_version_id=previous_id,
            n_entries=len(parsed.entries),
            n_added=len(diff.added),
            n_removed=len(diff.removed),
            n_changed=len(diff.changed),
        )
    except IntegrityError as exc:  # previous_version_id is unique
        raise ConcurrentImport(
            f"another import created a version on top of version {previous_id} meanwhile; import again"
        ) from exc
    changed_marks = {c.mark for c in diff.changed}
    ending = {*diff.removed, *changed_marks}
    repo.close_entries(session, [row.id for row in current if row.mark in ending], version.id)
    opening = {*diff.added, *changed_marks}
    repo.insert_entries(
        session,
        [
            {
                "valid_from_version": version.id,
                "valid_to_version": None,
                "mark": e.mark,
                "mark_as_given": e.mark_as_given,
                "kind": e.kind,
                "haulier": e.haulier,
                "penalty_ref": e.penalty_ref,
                "amount_gbp": e.amount_gbp,
                "penalty_date": e.penalty_date,
                "notes": e.notes,
                "line_no": e.line_no,
            }
            for e in parsed.entries
            if e.mark in opening
        ],
    )
    repo.audit(
        session,
        ts_ms=ts_ms,
        actor=who,
        action="actionlist.import",
        detail={
            "version": version.id,
            "source": source_name,
            "entries": len(parsed.entries),
            "added": len(diff.added),
            "removed": len(diff.removed),
            "changed": len(diff.changed),
        },
    )
    session.flush()
    return ImportOutcome(version.id, previous_id, len(parsed.entries), diff, parsed.warnings)


def to_list_entry(row: ActionListEntry) -> ListEntry:
    """A stored entry as the matcher sees it."""
    return ListEntry(
        mark=row.mark,
        kind=str(row.kind),
        haulier=row.haulier,
        penalty_ref=row.penalty_ref,
        amount_gbp=Decimal(row.amount_gbp),
        penalty_date=row.penalty_date,
        notes=row.notes,
    )


def build_matcher(
    session: Session, *, max_edit_distance: int = 1, edit_min_length: int = 5, version_id: int | None = None
) -> Matcher:
    """A :class:`Matcher` over one version (default: the current list; empty before any import)."""
    version = (
        repo.get_version(session, version_id) if version_id is not None else repo.latest_version(session)
    )
    if version_id is not None and version is None:
        raise LookupError(f"no action-list version {version_id}")
    rows = repo.entries_at(session, version_id) if version is not None else []
    return Matcher(
        (to_list_entry(r) for r in rows),
        max_edit_distance=max_edit_distance,
        edit_min_length=edit_min_length,
        version_id=version.id if version is not None else None,
    )


def version_summary(version: ActionListVersion) -> dict[str, object]:
    """A version as a JSON-ready dict."""
    return {
        "version": version.id,
        "created_ts_ms": version.created_ts_ms,
        "source": version.source_name,
        "sha256": version.source_sha256,
        "imported_by": version.imported_by,
        "previous": version.previous_version_id,
        "entries": version.n_entries,
        "added": version.n_added,
        "removed": version.n_removed,
        "changed": version.n_changed,
    }


def diff_summary(diff: ListDiff) -> dict[str, object]:
    """A diff as a JSON-ready dict."""
    return {
        "added": list(diff.added),
        "removed": list(diff.removed),
        "changed": [asdict(c) for c in diff.changed],
    }


@dataclass(frozen=True, slots=True)
class EntryView:
    """A stored entry for display (``amount_gbp`` as text, date ISO)."""

    mark: str
    kind: str
    haulier: str
    penalty_ref: str
    amount_gbp: str
    date: str
    notes: str

    @classmethod
    def of(cls, row: ActionListEntry) -> EntryView:
        return cls(
            row.mark,
            str(row.kind),
            row.haulier,
            row.penalty_ref,
            f"{Decimal(row.amount_gbp):.2f}",
            row.penalty_date.isoformat(),
            row.notes,
        )
