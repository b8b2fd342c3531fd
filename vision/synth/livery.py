"""Fictional hauliers: company names, phone numbers, web addresses and colours.

All names are made up from word lists; UK phone numbers use Ofcom's drama range
(01632 960xxx) so none is real.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .canvas import Colour

_WORDS = (
    "NORTH",
    "SOUTH",
    "EURO",
    "TRANS",
    "CROSS",
    "CHANNEL",
    "BALTIC",
    "ATLAS",
    "ORBIT",
    "KESTREL",
    "FALCON",
    "PENNINE",
    "SEVERN",
    "THAMES",
    "MERIDIAN",
    "POLAR",
    "AURORA",
    "VISTULA",
    "CARPAT",
    "DANUBE",
    "IBERIA",
    "HANSA",
    "RHEIN",
    "LIFFEY",
    "ALBA",
    "MERCIA",
    "WESSEX",
    "NOVA",
    "ZENITH",
    "ARROW",
    "SWIFT",
    "STAR",
)
_SURNAMES = (
    "HARGREAVES",
    "KOWALSKI",
    "NOWAK",
    "POPESCU",
    "IVANOV",
    "KAZLAUSKAS",
    "DE VRIES",
    "GARCIA",
    "MARTIN",
    "SCHMIDT",
    "MURPHY",
    "NAGY",
    "WHITFIELD",
    "ASHWORTH",
    "BRENNAN",
    "JANSEN",
    "MOREAU",
    "WOZNIAK",
    "DUMITRU",
    "PETROV",
    "HOLM",
    "FISCHER",
    "OKAFOR",
    "PRICE",
)
_SUFFIX = {
    "UK": ("HAULAGE LTD", "LOGISTICS", "TRANSPORT LTD", "& SONS", "FREIGHT", "DISTRIBUTION"),
    "PL": ("TRANS SP. Z O.O.", "LOGISTICS", "SPEDYCJA", "TRANSPORT"),
    "RO": ("TRANS SRL", "LOGISTIC SRL", "EXPRES SRL"),
    "BG": ("TRANS EOOD", "LOGISTICS OOD", "EXPRESS"),
    "LT": ("UAB", "TRANSPORTAS", "LOGISTICS"),
    "NL": ("TRANSPORT B.V.", "LOGISTIEK", "INTERNATIONAAL"),
    "E": ("TRANSPORTES S.L.", "LOGISTICA", "S.A."),
    "F": ("TRANSPORTS", "LOGISTIQUE", "SAS"),
    "D": ("SPEDITION GMBH", "LOGISTIK", "TRANSPORTE"),
    "IRL": ("HAULAGE", "TRANSPORT LTD", "FREIGHT"),
    "H": ("TRANS KFT", "LOGISZTIKA", "KFT"),
}
_DIAL = {
    "UK": "+44",
    "PL": "+48",
    "RO": "+40",
    "BG": "+359",
    "LT": "+370",
    "NL": "+31",
    "E": "+34",
    "F": "+33",
    "D": "+49",
    "IRL": "+353",
    "H": "+36",
}
_TLD = {
    "UK": "co.uk",
    "PL": "pl",
    "RO": "ro",
    "BG": "bg",
    "LT": "lt",
    "NL": "nl",
    "E": "es",
    "F": "fr",
    "D": "de",
    "IRL": "ie",
    "H": "hu",
}

PAINTS: tuple[Colour, ...] = (
    (245, 245, 245),
    (240, 240, 238),
    (235, 236, 232),
    (200, 200, 196),
    (40, 40, 200),
    (30, 30, 150),
    (150, 70, 20),
    (110, 40, 10),
    (40, 120, 30),
    (20, 80, 20),
    (0, 140, 240),
    (20, 200, 240),
    (90, 90, 90),
    (30, 30, 30),
    (140, 100, 60),
    (160, 140, 120),
    (60, 60, 120),
    (0, 90, 200),
)
CONTAINER_PAINTS: tuple[Colour, ...] = (
    (150, 95, 30),
    (40, 40, 170),
    (40, 100, 50),
    (130, 130, 130),
    (20, 110, 220),
    (60, 60, 120),
    (200, 200, 200),
    (100, 60, 30),
)


@dataclass(frozen=True)
class Livery:
    """How a body or cab is painted and lettered. Colours are BGR."""

    company: str
    phone: str
    web: str
    base: Colour
    accent: Colour
    text: Colour
    style: int  # 0 plain text, 1 stripe, 2 swoosh, 3 big block, 4 no lettering


def _contrast(c: Colour) -> Colour:
    lum = 0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2]
    return (25, 25, 25) if lum > 140 else (245, 245, 245)


def make_livery(rng: np.random.Generator, country: str, *, base: Colour | None = None) -> Livery:
    """A random fictional haulier livery for a vehicle registered in ``country``."""
    suffixes = _SUFFIX.get(country, _SUFFIX["UK"])
    if rng.random() < 0.5:
        name = (
            f"{_WORDS[int(rng.integers(len(_WORDS)))]}{'' if rng.random() < 0.5 else ' '}"
            f"{_WORDS[int(rng.integers(len(_WORDS)))]}"
        )
    else:
        name = _SURNAMES[int(rng.integers(len(_SURNAMES)))]
    suffix = suffixes[int(rng.integers(len(suffixes)))]
    company = f"{suffix} {name}" if suffix in ("UAB",) else f"{name} {suffix}"
    if country == "UK":
        phone = f"01632 960{int(rng.integers(0, 1000)):03d}"
    else:
        d = rng.integers(0, 10, 9)
        phone = (
            f"{_DIAL.get(country, '+44')} {''.join(map(str, d[:2]))} {''.join(map(str, d[2:5]))} "
            f"{''.join(map(str, d[5:]))}"
        )
    slug = name.lower().replace(" ", "").replace("&", "")
    web = f"www.{slug}.{_TLD.get(country, 'com')}"
    b = base if base is not None else PAINTS[int(rng.integers(len(PAINTS)))]
    acc = PAINTS[int(rng.integers(len(PAINTS)))]
    if sum(abs(a - c) for a, c in zip(acc, b, strict=False)) < 120:
        acc = _contrast(b)
    style = int(rng.choice(5, p=[0.3, 0.25, 0.2, 0.15, 0.1]))
    txt = (
        acc
        if style in (0, 3) and sum(abs(a - c) for a, c in zip(acc, b, strict=False)) > 200
        else _contrast(b)
    )
    return Livery(company=company, phone=phone, web=web, base=b, accent=acc, text=txt, style=style)
