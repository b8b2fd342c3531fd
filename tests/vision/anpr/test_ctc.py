from __future__ import annotations

import numpy as np
import pytest

from vision.anpr.ctc import (
    N_FOLDED,
    OTHER,
    PLATE_ALPHABET,
    fold_map,
    fold_probs,
    greedy_slots,
    make_fold,
    top_strings,
)


def _frames(seq: str, p: float = 0.9) -> np.ndarray:
    """Folded frames: a character, '-' blank or '#' other per frame, with probability p."""
    out = np.full((len(seq), N_FOLDED), (1 - p) / (N_FOLDED - 1), np.float32)
    for t, ch in enumerate(seq):
        col = 0 if ch == "-" else OTHER if ch == "#" else PLATE_ALPHABET.index(ch) + 1
        out[t, col] = p
    return out


def test_fold_map_folds_case_and_width() -> None:
    m = fold_map(["a", "A", "\uff21", "中", "-"])
    assert list(m) == [0, 1, 1, 1, OTHER, OTHER]
    with pytest.raises(ValueError, match="no class for B"):
        make_fold(m)  # a recogniser must cover the whole plate alphabet
    full = fold_map(["a", "A", "\uff21", "中", "-", *PLATE_ALPHABET[1:]])
    probs = np.zeros((1, len(full)), np.float32)
    probs[0, :6] = [0.1, 0.2, 0.3, 0.1, 0.2, 0.1]
    folded = fold_probs(probs, make_fold(full))
    assert folded.shape == (1, N_FOLDED)
    assert folded[0, 1] == pytest.approx(0.6)
    assert folded[0, OTHER] == pytest.approx(0.3)


def test_greedy_merges_runs_and_splits_on_blank_or_other() -> None:
    slots = greedy_slots(_frames("AA-A#B--55-5"))
    assert "".join(s.char for s in slots) == "AAB55"
    # an emblem ('#') between groups is a gap, not a character
    assert "".join(s.char for s in greedy_slots(_frames("AB##12"))) == "AB12"


def test_top_strings_offers_alternatives_and_drops() -> None:
    f = _frames("AB")
    f[1, PLATE_ALPHABET.index("8") + 1] = 0.3
    f[1, PLATE_ALPHABET.index("B") + 1] = 0.45
    strings = top_strings(greedy_slots(f), 5)
    texts = [s.text for s in strings]
    assert texts[0] == "AB"
    assert "A8" in texts and "A" in texts  # alternative, and the weak slot dropped (p = 1 - 0.75)
    assert strings[0].alternative_prob(1, "8") == pytest.approx(0.3)
    assert len(strings[0].char_confidences) == 2
