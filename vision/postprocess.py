"""Post-processing of YOLO outputs into the project's typed objects (the one adapter edge)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from vision.preprocess import Letterbox, undo_letterbox
from vision.types import BBox, Detection, DetectionSet


def decode_yolo_detect(
    output: npt.NDArray[np.float32],
    lb: Letterbox,
    class_names: Sequence[str],
    *,
    conf_threshold: float = 0.25,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> DetectionSet:
    """Decode an ultralytics YOLOv8-style detect output into a :class:`DetectionSet`.

    ``output`` is (1, 4 + n_classes, N): per anchor ``cx, cy, w, h`` in model-input
    pixels then one score per class in [0, 1]. Class-aware NMS; boxes are mapped back to
    the original image with ``lb``; results sorted by confidence, highest first.
    """
    if output.ndim != 3 or output.shape[0] != 1 or output.shape[1] != 4 + len(class_names):
        raise ValueError(f"unexpected detect output shape {output.shape} for {len(class_names)} classes")
    pred = output[0].T  # (N, 4 + nc)
    scores = pred[:, 4:]
    class_ids = scores.argmax(axis=1)
    conf = scores[np.arange(len(pred)), class_ids]
    keep = conf >= conf_threshold
    if not keep.any():
        return DetectionSet((), lb.image_hw[1], lb.image_hw[0])
    pred, class_ids, conf = pred[keep], class_ids[keep], conf[keep]
    cx, cy, w, h = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    xywh = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)
    kept = cv2.dnn.NMSBoxesBatched(
        xywh.tolist(), conf.tolist(), class_ids.tolist(), conf_threshold, iou_threshold
    )
    idx = np.asarray(kept, dtype=np.int64).reshape(-1)
    idx = idx[np.argsort(-conf[idx])][:max_detections]
    boxes = undo_letterbox(xyxy[idx], lb)
    detections = []
    for (x1, y1, x2, y2), c, s in zip(boxes, class_ids[idx], conf[idx], strict=True):
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        detections.append(
            Detection(BBox(float(x1), float(y1), float(x2), float(y2)), int(c), class_names[c], float(s))
        )
    return DetectionSet(tuple(detections), lb.image_hw[1], lb.image_hw[0])


def softmax(logits: npt.NDArray[np.float32], temperature: float = 1.0) -> npt.NDArray[np.float32]:
    """Row-wise softmax of (N, C) logits divided by ``temperature``."""
    z = logits / np.float32(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: npt.NDArray[np.float32] = (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
    return out
