"""Test doubles for the lane pipeline (used by the tests; small and dependency-free): a constant
plate reader, a constant body classifier, scripted detectors, the bundled fixture clip, and
hand-made clip truth files."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path

import numpy as np

from vision.anpr.grammars import GrammarSet, load_grammars
from vision.pipeline.truth import ClipTruthData, TruthDetector, load_clip_truth
from vision.types import (
    BBox,
    BodyType,
    Detection,
    DetectionSet,
    Frame,
    ImageBGR,
    PlateCandidate,
    PlateRead,
    TrailerVerdict,
)

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "fixtures" / "synth" / "clip"
"""The bundled synthetic lane clip (``clip.mp4``, ``truth.json``; 40 frames, 10 fps, two lorries)."""


def write_clip_truth(
    folder: Path,
    crop_classes: Sequence[BodyType],
    objects: Sequence[Sequence[dict[str, object]]],
    *,
    width_px: int = 640,
    height_px: int = 360,
    view: str = "front",
) -> Path:
    """Write a hand-made clip's ``folder/truth.json`` (format ``hgv-lane-synth-clip/1``, 2 fps):
    vehicle ``i + 1`` is of ``crop_classes[i]``; frame ``k`` labels ``objects[k]`` (dicts as in
    the generator's file: ``vehicle_id``, ``box``, ``body_box``, ``plates``). Frame images are
    the caller's. Returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    vehicles: list[dict[str, object]] = [
        {
            "vehicle_id": i + 1,
            "body_type": c.value,
            "side": c.side.value,
            "crop_class": c.value,
            "country": "UK",
            "plates": [],
            "first_frame": 0,
            "last_frame": 0,
        }
        for i, c in enumerate(crop_classes)
    ]
    truth = {
        "format": "hgv-lane-synth-clip/1",
        "seed": 1,
        "view": view,
        "fps": 2.0,
        "width": width_px,
        "height": height_px,
        "n_frames": len(objects),
        "vehicles": vehicles,
        "frames": [{"frame": k, "objects": list(objs)} for k, objs in enumerate(objects)],
    }
    (folder / "truth.json").write_text(json.dumps(truth))
    return folder


def fixture_truth() -> ClipTruthData:
    return load_clip_truth(CLIP / "truth.json")


@cache
def _grammars() -> GrammarSet:
    return load_grammars()


class ConstReader:
    """Reads every crop as ``text`` (at ``confidence``, each character too), with the country
    and format of the first plate grammar it fits (none: not format-valid); counts its calls
    and keeps each crop's height and width (px)."""

    name = "const"

    def __init__(
        self, text: str = "AB12CDE", *, by_height: Callable[[int], str] | None = None, confidence: float = 0.9
    ) -> None:
        self.text = text
        self.by_height = by_height
        self.confidence = confidence
        self.calls = 0
        self.heights: list[int] = []
        self.widths: list[int] = []

    def read(self, crop_bgr: ImageBGR) -> PlateRead:
        self.calls += 1
        h, w = crop_bgr.shape[:2]
        self.heights.append(h)
        self.widths.append(w)
        text = self.by_height(h) if self.by_height else self.text
        g = _grammars().match(text)
        country, fmt = (g.country, g.name) if g is not None else (None, None)
        return PlateRead(
            BBox(0, 0, w, h),
            (PlateCandidate(text, self.confidence, (self.confidence,) * len(text), country, fmt),),
            "const",
        )


class ConstClassifier:
    """Names every body ``body_type`` with confidence 0.8."""

    def __init__(self, body_type: BodyType = BodyType.CURTAINSIDER) -> None:
        self.body_type = body_type
        self.calls = 0

    def classify_body(self, crop: ImageBGR) -> TrailerVerdict:
        self.calls += 1
        return TrailerVerdict(self.body_type, 0.8)


class ScriptedDetector:
    """Returns ``script(frame.index)`` as detections."""

    def __init__(self, script: Callable[[int], list[Detection]]) -> None:
        self.script = script

    def detect(self, frame: Frame) -> DetectionSet:
        return DetectionSet(tuple(self.script(frame.index)), frame.width_px, frame.height_px)


class DroppingTruthDetector(TruthDetector):
    """Ground truth, except that frames in ``gap`` see no vehicle at all (the tracker loses it)."""

    def __init__(self, truth: ClipTruthData, kind: str, gap: range) -> None:
        super().__init__(truth, kind)
        self.gap = gap

    def detect(self, frame: Frame) -> DetectionSet:
        if frame.index in self.gap:
            return DetectionSet((), frame.width_px, frame.height_px)
        return super().detect(frame)


def frames_of(
    images: list[ImageBGR], *, lane: str = "L1", period_ms: int = 40, t0: int = 1_000_000
) -> Iterator[Frame]:
    for i, img in enumerate(images):
        yield Frame(lane, "cam1", t0 + i * period_ms, img, index=i)


def blank(h: int = 72, w: int = 128, value: int = 40) -> ImageBGR:
    return np.full((h, w, 3), value, np.uint8)
