"""Latency of the shipped models on ONNX Runtime, as the pipeline calls them.

- detectors: one 1280x720 synthetic lane frame per call, pre-processing (letterbox),
  inference and decoding (NMS) included;
- trailer classifier: one body crop per call, squash and inference included;
- plate reader, per engine (``--readers``, default ``crnn+rapidocr,crnn,rapidocr``): one plate crop per
  call (the 40 synthetic crops of ``fixtures/synth/plates`` in turn), the whole
  :class:`vision.anpr.reader.PipelineReader` (rectify, recognise, grammars) on 1 thread.

``--against FILE``: another detector ONNX file (an older export, a candidate), timed
interleaved with the shipped detector of the same classes, run for run in alternating order, so
that a slower or faster spell of the machine falls on both alike (the result's
``<role>_against``).

Usage: ``.venv/bin/python bench/bench_models.py [--runs N] [--threads T] [--readers E,...]
[--against FILE] [--json]``. Prints p50/p95 milliseconds per model and, with ``--json``, one
JSON object as the last line. Run it on a quiet machine: other jobs on the 2 cores inflate
every figure.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np

from api.settings import get_settings
from vision.anpr.reader import PipelineReader, build_reader
from vision.detector import YoloDetector
from vision.runtime import ModelLoadError
from vision.trailer.classifier import TrailerClassifier


def _p50_p95(ms: list[float]) -> tuple[float, float]:
    """Median and 95th percentile of ``ms``."""
    ms = sorted(ms)
    return statistics.median(ms), ms[min(len(ms) - 1, int(0.95 * len(ms)))]


def _time(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm caches beyond the session's own warm-up
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000.0)
    return _p50_p95(ms)


def _time_pair(
    a: Callable[[], object], b: Callable[[], object], runs: int
) -> tuple[list[float], list[float]]:
    """Milliseconds of ``a`` and ``b`` over ``runs`` rounds, each round running both, in turn first."""
    a()
    b()
    ms: tuple[list[float], list[float]] = ([], [])
    for r in range(runs):
        for i in (0, 1) if r % 2 == 0 else (1, 0):
            t0 = time.perf_counter()
            (a, b)[i]()
            ms[i].append((time.perf_counter() - t0) * 1000.0)
    return ms


def _read_next(reader: PipelineReader, crops: list[np.ndarray], counter: Iterator[int]) -> object:
    """Read the next crop as if for the first time (the grammars' memo of corrections emptied:
    the crops come round again, lane plates would not)."""
    reader.grammars.forget()
    return reader.read(crops[next(counter) % len(crops)])


def _fixture_plate_crops() -> list[np.ndarray]:
    import cv2  # noqa: PLC0415

    folder = Path(__file__).resolve().parent.parent / "fixtures" / "synth" / "plates" / "crops"
    return [np.asarray(cv2.imread(str(f)), np.uint8) for f in sorted(folder.glob("*.jpg"))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: default)")
    parser.add_argument(
        "--readers", default="crnn+rapidocr,crnn,rapidocr", help="reader engines to time ('' for none)"
    )
    parser.add_argument(
        "--against",
        type=Path,
        default=None,
        help="another detector file, timed interleaved with the shipped one",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from vision.synth import render_scene  # noqa: PLC0415 - only for the sample frame

    settings = get_settings()
    models = settings.models
    threads = args.threads or None
    frame = render_scene(7, view="front", size=(1280, 720)).image
    crop = np.ascontiguousarray(frame[200:500, 300:1000])
    results: dict[str, dict[str, float | str]] = {}
    if args.against is not None and not args.against.is_file():
        parser.error(f"--against {args.against}: no such file")
    against: YoloDetector | None = None
    if args.against is not None:
        try:
            against = YoloDetector(args.against, "cpu", intra_op_threads=threads)
        except ModelLoadError as e:
            parser.error(f"--against: {e}")
    for name, path in (
        ("plate_detector", models.plate_detector),
        ("vehicle_detector", models.vehicle_detector),
    ):
        p = models.path(path)
        if not Path(p).is_file():
            print(f"{name}: {p} missing, skipped")
            continue
        det = YoloDetector(p, "cpu", intra_op_threads=threads)
        p50, p95 = _time(partial(det.detect, frame), args.runs)
        results[name] = {"ms_p50": round(p50, 2), "ms_p95": round(p95, 2), "input": str(det.input_hw)}
        if against is not None and args.against is not None and against.class_names == det.class_names:
            mine, theirs = _time_pair(partial(det.detect, frame), partial(against.detect, frame), args.runs)
            (m50, m95), (t50, t95) = _p50_p95(mine), _p50_p95(theirs)
            results[f"{name}_against"] = {
                "ms_p50": round(m50, 2),
                "ms_p95": round(m95, 2),
                "against_ms_p50": round(t50, 2),
                "against_ms_p95": round(t95, 2),
                "input": f"{det.input_hw} vs {args.against.name} {against.input_hw}",
            }
    if against is not None and not any(k.endswith("_against") for k in results):
        parser.error(f"--against {args.against}: no shipped detector has its classes {against.class_names}")
    p = models.path(models.trailer_classifier)
    if Path(p).is_file():
        clf = TrailerClassifier(p, "cpu", intra_op_threads=threads)
        p50, p95 = _time(partial(clf.classify, crop), args.runs)
        results["trailer_classifier"] = {
            "ms_p50": round(p50, 2),
            "ms_p95": round(p95, 2),
            "input": str(clf.size_px),
        }
    crops = _fixture_plate_crops()
    for engine in [e for e in args.readers.split(",") if e]:
        reader = build_reader(engine, work_dir=settings.data_dir, providers="cpu", intra_op_threads=1)
        p50, p95 = _time(partial(_read_next, reader, crops, itertools.count()), max(args.runs, len(crops)))
        results[f"plate_reader[{engine}]"] = {
            "ms_p50": round(p50, 2),
            "ms_p95": round(p95, 2),
            "input": "plate crop",
        }
    load = os.getloadavg()[0]
    for name, r in results.items():
        vs = (
            f"; against: p50 {r['against_ms_p50']} ms  p95 {r['against_ms_p95']} ms"
            if "against_ms_p50" in r
            else ""
        )
        print(f"{name:20s} p50 {r['ms_p50']} ms  p95 {r['ms_p95']} ms{vs}  (input {r['input']})")
    print(f"load average at the end: {load:.2f} (on 2 cores; above ~0.5 the figures are inflated)")
    if args.json:
        print(
            json.dumps(
                {**results, "runs": args.runs, "threads": args.threads, "load_average": round(load, 2)}
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
