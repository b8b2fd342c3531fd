"""The annotated preview: tracks, plate reads and body types drawn on frames, written as a video
(``mp4v``) or as JPEG frames."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from vision.pipeline.config import RegionOfInterest
from vision.pipeline.lane import FrameResult
from vision.types import Frame, ImageBGR

VEHICLE_COLOUR = (255, 160, 0)  # BGR
PLATE_COLOUR = (0, 220, 255)
GATED_COLOUR = (128, 128, 128)
ROI_COLOUR = (0, 200, 0)


def _label(img: ImageBGR, text: str, x: int, y: int, colour: tuple[int, int, int], scale: float) -> None:
    if not text:
        return
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, scale, 1)
    y = max(th + 2, y)
    cv2.rectangle(img, (x, y - th - base - 2), (x + tw + 4, y), colour, -1)
    cv2.putText(img, text, (x + 2, y - base), font, scale, (0, 0, 0), 1, cv2.LINE_AA)


def annotate(
    frame: Frame, result: FrameResult, *, max_width_px: int = 960, roi: RegionOfInterest | None = None
) -> ImageBGR:
    """A copy of the frame, shrunk to ``max_width_px`` wide, with vehicle tracks (id and body
    type so far), plate tracks (id and current vote, ``?`` when not committed), the region of
    interest when given (green; the whole frame draws none) and a status line."""
    scale = min(1.0, max_width_px / frame.width_px)
    size = (round(frame.width_px * scale), round(frame.height_px * scale))
    img: ImageBGR = (
        np.asarray(cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        if scale < 1.0
        else frame.image.copy()
    )
    fs = 0.45 if scale < 0.8 else 0.6
    if roi is not None and not roi.whole_frame:
        poly = np.round(roi.polygon_px(size[0], size[1])).astype(np.int32)
        cv2.polylines(img, [poly], isClosed=True, color=ROI_COLOUR, thickness=2)
    for v in result.vehicles:
        x1, y1, x2, y2 = (round(c * scale) for c in (v.box.x1, v.box.y1, v.box.x2, v.box.y2))
        cv2.rectangle(img, (x1, y1), (x2, y2), VEHICLE_COLOUR, 2)
        _label(img, f"V{v.track_id} {v.label}".strip(), x1, y1, VEHICLE_COLOUR, fs)
    for p in result.plates:
        x1, y1, x2, y2 = (round(c * scale) for c in (p.box.x1, p.box.y1, p.box.x2, p.box.y2))
        cv2.rectangle(img, (x1, y1), (x2, y2), PLATE_COLOUR, 2)
        _label(img, f"P{p.track_id} {p.label}".strip(), x1, y2 + 16, PLATE_COLOUR, fs)
    state = "gated" if result.gated else ("detect" if result.detected else "track")
    at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(frame.ts_ms / 1000))
    status = f"{frame.lane_id} #{frame.index} {at} {state} {result.ms:.0f} ms"
    if result.passages:
        status += "  passage: " + ", ".join(
            f"{'/'.join(pl.text or '?' for pl in p.plates) or 'no plate'} {p.body.body_type.value}"
            for p in result.passages
        )
    _label(img, status, 4, 20, GATED_COLOUR if result.gated else (255, 255, 255), fs)
    return img


class PreviewWriter:
    """Writes annotated frames to ``path``: a video when it ends in ``.mp4``/``.avi`` (at
    ``fps``), else JPEG files ``NNNNNN.jpg`` in the folder ``path``. ``every`` keeps one frame
    in ``every`` (the preview of a long run stays small)."""

    def __init__(self, path: Path, *, fps: float = 25.0, every: int = 1, max_width_px: int = 960) -> None:
        self.path = path
        self.fps = fps / max(1, every)
        self.every = max(1, every)
        self.max_width_px = max_width_px
        self._writer: cv2.VideoWriter | None = None
        self.written = 0
        self._video = path.suffix.lower() in (".mp4", ".avi")
        (path.parent if self._video else path).mkdir(parents=True, exist_ok=True)

    def __call__(self, frame: Frame, result: FrameResult) -> None:
        if frame.index % self.every:
            return
        img = annotate(frame, result, max_width_px=self.max_width_px)
        if self._video:
            if self._writer is None:
                h, w = img.shape[:2]
                self._writer = cv2.VideoWriter(
                    str(self.path), cv2.VideoWriter.fourcc(*"mp4v"), self.fps, (w, h)
                )
                if not self._writer.isOpened():
                    raise RuntimeError(f"cannot open a video writer for {self.path}")
            self._writer.write(np.ascontiguousarray(img))
        else:
            cv2.imwrite(str(self.path / f"{frame.index:06d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 85])
        self.written += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
