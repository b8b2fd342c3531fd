from __future__ import annotations

import numpy as np
import pytest

from vision.types import (
    BBox,
    BodyType,
    Detection,
    DetectionSet,
    Frame,
    Passage,
    PassagePlate,
    PlateRole,
    ReadStatus,
    Side,
    TrailerVerdict,
)


def test_bbox_geometry_and_iou() -> None:
    a = BBox(0, 0, 10, 10)
    b = BBox.from_xywh(5, 5, 10, 10)
    assert a.width_px == 10 and a.height_px == 10 and a.area_px == 100
    assert b.center == (10.0, 10.0)
    assert a.iou(b) == pytest.approx(25 / 175)
    assert a.iou(a) == 1.0
    assert a.iou(BBox(20, 20, 30, 30)) == 0.0
    assert a.intersection_px(b) == 25
    assert a.inside_fraction(b) == pytest.approx(0.25)
    assert BBox(2, 2, 4, 4).inside_fraction(a) == 1.0
    assert BBox(3, 3, 3, 8).inside_fraction(a) == 0.0  # empty box
    assert BBox(-5, -5, 50, 8).clip(40, 20) == BBox(0, 0, 40, 8)
    assert BBox(0.4, 0.6, 9.2, 9.9).as_int() == (0, 0, 10, 10)


def test_bbox_rejects_degenerate() -> None:
    with pytest.raises(ValueError, match="degenerate"):
        BBox(10, 0, 5, 5)


def test_frame_checks_image_layout() -> None:
    f = Frame("lane-1", "cam-front", 1_700_000_000_000, np.zeros((720, 1280, 3), np.uint8))
    assert (f.width_px, f.height_px) == (1280, 720)
    with pytest.raises(ValueError, match="uint8 BGR"):
        Frame("lane-1", "cam", 0, np.zeros((720, 1280), np.uint8))
    with pytest.raises(ValueError, match="uint8 BGR"):
        Frame("lane-1", "cam", 0, np.zeros((720, 1280, 3), np.float32))


def test_detection_set_filters_by_class() -> None:
    ds = DetectionSet(
        (
            Detection(BBox(0, 0, 1, 1), 0, "plate", 0.9),
            Detection(BBox(0, 0, 5, 5), 1, "vehicle", 0.8),
            Detection(BBox(1, 1, 2, 2), 0, "plate", 0.5),
        ),
        1280,
        720,
    )
    plates = ds.of_class("plate")
    assert len(plates) == 2 and all(d.class_name == "plate" for d in plates)
    assert plates.image_width_px == 1280


def test_body_type_sides() -> None:
    assert BodyType.CURTAINSIDER.side is Side.SOFT
    assert BodyType.TILT.side is Side.SOFT
    for hard in (BodyType.BOX, BodyType.REEFER, BodyType.CONTAINER, BodyType.TANKER):
        assert hard.side is Side.HARD
    assert BodyType.FLATBED.side is Side.OTHER
    assert BodyType.UNKNOWN.side is Side.UNKNOWN
    assert TrailerVerdict(BodyType.TILT, 0.9).side is Side.SOFT


def test_passage_read_quality_and_marks() -> None:
    plates = (
        PassagePlate(PlateRole.FRONT, "AB12CDE", 0.97, ReadStatus.COMMITTED),
        PassagePlate(PlateRole.REAR, "WX99ABC", 0.4, ReadStatus.LOW_CONFIDENCE),
        PassagePlate(PlateRole.TRAILER_MARK, "", 0.0, ReadStatus.UNREAD),
    )
    p = Passage("p1", "lane-1", 0, 4000, plates, TrailerVerdict(BodyType.BOX, 0.9, n_looks=5))
    assert p.read_quality == pytest.approx(1 / 3)
    assert list(p.marks()) == ["AB12CDE", "WX99ABC"]
    empty = Passage("p2", "lane-1", 0, 1, (), TrailerVerdict(BodyType.UNKNOWN, 0.0, 0))
    assert empty.read_quality == 0.0
