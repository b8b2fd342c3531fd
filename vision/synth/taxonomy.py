"""Body types the generator renders and how they map onto classifier classes.

``BODY_TYPES`` lists every body type a synthetic vehicle can have. ``SIDE_OF`` maps each
to ``"soft"`` (easy to enter: curtainsider, tilt), ``"hard"`` (box, reefer, container,
tanker) or ``"other"``. ``CROP_CLASSES`` is the folder list of the trailer-crop data set,
in the order the classifier uses; ``CROP_CLASS_OF`` maps a body type onto it (rigid box
lorry, van and car all become ``"other"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, get_args

from vision.types import BodyType as ProductBodyType

BodyType = Literal[
    "curtainsider",
    "tilt",
    "box",
    "reefer",
    "container",
    "tanker",
    "flatbed",
    "tipper",
    "car_transporter",
    "tractor_only",
    "rigid_box",
    "van",
    "car",
]
Side = Literal["soft", "hard", "other"]

BODY_TYPES: Final[tuple[BodyType, ...]] = get_args(BodyType)

#: Body types that pull a semi-trailer (an articulated lorry).
TRAILER_TYPES: Final[tuple[BodyType, ...]] = BODY_TYPES[:9]
#: Vehicles that are not lorries; rendered as distractors.
DISTRACTOR_TYPES: Final[tuple[BodyType, ...]] = ("van", "car")

SIDE_OF: Final[Mapping[BodyType, Side]] = MappingProxyType(
    {
        "curtainsider": "soft",
        "tilt": "soft",
        "box": "hard",
        "reefer": "hard",
        "container": "hard",
        "tanker": "hard",
        "flatbed": "other",
        "tipper": "other",
        "car_transporter": "other",
        "tractor_only": "other",
        "rigid_box": "other",
        "van": "other",
        "car": "other",
    }
)

CROP_CLASSES: Final[tuple[str, ...]] = tuple(
    b.value for b in ProductBodyType if b is not ProductBodyType.UNKNOWN
)
"""The classifier's classes: the product's body types (``vision.types.BodyType``) but unknown."""

CROP_CLASS_OF: Final[Mapping[BodyType, str]] = MappingProxyType(
    {bt: (bt if bt in CROP_CLASSES else "other") for bt in BODY_TYPES}
)

#: YOLO detection classes, index = class id.
DETECT_CLASSES: Final[tuple[str, ...]] = ("plate", "vehicle", "body")


def is_lorry(body_type: BodyType) -> bool:
    """True for articulated lorries, tractors alone and rigid lorries (not vans or cars)."""
    return body_type not in DISTRACTOR_TYPES
