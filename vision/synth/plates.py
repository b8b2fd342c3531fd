"""Plate grammars, plate text generation and plate textures.

The grammars are a table (``GRAMMARS``): one row per country and format, holding the
regular expression the normalised text (upper case A-Z/0-9, no spaces or hyphens) must
match and a generator that produces valid marks with the separators a real plate shows.
Plates are drawn in plate millimetres with the project's own stroke typeface
(:mod:`vision.synth.glyphs`) and returned as a BGRA texture with the ink extent, so the
renderer can warp them with the face they are mounted on and know exactly where the text is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

import cv2
import numpy as np

from . import glyphs

PlateRole = Literal["front", "rear", "trailer_mark"]
PlateColour = Literal["white", "yellow", "red"]

_UK_MEM = "ABCDEFGHJKLMNOPRSTUVWXY"
_UK_RAND = "ABCDEFGHJKLMNOPRSTUVWXYZ"
_UK_PREFIX = "ABCDEFGHJKLMNPRSTVWXY"
_LET = "ABCDEFGHJKLMNPRSTUVWXYZ"
_DIG = "0123456789"
_NL_CONS = "BDFGHJKLNPRSTVXZ"
_E_CONS = "BCDFGHJKLMNPRSTVWXYZ"
_F_LET = "ABCDEFGHJKLMNPQRSTVWXYZ"
_F_NOQ = _F_LET.replace("Q", "")
_BG_LET = "ABEKMHOPCTYX"
_LT_LET = "ABCDEFGHIJKLMNOPRSTUVYZ"
_RO_COUNTIES = [
    "AB",
    "AG",
    "AR",
    "BC",
    "BH",
    "BN",
    "BR",
    "BT",
    "BV",
    "BZ",
    "CJ",
    "CL",
    "CS",
    "CT",
    "CV",
    "DB",
    "DJ",
    "GJ",
    "GL",
    "GR",
    "HD",
    "HR",
    "IF",
    "IL",
    "IS",
    "MH",
    "MM",
    "MS",
    "NT",
    "OT",
    "PH",
    "SB",
    "SJ",
    "SM",
    "SV",
    "TL",
    "TM",
    "TR",
    "VL",
    "VN",
    "VS",
]
_RO_FIRST = "ABCDEFGHJKLMNPRSTUVWXYZ"
_RO_REST = "ABCDEFGHIJKLMNOPRSTUVWXYZ"
_PL_VOIV = "WKPGSDLEBCFNORTZ"
_PL_RES = "ACEFGHJKLMNPRSTUVWXY"
_D_DISTRICTS = (
    "B",
    "HH",
    "M",
    "K",
    "F",
    "S",
    "D",
    "DO",
    "HB",
    "DU",
    "OS",
    "MZ",
    "WOB",
    "LDS",
    "BOR",
    "KLE",
    "ROW",
)
_IRL_COUNTIES = (
    "C",
    "CE",
    "CN",
    "CW",
    "D",
    "DL",
    "G",
    "KE",
    "KK",
    "KY",
    "L",
    "LD",
    "LH",
    "LM",
    "LS",
    "MH",
    "MN",
    "MO",
    "OY",
    "RN",
    "SO",
    "T",
    "W",
    "WH",
    "WX",
    "WW",
)
_NI_CODES = (
    "IA",
    "IB",
    "IG",
    "IJ",
    "IL",
    "IW",
    "JI",
    "JZ",
    "LZ",
    "KZ",
    "MZ",
    "NZ",
    "OI",
    "OZ",
    "PZ",
    "RZ",
    "SZ",
    "UI",
    "UZ",
    "WZ",
    "XI",
    "XZ",
    "YZ",
    "AZ",
    "BZ",
    "CZ",
    "DZ",
    "EZ",
    "FZ",
    "GZ",
    "HZ",
)

#: Countries the generator issues plates for (codes as on the plate's band).
COUNTRIES: Final[tuple[str, ...]] = ("UK", "PL", "RO", "BG", "LT", "NL", "E", "F", "D", "IRL", "H")


def _pick(rng: np.random.Generator, chars: str, n: int = 1) -> str:
    return "".join(chars[int(i)] for i in rng.integers(0, len(chars), n))


def _num(rng: np.random.Generator, lo_digits: int, hi_digits: int, *, leading_nonzero: bool = True) -> str:
    n = int(rng.integers(lo_digits, hi_digits + 1))
    first = _pick(rng, "123456789" if leading_nonzero else _DIG)
    return first + _pick(rng, _DIG, n - 1)


def _uk_current(rng: np.random.Generator) -> tuple[str, ...]:
    yy = int(rng.integers(2, 26))
    age = yy if rng.random() < 0.5 or yy == 25 else yy + 50
    if age < 10 and age + 50 <= 99 and rng.random() < 0.5:
        age += 50
    return (f"{_pick(rng, _UK_MEM, 2)}{age:02d} {_pick(rng, _UK_RAND, 3)}",)


def _uk_prefix(rng: np.random.Generator) -> tuple[str, ...]:
    return (f"{_pick(rng, _UK_PREFIX)}{_num(rng, 1, 3)} {_pick(rng, _LET, 3)}",)


def _uk_suffix(rng: np.random.Generator) -> tuple[str, ...]:
    return (f"{_pick(rng, _LET, 3)} {_num(rng, 1, 3)}{_pick(rng, _UK_PREFIX)}",)


def _uk_dateless(rng: np.random.Generator) -> tuple[str, ...]:
    letters = _pick(rng, _LET, int(rng.integers(1, 4)))
    digits = _num(rng, 1, 4)
    return (f"{letters} {digits}",) if rng.random() < 0.6 else (f"{digits} {letters}",)


def _uk_ni(rng: np.random.Generator) -> tuple[str, ...]:
    code = _NI_CODES[int(rng.integers(len(_NI_CODES)))]
    lead = _pick(rng, "ABCDEFGHKLMNPRSTUVWXY") if rng.random() < 0.7 else ""
    return (f"{lead}{code} {_num(rng, 1, 4)}",)


def _uk_trailer(rng: np.random.Generator) -> tuple[str, ...]:
    d = _pick(rng, _DIG, 7)
    return (f"{_pick(rng, _LET)}{d[:3]}", d[3:])


def _pl(rng: np.random.Generator) -> tuple[str, ...]:
    if rng.random() < 0.5:
        area = _pick(rng, _PL_VOIV) + _pick(rng, _PL_RES)
        rest = _pick(rng, "123456789") + (
            _pick(rng, _DIG, 3)
            if rng.random() < 0.4
            else _pick(rng, _DIG, int(rng.integers(2, 4))) + _pick(rng, _PL_RES)
        )
    else:
        area = _pick(rng, _PL_VOIV) + _pick(rng, _PL_RES, 2)
        n = int(rng.integers(4, 6))
        rest = _pick(rng, _DIG, n - 1) + (_pick(rng, _PL_RES) if rng.random() < 0.5 else _pick(rng, _DIG))
    return (f"{area} {rest}",)


def _ro(rng: np.random.Generator) -> tuple[str, ...]:
    letters = _pick(rng, _RO_FIRST) + _pick(rng, _RO_REST.replace("Q", ""), 2)
    if rng.random() < 0.25:
        return (f"B {_num(rng, 2, 3, leading_nonzero=False)} {letters}",)
    county = _RO_COUNTIES[int(rng.integers(len(_RO_COUNTIES)))]
    return (f"{county} {_pick(rng, _DIG, 2)} {letters}",)


def _bg(rng: np.random.Generator) -> tuple[str, ...]:
    return (
        f"{_pick(rng, _BG_LET, int(rng.integers(1, 3)))} {_pick(rng, _DIG, 4)} "
        f"{_pick(rng, _BG_LET, int(rng.integers(1, 3)))}",
    )


def _lt(rng: np.random.Generator) -> tuple[str, ...]:
    return (
        f"{_pick(rng, _LT_LET.replace('Q', '').replace('W', '').replace('X', ''), 3)} {_pick(rng, _DIG, 3)}",
    )


def _nl(rng: np.random.Generator) -> tuple[str, ...]:
    c = _NL_CONS
    forms = (
        lambda: f"{_pick(rng, 'BV')}{_pick(rng, c)}-{_pick(rng, _DIG, 3)}-{_pick(rng, c)}",
        lambda: f"{_pick(rng, 'BV')}-{_pick(rng, _DIG, 3)}-{_pick(rng, c, 2)}",
        lambda: f"{_pick(rng, _DIG, 2)}-{_pick(rng, 'BV')}{_pick(rng, c, 2)}-{_pick(rng, _DIG)}",
        lambda: f"{_pick(rng, _DIG)}-{_pick(rng, 'BV')}{_pick(rng, c, 2)}-{_pick(rng, _DIG, 2)}",
        lambda: f"O{_pick(rng, c)}-{_pick(rng, _DIG, 2)}-{_pick(rng, c, 2)}",
        lambda: f"W{_pick(rng, c)}-{_pick(rng, _DIG, 2)}-{_pick(rng, c, 2)}",
    )
    return (forms[int(rng.integers(len(forms)))](),)


def _e(rng: np.random.Generator) -> tuple[str, ...]:
    return (f"{_pick(rng, _DIG, 4)} {_pick(rng, _E_CONS, 3)}",)


def _e_trailer(rng: np.random.Generator) -> tuple[str, ...]:
    return (f"R {_pick(rng, _DIG, 4)} {_pick(rng, _E_CONS, 3)}",)


def _f(rng: np.random.Generator) -> tuple[str, ...]:
    return (f"{_pick(rng, _F_NOQ, 2)}-{_pick(rng, _DIG, 3)}-{_pick(rng, _F_NOQ, 2)}",)


def _d_parts(rng: np.random.Generator) -> tuple[str, str, str]:
    district = _D_DISTRICTS[int(rng.integers(len(_D_DISTRICTS)))]
    letters = _pick(rng, "ABCDEFGHJKLMNPRSTUVWXYZ", int(rng.integers(1, 3)))
    max_digits = max(1, min(4, 8 - len(district) - len(letters)))
    digits = _num(rng, 1, max_digits)
    return district, letters, digits


def _d(rng: np.random.Generator) -> tuple[str, ...]:
    district, letters, digits = _d_parts(rng)
    return (f"{district} {letters} {digits}",)


def _d_two(rng: np.random.Generator) -> tuple[str, ...]:
    district, letters, digits = _d_parts(rng)
    return (f"{district} {letters}", digits)


def _pl_two(rng: np.random.Generator) -> tuple[str, ...]:
    area, rest = _pl(rng)[0].split(" ")
    return (area, rest)


def _irl(rng: np.random.Generator) -> tuple[str, ...]:
    yy = int(rng.integers(0, 26))
    half = _pick(rng, "12") if yy >= 13 else ""
    county = _IRL_COUNTIES[int(rng.integers(len(_IRL_COUNTIES)))]
    return (f"{yy:02d}{half}-{county}-{_num(rng, 1, 5)}",)


def _h(rng: np.random.Generator) -> tuple[str, ...]:
    if rng.random() < 0.5:
        return (
            f"{_pick(rng, 'ABCDEFGHIJKLMNOPRSTUVWXYZ', 2)} {_pick(rng, 'ABCDEFGHIJKLMNOPRSTUVWXYZ', 2)}-"
            f"{_pick(rng, _DIG, 3)}",
        )
    return (f"{_pick(rng, 'ABCDEFGHIJKLMNOPRSTUVWXYZ', 3)}-{_pick(rng, _DIG, 3)}",)


@dataclass(frozen=True)
class Grammar:
    """One plate format: country, name, regex of the normalised text, and a generator.

    ``generate(rng)`` returns the display lines (with spaces/hyphens as printed); a
    one-line plate has one entry, a two-line plate two (top first).
    """

    country: str
    name: str
    pattern: str
    generate: Callable[[np.random.Generator], tuple[str, ...]]
    two_line: bool = False
    colour: PlateColour = "white"


GRAMMARS: Final[tuple[Grammar, ...]] = (
    Grammar(
        "UK", "current", r"^[A-HJ-PR-Y]{2}(0[2-9]|[1-4][0-9]|5[1-9]|[6-9][0-9])[A-HJ-PR-Z]{3}$", _uk_current
    ),
    Grammar("UK", "prefix", r"^[A-HJ-NPR-TV-Y][1-9][0-9]{0,2}[A-Z]{3}$", _uk_prefix),
    Grammar("UK", "suffix", r"^[A-Z]{3}[1-9][0-9]{0,2}[A-HJ-NPR-TV-Y]$", _uk_suffix),
    Grammar("UK", "dateless", r"^([A-Z]{1,3}[1-9][0-9]{0,3}|[1-9][0-9]{0,3}[A-Z]{1,3})$", _uk_dateless),
    Grammar("UK", "ni", r"^[A-Z]?([A-HJ-Y]Z|I[A-Z]|[A-Z]I)[1-9][0-9]{0,3}$", _uk_ni),
    Grammar("UK", "trailer_mark", r"^[A-Z][0-9]{7}$", _uk_trailer, two_line=True),
    Grammar("PL", "current", r"^([A-Z]{2}[0-9][0-9A-Z]{3,4}|[A-Z]{3}[0-9A-Z]{4,5})$", _pl),
    Grammar(
        "PL", "two_line", r"^([A-Z]{2}[0-9][0-9A-Z]{3,4}|[A-Z]{3}[0-9A-Z]{4,5})$", _pl_two, two_line=True
    ),
    Grammar("RO", "current", r"^(B[0-9]{2,3}|[A-Z]{2}[0-9]{2})[A-HJ-NPR-Z][A-PR-Z]{2}$", _ro),
    Grammar("BG", "current", r"^[ABEKMHOPCTYX]{1,2}[0-9]{4}[ABEKMHOPCTYX]{1,2}$", _bg),
    Grammar("LT", "current", r"^[A-PR-VYZ]{3}[0-9]{3}$", _lt),
    Grammar(
        "NL",
        "sidecode",
        r"^([BDFGHJKLNPRSTVXZ]{2}[0-9]{3}[BDFGHJKLNPRSTVXZ]|[BDFGHJKLNPRSTVXZ][0-9]{3}[BDFGHJKLNPRSTVXZ]{2}"
        r"|[0-9]{2}[BDFGHJKLNPRSTVXZ]{3}[0-9]|[0-9][BDFGHJKLNPRSTVXZ]{3}[0-9]{2}|[OW][BDFGHJKLNPRSTVXZ][0-9]{2}"
        r"[BDFGHJKLNPRSTVXZ]{2})$",
        _nl,
        colour="yellow",
    ),
    Grammar("E", "current", r"^[0-9]{4}[BCDFGHJKLMNPRSTVWXYZ]{3}$", _e),
    Grammar("E", "trailer", r"^R[0-9]{4}[BCDFGHJKLMNPRSTVWXYZ]{3}$", _e_trailer, colour="red"),
    Grammar("F", "current", r"^[A-HJ-NP-TV-Z]{2}[0-9]{3}[A-HJ-NP-TV-Z]{2}$", _f),
    Grammar("D", "current", r"^[A-Z]{1,3}[A-Z]{1,2}[1-9][0-9]{0,3}[EH]?$", _d),
    Grammar("D", "two_line", r"^[A-Z]{1,3}[A-Z]{1,2}[1-9][0-9]{0,3}[EH]?$", _d_two, two_line=True),
    Grammar(
        "IRL",
        "current",
        r"^(8[7-9]|9[0-9]|0[0-9]|1[0-2]|(1[3-9]|2[0-9])[12])(C|CE|CN|CW|D|DL|G|KE|KK|KY|L|LD|LH|LM|LS|MH|MN|MO|OY|RN|SO|T|W|WH|WX|WW)[0-9]{1,6}$",
        _irl,
    ),
    Grammar("H", "current", r"^([A-Z]{4}[0-9]{3}|[A-Z]{3}[0-9]{3})$", _h),
)


def grammars_for(country: str) -> tuple[Grammar, ...]:
    """All grammar rows of one country."""
    return tuple(g for g in GRAMMARS if g.country == country)


def grammar(country: str, name: str) -> Grammar:
    """The grammar row ``(country, name)``; raises ``KeyError`` if there is none."""
    for g in GRAMMARS:
        if g.country == country and g.name == name:
            return g
    raise KeyError(f"{country}/{name}")


def normalise(text: str) -> str:
    """Upper-case and drop everything that is not A-Z or 0-9."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def matches_country(text: str, country: str) -> bool:
    """True if normalised ``text`` fits any grammar of ``country``."""
    return any(re.fullmatch(g.pattern, text) for g in grammars_for(country))


