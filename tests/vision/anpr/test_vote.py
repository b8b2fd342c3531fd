from __future__ import annotations

import pytest

from vision.anpr.vote import LEGIBLE_HEIGHT_PX, VoteRule, by_position, look_weight, vote
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
    with pytest.raises(ValueError):
        VoteRule(min_support=-0.1)


def test_looks_that_agree_but_are_all_unsure_do_not_commit() -> None:
    """Set 5311: a square sign on a lorry's back read ``N3`` 0.13 sure, then two other ways
    0.02-0.03 sure. ``N3`` had most of that little support and was committed, and a committed
    rear plate outranked the real one, read 1.0 sure in four looks but diluted by its look-alike
    alternatives just under half the weight."""
    sign = [sized("N3", 0.13, 40), sized("SCHNT", 0.02, 44), sized("SC1", 0.03, 39)]
    v = vote(sign)
    assert v.text == "N3"
    assert v.confidence > 0.5 and v.status is ReadStatus.LOW_CONFIDENCE
    assert vote(sign, VoteRule(min_support=0.0)).status is ReadStatus.COMMITTED  # without the floor
    # three looks at a small plate, each 0.6 sure at 14 px, still commit
    small = [sized("AB12CDE", 0.6, 14)] * 3
    assert vote(small).status is ReadStatus.COMMITTED


def sized(text: str, confidence: float, height_px: float) -> PlateRead:
    """One look with one candidate, its crop ``height_px`` high."""
    return PlateRead(BBox(0, 0, 4 * height_px, height_px), (PlateCandidate(text, confidence),), "fake")


def test_a_sure_look_outweighs_unsure_ones() -> None:
    # two unsure misreads (a far, blurred plate) against one sure reading of the same plate:
    # one vote per look would make the misread the consensus
    v = vote([sized("VP", 0.15, 40), sized("VP", 0.15, 40), sized("CC925YF", 0.95, 40)])
    assert v.text == "CC925YF"
    assert v.confidence == pytest.approx(0.95 / 1.25)


def test_looks_at_tiny_plates_count_less() -> None:
    # equally confident, but two of the looks are of a plate 8 px high
    v = vote([sized("XY1", 0.9, 8), sized("XY1", 0.9, 8), sized("AB12CDE", 0.9, 30)])
    assert v.text == "AB12CDE"
    assert look_weight(sized("XY1", 0.9, 8)) == pytest.approx(0.9 * 8 / LEGIBLE_HEIGHT_PX)
    assert look_weight(sized("AB12CDE", 0.9, 30)) == pytest.approx(0.9)


def test_looks_that_all_weigh_nothing_count_equally() -> None:
    v = vote([sized("AB12CDE", 0.0, 30), sized("AB12CDE", 0.0, 30), sized("XY1", 0.0, 30)])
    assert v.text == "AB12CDE" and v.n_read == 3


def test_no_whole_text_agreeing_the_characters_vote_one_by_one() -> None:
    """bench lane set 5220's front plate EHN891K, read at 13-20 px: each look misread another
    character and the tallest, surest look misread one; each character has a majority."""
    reads = [
        sized("EHN691K", 0.48, 13),
        sized("CHN691K", 0.48, 14),
        sized("EHN891K", 0.33, 16),
        sized("EHM891K", 0.71, 20),
    ]
    v = vote(reads)
    assert v.text == "EHN891K" and v.status is ReadStatus.LOW_CONFIDENCE
    assert v.candidates[0].text == "EHN891K" and v.margin < 0  # less support than EHM891K alone
    assert vote(reads, VoteRule(by_position=False)).text == "EHM891K"


def test_the_character_vote_never_makes_up_a_text_or_overrules_a_stable_one() -> None:
    # by position AB12CDE, which no look read: the whole-text vote stands
    reads = [sized("AB12CDF", 0.5, 30), sized("AB12CXE", 0.5, 30), sized("XB12CDE", 0.5, 30)]
    assert vote(reads).text in {"AB12CDF", "AB12CXE", "XB12CDE"}
    # a committed text stands whatever the characters say
    stable = [sized("AB12CDE", 0.9, 30)] * 3 + [sized("AB12CDF", 0.9, 30)] * 2
    v = vote(stable, VoteRule(min_margin=0.1))
    assert v.text == "AB12CDE" and v.status is ReadStatus.COMMITTED


