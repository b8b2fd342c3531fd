from __future__ import annotations

import pytest

from api.matching import CharDiff, ListEntry, Matcher, MatchType, char_diffs
from vision.types import BBox, PassagePlate, PlateCandidate, PlateRole, ReadStatus


def entry(mark: str, kind: str = "trailer") -> ListEntry:
    return ListEntry(mark, kind, f"Haulier of {mark}", f"CP-{mark}")


@pytest.fixture
def matcher() -> Matcher:
    return Matcher([entry("WGM1034"), entry("AB12CDE", "vehicle"), entry("A1234567"), entry("XY12")])


def test_exact(matcher: Matcher) -> None:
    (m,) = matcher.match(["WGM 1034"])
    assert (m.entry.mark, m.match_type, m.distance, m.candidate, m.candidate_rank) == (
        "WGM1034",
        MatchType.EXACT,
        0,
        "WGM1034",
        0,
    )
    assert m.describe() == "exact" and m.diffs == ()


def test_lookalike_is_reported_as_lookalike_with_positions(matcher: Matcher) -> None:
    (m,) = matcher.match(["WGM1O34"])
    assert m.match_type is MatchType.LOOKALIKE and m.distance == 0
    assert m.diffs == (CharDiff(5, "O", "0", lookalike=True),)
    assert m.describe() == "look-alike O/0 at position 5"
    (m,) = matcher.match(["A8I2C0E"])  # B->8, 1->I, D->0: all look-alikes
    assert m.entry.mark == "AB12CDE" and m.match_type is MatchType.LOOKALIKE
    assert [d.position for d in m.diffs] == [2, 3, 6]


@pytest.mark.parametrize(
    ("read", "diff"),
    [
        ("WGM1035", CharDiff(7, "5", "4", False)),  # replace
        ("WGM104", CharDiff(6, "", "3", False)),  # missing character
        ("WGM10345", CharDiff(7, "5", "", False)),  # extra character at the end
    ],
)
def test_edit_distance_one(matcher: Matcher, read: str, diff: CharDiff) -> None:
    (m,) = matcher.match([read])
    assert m.match_type is MatchType.EDIT and m.distance == 1
    assert diff in m.diffs


def test_edit_after_lookalikes_counts_only_the_real_edit(matcher: Matcher) -> None:
    (m,) = matcher.match(["WGMI035"])  # I for 1 (look-alike) and 5 for 4 (edit)
    assert m.match_type is MatchType.EDIT and m.distance == 1
    assert m.describe() == "1 edit: 5 instead of 4 at position 7; look-alike I/1 at position 4"


def test_near_miss_is_never_exact_and_misses_are_empty(matcher: Matcher) -> None:
    for read in ("WGM1O34", "WGM1035", "wgm-1o35"):
        assert all(m.match_type is not MatchType.EXACT for m in matcher.match([read]))
    assert matcher.match(["ZZ99ZZZ"]) == ()
    assert matcher.match(["WGM1099"]) == ()  # two edits
    assert matcher.match([""]) == ()


def test_every_candidate_is_tried_and_the_best_kept(matcher: Matcher) -> None:
    matches = matcher.match(["ZZ99ZZZ", "WGM1035", "WGM1034", "AB12CDF"])
    by_mark = {m.entry.mark: m for m in matches}
    assert by_mark["WGM1034"].match_type is MatchType.EXACT and by_mark["WGM1034"].candidate_rank == 2
    assert by_mark["AB12CDE"].match_type is MatchType.LOOKALIKE and by_mark["AB12CDE"].candidate == "AB12CDF"
    assert [m.entry.mark for m in matches] == ["WGM1034", "AB12CDE"]  # strongest first


def test_short_marks_do_not_match_by_edit(matcher: Matcher) -> None:
    assert matcher.match(["XY13"]) == ()
    assert matcher.match(["XY12"])[0].match_type is MatchType.EXACT
    assert Matcher([entry("XY12")], edit_min_length=4).match(["XY13"])[0].match_type is MatchType.EDIT


def test_edit_limit_is_configurable() -> None:
    entries = [entry("WGM1034"), entry("AB12CDE")]
    assert Matcher(entries, max_edit_distance=0).match(["WGM1035"]) == ()
    assert Matcher(entries, max_edit_distance=0).match(["WGM1O34"])[0].match_type is MatchType.LOOKALIKE
    two = Matcher(entries, max_edit_distance=2).match(["WGM1099"])
    assert [(m.entry.mark, m.match_type, m.distance) for m in two] == [("WGM1034", MatchType.EDIT, 2)]
    with pytest.raises(ValueError, match="max_edit_distance"):
        Matcher(entries, max_edit_distance=3)


def test_several_entries_can_match_one_read() -> None:
    m = Matcher([entry("AB12CDE"), entry("AB12CDF"), entry("AB12CDX")])
    got = [(x.entry.mark, x.match_type) for x in m.match(["AB12CDE"])]
    assert got == [
        ("AB12CDE", MatchType.EXACT),
        ("AB12CDF", MatchType.LOOKALIKE),
        ("AB12CDX", MatchType.EDIT),
    ]


def test_duplicate_marks_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Matcher([entry("AB12CDE"), entry("AB12CDE")])


def test_match_plate_uses_voted_text_and_every_candidate(matcher: Matcher) -> None:
    plate = PassagePlate(
        role=PlateRole.TRAILER_MARK,
        text="A1234568",
        confidence=0.5,
        status=ReadStatus.LOW_CONFIDENCE,
        candidates=(
            PlateCandidate("A1234568", 0.5),
            PlateCandidate("A1234567", 0.4),
        ),
    )
    (m,) = matcher.match_plate(plate)
    assert m.match_type is MatchType.EXACT and m.candidate_rank == 2 and m.candidate == "A1234567"
    assert BBox(0, 0, 1, 1)  # types import sanity


def test_char_diffs_align_on_lookalike_keys() -> None:
    assert char_diffs("WGM1034", "WGM1034") == ()
    assert char_diffs("0B", "O8") == (CharDiff(1, "0", "O", True), CharDiff(2, "B", "8", True))


def test_benchmark_runs_and_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from tests.conftest import load_bench

    bench = load_bench("bench_match")
    assert bench.main(["--entries", "3000", "--reads", "300", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["entries"] == 3000 and result["reads"] == 300 and result["p95_ms"] > 0
    assert result["best_match"]["exact"] > 0 and result["best_match"]["lookalike"] > 0
