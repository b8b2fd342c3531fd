from __future__ import annotations

from pathlib import Path

import pytest

from vision.anpr.ctc import RawString
from vision.anpr.grammars import (
    _OPTIONS,
    Grammar,
    GrammarSet,
    _kinds,
    _product,
    expand_shape,
    load_grammars,
    lookalike_options,
)


@pytest.fixture(scope="module")
def grammars():  # type: ignore[no-untyped-def]
    return load_grammars()


def test_expand_shape() -> None:
    assert expand_shape("L D{1,2}") == ("LD", "LDD")
    assert expand_shape("L{2}D{2}L{3}") == ("LLDDLLL",)
    with pytest.raises(ValueError):
        expand_shape("L X")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("AB12CDE", "UK current"),
        ("A1234567", "UK trailer mark"),
        ("AB123CD", "F SIV"),
        ("1234BCD", "E current"),
        ("R1234BCD", "E trailer"),
        ("IS12ABC", "RO county"),  # CJ12ABC would be UK current: the first row wins
        ("B123ABC", "RO Bucharest"),
        ("CA1234AB", "BG current"),
        ("BX123Z", "NL side-code"),
        ("OB12DF", "NL trailer"),  # a Dutch semi-trailer, not a Polish plate
        ("WV34ZT", "NL trailer"),
        ("ABC123", "LT current"),
        ("AABC123", "H current"),
        ("A123BCD", "UK prefix"),
        ("ABC123D", "UK suffix"),
        ("WGM12345", "PL current"),
        ("MAB12", "D current"),
        ("A1", "UK dateless"),
        ("191D12345", "IRL current"),
    ],
)
def test_every_format_fits(grammars, text: str, name: str) -> None:  # type: ignore[no-untyped-def]
    g = grammars.match(text)
    assert g is not None and g.name == name


def test_every_shape_in_the_table_is_valid(grammars) -> None:  # type: ignore[no-untyped-def]
    for g in grammars.grammars:
        assert g.shapes and all(set(s) <= set("LDA") for s in g.shapes)


def test_lookalike_options_use_the_classes() -> None:
    assert lookalike_options("0", want_digit=False) == "ODQ"
    assert lookalike_options("O", want_digit=True) == "0"
    assert lookalike_options("8", want_digit=False) == "B"
    assert lookalike_options("T", want_digit=True) == "71"
    assert lookalike_options("W", want_digit=True) == ""
    assert lookalike_options("A", want_digit=False) == "A"


def test_correction_by_position(grammars) -> None:  # type: ignore[no-untyped-def]
    # UK current: positions 3-4 must be digits, the rest letters
    fixes = {c.text: c for c in grammars.corrections("A812CDE")}
    assert "AB12CDE" in fixes
    assert fixes["AB12CDE"].grammar.name == "UK current"
    assert fixes["AB12CDE"].positions == (1,)
    fixes = {c.text: c for c in grammars.corrections("AB1ZCDE")}
    assert fixes["AB1ZCDE"].positions == ()  # fits PL as read (the PL grammar is broad)
    assert fixes["AB12CDE"].positions == (3,)


def test_a_dutch_trailer_plate_read_with_a_zero_is_corrected() -> None:
    # the semi-trailer class letter read "0" (0.6) or "O" (0.4): only the NL trailer row fits,
    # and it wants a letter there, so O wins
    nl = load_grammars(countries=["NL"])
    alts = ((("0", 0.6), ("O", 0.4)), *(((c, 0.99),) for c in "J68HL"))
    raw = RawString("0J68HL", 0.5, (0.6, 0.99, 0.99, 0.99, 0.99, 0.99), alts)
    best = nl.rank([raw], 3)[0]
    assert best.text == "OJ68HL" and best.format_name == "NL trailer"


def test_rank_prefers_the_alternative_the_grammar_wants() -> None:
    uk = load_grammars(countries=["UK"])
    # position 3 read as "Z" (0.6) or "2" (0.4): no UK format fits "AB1ZCDE", UK current
    # needs a digit there, so "2" wins
    alts = (*(((c, 0.99),) for c in "AB1"), (("Z", 0.6), ("2", 0.4)), *(((c, 0.99),) for c in "CDE"))
    raw = RawString("AB1ZCDE", 0.5, (0.99, 0.99, 0.99, 0.6, 0.99, 0.99, 0.99), alts)
    cands = uk.rank([raw], 3)
    best = cands[0]
    assert best.text == "AB12CDE"
    assert best.country == "UK" and best.format_name == "UK current"
    assert best.char_confidences[3] == pytest.approx(0.4)
    assert cands[1].text == "AB1ZCDE" and cands[1].format_name is None  # kept, ranked lower


