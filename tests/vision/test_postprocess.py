from __future__ import annotations

import numpy as np
import pytest

from vision.postprocess import decode_yolo_detect, softmax
from vision.preprocess import Letterbox

NAMES = ("plate", "vehicle", "body")


def _output(rows: list[tuple[float, float, float, float, int, float]], n_anchors: int = 50) -> np.ndarray:
    """Fake (1, 4 + nc, N) YOLO output with given anchors; the rest score zero."""
    out = np.zeros((1, 4 + len(NAMES), n_anchors), np.float32)
    for i, (cx, cy, w, h, cls, score) in enumerate(rows):
        out[0, :4, i] = (cx, cy, w, h)
        out[0, 4 + cls, i] = score
    return out


def test_decode_maps_back_and_suppresses_duplicates() -> None:
    lb = Letterbox(scale=0.5, pad_x_px=0.0, pad_y_px=20.0, input_hw=(320, 320), image_hw=(600, 640))
    out = _output(
        [
            (100, 120, 40, 20, 0, 0.9),  # plate
            (101, 121, 40, 20, 0, 0.6),  # duplicate plate, suppressed
            (101, 121, 40, 20, 1, 0.7),  # same place, other class: kept (class-aware NMS)
            (200, 200, 10, 10, 2, 0.1),  # below threshold
        ]
    )
    ds = decode_yolo_detect(out, lb, NAMES, conf_threshold=0.25, iou_threshold=0.5)
    assert [d.class_name for d in ds] == ["plate", "vehicle"]
    plate = ds.detections[0]
    assert plate.confidence == pytest.approx(0.9)
    assert (plate.box.x1, plate.box.y1, plate.box.x2, plate.box.y2) == pytest.approx((160, 180, 240, 220))
    assert (ds.image_width_px, ds.image_height_px) == (640, 600)


def test_decode_empty_and_bad_shape() -> None:
    lb = Letterbox(1.0, 0.0, 0.0, (64, 64), (64, 64))
    assert len(decode_yolo_detect(_output([]), lb, NAMES)) == 0
    with pytest.raises(ValueError, match="unexpected detect output shape"):
        decode_yolo_detect(np.zeros((1, 6, 10), np.float32), lb, NAMES)


def test_softmax_temperature() -> None:
    logits = np.array([[2.0, 0.0]], np.float32)
    p1 = softmax(logits)
    p2 = softmax(logits, temperature=2.0)
    assert p1.sum() == pytest.approx(1.0) and p2.sum() == pytest.approx(1.0)
    assert p1[0, 0] > p2[0, 0] > 0.5
