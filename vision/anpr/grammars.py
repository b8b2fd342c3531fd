"""Plate grammars as data: load ``grammars.toml``, fit texts, correct look-alikes by position,
and rank a reader's candidate strings.

A grammar row (see ``grammars.toml``) has a country, a format name, a regular expression
on the normalised text and one or more *shapes* saying which positions must be a letter
(``L``), a digit (``D``) or either (``A``). Ranking (:meth:`GrammarSet.rank`):

1. each raw candidate that fits a pattern as read gets that format (first fitting row);
2. for each shape of the candidate's length, characters of the wrong kind are replaced by
   a look-alike of the right kind (classes of :mod:`vision.anpr.lookalike`: ``0``<->``O``,
   ``1``<->``I``, ``8``<->``B``, ...) and the result is kept only if it then fits that
   row's pattern. Nothing else is ever changed. A swapped character's confidence is the
   probability the recogniser gave that character at that position (its alternatives),
   or a small share of the doubt about the character read (:data:`UNSEEN_FACTOR`): a
   confidently read character is in effect never swapped;
3. candidates are scored ``product(char confidences) * (1 if it fits a format else
   NO_FIT_FACTOR)``, best first. A text that fits no grammar is kept with
   ``format_name=None``: it is never forced into a format;
4. a text that fits rows of several countries is named by the first row it fits, or, when
   the plate's background colour is known and that row's plates never have it, by the first
   row it fits whose plates do (:meth:`GrammarSet.named`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vision.anpr.ctc import RawString
from vision.anpr.lookalike import LOOKALIKE_GROUPS
from vision.types import PlateCandidate

GRAMMARS_FILE = Path(__file__).with_name("grammars.toml")
"""The shipped grammar table."""

PLATE_COLOURS = frozenset({"white", "yellow", "red"})
"""Background colours a grammar row may list (:func:`vision.anpr.colour.plate_colour`)."""

UNSEEN_FACTOR = 0.25
"""A look-alike swap the recogniser gave no probability for is priced at
``(1 - confidence of the character read) * UNSEEN_FACTOR``."""

NO_FIT_FACTOR = 0.5
"""Score multiplier for a candidate that fits no grammar (kept, ranked lower)."""

_DIGITS = frozenset("0123456789")
_GROUP_OF = {ch: group for group in LOOKALIKE_GROUPS for ch in group}
_PREFERRED: dict[str, str] = {
    # direct look-alike pairs first (plate-formats.md), then the rest of the class
    "0": "ODQ",
    "1": "ILT",
    "7": "TIL",
    "6": "GC",
    "T": "71",
    "I": "1",
    "L": "1",
    "C": "6",
}


def lookalike_options(ch: str, want_digit: bool) -> str:
    """Characters of the wanted kind (digit or letter) that look like ``ch``, preferred first.
    ``ch`` itself when it is already of that kind; ``""`` when no look-alike exists."""
    if (ch in _DIGITS) == want_digit:
        return ch
    members = [c for c in _GROUP_OF.get(ch, "") if c != ch and (c in _DIGITS) == want_digit]
    order = _PREFERRED.get(ch, "")
    members.sort(key=lambda c: order.index(c) if c in order else len(order))
    return "".join(members)


_TOKEN = re.compile(r"([LDA])(?:\{(\d+)(?:,(\d+))?\})?")


def expand_shape(spec: str) -> tuple[str, ...]:
    """Concrete shapes of a shape spec: ``"L D{1,2}"`` -> ``("LD", "LDD")``.

    Tokens are ``L`` (letter), ``D`` (digit) or ``A`` (either) with an optional ``{n}`` or
    ``{m,n}`` repeat, separated by spaces or not. Raises ``ValueError`` on anything else.
    """
    pos = 0
    shapes = [""]
    compact = spec.replace(" ", "")
    while pos < len(compact):
        m = _TOKEN.match(compact, pos)
        if m is None:
            raise ValueError(f"bad shape {spec!r} at {compact[pos:]!r}")
        kind, lo, hi = m.group(1), m.group(2), m.group(3)
        low = int(lo) if lo else 1
        high = int(hi) if hi else low
        if low < 0 or high < low:
            raise ValueError(f"bad repeat in shape {spec!r}")
        shapes = [s + kind * n for s in shapes for n in range(low, high + 1)]
        pos = m.end()
    return tuple(dict.fromkeys(shapes))


@dataclass(frozen=True, slots=True)
class Grammar:
    """One plate format: ``pattern`` on the normalised text and its concrete ``shapes``."""

    country: str
    format: str
    pattern: re.Pattern[str]
    shapes: tuple[str, ...]
    lines: int = 1
    colours: frozenset[str] = frozenset({"white"})
    """Background colours this format's plates come in (``grammars.toml`` ``colours``)."""

    @property
    def name(self) -> str:
        """Format name as reported, e.g. ``"UK current"``."""
        return f"{self.country} {self.format}"

    def fits(self, text: str) -> bool:
        return self.pattern.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class Correction:
    """A text rewritten to fit ``grammar``; ``positions`` are the characters changed."""

    text: str
    grammar: Grammar
    positions: tuple[int, ...]


