"""Matching plate reads against the action list: pure, in memory, fast.

A read (all of its reader candidates, best first) matches an action-list mark in one of
three ways, reported with its provenance and never promoted:

- ``exact``: the normalised candidate equals the mark;
- ``lookalike``: they differ only by look-alike characters (0/O/D/Q, 1/I/L/T/7, ...; the
  classes of :mod:`vision.anpr.lookalike`), i.e. their look-alike keys are equal;
- ``edit``: the look-alike keys are within ``max_edit_distance`` edits (insert, delete,
  replace) of each other, so look-alike confusions cost nothing and ``distance`` counts
  the other edits. Marks or reads shorter than ``edit_min_length`` never match by edit.

Index: a dict by mark (exact), a dict by look-alike key, and for edit distance 1 a deletion
neighbourhood of the keys (each key and every key with one character deleted; two strings
are within one edit exactly when these neighbourhoods meet), verified with rapidfuzz's
Levenshtein. For distance 2 the deletion neighbourhood would grow to ~37 entries per mark
(several hundred MB for 100k marks), so every mark is scanned with ``rapidfuzz.process.cdist``
instead: exact but slow (about 25 ms per 5-candidate read on 100k marks, measured by
``bench/bench_match.py --max-edit 2``); distance 1 is the default and meets the 1 ms budget.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from vision.anpr.lookalike import lookalike_key, normalise
from vision.types import PassagePlate


class MatchType(enum.StrEnum):
    """How a read matched a mark, from the strongest to the weakest."""

    EXACT = "exact"
    LOOKALIKE = "lookalike"
    EDIT = "edit"


_STRENGTH = {MatchType.EXACT: 0, MatchType.LOOKALIKE: 1, MatchType.EDIT: 2}


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One action-list entry as the matcher sees it (``mark`` normalised)."""

    mark: str
    kind: str
    haulier: str
    penalty_ref: str
    amount_gbp: Decimal = Decimal(0)
    penalty_date: date | None = None
    notes: str = ""


@dataclass(frozen=True, slots=True)
class CharDiff:
    """One character where a read and a mark differ.

    ``position`` is 1-based in the mark (for a character the read has extra: the mark
    position it follows, 0 at the start). ``read`` or ``mark`` is ``""`` for an extra or
    missing character.
    """

    position: int
    read: str
    mark: str
    lookalike: bool

    def describe(self) -> str:
        """E.g. ``"0/O at position 5"`` (look-alike), ``"5 instead of 4 at position 7"``,
        ``"missing 4 at position 7"``, ``"extra 5 after position 7"``."""
        if not self.read:
            return f"missing {self.mark} at position {self.position}"
        if not self.mark:
            where = f"after position {self.position}" if self.position else "at the start"
            return f"extra {self.read} {where}"
        if self.lookalike:
            return f"{self.read}/{self.mark} at position {self.position}"
        return f"{self.read} instead of {self.mark} at position {self.position}"


@dataclass(frozen=True, slots=True)
class Match:
    """A read matching an entry: how, how far, and which candidate of the read matched.

    ``distance`` counts edits other than look-alike substitutions (0 for exact and
    look-alike matches); ``candidate_rank`` is the index of the matching text in what was
    given to :meth:`Matcher.match` (0 for the best).
    """

    entry: ListEntry
    match_type: MatchType
    distance: int
    candidate: str
    candidate_rank: int
    diffs: tuple[CharDiff, ...] = ()

    @property
    def sort_key(self) -> tuple[int, int, int, str]:
        """Stronger matches first: type, then distance, then the reader's rank."""
        return (_STRENGTH[self.match_type], self.distance, self.candidate_rank, self.entry.mark)

    def describe(self) -> str:
        """How it matched, for an officer: ``"exact"``, ``"look-alike 0/O at position 5"``,
        ``"1 edit: 5 instead of 4 at position 7"`` (look-alike differences listed too)."""
        if self.match_type is MatchType.EXACT:
            return "exact"
        looks = [d.describe() for d in self.diffs if d.lookalike]
        edits = [d.describe() for d in self.diffs if not d.lookalike]
        parts = []
        if edits:
            parts.append(f"{self.distance} edit{'s' if self.distance != 1 else ''}: {', '.join(edits)}")
        if looks:
            parts.append(f"look-alike {', '.join(looks)}")
        return "; ".join(parts)


def char_diffs(read: str, mark: str) -> tuple[CharDiff, ...]:
    """Where ``read`` and ``mark`` (both normalised) differ, aligned on their look-alike keys."""
    out: list[CharDiff] = []
    for op in Levenshtein.opcodes(lookalike_key(read), lookalike_key(mark)):
        if op.tag == "equal":
            for i, j in zip(range(op.src_start, op.src_end), range(op.dest_start, op.dest_end), strict=True):
                if read[i] != mark[j]:
                    out.append(CharDiff(j + 1, read[i], mark[j], lookalike=True))
        elif op.tag == "replace":
            for i, j in zip(range(op.src_start, op.src_end), range(op.dest_start, op.dest_end), strict=True):
                out.append(CharDiff(j + 1, read[i], mark[j], lookalike=False))
        elif op.tag == "delete":  # in the read, not in the mark
            out.extend(CharDiff(op.dest_start, read[i], "", False) for i in range(op.src_start, op.src_end))
        else:  # insert: in the mark, missing from the read
            out.extend(CharDiff(j + 1, "", mark[j], False) for j in range(op.dest_start, op.dest_end))
    return tuple(out)


