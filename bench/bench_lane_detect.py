"""Plate detection on lane-camera frames: what share of the labelled plates the plate detector
finds where the lane uses it.

``hgv-lane eval plates`` measures detection on photographs; a lane camera's plates are
smaller, blurred by motion, often two-line trailer marks, and shrink as the lorry drives away.
This runs the configured plate detector, as the lane runs it (the whole frame, areas shrunk,
detections from the lane's ``plate_min_confidence``), on every ``--every``-th frame of rendered
clips and counts a labelled plate found when a detection overlaps it with IoU >= ``--iou``.
It prints recall overall, by the plate's height in the frame (8-px bands) and by role (front,
rear, trailer mark), and the detections that overlap no labelled plate (the generator labels
plates at least 12 px high, 80 % visible and 90 % in frame, so some of these are real plates
too small or hidden to be labelled).

Clips: the cached ``bench pipeline`` clips (``--seed`` / ``--clips``, rendered on first use) or
every clip under ``--clips-under DIR`` (``data/bench/clips`` holds the ``bench lane`` sets too;
side cameras are skipped: they read no plates).

Usage: ``.venv/bin/python bench/bench_lane_detect.py [--seed 5100 --clips 4 | --clips-under DIR]
[--every 2] [--iou 0.3] [--json]``; with ``--json`` one JSON object as the last line. The model
comes from the settings (``HGV_LANE_MODELS__DIR`` points at a candidate's copy).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from api.settings import get_settings
from vision.detector import YoloDetector
from vision.pipeline.bench import benchmark_clips
from vision.pipeline.config import TrackingConfig
from vision.pipeline.truth import load_clip_truth
from vision.types import BBox

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lane_plates import (  # a sibling script: bench/ is not a package
    clip_folders,
    clip_frames,
    height_band,
)


def matched(truth_boxes: list[BBox], found: list[BBox], min_iou: float) -> tuple[list[bool], int]:
    """Which truth boxes a detection covers (greedy by IoU, each detection used once, IoU at
    least ``min_iou``) and how many detections cover none."""
    pairs = sorted(
        ((t.iou(d), i, j) for i, t in enumerate(truth_boxes) for j, d in enumerate(found)),
        reverse=True,
    )
    hit = [False] * len(truth_boxes)
    used = [False] * len(found)
    for iou, i, j in pairs:
        if iou < min_iou:
            break
        if not hit[i] and not used[j]:
            hit[i] = used[j] = True
    return hit, used.count(False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=5100, help="seed of the first clip (default 5100)")
    parser.add_argument("--clips", type=int, default=4, help="number of clips (default 4)")
    parser.add_argument(
        "--clips-under", type=Path, action="append", default=None, help="every clip under this folder"
    )
    parser.add_argument("--every", type=int, default=2, help="use every Nth frame (default 2)")
    parser.add_argument("--iou", type=float, default=0.3, help="IoU that counts a plate found (0.3)")
    parser.add_argument(
        "--conf",
        type=float,
        default=TrackingConfig().plate_min_confidence,
        help=f"lowest detection kept (default the lane's, {TrackingConfig().plate_min_confidence})",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.every < 1 or args.clips < 1 or not 0.0 < args.iou <= 1.0:
        parser.error("--every and --clips must be at least 1, --iou in (0, 1]")
    settings = get_settings()
    path = settings.models.path(settings.models.plate_detector)
    if not Path(path).is_file():
        print(f"error: no plate detector at {path}", file=sys.stderr)
        return 1
    detector = YoloDetector(path, settings.runtime.providers, conf_threshold=args.conf, shrink_by_area=True)
    if args.clips_under:
        folders = [f for root in args.clips_under for f in clip_folders(root)]
        if not folders:
            print("error: no clip folders (truth.json with clip.mp4 or frames/) there", file=sys.stderr)
            return 1
    else:
        cache = settings.data_dir / "bench" / "clips"
        folders = [c.folder for c in benchmark_clips(cache, n_clips=args.clips, seed=args.seed)]
    n: Counter[str] = Counter()  # labelled plates per key ("all", "h16-23", "role:rear")
    hits: Counter[str] = Counter()
    stray = frames = clips = 0
    ms: list[float] = []
    for folder in folders:
        truth = load_clip_truth(folder / "truth.json")
        if truth.view == "side":
            continue
        clips += 1
        for index, frame in enumerate(clip_frames(folder)):
            if index % args.every or index >= len(truth.frames):
                continue
            labelled = [(role, box) for obj in truth.frames[index] for role, _, box in obj.plates]
            t0 = time.perf_counter()
            found = [d.box for d in detector.detect(frame).of_class("plate")]
            ms.append((time.perf_counter() - t0) * 1000.0)
            frames += 1
            hit, unmatched = matched([b for _, b in labelled], found, args.iou)
            stray += unmatched
            for (role, box), h in zip(labelled, hit, strict=True):
                for key in ("all", f"h{height_band(int(box.height_px))}", f"role:{role}"):
                    n[key] += 1
                    hits[key] += h

    def share(key: str) -> float | None:
        return round(hits[key] / n[key], 4) if n[key] else None

    bands = sorted((k for k in n if k.startswith("h")), key=lambda k: int(k[1:].split("-")[0].rstrip("+")))
    result = {
        "clips": clips,
        "frames": frames,
        "plates": n["all"],
        "recall": share("all"),
        "by_height_px": {k[1:]: {"n": n[k], "recall": share(k)} for k in bands},
        "by_role": {k[5:]: {"n": n[k], "recall": share(k)} for k in sorted(n) if k.startswith("role:")},
        "unmatched_detections": stray,
        "unmatched_per_frame": round(stray / frames, 4) if frames else None,
        "ms_per_frame_p50": round(float(np.median(ms)), 2) if ms else None,
        "model": str(path),
    }
    print(f"{n['all']} labelled plates in {frames} frames of {clips} clips (every {args.every}th frame)")
    if n["all"]:
        print(f"found {hits['all']} = {hits['all'] / n['all']:.3f}; detections on no labelled plate: {stray}")
        for k in bands:
            print(f"  height {k[1:]:>5} px: {n[k]:5d} plates, recall {hits[k] / n[k]:.3f}")
        for k in sorted(n):
            if k.startswith("role:"):
                print(f"  {k[5:]:>12}: {n[k]:5d} plates, recall {hits[k] / n[k]:.3f}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
