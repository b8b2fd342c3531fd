"""Multi-object tracking with ByteTrack, behind a small adapter.

ByteTrack comes from Roboflow's ``trackers`` package (supervision's ``sv.ByteTrack`` moved
there; it takes and returns ``supervision.Detections``). The adapter takes boxes as an
``(N, 4)`` float array ``x1, y1, x2, y2`` in any consistent units with confidences in
[0, 1] and a time in milliseconds, and returns one track id per box (``-1``: not tracked).

ByteTrack gives a detection an id only from its second consecutive sighting; the adapter
reports which of the previous update's untracked detections each new track grew from
(:attr:`TrackUpdate.grew_from`), so the pipeline keeps what it saw on a track's first frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from vision.types import BBox

Boxes = npt.NDArray[np.float64]
"""``(N, 4)`` float64 boxes ``x1, y1, x2, y2``."""


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """The result of one :meth:`ByteTracker.update`.

    ``ids[i]`` is the track id of input box ``i`` (``-1`` when untracked); ``grew_from``
    maps a track id seen for the first time to the index (in the *previous* update's input)
    of the untracked detection it started from, when there was one.
    """

    ids: tuple[int, ...]
    grew_from: dict[int, int] = field(default_factory=dict)


def iou_matrix(a: Boxes, b: Boxes) -> npt.NDArray[np.float64]:
    """Pairwise IoU ``(len(a), len(b))`` of two box arrays."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    out: npt.NDArray[np.float64] = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
    return out


def boxes_array(boxes: Sequence[BBox]) -> Boxes:
    """``(N, 4)`` float64 array of boxes."""
    return np.array([(b.x1, b.y1, b.x2, b.y2) for b in boxes], np.float64).reshape(-1, 4)


class ByteTracker:
    """ByteTrack over boxes with time stamps.

    ``lost_ms``: a track not matched for this long is dropped (ByteTrack's lost buffer,
    in time, so it does not depend on the frame rate or on frames the pipeline skips).
    ``activation_confidence``: detections below it do not start tracks;
    ``high_confidence``: ByteTrack's split between its first (high) and second (low)
    association stage; ``min_iou``: least IoU for a match.
    """

    def __init__(
        self,
        *,
        lost_ms: int,
        activation_confidence: float = 0.5,
        high_confidence: float = 0.5,
        min_iou: float = 0.1,
    ) -> None:
        from trackers import ByteTrackTracker  # noqa: PLC0415 - a 1-3 s import, only when tracking

        self._bt: Any = ByteTrackTracker(
            lost_track_buffer=max(1, round(lost_ms * 30 / 1000)),  # ByteTrack counts 30-fps frames
            frame_rate=30.0,
            track_activation_threshold=activation_confidence,
            minimum_consecutive_frames=1,
            minimum_iou_threshold=min_iou,
            high_conf_det_threshold=high_confidence,
        )
        self.min_iou = min_iou
        self._t0_ms: int | None = None
        self._last_ms: int | None = None
        self._untracked: Boxes = np.zeros((0, 4))
        self._untracked_index: list[int] = []

    def alive_ids(self) -> set[int]:
        """Ids of the tracks ByteTrack still holds (matched or lost but not yet dropped)."""
        return {int(t.tracker_id) for t in self._bt.tracks if int(t.tracker_id) >= 0}

    def update(self, boxes: Boxes, confidences: npt.NDArray[np.floating[Any]], ts_ms: int) -> TrackUpdate:
        """Match ``boxes`` (``(N, 4)``) with confidences (``(N,)``) seen at ``ts_ms`` to tracks.

        Times must increase; an equal or earlier time is moved 1 ms after the previous one.
        """
        import supervision as sv  # noqa: PLC0415 - loaded with trackers

        if self._t0_ms is None:
            self._t0_ms = ts_ms
        if self._last_ms is not None and ts_ms <= self._last_ms:
            ts_ms = self._last_ms + 1
        self._last_ms = ts_ms
        before = self.alive_ids()
        n = len(boxes)
        dets = sv.Detections(
            xyxy=np.asarray(boxes, np.float32).reshape(-1, 4),
            confidence=np.asarray(confidences, np.float32).reshape(-1),
            data={"i": np.arange(n)},
        )
        result = self._bt.update(dets, timestamp=(ts_ms - self._t0_ms) / 1000.0)
        ids = [-1] * n
        if len(result) and "i" in result.data:
            for i, tid in zip(result.data["i"], result.tracker_id, strict=True):
                ids[int(i)] = int(tid)
        grew: dict[int, int] = {}
        new_ids = [(i, t) for i, t in enumerate(ids) if t >= 0 and t not in before]
        if new_ids and len(self._untracked):
            fresh = np.asarray(boxes, np.float64).reshape(-1, 4)[[i for i, _ in new_ids]]
            ious = iou_matrix(fresh, self._untracked)
            taken: set[int] = set()
            for row in np.argsort(-ious.max(axis=1)):
                col = int(ious[row].argmax())
                if ious[row, col] >= self.min_iou and col not in taken:
                    taken.add(col)
                    grew[new_ids[row][1]] = self._untracked_index[col]
        untracked = [i for i, t in enumerate(ids) if t < 0]
        self._untracked = np.asarray(boxes, np.float64).reshape(-1, 4)[untracked]
        self._untracked_index = untracked
        return TrackUpdate(tuple(ids), grew)
