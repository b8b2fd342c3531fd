"""Plate grammars, glyphs and plate textures of the synthetic generator."""

from __future__ import annotations

import re
from dataclasses import replace

import cv2
import numpy as np
import pytest

from vision.anpr.grammars import load_grammars
from vision.synth import glyphs
from vision.synth.plates import (
    COUNTRIES,
    GRAMMARS,
    Grammar,
    PlateRole,
    make_plate,
    matches_country,
    plate_layout,
    render_plate,
)

ROLES: tuple[PlateRole, ...] = ("front", "rear")

# The patterns of docs/plate-formats.md (plus the Spanish trailer "R" variant and the
# Dutch side-codes the generator issues), kept here independently of the generator's table.
DOC_PATTERNS: dict[str, tuple[str, ...]] = {
    "UK": (
        r"^[A-HJ-PR-Y]{2}(0[2-9]|[1-4][0-9]|5[1-9]|[6-9][0-9])[A-HJ-PR-Z]{3}$",
        r"^[A-HJ-NPR-TV-Y][1-9][0-9]{0,2}[A-Z]{3}$",
        r"^[A-Z]{3}[1-9][0-9]{0,2}[A-HJ-NPR-TV-Y]$",
        r"^([A-Z]{1,3}[1-9][0-9]{0,3}|[1-9][0-9]{0,3}[A-Z]{1,3})$",
        r"^[A-Z]?([A-HJ-Y]Z|I[A-Z]|[A-Z]I)[1-9][0-9]{0,3}$",
        r"^[A-Z][0-9]{7}$",
    ),
    "PL": (r"^([A-Z]{2}[0-9][0-9A-Z]{3,4}|[A-Z]{3}[0-9A-Z]{4,5})$",),
    "RO": (r"^(B[0-9]{2,3}|[A-Z]{2}[0-9]{2})[A-HJ-NPR-Z][A-PR-Z]{2}$",),
    "BG": (r"^[ABEKMHOPCTYX]{1,2}[0-9]{4}[ABEKMHOPCTYX]{1,2}$",),
    "LT": (r"^[A-PR-VYZ]{3}[0-9]{3}$",),
    "NL": (r"^[BDFGHJKLNPRSTVXZOW0-9]{6}$",),
    "E": (r"^[0-9]{4}[BCDFGHJKLMNPRSTVWXYZ]{3}$", r"^R[0-9]{4}[BCDFGHJKLMNPRSTVWXYZ]{3}$"),
    "F": (r"^[A-HJ-NP-TV-Z]{2}[0-9]{3}[A-HJ-NP-TV-Z]{2}$",),
    "D": (r"^[A-ZÄÖÜ]{1,3}-?[A-Z]{1,2}-?[1-9][0-9]{0,3}[EH]?$",),
    "IRL": (
        r"^[0-9]{2}[12]?(C|CE|CN|CW|D|DL|G|KE|KK|KY|L|LD|LH|LM|LS|MH|MN|MO|OY|RN|SO|T|W|WH|WX|WW)[0-9]{1,6}$",
    ),
    "H": (r"^[A-Z]{4}[0-9]{3}$", r"^[A-Z]{3}[0-9]{3}$"),
}


def doc_match(text: str, country: str) -> bool:
    return any(re.fullmatch(p, text) for p in DOC_PATTERNS[country])


@pytest.mark.parametrize("g", GRAMMARS, ids=lambda g: f"{g.country}-{g.name}")
def test_generators_produce_valid_marks(g: Grammar) -> None:
    rng = np.random.default_rng(3)
    for _ in range(150):
        lines = g.generate(rng)
        text = re.sub(r"[^A-Z0-9]", "", "".join(lines))
        assert re.fullmatch(g.pattern, text), (lines, text)
        assert doc_match(text, g.country), (g.country, text)
        assert len(lines) == (2 if g.two_line else 1)


