"""CTC post-processing for plate recognisers: alphabet folding, greedy decoding with
per-character alternatives, and top-N candidate strings. Pure functions, NumPy only.

A recogniser's output is a matrix of per-frame class probabilities ``(T, C)`` float32
(softmax already applied, rows sum to 1), class 0 being the CTC blank. Plates use the
36 characters A-Z and 0-9 only, so the recogniser's classes are *folded* into
``1 + 36 + 1`` columns: blank, the plate alphabet (``PLATE_ALPHABET`` order), and
"other" (every class that is not a plate character: CJK, punctuation, emblems). A frame
won by "other" emits nothing, like a blank, but it breaks a run of repeated characters:
an emblem between two character groups is read as a gap instead of as a letter.
"""

from __future__ import annotations

import heapq
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PLATE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
"""The 36 plate characters, in the order of the folded columns 1..36."""

BLANK = 0
OTHER = len(PLATE_ALPHABET) + 1
N_FOLDED = len(PLATE_ALPHABET) + 2

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def fold_map(characters: Sequence[str]) -> IntArray:
    """For a recogniser whose classes are ``["blank", *characters]``, the folded column of
    each class: 0 for the blank (class 0), 1..36 for a character whose NFKC upper-case form is
    a plate character (``a``, ``A`` and the full-width A, U+FF21, all fold to ``A``), :data:`OTHER`
    for the rest (CJK, punctuation, space). Returns shape ``(len(characters) + 1,)`` int64.
    """
    index = {ch: i + 1 for i, ch in enumerate(PLATE_ALPHABET)}
    out = np.full(len(characters) + 1, OTHER, np.int64)
    out[0] = BLANK
    for i, ch in enumerate(characters):
        folded = unicodedata.normalize("NFKC", ch).upper()
        out[i + 1] = index.get(folded, OTHER)
    return out


@dataclass(frozen=True, slots=True)
class Fold:
    """How to fold a recogniser's ``C`` classes into :data:`N_FOLDED` columns without BLAS.

    ``gather`` are the class indices that fold into blank or a plate character, sorted by
    folded column; ``starts`` the offset in ``gather`` where each of the columns
    ``0..OTHER-1`` begins (every such column has at least one class). "Other" is what is left.
    """

    n_classes: int
    gather: IntArray
    starts: IntArray


def make_fold(mapping: IntArray) -> Fold:
    """The :class:`Fold` of a fold map from :func:`fold_map` (which must give each of blank
    and the 36 plate characters at least one class)."""
    order = np.argsort(mapping, kind="stable")
    folded = mapping[order]
    keep = folded < OTHER
    gather = order[keep]
    cols = folded[keep]
    missing = set(range(OTHER)) - set(int(c) for c in cols)
    if missing:
        names = ["blank" if c == 0 else PLATE_ALPHABET[c - 1] for c in sorted(missing)]
        raise ValueError(f"the recogniser has no class for {', '.join(names)}")
    starts = np.searchsorted(cols, np.arange(OTHER))
    return Fold(int(mapping.shape[0]), gather.astype(np.int64), starts.astype(np.int64))


def fold_probs(probs: FloatArray, fold: Fold) -> FloatArray:
    """Sum class probabilities ``(T, C)`` into folded columns ``(T, N_FOLDED)`` float32.

    ``C`` must equal ``fold.n_classes``; rows are assumed to sum to 1 ("other" = the rest).
    """
    if probs.ndim != 2 or probs.shape[1] != fold.n_classes:
        raise ValueError(f"probs {probs.shape} do not match a fold of {fold.n_classes} classes")
    out = np.empty((probs.shape[0], N_FOLDED), np.float32)
    out[:, :OTHER] = np.add.reduceat(probs[:, fold.gather], fold.starts, axis=1)
    out[:, OTHER] = np.clip(1.0 - out[:, :OTHER].sum(axis=1), 0.0, 1.0)
    return out


def softmax(logits: FloatArray, axis: int = -1) -> FloatArray:
    """Numerically stable softmax."""
    z = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


@dataclass(frozen=True, slots=True)
class CharSlot:
    """One decoded character position.

    ``options`` are ``(character, probability)`` best first: the decoded character and the
    other plate characters this span of frames could be, each with its peak probability in
    the span (folded, so in [0, 1]). ``start``/``end`` are frame indices (end exclusive).
    """

    options: tuple[tuple[str, float], ...]
    start: int
    end: int

    @property
    def char(self) -> str:
        return self.options[0][0]

    @property
    def confidence(self) -> float:
        return self.options[0][1]


