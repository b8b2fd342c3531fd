from __future__ import annotations

from vision.pipeline.truth import ClipTruthData, TruthObject, TruthVehicle, score_passages
from vision.types import BBox, BodyType, Passage, TrailerVerdict

T0 = 1_000_000
A = BBox(100, 100, 400, 400)
B = BBox(600, 100, 900, 400)


def _truth() -> ClipTruthData:
    """Lorry 1 labelled on frames 0-117 in box A; lorry 2 labelled on frames 42-195 in box B (far
    away and hard to see until about frame 140: the night clip 5102)."""
    frames = tuple(
        tuple([TruthObject(1, A, None, ())] * (i <= 117) + [TruthObject(2, B, None, ())] * (42 <= i <= 195))
        for i in range(240)
    )
    vehicles = (
        TruthVehicle(1, BodyType.BOX, (), 0, 117),
        TruthVehicle(2, BodyType.TILT, (), 42, 195),
    )
    return ClipTruthData(25.0, 1280, 720, 240, "front", vehicles, frames)


def _passage(pid: str, first: int, last: int) -> Passage:
    return Passage(pid, "L1", T0 + 40 * first, T0 + 40 * last, (), TrailerVerdict(BodyType.UNKNOWN, 0.0, 0))


def test_passages_are_matched_to_lorries_by_what_their_tracks_followed() -> None:
    """The tracker follows lorry 1 on frames 34-148 (on past its label) and lorry 2 on 142-231.
    By time spans alone the first passage fits lorry 2 best and the second then fits nobody: one
    'duplicate', one lorry 'missed'. By the tracks' boxes each passage is its lorry's."""
    passages = [_passage("p1", 34, 148), _passage("p2", 142, 231)]
    boxes = {"p1": [(i, A) for i in range(34, 149, 2)], "p2": [(i, B) for i in range(142, 232, 2)]}
    by_time = score_passages(passages, _truth(), start_ts_ms=T0)
    assert (by_time.matched, by_time.duplicates) == (1, 1)
    by_box = score_passages(passages, _truth(), start_ts_ms=T0, boxes=boxes)
    assert (by_box.expected, by_box.found, by_box.matched, by_box.duplicates, by_box.spurious) == (
        2,
        2,
        2,
        0,
        0,
    )


def test_a_second_passage_on_one_lorry_is_a_duplicate_and_one_on_nothing_is_spurious() -> None:
    passages = [_passage("p1", 0, 60), _passage("p2", 70, 110), _passage("p3", 200, 230)]
    boxes = {
        "p1": [(i, A) for i in range(0, 61, 2)],
        "p2": [(i, A) for i in range(70, 111, 2)],
        "p3": [(i, BBox(0, 500, 50, 700)) for i in range(200, 231, 2)],
    }
    s = score_passages(passages, _truth(), start_ts_ms=T0, boxes=boxes)
    assert (s.matched, s.duplicates, s.spurious) == (1, 1, 1)
    assert any("vehicle 2 (tilt): no passage" in m for m in s.misses)