def _deletions(key: str) -> set[str]:
    """``key`` and every string made by deleting one character of it."""
    return {key, *(key[:i] + key[i + 1 :] for i in range(len(key)))}


class Matcher:
    """An in-memory index of one action-list version; :meth:`match` is pure and thread-safe.

    ``max_edit_distance`` 0-2 (0: exact and look-alike only); ``version_id`` records which
    list version the index was built from.
    """

    def __init__(
        self,
        entries: Iterable[ListEntry],
        *,
        max_edit_distance: int = 1,
        edit_min_length: int = 5,
        version_id: int | None = None,
    ) -> None:
        if not 0 <= max_edit_distance <= 2:
            raise ValueError(f"max_edit_distance must be 0, 1 or 2, got {max_edit_distance}")
        self.max_edit_distance = max_edit_distance
        self.edit_min_length = edit_min_length
        self.version_id = version_id
        self._by_mark: dict[str, ListEntry] = {}
        self._by_key: dict[str, list[ListEntry]] = {}
        for entry in entries:
            if entry.mark in self._by_mark:
                raise ValueError(f"duplicate mark in the list: {entry.mark}")
            self._by_mark[entry.mark] = entry
            self._by_key.setdefault(lookalike_key(entry.mark), []).append(entry)
        # edit distance 1: deletion neighbourhood; a value is one key (most) or a tuple of keys
        self._deletion_index: dict[str, str | tuple[str, ...]] = {}
        self._edit_keys: list[str] = []
        if max_edit_distance == 1:
            index = self._deletion_index
            for key in self._by_key:
                if len(key) < edit_min_length:
                    continue
                for variant in _deletions(key):
                    have = index.get(variant)
                    if have is None:
                        index[variant] = key
                    elif isinstance(have, str):
                        index[variant] = (have, key)
                    else:
                        index[variant] = (*have, key)
        elif max_edit_distance == 2:
            self._edit_keys = [key for key in self._by_key if len(key) >= edit_min_length]

    def __len__(self) -> int:
        return len(self._by_mark)

    def _near_keys(self, keys: Sequence[str]) -> list[list[str]]:
        """For each key, the indexed keys within ``max_edit_distance`` of it (not itself)."""
        k = self.max_edit_distance
        out: list[list[str]] = [[] for _ in keys]
        if k == 0:
            return out
        if k == 1:
            for n, key in enumerate(keys):
                if len(key) < self.edit_min_length:
                    continue
                found: set[str] = set()
                for variant in _deletions(key):
                    have = self._deletion_index.get(variant)
                    if have is None:
                        continue
                    for other in (have,) if isinstance(have, str) else have:
                        if other != key and Levenshtein.distance(key, other, score_cutoff=1) <= 1:
                            found.add(other)
                out[n] = sorted(found)
            return out
        wanted = [n for n, key in enumerate(keys) if len(key) >= self.edit_min_length]
        if not wanted or not self._edit_keys:
            return out
        dist = process.cdist(
            [keys[n] for n in wanted],
            self._edit_keys,
            scorer=Levenshtein.distance,
            score_cutoff=k,
            dtype=np.int32,
        )
        for row, n in enumerate(wanted):
            out[n] = sorted(
                self._edit_keys[j] for j in np.nonzero(dist[row] <= k)[0] if self._edit_keys[j] != keys[n]
            )
        return out

    def match(self, candidates: Sequence[str]) -> tuple[Match, ...]:
        """Every entry that any candidate of one read matches, strongest first.

        ``candidates`` are the read's texts, best first (normalised here). Each entry
        appears once, with its strongest match over all candidates.
        """
        best: dict[str, Match] = {}

        def keep(m: Match) -> None:
            have = best.get(m.entry.mark)
            if have is None or m.sort_key < have.sort_key:
                best[m.entry.mark] = m

        texts: list[tuple[int, str]] = []  # (rank, normalised text), first occurrence of each text
        seen: set[str] = set()
        for rank, raw in enumerate(candidates):
            text = normalise(raw)
            if text and text not in seen:
                seen.add(text)
                texts.append((rank, text))
        keys = [lookalike_key(text) for _rank, text in texts]
        for (rank, text), key, near in zip(texts, keys, self._near_keys(keys), strict=True):
            for entry in self._by_key.get(key, ()):
                if entry.mark == text:
                    keep(Match(entry, MatchType.EXACT, 0, text, rank))
                else:
                    keep(Match(entry, MatchType.LOOKALIKE, 0, text, rank, char_diffs(text, entry.mark)))
            for other in near:
                distance = Levenshtein.distance(key, other)
                for entry in self._by_key[other]:
                    keep(Match(entry, MatchType.EDIT, distance, text, rank, char_diffs(text, entry.mark)))
        return tuple(sorted(best.values(), key=lambda m: m.sort_key))

    def match_plate(self, plate: PassagePlate) -> tuple[Match, ...]:
        """Matches of one passage plate. ``candidate_rank`` 0 is the plate's voted text and
        ``r >= 1`` the reader's r-th candidate (a candidate equal to the voted text counts as 0)."""
        return self.match([plate.text, *(c.text for c in plate.candidates)])
