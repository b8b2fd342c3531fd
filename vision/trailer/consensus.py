"""Per-passage body-type consensus across looks, or ``unknown``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from vision.types import BodyType, TrailerVerdict


@dataclass(frozen=True, slots=True)
class ConsensusRule:
    """When looks agree enough to name a body type.

    A look counts when its confidence is at least ``min_confidence``; a consensus needs at
    least ``min_looks`` counting looks and at least ``min_agreement`` of them (a share in
    [0, 1]) naming the same body type.
    """

    min_looks: int = 3
    min_agreement: float = 0.6
    min_confidence: float = 0.5


def consensus(looks: Sequence[TrailerVerdict], rule: ConsensusRule = ConsensusRule()) -> TrailerVerdict:
    """The passage's body type: the agreed type with the mean confidence of the looks that
    named it, or ``BodyType.UNKNOWN`` (confidence 0) when the rule is not met.
    ``n_looks`` is the number of counting looks."""
    known = [v for v in looks if v.body_type is not BodyType.UNKNOWN]
    counted = [v for v in known if v.confidence >= rule.min_confidence]
    if len(counted) < rule.min_looks:
        return TrailerVerdict(BodyType.UNKNOWN, 0.0, len(counted))
    (best, votes), *_ = Counter(v.body_type for v in counted).most_common(1)
    if votes / len(counted) < rule.min_agreement:
        return TrailerVerdict(BodyType.UNKNOWN, 0.0, len(counted))
    agreeing = [v.confidence for v in counted if v.body_type is best]
    return TrailerVerdict(best, sum(agreeing) / len(agreeing) * votes / len(counted), len(counted))
