from __future__ import annotations

import pytest

from vision.anpr.lookalike import are_lookalikes, lookalike_key, lookalike_positions, normalise


def test_normalise() -> None:
    assert normalise("ab12 cde") == "AB12CDE"
    assert normalise("WA-123-BC") == "WA123BC"
    assert normalise("München M-AB 12") == "MUNCHENMAB12"
    assert normalise("  ") == ""


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("AB12CDE", "A812CDE"),
        ("0O", "DQ"),
        ("1IL", "T7I"),
        ("SZ", "52"),
        ("GC", "66"),
        ("UVJ", "JUV"),
        ("EF", "FE"),
    ],
)
def test_lookalikes_are_equivalent(a: str, b: str) -> None:
    assert are_lookalikes(a, b)
    assert lookalike_key(a) == lookalike_key(b)


@pytest.mark.parametrize(("a", "b"), [("AB12CDE", "AB12CDX"), ("AB12CDE", "AB12CD"), ("K", "X"), ("P", "R")])
def test_different_marks_are_not(a: str, b: str) -> None:
    assert not are_lookalikes(a, b)


def test_positions() -> None:
    assert lookalike_positions("AB12CDE", "A812CD3") == (1,)
    assert lookalike_positions("AB12CDE", "AB12CDE") == ()
    with pytest.raises(ValueError, match="different length"):
        lookalike_positions("AB", "ABC")
