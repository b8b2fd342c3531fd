"""``synth`` command: contact sheets, data sets, plate crops, passage clips and fixtures.

Wire it into a CLI with :func:`add_parser`; every sub-command sets ``func(args) -> int``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# The generator's modules (numpy, OpenCV) are imported inside the handlers so that
# building the parser (``hgv-lane --help``) stays cheap.
FIXTURE_SEED = 20240601
"""Seed of the committed fixtures (``vision.synth.fixtures`` checks it is the same)."""

_SIZES = ("1280x720", "1920x1080", "mixed")


def _workers(p: argparse.ArgumentParser, default: int = 2) -> None:
    p.add_argument(
        "--workers",
        type=int,
        default=default,
        help=f"worker processes (default {default}; output is identical for any value)",
    )


def _quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress counter on stderr")


def _positive(s: str) -> int:
    v = int(s)
    if v <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def _fraction(s: str) -> float:
    v = float(s)
    if not 0.0 <= v < 1.0:
        raise argparse.ArgumentTypeError("must be in [0, 1)")
    return v


def _sheet(args: argparse.Namespace) -> int:
    from .datasets import write_sheet  # noqa: PLC0415

    out = write_sheet(Path(args.out), seed=args.seed, n=args.n, workers=args.workers, progress=not args.quiet)
    print(out)
    return 0


def _detect(args: argparse.Namespace) -> int:
    from .datasets import write_detect  # noqa: PLC0415

    n = write_detect(
        Path(args.out),
        args.n,
        seed=args.seed,
        val_fraction=args.val_fraction,
        size=args.size,
        workers=args.workers,
        progress=not args.quiet,
    )
    print(f"wrote {n} images to {args.out} (data.yaml, scenes.csv)")
    return 0


def _crops(args: argparse.Namespace) -> int:
    from .datasets import write_crops  # noqa: PLC0415

    n = write_crops(
        Path(args.out),
        args.n_per_class,
        seed=args.seed,
        val_fraction=args.val_fraction,
        workers=args.workers,
        progress=not args.quiet,
    )
    print(f"wrote {n} crops to {args.out}")
    return 0


def _trailers(args: argparse.Namespace) -> int:
    from .datasets import write_trailer_scenes  # noqa: PLC0415

    n = write_trailer_scenes(
        Path(args.out), args.n_per_class, seed=args.seed, workers=args.workers, progress=not args.quiet
    )
    print(f"wrote {n} trailer scenes and manifest.csv to {args.out}")
    return 0


def _plates(args: argparse.Namespace) -> int:
    from .datasets import write_plates  # noqa: PLC0415

    margin = {} if args.margin is None else {"margin": args.margin}
    out, progress = Path(args.out), not args.quiet
    n = write_plates(out, args.n, seed=args.seed, workers=args.workers, progress=progress, **margin)
    print(f"wrote {n} plate crops and manifest.csv to {args.out}")
    return 0 if n == args.n else 1


def _margin(s: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in s.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"LO,HI (two numbers), got {s!r}") from None
    if not 0.0 <= lo <= hi <= 1.0:
        raise argparse.ArgumentTypeError(f"0 <= LO <= HI <= 1, got {s!r}")
    return lo, hi


def _views(s: str) -> tuple[str, ...]:
    from .clip import LANE_VIEWS  # noqa: PLC0415

    views = tuple(v.strip() for v in s.split(",") if v.strip())
    bad = [v for v in views if v not in LANE_VIEWS]
    if not views or bad or len(set(views)) != len(views):
        raise argparse.ArgumentTypeError(f"distinct views from {','.join(LANE_VIEWS)}, got {s!r}")
    return views


def _lane_clip(args: argparse.Namespace) -> int:
    from .clip import random_lane_clip_spec, render_lane_clip  # noqa: PLC0415

    lane = random_lane_clip_spec(
        args.seed,
        views=args.views,
        n_vehicles=args.vehicles,
        seconds=args.seconds,
        fps=args.fps if args.fps is not None else 12.5,
    )
    truths = render_lane_clip(
        lane, Path(args.out), video=not args.no_video, frames=args.frames, progress=not args.quiet
    )
    for view, truth in truths.items():
        for v in truth.vehicles:
            plates = ", ".join(f"{p.role}={p.text}({p.n_frames}f)" for p in v.plates if p.n_frames)
            print(
                f"{view} vehicle {v.vehicle_id}: {v.body_type} frames {v.first_frame}-{v.last_frame} {plates}"
            )
    return 0


def _clip(args: argparse.Namespace) -> int:
    from .clip import random_clip_spec, render_clip  # noqa: PLC0415

    if args.views is not None:
        return _lane_clip(args)
    spec = random_clip_spec(
        args.seed,
        view=args.view,
        n_vehicles=args.vehicles,
        seconds=args.seconds,
        fps=args.fps if args.fps is not None else 25.0,
    )
    truth = render_clip(
        spec, Path(args.out), video=not args.no_video, frames=args.frames, progress=not args.quiet
    )
    for v in truth.vehicles:
        plates = ", ".join(f"{p.role}={p.text}({p.n_frames}f)" for p in v.plates if p.n_frames)
        print(f"vehicle {v.vehicle_id}: {v.body_type} frames {v.first_frame}-{v.last_frame} {plates}")
    return 0


def _fixtures(args: argparse.Namespace) -> int:
    from .fixtures import write_fixtures  # noqa: PLC0415

    write_fixtures(Path(args.out), seed=args.seed, progress=not args.quiet)
    print(f"fixtures written to {args.out}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``synth`` command and its sub-commands on ``subparsers``."""

    p = subparsers.add_parser(
        "synth",
        help="render synthetic lane-camera images, data sets and clips",
        description="Synthetic lane-camera scenes with exact labels (vision.synth).",
    )
    sub = p.add_subparsers(dest="synth_command", required=True, metavar="COMMAND")

    s = sub.add_parser("sheet", help="contact sheet PNG of random samples with captions")
    s.add_argument("--out", required=True, help="PNG path")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--n", type=_positive, default=48, help="number of samples (default 48)")
    _workers(s)
    _quiet(s)
    s.set_defaults(func=_sheet)

    s = sub.add_parser("detect", help="YOLO detection set: plate / vehicle / body")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--n", type=_positive, required=True, help="number of images")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--val-fraction", type=_fraction, default=0.1)
    s.add_argument("--size", choices=_SIZES, default="1280x720")
    _workers(s)
    _quiet(s)
    s.set_defaults(func=_detect)

    s = sub.add_parser("crops", help="trailer body-type crops, ultralytics classify layout")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--n-per-class", type=_positive, required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--val-fraction", type=_fraction, default=0.15)
    _workers(s)
    _quiet(s)
    s.set_defaults(func=_crops)

    s = sub.add_parser(
        "trailers", help="whole lane photographs with a trailer manifest (image_path,label,body_type,notes)"
    )
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--n-per-class", type=_positive, required=True, help="photographs per body-type class")
    s.add_argument("--seed", type=int, default=0)
    _workers(s)
    _quiet(s)
    s.set_defaults(func=_trailers)

    s = sub.add_parser("plates", help="plate crops with manifest.csv (the eval command's format)")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--n", type=_positive, required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--margin",
        type=_margin,
        default=None,
        metavar="LO,HI",
        help="each crop's margin round its plate: a share of the plate's width (left and right) "
        "and one of its height (above and below), drawn from LO-HI for each crop (default "
        "0.08,0.25; the lane cuts about 0.02,0.06)",
    )
    _workers(s)
    _quiet(s)
    s.set_defaults(func=_plates)

    s = sub.add_parser(
        "clip",
        help="passage clip (MP4 and/or frames) with ground-truth JSON; --views: one queue, several cameras",
    )
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--vehicles", type=_positive, default=2, help="lorries in the queue (default 2)")
    s.add_argument(
        "--view", choices=("front", "rear"), default="front", help="the one camera (default front)"
    )
    s.add_argument(
        "--views",
        type=_views,
        default=None,
        help="e.g. front,side,rear: one queue on one timeline seen by these cameras of the lane "
        "(front, side, high_side, rear), one sub-folder each plus lane.json (default fps 12.5)",
    )
    s.add_argument("--seconds", type=float, default=8.0)
    s.add_argument(
        "--fps", type=float, default=None, help="frames per second (default 25; 12.5 with --views)"
    )
    s.add_argument("--frames", action="store_true", help="also write frames/NNNNNN.jpg")
    s.add_argument("--no-video", action="store_true", help="skip clip.mp4")
    _quiet(s)
    s.set_defaults(func=_clip)

    s = sub.add_parser("fixtures", help="the small committed fixtures (reproducible)")
    s.add_argument("--out", default="fixtures/synth", help="output folder (default fixtures/synth)")
    s.add_argument("--seed", type=int, default=FIXTURE_SEED)
    _quiet(s)
    s.set_defaults(func=_fixtures)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m vision.synth synth ...``)."""
    parser = argparse.ArgumentParser(prog="python -m vision.synth")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