def test_a_confident_character_is_not_swapped() -> None:
    uk = load_grammars(countries=["UK"])
    raw = RawString("AB1ZCDE", 0.9, (0.99,) * 7, tuple(((c, 0.99),) for c in "AB1ZCDE"))
    best = uk.rank([raw], 3)[0]
    assert best.text == "AB1ZCDE"
    assert best.format_name is None


def test_a_plate_that_fits_nothing_is_kept_unforced(grammars) -> None:  # type: ignore[no-untyped-def]
    raw = RawString("12XY34ZW9", 0.8, (0.97,) * 9)
    cands = grammars.rank([raw], 5)
    assert [c.text for c in cands] == ["12XY34ZW9"]
    assert cands[0].format_name is None and cands[0].country is None and not cands[0].format_valid


def test_country_filter_and_errors(tmp_path: Path) -> None:
    uk = load_grammars(countries=["uk"])
    assert uk.countries == ("UK",)
    assert load_grammars(countries=[]).grammars == ()
    with pytest.raises(ValueError, match="XX"):
        load_grammars(countries=["XX"])
    bad = tmp_path / "g.toml"
    bad.write_text('[[grammar]]\ncountry = "UK"\nformat = "x"\npattern = "("\nshape = "L"\n')
    with pytest.raises(ValueError, match="grammar #1"):
        load_grammars(bad)


def test_the_plate_colour_names_the_country_of_a_shared_shape() -> None:
    # WS28PN fits a Dutch trailer plate (yellow) and a Polish one (white): the first row names
    # it unless the plate's colour says otherwise; the ranking is the same either way
    grammars = load_grammars()
    raw = RawString("WS28PN", 0.9, (0.99,) * 6)
    unknown, yellow, white = (grammars.rank([raw], 3, colour=c)[0] for c in (None, "yellow", "white"))
    assert unknown.format_name == "NL trailer" and yellow.format_name == "NL trailer"
    assert white.format_name == "PL current" and white.country == "PL"
    assert unknown.confidence == yellow.confidence == white.confidence
    # no row of the colour fits: the first row it fits still names it
    uk = RawString("AB12CDE", 0.9, (0.99,) * 7)
    assert grammars.rank([uk], 1, colour="red")[0].format_name == "UK current"
    red = RawString("R1234BCD", 0.9, (0.99,) * 8)
    assert grammars.rank([red], 1, colour="red")[0].format_name == "E trailer"


def test_a_corrected_text_is_named_as_the_same_text_read_as_it_is() -> None:
    # DJI5DUE corrected to DJ75DUE: named by the first row of the table it fits (UK current), as
    # DJ75DUE read as it is would be, not by the first row of its shape's bucket (PL current)
    grammars = load_grammars()
    alts = (*(((c, 0.99),) for c in "DJ"), (("I", 0.6), ("7", 0.4)), *(((c, 0.99),) for c in "5DUE"))
    raw = RawString("DJI5DUE", 0.5, (0.99, 0.99, 0.6, 0.99, 0.99, 0.99, 0.99), alts)
    for colour in (None, "white", "yellow"):
        best = grammars.rank([raw], 3, colour=colour)[0]
        assert (best.text, best.format_name) == ("DJ75DUE", "UK current"), colour
    as_read = grammars.rank([RawString("DJ75DUE", 0.9, (0.99,) * 7)], 1)[0]
    assert as_read.format_name == "UK current"


