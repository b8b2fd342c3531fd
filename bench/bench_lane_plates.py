"""Plate reading on lane-camera crops: the reader on what the lane actually reads.

``hgv-lane eval plates`` measures the reader on photographs and tight synthetic crops; a lane
camera's plates are smaller, cut by the plate detector's boxes and often at the frame's edge.
This takes the cached ``bench pipeline`` clips (rendered on first use, the same as
``hgv-lane bench pipeline --seed S --clips N``), runs the configured plate detector on every
``--every``-th frame, keeps the detections that overlap a labelled plate (IoU >= 0.3), reads
each crop with the configured reader and prints the exact-match rate, overall and by crop
height, and how many wrong reads were confident (> 0.7): the vote across a plate track's
looks follows confident reads, so a reader that is wrong *and* sure costs passages
(``docs/anpr-log.md``, "A wider recogniser"). ``--out DIR`` also writes the crops and a
``manifest.csv`` in the ``eval plates`` format (for ``hgv-lane eval plates`` or training).
``--clips-under DIR`` takes every rendered clip under DIR instead (a folder with ``truth.json``
and ``clip.mp4`` or a ``frames/`` folder of images, e.g. what ``hgv-lane synth lane`` writes):
with seeds of their own, that makes lane crops to train on that the benchmark never sees.

Usage: ``.venv/bin/python bench/bench_lane_plates.py [--seed 5100] [--clips 4] [--every 2]
[--engine E] [--out DIR] [--fixture | --clips-under DIR] [--margin-x 0.06] [--wider-margin-x 0.12]
[--json]``; with ``--json`` one JSON object as the last line. Crops are cut and read as the lane
pipeline cuts and reads them (the box plus ``ReadPolicy.plate_margin_x`` of its width at each end,
``--margin-x 0``: the box; a read that is not sure is read again from the box grown by
``--wider-margin-x``, 0 for none, and the two averaged, :func:`vision.anpr.reader.read_box`);
``--out`` writes the first crop.
The models come from the settings (``HGV_LANE_MODELS__DIR`` points at a candidate's copy).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from api.settings import get_settings
from vision.anpr.evaluate import exact_match
from vision.anpr.reader import build_reader, read_box
from vision.detector import YoloDetector
from vision.pipeline.bench import benchmark_clips
from vision.pipeline.config import ReadPolicy
from vision.pipeline.sources import VideoFileSource
from vision.pipeline.truth import load_clip_truth
from vision.preprocess import crop as cut
from vision.train.recogniser import write_manifest

MATCH_IOU = 0.3
"""A detection is a labelled plate's crop when their IoU is at least this."""

SURE = 0.7
"""A read this confident (or more) counts as sure."""


def band_floor(h: int) -> int:
    """The lower bound (px) of a crop height's 8-px band: 0, 8, 16, ... up to 40 (40 and taller)."""
    return min(h // 8 * 8, 40)


def height_band(h: int) -> str:
    """``"8-15"``, ``"16-23"``, ... up to ``"40+"`` (pixels)."""
    lo = band_floor(h)
    return "40+" if lo == 40 else f"{lo}-{lo + 7}"


def clip_folders(root: Path) -> list[Path]:
    """Every clip folder under ``root`` (itself included), in path order: a ``truth.json`` beside
    a ``clip.mp4`` or a ``frames/`` folder."""
    return sorted(
        t.parent
        for t in root.rglob("truth.json")
        if (t.parent / "clip.mp4").is_file() or (t.parent / "frames").is_dir()
    )


def clip_frames(folder: Path) -> Iterator[npt.NDArray[np.uint8]]:
    """A clip's frames in order (BGR, H x W x 3): decoded from ``clip.mp4`` by the pipeline's
    :class:`VideoFileSource` (a video it cannot open raises ``SourceError``), or the images of
    ``frames/`` in name order (one per truth frame; an unreadable image raises: skipping it, as
    :class:`~vision.pipeline.sources.ImageFolderSource` does, would shift the truth frames)."""
    if (folder / "clip.mp4").is_file():
        yield from (f.image for f in VideoFileSource(folder / "clip.mp4", lane_id=folder.name).frames())
        return
    for path in sorted((folder / "frames").iterdir()):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"unreadable frame {path}")
        yield np.asarray(image, np.uint8)