@dataclass(frozen=True)
class PlateSpec:
    """A plate to draw: what it says and how it looks.

    ``lines`` are the printed lines (with group spaces and hyphens); ``text`` is the
    normalised mark (A-Z/0-9). ``colour`` is the background colour name.
    """

    text: str
    lines: tuple[str, ...]
    country: str
    grammar: str
    role: PlateRole
    colour: PlateColour
    band: bool
    dirt: float  # 0 clean .. 1 filthy
    wear: float  # 0 new .. 1 faded
    two_line: bool


def make_plate(
    rng: np.random.Generator,
    country: str,
    role: PlateRole,
    *,
    grammar_name: str | None = None,
    two_line: bool = False,
    lines: tuple[str, ...] | None = None,
) -> PlateSpec:
    """Draw a random valid plate of ``country`` for a given mount ``role``.

    With ``lines`` the text is reused (e.g. a UK trailer's rear plate repeats the tractor's).
    """
    if grammar_name is None:
        rows = [g for g in grammars_for(country) if g.two_line == two_line and g.colour != "red"]
        if country == "UK" and role != "trailer_mark":
            rows = [g for g in rows if g.name != "trailer_mark"]
            weights = np.array(
                [
                    {"current": 8.0, "prefix": 1.0, "suffix": 0.4, "dateless": 0.4, "ni": 0.8}[g.name]
                    for g in rows
                ]
            )
            g = rows[int(rng.choice(len(rows), p=weights / weights.sum()))]
        else:
            g = rows[int(rng.integers(len(rows)))]
    else:
        g = grammar(country, grammar_name)
    shown = lines if lines is not None else g.generate(rng)
    text = normalise("".join(shown))
    if not re.fullmatch(g.pattern, text):
        raise AssertionError(f"generator for {country}/{g.name} produced {text!r}")
    colour: PlateColour = g.colour
    if country == "UK" and role == "rear":
        colour = "yellow"
    band = country != "UK" or (role != "trailer_mark" and rng.random() < 0.35)
    return PlateSpec(
        text=text,
        lines=tuple(shown),
        country=country,
        grammar=g.name,
        role=role,
        colour=colour,
        band=band,
        dirt=float(rng.beta(1.2, 4.0)),
        wear=float(rng.beta(1.2, 5.0)),
        two_line=len(shown) > 1,
    )


