"""Benchmark the synthetic scene renderer (detection-set rendering: render + JPEG encode).

    python bench/bench_synth.py [--n 100] [--workers 1] [--size 1280x720] [--json]

Prints images/s; with ``--json`` the last stdout line is one JSON object
``{"images_per_s", "ms_per_image_p50", "cpu_ms_per_image_p50", "n", "workers", "size", "load_average"}``.
The CPU figure is per process, so it stays meaningful on a machine shared with other work.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vision.synth.datasets import encode_jpeg
from vision.synth.randomize import random_spec
from vision.synth.render import TextureCache, process_static_textures, render_spec


def _block(args: tuple[int, int, int, tuple[int, int]]) -> list[tuple[float, float]]:
    """(wall s, CPU s) per image of one block of sample indices."""
    seed, a, b, size = args
    cv2.setNumThreads(1)  # one thread per worker process: the workers are the parallelism
    static = process_static_textures()  # as the data set writers do: scenery painted once per process
    times = []
    for i in range(a, b):
        t0, c0 = time.perf_counter(), time.process_time()
        spec = random_spec(np.random.default_rng([seed, i]), size=size)
        scene = render_spec(spec, cache=TextureCache(static), jpeg=False)
        encode_jpeg(scene.image, spec.condition.jpeg_quality or 90)
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    block = 25
    jobs = [(a.seed, s, min(a.n, s + block), (w, h)) for s in range(0, a.n, block)]
    t0 = time.perf_counter()
    if a.workers <= 1:
        per = [t for j in jobs for t in _block(j)]
    else:
        with mp.get_context("fork").Pool(a.workers) as pool:
            per = [t for res in pool.map(_block, jobs) for t in res]
    wall = time.perf_counter() - t0
    ips = a.n / wall
    p50 = 1000.0 * float(np.median([w for w, _ in per]))
    cpu50 = 1000.0 * float(np.median([c for _, c in per]))
    load = os.getloadavg()[0]
    print(
        f"{a.n} images {a.size} in {wall:.1f} s with {a.workers} worker(s): {ips:.1f} images/s, "
        f"p50 {p50:.0f} ms wall / {cpu50:.0f} ms CPU per image per worker (load average {load:.1f})"
    )
    if a.json:
        out = {
            "images_per_s": round(ips, 2),
            "ms_per_image_p50": round(p50, 1),
            "cpu_ms_per_image_p50": round(cpu50, 1),
            "n": a.n,
            "workers": a.workers,
            "size": a.size,
            "load_average": round(load, 2),
        }
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
