"""Plate text normalisation and look-alike character classes.

Readers confuse these characters both ways (``../shared/docs/plate-formats.md``):
0/O/D/Q, 1/I/L/T, 2/Z, 5/S, 8/B, 6/G, 4/A, 7/T, U/V/J, M/N/H, E/F, C/G. The classes are
merged transitively (T joins 1/I/L and 7; G joins 6 and C) so that :func:`lookalike_key`
is a canonical form: two marks are look-alike equivalent exactly when their keys are
equal. Matching uses the key to find near misses and reports them as look-alike, never
as exact. Grammar-driven correction (which of letter or digit a position wants) lives
with the grammars, not here.
"""

from __future__ import annotations

import unicodedata
from types import MappingProxyType

LOOKALIKE_GROUPS: tuple[str, ...] = (
    "0ODQ",
    "1ILT7",
    "2Z",
    "5S",
    "8B",
    "6GC",
    "4A",
    "UVJ",
    "MNH",
    "EF",
)
"""Look-alike classes after transitive merging; the first character represents the class."""

_KEY = MappingProxyType({ch: group[0] for group in LOOKALIKE_GROUPS for ch in group})

ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def normalise(text: str) -> str:
    """Upper case A-Z and 0-9 only: accents folded (``Ä`` -> ``A``), spaces, hyphens and
    anything else dropped. ``"ab12 cde"`` -> ``"AB12CDE"``."""
    folded = unicodedata.normalize("NFKD", text.upper())
    return "".join(ch for ch in folded if ch in ALPHABET)


def lookalike_key(text: str) -> str:
    """The canonical look-alike form of a normalised mark: each character replaced by its
    class representative (``"AB12CDE"`` -> ``"481260E"``)."""
    return "".join(_KEY.get(ch, ch) for ch in text)


def are_lookalikes(a: str, b: str) -> bool:
    """True when two normalised marks differ only by look-alike characters (or not at all)."""
    return len(a) == len(b) and lookalike_key(a) == lookalike_key(b)


def lookalike_positions(a: str, b: str) -> tuple[int, ...]:
    """Positions where two equal-length marks differ by a look-alike pair."""
    if len(a) != len(b):
        raise ValueError(f"marks of different length: {a!r}, {b!r}")
    return tuple(
        i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y and _KEY.get(x, x) == _KEY.get(y, y)
    )