def plate_size_mm(spec: PlateSpec) -> tuple[float, float]:
    """Physical plate size (width, height) in mm."""
    if spec.role == "trailer_mark":
        return 285.0, 210.0
    if spec.two_line:
        return 340.0, 210.0
    if spec.country == "UK":
        return 520.0, 111.0
    return 520.0, 110.0


_BG: Final[dict[str, tuple[int, int, int]]] = {
    "white": (238, 240, 240),
    "yellow": (10, 196, 250),
    "red": (40, 35, 200),
}
_EU_BLUE: Final = (150, 60, 5)


@dataclass(frozen=True)
class PlateTexture:
    """A drawn plate.

    ``image``: BGRA uint8 (H, W, 4), alpha 0 outside the rounded plate outline.
    ``px_per_mm``: texture scale. ``text_box_mm``: (x0, y0, x1, y1) of the registration's
    character cells in plate mm (origin top-left). ``size_mm``: (width, height).
    """

    image: np.ndarray
    px_per_mm: float
    text_box_mm: tuple[float, float, float, float]
    size_mm: tuple[float, float]


def _star(img: np.ndarray, cx: float, cy: float, r: float, colour: tuple[int, ...]) -> None:
    pts = []
    for k in range(10):
        a = -math.pi / 2 + k * math.pi / 5
        rr = r if k % 2 == 0 else r * 0.42
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    cv2.fillPoly(img, [np.round(np.array(pts) * 16).astype(np.int32)], colour, cv2.LINE_AA, 4)