def test_the_colour_changes_names_only(grammars) -> None:  # type: ignore[no-untyped-def]
    # several candidates with look-alike alternatives: texts, scores and order are the same
    # whatever the colour; only names may differ
    alts = (
        (("W", 0.9), ("V", 0.1)),
        (("S", 0.7), ("5", 0.3)),
        (("2", 0.8), ("Z", 0.2)),
        (("8", 0.6), ("B", 0.4)),
        (("P", 0.99),),
        (("N", 0.9), ("H", 0.1)),
    )
    raws = [
        RawString("WS28PN", 0.3, (0.9, 0.7, 0.8, 0.6, 0.99, 0.9), alts),
        RawString("W528PN", 0.1, (0.9, 0.3, 0.8, 0.6, 0.99, 0.9), alts),
        RawString("WSZBPN", 0.05, (0.9, 0.7, 0.2, 0.4, 0.99, 0.9), alts),
    ]
    ranked = {c: grammars.rank(raws, 8, colour=c) for c in (None, "white", "yellow", "red")}
    keys = {
        c: [(x.text, x.confidence, x.char_confidences, x.format_valid) for x in r] for c, r in ranked.items()
    }
    assert keys[None] == keys["white"] == keys["yellow"] == keys["red"]
    names = {c: [x.format_name for x in r] for c, r in ranked.items()}
    assert names["white"] != names["yellow"]  # WS28PN: PL current against NL trailer


def test_a_row_with_an_unknown_colour_is_refused(tmp_path: Path) -> None:
    row = "[[grammar]]\ncountry = 'X'\nformat = 'y'\npattern = '^A$'\nshape = 'L'\n"
    table = tmp_path / "g.toml"
    for bad in ("colours = ['green']", "colours = []", "colours = 5"):
        table.write_text(row + bad + "\n")
        with pytest.raises(ValueError, match=r"colours|grammar #1"):
            load_grammars(table)
    table.write_text(row + "colours = 'yellow'\n")  # one colour as a string
    assert load_grammars(table).grammars[0].colours == frozenset({"yellow"})


def test_corrections_are_remembered_and_forgotten_without_changing() -> None:
    grammars = load_grammars()
    texts = ["A812CDE", "AB1ZCDE", "0B12DF", "R1234BCD", "ZZZZ", "8812CDE"]
    first = [grammars.corrections(t) for t in texts]
    assert grammars._corrections  # remembered
    again = [grammars.corrections(t) for t in texts]
    fresh = load_grammars()
    assert first == again == [fresh.corrections(t) for t in texts]
    again[0].clear()  # the caller's list is its own
    assert grammars.corrections(texts[0]) == first[0]
    grammars.forget()
    assert not grammars._corrections
    assert [grammars.corrections(t) for t in texts] == first


def test_the_corrections_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import vision.anpr.grammars as grammars_module

    monkeypatch.setattr(grammars_module, "CORRECTIONS_KEPT", 3)
    grammars = load_grammars()
    for text in ("AB12CDE", "AB12CDF", "AB12CDG", "AB12CDH", "AB12CDJ"):
        grammars.corrections(text)
        assert len(grammars._corrections) <= 3


Fix = tuple[str, str, tuple[int, ...]]


def _reference_corrections(grammars: GrammarSet, text: str, max_changes: int = 2) -> list[Fix]:
    """``corrections`` as written before its memos: the shapes of ``text``'s length in table
    order, each tried without remembering anything."""
    out: list[Fix] = []
    first = grammars.match(text)
    if first is not None:
        out.append((text, first.name, ()))
    seen = {text}
    kinds = _kinds(text)
    by_shape: dict[str, list[Grammar]] = {}
    for g in grammars.grammars:
        for shape in g.shapes:
            if len(shape) == len(text):
                by_shape.setdefault(shape, []).append(g)
    for shape, rows in by_shape.items():
        pairs = enumerate(zip(kinds, shape, strict=True))
        changed = [i for i, (k, want) in pairs if want != "A" and k != want]
        if not changed or len(changed) > max_changes:
            continue
        options = [_OPTIONS[(text[i], shape[i] == "D")] for i in changed]
        if not all(options):
            continue
        chars = list(text)
        for combo in _product(options):
            for i, ch in zip(changed, combo, strict=True):
                chars[i] = ch
            fixed = "".join(chars)
            if fixed not in seen and any(g.fits(fixed) for g in rows):
                seen.add(fixed)
                named = grammars.match(fixed)
                assert named is not None
                out.append((fixed, named.name, tuple(changed)))
                break
    return out


def test_corrections_equal_the_unmemoised_reference_on_random_reads() -> None:
    import random

    rng = random.Random(5)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(2, 10))) for _ in range(1500)]
    texts += ["A812CDE", "AB1ZCDE", "0B12DF", "R1234BCD", "8812CDE", "G812DFH", "1234BCD"]
    grammars = load_grammars()
    for text in texts * 2:  # the second time from the memos
        got = [(c.text, c.grammar.name, c.positions) for c in grammars.corrections(text)]
        assert got == _reference_corrections(grammars, text), text