def folder_name(folder: Path, root: Path) -> str:
    """A clip folder's name in crop file names and the report: its path under ``root`` joined
    by ``-`` (``lane-7000-front``), or the folder's own name when it is ``root``."""
    return "-".join(folder.relative_to(root).parts) or folder.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=5100, help="seed of the first clip (default 5100)")
    parser.add_argument("--clips", type=int, default=4, help="number of clips (default 4)")
    parser.add_argument("--every", type=int, default=2, help="use every Nth frame (default 2)")
    parser.add_argument("--engine", default=None, help="reader engine (default: the setting reader.engine)")
    parser.add_argument("--out", type=Path, default=None, help="write the crops and a manifest.csv here")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--fixture", action="store_true", help="only the bundled fixture clip (40 frames)")
    where.add_argument(
        "--clips-under",
        type=Path,
        action="append",
        default=None,
        help="every rendered clip folder under this folder (repeat for more)",
    )
    parser.add_argument(
        "--min-height",
        type=int,
        default=0,
        help="leave out crops shorter than this (px): not read nor written",
    )
    parser.add_argument(
        "--margin-x",
        type=float,
        default=ReadPolicy().plate_margin_x,
        help=(
            "grow each box by this share of its width left and right before reading, as the lane "
            f"pipeline does (default {ReadPolicy().plate_margin_x}; 0: the detector's box)"
        ),
    )
    parser.add_argument(
        "--wider-margin-x",
        type=float,
        default=ReadPolicy().plate_wider_margin_x,
        help=(
            "a read that is not sure is read again with the box grown by this share and the two "
            f"averaged, as the lane does (default {ReadPolicy().plate_wider_margin_x}; 0: one read)"
        ),
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.every < 1 or args.clips < 1:
        parser.error("--every and --clips must be at least 1")
    if not (0.0 <= args.margin_x <= 0.5 and 0.0 <= args.wider_margin_x <= 0.5):
        parser.error("--margin-x and --wider-margin-x must be in [0, 0.5] (shares of the box's width)")
    settings = get_settings()
    detector_path = settings.models.path(settings.models.plate_detector)
    if not Path(detector_path).is_file():
        print(f"error: no plate detector at {detector_path}", file=sys.stderr)
        return 1
    detector = YoloDetector(
        detector_path, settings.runtime.providers, conf_threshold=0.3, shrink_by_area=True
    )
    engine = args.engine or settings.reader.engine
    reader = build_reader(
        engine,
        work_dir=settings.data_dir,
        providers=settings.runtime.providers,
        models_dir=settings.models.dir,
    )
    named: list[tuple[Path, str]] = []  # clip folder, its name in crop file names
    if args.fixture:
        named = [(Path(__file__).resolve().parents[1] / "fixtures" / "synth" / "clip", "clip")]
    elif args.clips_under:
        for root in args.clips_under:
            found = clip_folders(root)
            if not found:
                print(
                    f"error: no clip folders (truth.json with clip.mp4 or frames/) under {root}",
                    file=sys.stderr,
                )
                return 1
            named += [(f, folder_name(f, root)) for f in found]
    else:
        clips = benchmark_clips(settings.data_dir / "bench" / "clips", n_clips=args.clips, seed=args.seed)
        named = [(c.folder, c.folder.name) for c in clips]
    if len({name for _, name in named}) < len(named):
        print(
            "error: two clip folders have the same name; their crops would overwrite each other",
            file=sys.stderr,
        )
        return 1
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    sure_wrong = 0
    by_band: Counter[int] = Counter()  # crops per band floor (px)
    right_by_band: Counter[int] = Counter()
    read_ms: list[float] = []
    for folder, clip_name in named:
        truth = load_clip_truth(folder / "truth.json")
        for index, frame in enumerate(clip_frames(folder)):
            if index % args.every:
                continue
            plates = [(box, text) for obj in truth.frames[index] for _, text, box in obj.plates]
            if not plates:
                continue
            for k, det in enumerate(detector.detect(frame).of_class("plate")):
                box, text = max(plates, key=lambda bt: bt[0].iou(det.box))
                if box.iou(det.box) < MATCH_IOU:
                    continue
                crop = cut(frame, det.box, args.margin_x, margin_y=0.0)
                if crop.size == 0 or crop.shape[0] < args.min_height:
                    continue
                t0 = time.perf_counter()
                read, _ = read_box(reader, frame, det.box, args.margin_x, args.wider_margin_x)
                read_ms.append((time.perf_counter() - t0) * 1000.0)
                best = read.best
                got = best.text if best else ""
                is_right = exact_match(text, got)
                band = band_floor(crop.shape[0])
                by_band[band] += 1
                right_by_band[band] += is_right
                sure_wrong += (not is_right) and best is not None and best.confidence > SURE
                if args.out is not None:
                    name = f"{clip_name}_{index:04d}_{k}.png"
                    cv2.imwrite(str(args.out / name), crop)
                    notes = f"h{crop.shape[0]};{height_band(crop.shape[0])}"
                    rows.append({"image_path": name, "plate_text": text, "notes": notes})
    if args.out is not None and rows:
        write_manifest(args.out / "manifest.csv", rows)
    n, right = sum(by_band.values()), sum(right_by_band.values())
    bands = {
        height_band(b): {"n": by_band[b], "exact": round(right_by_band[b] / by_band[b], 4)}
        for b in sorted(by_band)
    }
    result = {
        "n": n,
        "exact_match": round(right / n, 4) if n else None,
        "sure_wrong": sure_wrong,
        "by_height_px": bands,
        "read_ms_p50": round(float(np.median(read_ms)), 2) if read_ms else None,
        "engine": reader.name,
        "clips": [name for _, name in named],
    }
    print(f"{n} lane plate crops ({len(named)} clips, every {args.every}th frame), reader {reader.name}")
    if n:
        print(f"exact {right}/{n} = {right / n:.3f}; wrong but sure (> {SURE}): {sure_wrong}")
        for b, r in bands.items():
            print(f"  height {b:>5} px: {r['n']:4d} crops, exact {r['exact']:.3f}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