@dataclass(frozen=True)
class LineLayout:
    """One printed line: text, top-left of its first character cell (mm), character height (mm), squeeze."""

    text: str
    x_mm: float
    y_mm: float
    height_mm: float
    width_scale: float


def plate_layout(spec: PlateSpec) -> tuple[tuple[LineLayout, ...], tuple[float, float, float, float]]:
    """Where the registration's lines go, and the box (x0, y0, x1, y1, mm) of their character cells."""
    w_mm, h_mm = plate_size_mm(spec)
    x_text0 = (45.0 if not spec.two_line else 48.0) + 8.0 if spec.band else 12.0
    x_text1 = w_mm - 12.0 if spec.country != "F" else w_mm - 51.0
    avail = x_text1 - x_text0
    n = len(spec.lines)
    char_h = 79.0 if spec.country == "UK" else 75.0
    out: list[LineLayout] = []
    if n == 1:
        char_h = min(char_h, h_mm - 28.0)
        tw = glyphs.text_width_mm(spec.lines[0]) * char_h / glyphs.CHAR_H_MM
        ws = min(1.0, avail / tw)
        out.append(
            LineLayout(spec.lines[0], x_text0 + (avail - tw * ws) / 2, (h_mm - char_h) / 2, char_h, ws)
        )
    else:
        gap = 14.0
        char_h = min(char_h, (h_mm - 24.0 - gap) / 2)
        y = (h_mm - 2 * char_h - gap) / 2
        for line in spec.lines:
            tw = glyphs.text_width_mm(line) * char_h / glyphs.CHAR_H_MM
            ws = min(1.0, avail / tw)
            out.append(LineLayout(line, x_text0 + (avail - tw * ws) / 2, y, char_h, ws))
            y += char_h + gap
    boxes = [
        (
            ll.x_mm,
            ll.y_mm,
            ll.x_mm + glyphs.text_width_mm(ll.text) * ll.height_mm / glyphs.CHAR_H_MM * ll.width_scale,
            ll.y_mm + ll.height_mm,
        )
        for ll in out
    ]
    tb = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    return tuple(out), tb


