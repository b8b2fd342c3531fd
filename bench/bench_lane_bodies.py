"""Trailer classifier accuracy per lane-camera view on body crops made by ``hgv-lane dataset
lane-bodies`` (``<split>/<class>/<lane>_<view>_<frame>_v<id>.jpg``): one classification per crop,
as the lane pipeline's body looks are.

Usage: ``.venv/bin/python bench/bench_lane_bodies.py [--model models/trailer_classifier.onnx]
[--data data/train/lane_bodies/val] [--json]``. Prints correct / crops per view and, with
``--json``, one JSON object as the last line: ``{"model", "data", "<view>": accuracy, ..., "all"}``.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from vision.trailer.classifier import TrailerClassifier
from vision.train.datasets import load_image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("models/trailer_classifier.onnx"))
    parser.add_argument("--data", type=Path, default=Path("data/train/lane_bodies/val"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    files = sorted(args.data.glob("*/*.jpg"))
    if not files:
        parser.error(f"no crops under {args.data}/<class>/ (make them with 'hgv-lane dataset lane-bodies')")
    model = TrailerClassifier(args.model, "cpu")
    ok: Counter[str] = Counter()
    n: Counter[str] = Counter()
    for f in files:
        view = f.stem.split("_")[1]  # <lane>_<view>_<frame>_v<id>
        n[view] += 1
        ok[view] += model.classify(load_image(f)).body_type.value == f.parent.name
    for view in sorted(n):
        print(f"{view}: {ok[view]}/{n[view]} = {ok[view] / n[view]:.3f}")
    result: dict[str, object] = {"model": str(args.model), "data": str(args.data)}
    result |= {view: round(ok[view] / n[view], 4) for view in sorted(n)}
    result["all"] = round(sum(ok.values()) / sum(n.values()), 4)
    print(f"all: {sum(ok.values())}/{sum(n.values())} = {result['all']}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
