from __future__ import annotations

import pytest

from vision.anpr.vote import VoteRule, vote
from vision.types import BBox, PlateCandidate, PlateRead, ReadStatus


def look(*cands: tuple[str, float]) -> PlateRead:
    return PlateRead(
        box=BBox(0, 0, 10, 5),
        candidates=tuple(
            PlateCandidate(t, c, format_name="UK current" if t == "AB12CDE" else None) for t, c in cands
        ),
        engine="fake",
    )


def test_stable_reads_are_committed() -> None:
    reads = [look(("AB12CDE", 0.9)), look(("AB12CDE", 0.8), ("A812CDE", 0.1)), look(("AB12CDE", 0.7))]
    v = vote(reads)
    assert v.text == "AB12CDE" and v.status is ReadStatus.COMMITTED
    assert v.n_looks == 3 and v.format_valid
    assert v.confidence == pytest.approx((1 + 0.8 / 0.9 + 1) / 3)


def test_too_few_looks_is_low_confidence() -> None:
    v = vote([look(("AB12CDE", 0.99)), look(("AB12CDE", 0.99))])
    assert v.text == "AB12CDE" and v.status is ReadStatus.LOW_CONFIDENCE


def test_no_clear_margin_is_low_confidence() -> None:
    reads = [look(("AB12CDE", 0.9)), look(("A812CDE", 0.9)), look(("AB12CDE", 0.9)), look(("A812CDE", 0.9))]
    v = vote(reads)
    assert v.status is ReadStatus.LOW_CONFIDENCE
    assert v.margin == pytest.approx(0.0)
    assert {c.text for c in v.candidates} == {"AB12CDE", "A812CDE"}


def test_a_flickering_read_commits_once_the_majority_is_clear() -> None:
    reads = [look(("AB12CDE", 0.9))] * 4 + [look(("A812CDE", 0.9))]
    assert vote(reads).status is ReadStatus.COMMITTED
    assert vote(reads, VoteRule(min_margin=0.7)).status is ReadStatus.LOW_CONFIDENCE


def test_nothing_read_is_unread() -> None:
    v = vote([look(), look()])
    assert v.status is ReadStatus.UNREAD and v.text == "" and v.n_looks == 2 and v.n_read == 0
    assert vote([]).status is ReadStatus.UNREAD


def test_bad_rule() -> None:
    with pytest.raises(ValueError):
        VoteRule(min_looks=0)