def render_plate(spec: PlateSpec, px_per_mm: float, rng: np.random.Generator) -> PlateTexture:
    """Draw ``spec`` at ``px_per_mm`` (texture pixels per plate millimetre).

    Details that vary (screw positions, dirt pattern, slight ink variation) come from ``rng``.
    """
    w_mm, h_mm = plate_size_mm(spec)
    s = px_per_mm
    w_px, h_px = max(8, round(w_mm * s)), max(4, round(h_mm * s))
    img = np.zeros((h_px, w_px, 4), np.uint8)
    bg = _BG[spec.colour]
    r_px = max(1, round(8 * s))
    # rounded plate outline
    cv2.rectangle(img, (r_px, 0), (w_px - 1 - r_px, h_px - 1), (*bg, 255), -1)
    cv2.rectangle(img, (0, r_px), (w_px - 1, h_px - 1 - r_px), (*bg, 255), -1)
    for cx, cy in (
        (r_px, r_px),
        (w_px - 1 - r_px, r_px),
        (r_px, h_px - 1 - r_px),
        (w_px - 1 - r_px, h_px - 1 - r_px),
    ):
        cv2.circle(img, (cx, cy), r_px, (*bg, 255), -1, cv2.LINE_AA)
    ink = (25, 25, 25, 255) if spec.colour != "red" else (20, 20, 20, 255)
    border = max(1, round(3 * s))
    if spec.country != "UK" or rng.random() < 0.5:
        cv2.rectangle(img, (border, border), (w_px - 1 - border, h_px - 1 - border), ink, border)
    x_text0 = 12.0
    band_w = 0.0
    if spec.band:
        band_w = 45.0 if not spec.two_line else 48.0
        b0 = round(border * 1.5)
        band_col = _EU_BLUE if spec.country != "UK" or rng.random() < 0.5 else (60, 110, 0)
        cv2.rectangle(img, (b0, b0), (round(band_w * s), h_px - 1 - b0), (*band_col, 255), -1)
        # ring of 12 stars (approximation of the EU emblem)
        ccx, ccy, rr = band_w / 2 + 1, 30.0 if not spec.two_line else 45.0, 14.0
        if spec.country != "UK":
            for k in range(12):
                a = 2 * math.pi * k / 12
                _star(
                    img,
                    (ccx + rr * math.cos(a)) * s,
                    (ccy + rr * math.sin(a)) * s,
                    2.8 * s,
                    (0, 215, 255, 255),
                )
        code = spec.country
        fs = (0.95 if len(code) <= 2 else 0.7) * s * 1.15
        th = max(1, round(4.0 * s))
        (tw, _tht), _ = cv2.getTextSize(code, cv2.FONT_HERSHEY_DUPLEX, fs, th)
        by = (h_mm - 14.0) * s if not spec.two_line else (h_mm - 30.0) * s
        cv2.putText(
            img,
            code,
            (round(band_w * s / 2 - tw / 2 + 2 * s), round(by)),
            cv2.FONT_HERSHEY_DUPLEX,
            fs,
            (255, 255, 255, 255),
            th,
            cv2.LINE_AA,
        )
        x_text0 = band_w + 8.0
    w_mm - 12.0
    if spec.country == "F":
        # regional identifier band on the right (not part of the mark)
        fb = w_mm - 45.0
        cv2.rectangle(
            img,
            (int(fb * s), int(border * 1.5)),
            (w_px - 1 - int(border * 1.5), h_px - 1 - int(border * 1.5)),
            (*_EU_BLUE, 255),
            -1,
        )
        dep = f"{int(rng.integers(1, 96)):02d}"
        (tw, _), _ = cv2.getTextSize(dep, cv2.FONT_HERSHEY_DUPLEX, 1.1 * s, max(1, int(4 * s)))
        cv2.putText(
            img,
            dep,
            (int((fb + 22.5) * s - tw / 2), int((h_mm - 16) * s)),
            cv2.FONT_HERSHEY_DUPLEX,
            1.1 * s,
            (255, 255, 255, 255),
            max(1, int(4 * s)),
            cv2.LINE_AA,
        )
        fb - 6.0
    fade = round(spec.wear * 70)
    ink_c = (25 + fade, 25 + fade, 25 + fade, 255)
    layout, tb = plate_layout(spec)
    for ll in layout:
        glyphs.draw_text(
            img, ll.text, ll.x_mm, ll.y_mm, s, ink_c, height_mm=ll.height_mm, width_scale=ll.width_scale
        )
    n = len(layout)
    # screws
    if rng.random() < 0.8:
        sc = (
            (200, 200, 200, 255)
            if rng.random() < 0.5
            else (bg[0] // 2 + 40, bg[1] // 2 + 40, bg[2] // 2 + 40, 255)
        )
        ys = h_mm / 2 if n == 1 else 12.0
        for xs in (x_text0 + 4.0 if n == 1 else w_mm * 0.3, w_mm - 16.0 if n == 1 else w_mm * 0.7):
            if tb[0] - 6 < xs < tb[2] + 6 and n == 1:
                continue
            cv2.circle(img, (int(xs * s), int(ys * s)), max(1, int(4.5 * s)), sc, -1, cv2.LINE_AA)
    # dirt: low-frequency brownish blotches + darker bottom edge
    if spec.dirt > 0.05:
        lo = rng.random((max(2, h_px // 24 + 2), max(2, w_px // 24 + 2))).astype(np.float32)
        field = cv2.resize(lo, (w_px, h_px), interpolation=cv2.INTER_CUBIC)
        grad = np.linspace(0.3, 1.0, h_px, dtype=np.float32)[:, None]
        amt = np.clip(field * grad * spec.dirt * 0.9, 0, 0.8)[..., None]
        dirt_col = np.array([40, 60, 80], np.float32)
        rgb = img[..., :3].astype(np.float32)
        img[..., :3] = np.clip(rgb * (1 - amt) + dirt_col * amt, 0, 255).astype(np.uint8)
    return PlateTexture(image=img, px_per_mm=s, text_box_mm=tb, size_mm=(w_mm, h_mm))


PlateFactory = Callable[[np.random.Generator, str, PlateRole], PlateSpec]


def char_cells(spec: PlateSpec) -> list[tuple[float, float, float, float]]:
    """The character cells ``(x0, y0, x1, y1)`` (plate mm) of every line, top line first."""
    lines, _ = plate_layout(spec)
    return [
        cell
        for ll in lines
        for cell in glyphs.char_cells_mm(
            ll.text, ll.x_mm, ll.y_mm, height_mm=ll.height_mm, width_scale=ll.width_scale
        )
    ]