CORRECTIONS_KEPT = 20_000
"""At most this many texts' corrections are remembered per grammar set (a few MB); the memo
starts again empty when full."""


_Swap = tuple[str, tuple[Grammar, ...], tuple[int, ...]]
"""A shape of a text's length, its grammars, and the positions whose kind a swap would change."""


def _kinds(text: str) -> str:
    return "".join("D" if ch in _DIGITS else "L" for ch in text)


@dataclass(frozen=True, slots=True)
class GrammarSet:
    """An ordered set of grammars (first fitting row wins)."""

    grammars: tuple[Grammar, ...]
    _by_length: dict[int, tuple[tuple[str, tuple[Grammar, ...]], ...]] = field(
        init=False, repr=False, compare=False
    )
    _corrections: dict[tuple[str, int], tuple[Correction, ...]] = field(init=False, repr=False, compare=False)
    """:meth:`corrections` already worked out: a plate's reads (lines, wider crops, frames of a
    track) give the same strings again and again, and working one out takes some 0.1 ms."""
    _kind_swaps: dict[tuple[str, int], tuple[_Swap, ...]] = field(init=False, repr=False, compare=False)
    """:meth:`_swaps` already worked out, for lengths some shape has (at most 2 ** length kinds
    strings each); emptied with :attr:`_corrections`."""

    def __post_init__(self) -> None:
        index: dict[int, dict[str, list[Grammar]]] = {}
        for g in self.grammars:
            for s in g.shapes:
                index.setdefault(len(s), {}).setdefault(s, []).append(g)
        frozen = {k: tuple((s, tuple(gs)) for s, gs in v.items()) for k, v in index.items()}
        object.__setattr__(self, "_by_length", frozen)
        object.__setattr__(self, "_corrections", {})
        object.__setattr__(self, "_kind_swaps", {})

    def forget(self) -> None:
        """Drop what :meth:`corrections` remembers (a benchmark reading the same crops again
        times each read as the first)."""
        self._corrections.clear()
        self._kind_swaps.clear()

    @property
    def countries(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.country for g in self.grammars))

    def match(self, text: str) -> Grammar | None:
        """The first grammar ``text`` fits as it is, or ``None``."""
        return next((g for g in self.grammars if g.fits(text)), None)

    def corrections(self, text: str, max_changes: int = 2) -> list[Correction]:
        """Every way to make ``text`` fit a grammar by look-alike swaps at positions whose
        kind (letter/digit) a shape fixes, changing at most ``max_changes`` characters.
        The text as read, if it fits, comes first (with no positions). Each correction's
        grammar is the first row of the table it fits (:meth:`match`)."""
        key = (text, max_changes)
        known = self._corrections.get(key)
        if known is None:
            if len(self._corrections) >= CORRECTIONS_KEPT:
                self.forget()
            known = self._corrections[key] = tuple(self._work_out(text, max_changes))
        return list(known)

    def _swaps(self, kinds: str, max_changes: int) -> tuple[_Swap, ...]:
        """The shapes of ``kinds``' length (``L``/``D`` per character) that 1 to ``max_changes``
        letter/digit swaps would make it fit, in table order: each shape, its grammars and the
        positions to swap. Memoised: a few hundred kinds strings cover every read."""
        if len(kinds) not in self._by_length:
            return ()  # no shape of this length (kept out of the memo: garbage reads are any length)
        key = (kinds, max_changes)
        known = self._kind_swaps.get(key)
        if known is None:
            found = []
            for shape, grammars in self._by_length.get(len(kinds), ()):
                pairs = enumerate(zip(kinds, shape, strict=True))
                changed = tuple(i for i, (k, want) in pairs if want != "A" and k != want)
                if changed and len(changed) <= max_changes:
                    found.append((shape, grammars, changed))
            known = self._kind_swaps[key] = tuple(found)
        return known

    def _work_out(self, text: str, max_changes: int) -> list[Correction]:
        """:meth:`corrections` without the memo."""
        out: list[Correction] = []
        first = self.match(text)
        if first is not None:
            out.append(Correction(text, first, ()))
        seen = {text}
        for shape, grammars, changed in self._swaps(_kinds(text), max_changes):
            options = [_OPTIONS[(text[i], shape[i] == "D")] for i in changed]
            if not all(options):
                continue
            chars = list(text)
            for combo in _product(options):
                for i, ch in zip(changed, combo, strict=True):
                    chars[i] = ch
                fixed = "".join(chars)
                if fixed in seen:
                    continue
                if any(g.fits(fixed) for g in grammars):
                    # named by the first row of the table it fits, as the same text read as it is
                    grammar = self.match(fixed)
                    assert grammar is not None  # a row of this shape fits it
                    seen.add(fixed)
                    out.append(Correction(fixed, grammar, tuple(changed)))
                    break
        return out

    def named(self, text: str, grammar: Grammar, colour: str | None) -> Grammar:
        """The row that names a ``text`` fitting ``grammar``: with a plate ``colour`` that
        ``grammar``'s plates never have, the first row ``text`` also fits whose plates do (a
        white ``OB12DF`` is no Dutch plate), else ``grammar``."""
        if colour is None or colour in grammar.colours:
            return grammar
        return next((g for g in self.grammars if colour in g.colours and g.fits(text)), grammar)

    def rank(
        self, raw: Iterable[RawString], top_n: int, colour: str | None = None
    ) -> tuple[PlateCandidate, ...]:
        """Rank a reader's candidate strings (see the module doc).

        Returns at most ``top_n`` :class:`PlateCandidate` best first, distinct texts, each
        with ``confidence`` = its score, and ``country``/``format_name`` when it fits, named
        by :meth:`named` for the plate's background ``colour`` when it is known.
        """
        best: dict[str, tuple[float, list[float], Grammar | None]] = {}
        for rs in raw:
            text = rs.text
            if not text:
                continue
            confs = list(rs.char_confidences) if len(rs.char_confidences) == len(text) else [1.0] * len(text)
            found = self.corrections(text)
            options: list[tuple[str, list[float], Grammar | None]] = []
            for c in found:
                fixed = list(confs)
                for i in c.positions:
                    seen_p = rs.alternative_prob(i, c.text[i])
                    fixed[i] = seen_p if seen_p is not None else max(1e-3, 1.0 - confs[i]) * UNSEEN_FACTOR
                options.append((c.text, fixed, c.grammar))
            if not any(not c.positions for c in found):
                options.append((text, confs, None))
            for t, cc, g in options:
                score = _prod(cc) * (1.0 if g is not None else NO_FIT_FACTOR)
                if t in best and best[t][0] >= score:
                    continue
                best[t] = (score, cc, g)
        # candidates are built for the kept ones only (a read gives a few hundred options)
        ranked = sorted(best.items(), key=lambda item: -item[1][0])[:top_n]
        out = []
        for t, (score, cc, g) in ranked:
            g = self.named(t, g, colour) if g is not None else None
            out.append(
                PlateCandidate(
                    text=t,
                    confidence=score,
                    char_confidences=tuple(round(x, 4) for x in cc),
                    country=g.country if g else None,
                    format_name=g.name if g else None,
                )
            )
        return tuple(out)