@pytest.mark.parametrize("g", GRAMMARS, ids=lambda g: f"{g.country}-{g.name}")
def test_the_reader_knows_every_mark_the_generator_makes(g: Grammar) -> None:
    """The generator's table and the reader's (``vision/anpr/grammars.toml``) are kept apart (one
    draws plates, the other ranks reads): every mark drawn fits a reader grammar of its country.
    (Dutch trailer plates, ``OB-12-DF``, were drawn but fitted only PL on the reader's side.)"""
    grammars = load_grammars(countries=[g.country])
    rng = np.random.default_rng(11)
    for _ in range(200):
        text = re.sub(r"[^A-Z0-9]", "", "".join(g.generate(rng)))
        assert grammars.match(text) is not None, (g.country, g.name, text)


def test_make_plate_every_country_and_role() -> None:
    rng = np.random.default_rng(5)
    for c in COUNTRIES:
        for role in ROLES:
            for _ in range(20):
                p = make_plate(rng, c, role)
                assert re.fullmatch(r"[A-Z0-9]+", p.text)
                assert matches_country(p.text, c) and doc_match(p.text, c)
    uk_rear = make_plate(rng, "UK", "rear", grammar_name="current")
    assert uk_rear.colour == "yellow"
    mark = make_plate(rng, "UK", "trailer_mark", grammar_name="trailer_mark")
    assert mark.two_line and re.fullmatch(r"[A-Z][0-9]{7}", mark.text) and mark.colour == "white"
    assert mark.lines[0] == mark.text[:4] and mark.lines[1] == mark.text[4:]


def test_glyphs_are_distinct_and_inside_their_cells() -> None:
    s = 1.0
    bitmaps = {}
    for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789":
        img = np.zeros((100, 80), np.uint8)
        x0, y0, x1, y1 = glyphs.draw_text(img, ch, 10, 10, s, (255,))
        ys, xs = np.nonzero(img > 127)
        assert len(xs) > 200, ch
        assert xs.min() >= x0 - 1 and xs.max() <= x1 + 1 and ys.min() >= y0 - 1 and ys.max() <= y1 + 1, ch
        bitmaps[ch] = img > 127
    keys = list(bitmaps)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            diff = np.count_nonzero(bitmaps[a] ^ bitmaps[b])
            assert diff > 120, (a, b, diff)


def test_plate_texture_ink_lies_in_text_box_and_background_is_plate_coloured() -> None:
    rng = np.random.default_rng(11)
    for c in COUNTRIES:
        for role in ROLES:
            spec = make_plate(rng, c, role)
            spec = replace(spec, dirt=0.0, wear=0.0)
            tex = render_plate(spec, 1.0, rng)
            img = tex.image
            assert img.shape[2] == 4 and img.dtype == np.uint8
            _, tb = plate_layout(spec)
            assert tb == tex.text_box_mm
            x0, y0, x1, y1 = (round(v) for v in tb)
            grey = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2GRAY)
            rgb = img[..., :3].astype(np.int16)
            neutral = (rgb.max(axis=2) - rgb.min(axis=2)) < 40
            ink = (grey < 70) & neutral & (img[..., 3] > 0)
            inside = np.zeros_like(ink)
            inside[y0 - 2 : y1 + 2, x0 - 2 : x1 + 2] = True
            # border, band text and screws aside, the dark ink of the characters is in the text box
            assert np.count_nonzero(ink & inside) > 0.8 * np.count_nonzero(
                ink & ~_frame_mask(ink.shape, 8)
            ), c
            bg = (
                img[y1 + 2 :, x0:x1, :3].reshape(-1, 3)
                if y1 + 6 < img.shape[0]
                else img[:y0, x0:x1, :3].reshape(-1, 3)
            )
            b, g, r = np.median(bg, axis=0)
            if spec.colour == "white":
                assert min(b, g, r) > 180
            elif spec.colour == "yellow":
                assert r > 180 and g > 150 and b < 90
            else:
                assert r > 150 and g < 90


def _frame_mask(shape: tuple[int, ...], m: int) -> np.ndarray:
    f = np.ones(shape[:2], bool)
    f[m:-m, m:-m] = False
    return f
