"""Voting across the frames of one plate track: a consensus read, committed only when stable.

Each look (one :class:`vision.types.PlateRead`) has a weight: its best candidate's
confidence, times its plate's height over :data:`LEGIBLE_HEIGHT_PX` when it is lower (a
plate far away or small in the frame is read less surely, and its misreads are many and
different). It spreads that weight over its candidates in proportion to their confidences
(a look's candidates share at most its one vote, so a confident look counts more than an
unsure one, and a look cannot outvote another by listing many candidates). Texts are summed
across looks, and a text that fits a grammar, best read by some look, is also supported by the
looks whose best read is its start or its end (the plate cut at the frame's edge) and no surer,
in proportion to the share of its characters the piece covers (so shares may add up to more
than 1); the consensus is the text with the most support. It is **committed** only when

- at least ``min_looks`` looks had a reading,
- its support is at least ``min_share`` of the looks' weight (e.g. 0.5: half agree),
- it leads the runner-up by at least ``min_margin`` of the looks' weight,
- its support, in looks (a sure look at a legible plate counts 1), is at least ``min_support``:
  looks that agree but are all unsure say little (a square sign on a lorry read ``N3`` 0.13
  sure and two other ways 0.02-0.03 sure was committed as a rear plate over the plate read
  ``B910NLS`` 1.0 sure in four looks, whose share was just under half: set 5311),

otherwise it is reported as **low confidence**; with no reading at all it is **unread**.
The support share is the reported confidence. Country and format come from the consensus
text's best candidate. (Looks whose weights are all 0 count equally.)

**Character by character** (``VoteRule.by_position``): when no text is stable but at least
``min_looks`` looks had a reading, the looks' candidates of the most supported length also vote
position by position (the same weights); when the text so made was itself read (a candidate of
some look) and fits a grammar if the whole-text winner does, it is the consensus, still low
confidence. A plate 13-20 px high is misread in a different character each time, so no
whole text has a majority while each character has one: ``EHN691K``, ``CHN691K``, ``EHN891K``
and ``EHM891K`` (the tallest, 0.71 sure) give ``EHN891K``, the plate (``bench lane --seed
5220``). A text no look read is never made up, and a piece of the whole-text winner never
replaces it: reads cut at either end (``4521CDF``, ``R4521CD``) are of one length, one short of
the plate read whole (``R4521CDF``, clip 5701), and the characters of that length would have
chosen a piece; but a piece that fits a grammar the winner does not is taken (``AB12CDE`` for
``AB12CDE1``, an edge read as an extra ``1``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vision.types import PlateCandidate, PlateRead, ReadStatus

LEGIBLE_HEIGHT_PX = 24.0
"""A look at a plate crop lower than this (pixels) counts in proportion to its height."""


def look_weight(read: PlateRead) -> float:
    """How much one look counts in the vote, in [0, 1]: its best candidate's confidence, less
    for a plate under :data:`LEGIBLE_HEIGHT_PX` high."""
    best = max((c.confidence for c in read.candidates if c.text), default=0.0)
    return max(0.0, min(1.0, best)) * min(1.0, read.box.height_px / LEGIBLE_HEIGHT_PX)


@dataclass(frozen=True, slots=True)
class VoteRule:
    """When a consensus is committed (see the module doc). Fractions are of the looks read."""

    min_looks: int = 3
    min_share: float = 0.5
    min_margin: float = 0.25
    by_position: bool = True
    min_support: float = 0.3

    def __post_init__(self) -> None:
        if (
            self.min_looks < 1
            or not (0.0 <= self.min_share <= 1.0)
            or not (0.0 <= self.min_margin <= 1.0)
            or self.min_support < 0.0
        ):
            raise ValueError(f"invalid vote rule {self}")


@dataclass(frozen=True, slots=True)
class PlateVote:
    """The consensus of one plate track.

    ``confidence`` is the consensus text's share of the weighted votes of the looks that had
    a reading, in [0, 1]; ``margin`` is its lead over the runner-up in the same units (zero or
    negative when the character-by-character vote chose it over the best-supported text).
    ``candidates`` are the texts with the most support (the consensus first), best first, with their shares as
    confidences. ``n_looks`` counts every look, ``n_read`` those with a candidate.
    """

    text: str
    confidence: float
    status: ReadStatus
    margin: float
    n_looks: int
    n_read: int
    candidates: tuple[PlateCandidate, ...]
    country: str | None = None
    format_name: str | None = None

    @property
    def format_valid(self) -> bool:
        return self.format_name is not None


def vote(reads: Sequence[PlateRead], rule: VoteRule | None = None, top_n: int = 5) -> PlateVote:
    """The consensus of the reads of one plate track (any order). See the module doc."""
    rule = rule or VoteRule()
    support: dict[str, float] = {}
    best_of: dict[str, PlateCandidate] = {}
    looks = [(read, [c for c in read.candidates if c.text]) for read in reads]
    looks = [(read, cands) for read, cands in looks if cands]
    n_read = len(looks)
    if n_read == 0:
        return PlateVote("", 0.0, ReadStatus.UNREAD, 0.0, len(reads), 0, ())
    weights = [look_weight(read) for read, _ in looks]
    sure = sum(weights)  # the looks' weight before the all-zero fallback: looks saying nothing
    if sure <= 0.0:
        weights = [1.0] * n_read
    # each look's candidates with their part of its weight, best first
    per_look = [
        [(c, share * weight) for c, share in _shares(cands)]
        for (_, cands), weight in zip(looks, weights, strict=True)
    ]
    shared = [cp for parts in per_look for cp in parts]
    for c, part in shared:
        support[c.text] = support.get(c.text, 0.0) + part
        if c.text not in best_of or best_of[c.text].confidence < c.confidence:
            best_of[c.text] = c
    support = _with_pieces(support, best_of, [(parts[0][0].text, parts[0][1]) for parts in per_look])
    weight_sum = sum(weights)
    ranked = sorted(support.items(), key=lambda kv: (-kv[1], kv[0]))
    text, top = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    share = top / weight_sum
    margin = (top - runner_up) / weight_sum
    stable = (
        n_read >= rule.min_looks
        and share >= rule.min_share
        and margin >= rule.min_margin
        and share * sure >= rule.min_support
    )
    if not stable and rule.by_position and n_read >= rule.min_looks:
        fused = by_position([(c.text, part) for c, part in shared])
        fits = fused in best_of and (
            best_of[fused].format_name is not None or best_of[text].format_name is None
        )
        # a piece of the winner is no reading of it (the characters vote over the reads of the
        # most supported length, and reads cut at one end are all one character short), unless
        # it fits a grammar the winner does not (an edge read as an extra 1 or I)
        piece = fused in text and not (best_of[text].format_name is None and best_of[fused].format_name)
        if fits and fused != text and not piece:  # margin <= 0: no more support than the winner
            text, top = fused, support[fused]
            share, margin = top / weight_sum, (top - ranked[0][1]) / weight_sum
            ranked = [(fused, top), *((t, s) for t, s in ranked if t != fused)]
    best = best_of[text]
    candidates = tuple(
        PlateCandidate(
            text=t,
            confidence=s / weight_sum,
            char_confidences=best_of[t].char_confidences,
            country=best_of[t].country,
            format_name=best_of[t].format_name,
        )
        for t, s in ranked[:top_n]
    )
    return PlateVote(
        text=text,
        confidence=share,
        status=ReadStatus.COMMITTED if stable else ReadStatus.LOW_CONFIDENCE,
        margin=margin,
        n_looks=len(reads),
        n_read=n_read,
        candidates=candidates,
        country=best.country,
        format_name=best.format_name,
    )


def _with_pieces(
    support: dict[str, float], best_of: dict[str, PlateCandidate], firsts: Sequence[tuple[str, float]]
) -> dict[str, float]:
    """``support`` with each look's best text that is the start or the end of another look's
    best text (a plate cut at the frame's edge) also counted for that whole, in proportion to
    the share of its characters the piece covers, when the whole fits a grammar and was read at
    least as surely as the piece: ``J438`` read at 0.994 in a 28-px crop, cut by the frame's
    edge, is a reading of ``RVJ438`` read at 0.996 in a 19-px crop, not a rival to it. The piece
    keeps its own support; a look's other candidates pass nothing on (a one-character-longer
    alternative would otherwise take the winner's support). ``firsts``: each look's best text
    and the support it gave it."""
    wholes = {t for t, _ in firsts if best_of[t].format_name is not None}
    out = dict(support)
    for piece, part in firsts:
        for whole in wholes:
            if (
                piece != whole
                and (whole.startswith(piece) or whole.endswith(piece))
                and best_of[whole].confidence >= best_of[piece].confidence
            ):
                out[whole] += part * len(piece) / len(whole)
    return out


def _shares(cands: Sequence[PlateCandidate]) -> list[tuple[PlateCandidate, float]]:
    """One look's candidates with their shares of its vote (in proportion to confidence)."""
    total = sum(max(c.confidence, 0.0) for c in cands)
    return [(c, max(c.confidence, 0.0) / total if total > 0 else 1.0 / len(cands)) for c in cands]


def by_position(texts: Sequence[tuple[str, float]]) -> str:
    """The text voted character by character from weighted ``(text, weight)`` pairs: of the
    length with the most weight (ties: the longer), each position's character with the most
    weight there (ties: the first in code order, as the whole-text vote breaks its ties). Empty
    for no texts."""
    by_len: dict[int, float] = {}
    for t, w in texts:
        by_len[len(t)] = by_len.get(len(t), 0.0) + w
    if not by_len:
        return ""
    n = max(by_len.items(), key=lambda kv: (kv[1], kv[0]))[0]
    scores: list[dict[str, float]] = [{} for _ in range(n)]
    for t, w in texts:
        if len(t) == n:
            for i, ch in enumerate(t):
                scores[i][ch] = scores[i].get(ch, 0.0) + w
    return "".join(min(sc.items(), key=lambda kv: (-kv[1], kv[0]))[0] for sc in scores)