def test_the_character_vote_never_cuts_the_winner_short() -> None:
    """Clip 5701's Spanish trailer plate R4521CDF, read whole once and cut at either end twice:
    the cut reads are the most supported length, but their text is a piece of the winner."""
    reads = [sized("R4521CDF", 0.98, 28), sized("4521CDF", 0.85, 18), sized("R4521CD", 0.50, 23)]
    weighted = [(r.candidates[0].text, look_weight(r)) for r in reads]
    assert by_position(weighted) == "4521CDF"  # 7 characters: 0.64 + 0.48 against 0.98
    v = vote(reads)
    assert v.text == "R4521CDF" and v.status is ReadStatus.LOW_CONFIDENCE
    # but a piece that fits a grammar the winner does not wins (an edge read as an extra 1)
    edge = [look(("AB12CDE1", 0.95))] + [look((t, 0.6)) for t in ("AB12CDE", "XB12CDE", "AB12CDF")]
    assert vote(edge).text == "AB12CDE"


def test_the_character_vote_leaves_a_single_look_and_a_grammar_fit_alone() -> None:
    # one look: its own ranking stands (by position its candidates would make A812CDE)
    one = look(("AB12CDE", 0.40), ("A812CDE", 0.30), ("A812CD3", 0.30))
    v = vote([one])
    assert v.text == "AB12CDE" and v.format_valid
    # the whole-text winner fits a grammar, the character vote's text does not: the winner stays
    texts = [("AB12CDE", 0.5), ("A812CDF", 0.3), ("A812CDG", 0.3), ("A812CDE", 0.05)]
    assert by_position(texts) == "A812CDE"  # read by one look, fits no grammar
    v = vote([look(t) for t in texts], VoteRule(min_share=0.9))
    assert v.text == "AB12CDE" and v.status is ReadStatus.LOW_CONFIDENCE


def test_character_ties_go_to_the_first_character() -> None:
    assert by_position([("AB12CDE", 1.0), ("AB12CDF", 1.0)]) == "AB12CDE"
    assert by_position([]) == ""


def fitted(text: str, confidence: float, height_px: float, fmt: str | None) -> PlateRead:
    """One look with one candidate of format ``fmt`` (None: fits no grammar), ``height_px`` high."""
    cand = PlateCandidate(text, confidence, format_name=fmt)
    return PlateRead(BBox(0, 0, 4 * height_px, height_px), (cand,), "fake")


def test_a_piece_read_bigger_supports_the_whole_plate_read_smaller() -> None:
    """Clip 5903's rear plate RVJ438: read whole once at 19 px, and as J438 (it fits the UK
    dateless format too) once at 28 px, cut by the frame's edge. The piece counts for the
    whole in proportion to the characters it covers (0.79 + 0.66 against 0.99)."""
    whole, piece = fitted("RVJ438", 0.996, 19, "LT current"), fitted("J438", 0.994, 28, "UK dateless")
    assert look_weight(piece) > look_weight(whole)
    v = vote([whole, piece])
    assert v.text == "RVJ438" and v.confidence <= 1.0
    # not when the whole was read less surely than its piece, fits no grammar (9RVJ438: an
    # edge read as an extra 9) or holds the piece only in its middle
    assert vote([fitted("RVJ438", 0.9, 19, "LT current"), piece]).text == "J438"
    assert vote([fitted("9RVJ438", 0.996, 19, None), piece]).text == "J438"
    assert (
        vote([fitted("RVJ4380", 0.996, 19, "PL current"), fitted("VJ438", 0.99, 28, "D current")]).text
        == "VJ438"
    )


def test_a_text_read_again_and_again_keeps_its_support() -> None:
    # five sure looks, each with a one-character-longer alternative that fits a grammar: only a
    # look's best read passes support on, so the winner stays committed
    reads = [
        PlateRead(
            BBox(0, 0, 120, 30),
            (
                PlateCandidate("RVJ438", 0.9, format_name="LT current"),
                PlateCandidate("RVJ4381", 0.1, format_name="PL current"),
            ),
            "fake",
        )
        for _ in range(5)
    ]
    v = vote(reads)
    assert v.text == "RVJ438" and v.status is ReadStatus.COMMITTED and v.margin > 0.7
    # a short plate read four times is not outvoted by one longer read that ends with it
    short = [fitted("J438", 0.95, 30, "UK dateless") for _ in range(4)]
    assert vote([*short, fitted("RVJ438", 0.99, 30, "LT current")]).text == "J438"