def greedy_slots(folded: FloatArray, n_alternatives: int = 3) -> tuple[CharSlot, ...]:
    """Greedy CTC decoding of folded probabilities ``(T, N_FOLDED)``.

    A character is emitted for each run of frames whose argmax is the same plate character
    (runs separated by blank/other frames emit repeated characters separately). Each slot
    keeps up to ``n_alternatives`` options ranked by peak probability within the run.
    """
    if folded.ndim != 2 or folded.shape[1] != N_FOLDED:
        raise ValueError(f"expected (T, {N_FOLDED}) folded probabilities, got {folded.shape}")
    best = folded.argmax(axis=1)
    slots: list[CharSlot] = []
    t = 0
    n = folded.shape[0]
    while t < n:
        cls = int(best[t])
        if cls in (BLANK, OTHER):
            t += 1
            continue
        end = t + 1
        while end < n and int(best[end]) == cls:
            end += 1
        peak = folded[t:end, 1:OTHER].max(axis=0)
        order = np.argsort(-peak)[:n_alternatives]
        options = tuple((PLATE_ALPHABET[int(k)], float(peak[int(k)])) for k in order if peak[int(k)] > 0.0)
        slots.append(CharSlot(options, t, end))
        t = end
    return tuple(slots)


@dataclass(frozen=True, slots=True)
class RawString:
    """One candidate string from a recogniser, before grammars.

    ``char_confidences`` has one value per character of ``text``; ``alternatives`` has, per
    character, the ``(character, probability)`` options its slot had (the character itself
    included), which grammar correction uses to price a look-alike swap.
    """

    text: str
    probability: float
    char_confidences: tuple[float, ...]
    alternatives: tuple[tuple[tuple[str, float], ...], ...] = ()

    def alternative_prob(self, i: int, ch: str) -> float | None:
        """The probability the recogniser gave ``ch`` at character ``i``, ``None`` if unknown."""
        if i >= len(self.alternatives):
            return None
        return next((p for c, p in self.alternatives[i] if c == ch), None)


def top_strings(
    slots: Sequence[CharSlot], n: int, *, drop_below: float = 0.5, min_prob: float = 1e-3
) -> list[RawString]:
    """The ``n`` most probable strings from per-slot options, best first.

    Each slot contributes one of its options, or nothing when its best probability is below
    ``drop_below`` (a weak slot may be a spurious emblem or screw: its "drop" option has
    probability ``1 - sum of the slot's options``). A string's probability is the product over slots. An empty
    string can be returned when every slot may be dropped.
    """
    choices: list[list[tuple[str, float]]] = []
    for slot in slots:
        opts = [(c, max(p, min_prob)) for c, p in slot.options]
        if slot.confidence < drop_below:
            char_mass = min(1.0, sum(p for _, p in slot.options))
            opts.append(("", max(1.0 - char_mass, min_prob)))
        opts.sort(key=lambda o: -o[1])
        choices.append(opts)
    if not choices:
        return []
    logs = [[float(np.log(p)) for _, p in opts] for opts in choices]
    start = tuple(0 for _ in choices)
    best_log = sum(lg[0] for lg in logs)
    heap: list[tuple[float, tuple[int, ...]]] = [(-best_log, start)]
    seen = {start}
    out: list[RawString] = []
    texts: set[str] = set()
    while heap and len(out) < n:
        neg, idx = heapq.heappop(heap)
        chars = [choices[i][k] for i, k in enumerate(idx)]
        text = "".join(c for c, _ in chars)
        if text not in texts:
            texts.add(text)
            kept = [i for i, (c, _) in enumerate(chars) if c]
            out.append(
                RawString(
                    text,
                    float(np.exp(-neg)),
                    tuple(chars[i][1] for i in kept),
                    tuple(slots[i].options for i in kept),
                )
            )
        for i, k in enumerate(idx):
            if k + 1 < len(choices[i]):
                nxt = (*idx[:i], k + 1, *idx[i + 1 :])
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (neg - logs[i][k + 1] + logs[i][k], nxt))
    return out
