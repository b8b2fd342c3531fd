from __future__ import annotations

import pytest

from vision.trailer.consensus import ConsensusRule, consensus, mean_probabilities
from vision.types import BodyType, Side, TrailerVerdict

C, B, T = BodyType.CURTAINSIDER, BodyType.BOX, BodyType.TILT


def looks(*pairs: tuple[BodyType, float]) -> list[TrailerVerdict]:
    """Looks that carry only their best type and confidence."""
    return [TrailerVerdict(b, c) for b, c in pairs]


def look(**probs: float) -> TrailerVerdict:
    """A look with a probability vector, e.g. ``look(tilt=0.45, box=0.5, curtainsider=0.05)``."""
    vector = tuple((BodyType(k), p) for k, p in probs.items())
    best, p = max(vector, key=lambda kv: kv[1])
    return TrailerVerdict(best, p, probabilities=vector)


def test_agreeing_looks_name_the_type() -> None:
    v = consensus(looks((C, 0.9), (C, 0.8), (C, 0.95), (B, 0.7)))
    assert v.body_type is C and v.side is Side.SOFT
    assert v.n_looks == 4
    assert v.confidence == pytest.approx((0.9 + 0.8 + 0.95) / 3 * 3 / 4)
    assert [t for t, _ in v.probabilities] == [C, B]  # the means, most probable first
    assert v.soft_probability == pytest.approx(v.confidence)


def test_too_few_looks_is_unknown() -> None:
    assert consensus(looks((C, 0.99), (C, 0.99))).body_type is BodyType.UNKNOWN


def test_unknown_looks_do_not_count() -> None:
    v = consensus([*looks((C, 0.9), (C, 0.9)), TrailerVerdict(BodyType.UNKNOWN, 0.0)])
    assert v.body_type is BodyType.UNKNOWN and v.n_looks == 2


def test_a_weak_or_split_consensus_is_unknown() -> None:
    weak = consensus(looks((C, 0.3), (C, 0.3), (B, 0.3)))  # curtainsider 0.2 on average
    assert weak.body_type is BodyType.UNKNOWN and weak.confidence == 0.0 and weak.n_looks == 3
    split = consensus(looks((C, 0.9), (C, 0.9), (B, 0.9), (B, 0.9), (T, 0.9)))
    assert split.body_type is BodyType.UNKNOWN


def test_unsure_looks_that_agree_are_averaged_not_dropped() -> None:
    """Each look names tilt under 0.5 sure: a vote of sure looks said unknown, the mean says tilt."""
    tilts = [look(tilt=0.48, box=0.22, curtainsider=0.3) for _ in range(5)]
    boxes = [look(box=0.55, tilt=0.35, curtainsider=0.1) for _ in range(2)]
    means = mean_probabilities(tilts + boxes)
    assert means[T] == pytest.approx((5 * 0.48 + 2 * 0.35) / 7)
    v = consensus(tilts + boxes)
    assert v.body_type is T and v.confidence == pytest.approx(means[T]) and v.n_looks == 7


def test_rule_is_configurable() -> None:
    rule = ConsensusRule(min_looks=1, min_probability=0.1, min_lead=0.0)
    assert consensus(looks((B, 0.2)), rule).body_type is B
    strict = ConsensusRule(min_probability=0.9)
    assert consensus(looks((C, 0.8), (C, 0.8), (C, 0.8)), strict).body_type is BodyType.UNKNOWN


def test_looks_split_between_soft_types_are_unknown_but_probably_soft() -> None:
    """Tilt and curtainsider share the looks: no type is named, the soft share is still high."""
    split = [look(tilt=0.4, curtainsider=0.35, box=0.25)] * 2 + [
        look(curtainsider=0.45, tilt=0.3, box=0.25)
    ] * 2
    v = consensus(split)
    assert v.body_type is BodyType.UNKNOWN and v.side is Side.UNKNOWN
    assert v.soft_probability == pytest.approx(0.75)
    hard = consensus([look(box=0.8, tilt=0.2)] * 3)
    assert hard.body_type is B and hard.soft_probability == pytest.approx(0.2)


def test_too_few_looks_carry_no_probabilities() -> None:
    v = consensus([look(tilt=0.99, box=0.01)] * 2)
    assert v.probabilities == () and v.soft_probability == 0.0
