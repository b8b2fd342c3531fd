from __future__ import annotations

import pytest

from vision.trailer.consensus import ConsensusRule, consensus
from vision.types import BodyType, Side, TrailerVerdict

C, B = BodyType.CURTAINSIDER, BodyType.BOX


def looks(*pairs: tuple[BodyType, float]) -> list[TrailerVerdict]:
    return [TrailerVerdict(b, c) for b, c in pairs]


def test_agreeing_looks_name_the_type() -> None:
    v = consensus(looks((C, 0.9), (C, 0.8), (C, 0.95), (B, 0.7)))
    assert v.body_type is C and v.side is Side.SOFT
    assert v.n_looks == 4
    assert v.confidence == pytest.approx((0.9 + 0.8 + 0.95) / 3 * 3 / 4)


def test_too_few_looks_is_unknown() -> None:
    assert consensus(looks((C, 0.99), (C, 0.99))).body_type is BodyType.UNKNOWN


def test_weak_looks_do_not_count() -> None:
    v = consensus(looks((C, 0.9), (C, 0.9), (C, 0.3), (C, 0.2)))
    assert v.body_type is BodyType.UNKNOWN and v.n_looks == 2


def test_split_vote_is_unknown() -> None:
    v = consensus(looks((C, 0.9), (C, 0.9), (B, 0.9), (B, 0.9), (BodyType.TILT, 0.9)))
    assert v.body_type is BodyType.UNKNOWN and v.confidence == 0.0


def test_rule_is_configurable() -> None:
    rule = ConsensusRule(min_looks=1, min_agreement=0.5, min_confidence=0.1)
    assert consensus(looks((B, 0.2)), rule).body_type is B