def _prod(values: Iterable[float]) -> float:
    out = 1.0
    for v in values:
        out *= v
    return out


_OPTIONS: dict[tuple[str, bool], str] = {
    (ch, want_digit): lookalike_options(ch, want_digit)
    for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    for want_digit in (False, True)
}


def _product(options: Sequence[str]) -> Iterable[str]:
    """Strings taking one character from each option string, first options first."""
    if not options:
        yield ""
        return
    for head in options[0]:
        for tail in _product(options[1:]):
            yield head + tail


def load_grammars(path: Path | None = None, countries: Sequence[str] | None = None) -> GrammarSet:
    """Load a grammar table (default: the shipped ``grammars.toml``).

    ``countries`` keeps only those country codes (case-insensitive); ``None`` keeps all and
    an empty sequence keeps none (no grammar ranking). Raises ``ValueError`` naming the row
    for a missing key, a bad regex or a bad shape.
    """
    source = path or GRAMMARS_FILE
    with source.open("rb") as f:
        data = tomllib.load(f)
    wanted = {c.upper() for c in countries} if countries is not None else None
    rows: list[Grammar] = []
    for i, row in enumerate(data.get("grammar", [])):
        where = f"{source}: grammar #{i + 1}"
        try:
            country = str(row["country"]).upper()
            fmt = str(row["format"])
            pattern = re.compile(str(row["pattern"]))
            specs = row["shape"] if isinstance(row["shape"], list) else [row["shape"]]
            shapes = tuple(s for spec in specs for s in expand_shape(str(spec)))
            lines = int(row.get("lines", 1))
            listed = row.get("colours", ["white"])
            colours = frozenset(str(c) for c in (listed if isinstance(listed, list) else [listed]))
            if not colours or not colours <= PLATE_COLOURS:
                raise ValueError(f"colours {sorted(colours)}: one or more of {sorted(PLATE_COLOURS)}")
        except KeyError as e:
            raise ValueError(f"{where}: missing key {e}") from e
        except (re.error, ValueError) as e:
            raise ValueError(f"{where}: {e}") from e
        if wanted is None or country in wanted:
            rows.append(Grammar(country, fmt, pattern, shapes, lines, colours))
    if wanted is not None:
        unknown = wanted - {g.country for g in rows}
        if unknown:
            raise ValueError(f"no grammar for {', '.join(sorted(unknown))} in {source}")
    return GrammarSet(tuple(rows))
