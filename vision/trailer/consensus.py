"""Per-passage body-type consensus across looks, or ``unknown``.

The looks' calibrated class probabilities are averaged, and the type with the highest mean
probability is the passage's when it is probable enough and clearly ahead of the next
(:class:`ConsensusRule`). This replaced a majority vote of each look's best type, counting
only looks at least 0.5 sure: with the classifier's mirror averaging
(:class:`vision.trailer.classifier.TrailerClassifier`) a right look is often under 0.5 sure,
and the vote threw it away. Per vehicle and camera on held-out lane body crops (up to 8 looks
each, lane sets of ``data/train/lane_bodies3/val`` and ``lane_bodies4/val``), the shipped
classifier's front-view passages were right 146 of 213 times with the vote (62 unknown) and
163 with the mean (43 unknown; wrong types 5 -> 7); rear 99 -> 106 of 212 (``docs/pipeline.md``).
A look that carries only its best type and confidence (``TrailerVerdict.probabilities``
empty) counts as that confidence on that type: then the consensus confidence is the old
rule's (mean confidence of the agreeing looks times their share).

The mean probabilities travel with the verdict, named or unknown: the soft-sided flag
(:func:`api.flags.assess`) asks how probable a soft body is (curtainsider plus tilt), not
whether one soft type won, so a trailer whose looks split between tilt and curtainsider is
still flagged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from vision.types import BodyType, TrailerVerdict


@dataclass(frozen=True, slots=True)
class ConsensusRule:
    """When looks agree enough to name a body type.

    A consensus needs at least ``min_looks`` looks (of a known type); the type with the highest
    mean probability over them must have at least ``min_probability`` and lead the next type by
    at least ``min_lead`` (both probabilities in [0, 1]); else the body type is unknown.
    """

    min_looks: int = 3
    min_probability: float = 0.4
    min_lead: float = 0.1


def mean_probabilities(looks: Sequence[TrailerVerdict]) -> dict[BodyType, float]:
    """Each body type's mean probability over ``looks`` (a look without a probability vector
    counts as its confidence on its type); types no look gave any probability are left out."""
    total: dict[BodyType, float] = defaultdict(float)
    for look in looks:
        for body_type, p in look.probabilities or ((look.body_type, look.confidence),):
            total[body_type] += p
    return {t: p / len(looks) for t, p in total.items()} if looks else {}


def consensus(looks: Sequence[TrailerVerdict], rule: ConsensusRule = ConsensusRule()) -> TrailerVerdict:
    """The passage's body type: the type with the highest mean probability and that probability
    as the confidence, or ``BodyType.UNKNOWN`` (confidence 0) when the rule is not met.
    ``n_looks`` is the number of looks of a known type; ``probabilities`` are the mean
    probabilities, most probable first (empty with fewer than ``rule.min_looks`` looks), so an
    unknown type still tells how probable a soft-sided body is
    (:attr:`~vision.types.TrailerVerdict.soft_probability`)."""
    known = [v for v in looks if v.body_type is not BodyType.UNKNOWN]
    if len(known) < rule.min_looks:
        return TrailerVerdict(BodyType.UNKNOWN, 0.0, len(known))
    ranked = tuple(sorted(mean_probabilities(known).items(), key=lambda kv: kv[1], reverse=True))
    best, p = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if best is BodyType.UNKNOWN or p < rule.min_probability or p - runner_up < rule.min_lead:
        return TrailerVerdict(BodyType.UNKNOWN, 0.0, len(known), ranked)
    return TrailerVerdict(best, p, len(known), ranked)
