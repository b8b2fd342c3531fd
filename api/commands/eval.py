"""``hgv-lane eval``: measure models on labelled sets. ``eval plates`` reads plate manifests.

``eval`` is a group: each kind of evaluation is a sub-command registered by a function in
:data:`SUBCOMMANDS` (``plates`` here; others add theirs).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from api.commands.eval_trailers import add_trailers_parser
from api.settings import get_settings

if TYPE_CHECKING:
    from vision.types import BBox, ImageBGR

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_parser(sub: SubParsers) -> None:
    """Register the ``eval`` group and its sub-commands."""
    p = sub.add_parser("eval", help="measure models on labelled sets (plates, ...)")
    group = p.add_subparsers(dest="eval_command", metavar="WHAT", required=True)
    for register in SUBCOMMANDS:
        register(group)


def add_plates_parser(group: SubParsers) -> None:
    """Register ``eval plates``."""
    p = group.add_parser(
        "plates",
        help="plate reading (and detection) on a manifest of crops and/or scenes",
        description="Evaluate the plate reader on a manifest (CSV: image_path, plate_text, country, "
        "bbox_x, bbox_y, bbox_w, bbox_h, notes). Rows without a box are crops (read only); rows with "
        "a box are scenes: the plate detector finds the plate (detection counts at IoU >= 0.5 with the "
        "true box), then the reader reads it; without a plate detector model they are read from their "
        "true box and detection_recall is null.",
    )
    p.add_argument("manifest", type=Path, help="manifest CSV")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--out", type=Path, default=None, help="folder for per-image CSV and misses contact sheet")
    p.add_argument("--engine", default=None, help="reader engine (default: settings reader.engine)")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N rows")
    p.add_argument(
        "--skip-tag",
        action="append",
        default=[],
        metavar="TAG[,TAG]",
        help="leave out rows whose notes (';'-separated tags) include TAG; repeatable. The synthetic "
        "sets tag plates nobody could read 'illegible' (blur) and 'char_hidden' (a character hidden)",
    )
    p.add_argument(
        "--by-tag",
        action="store_true",
        help="also exact match per tag of the rows' notes (the synthetic sets' conditions, role, "
        "view and plate height range); with --json under 'by_tag'",
    )
    p.add_argument(
        "--countries",
        default=None,
        help="comma-separated grammar countries to rank with (default: all in the grammar table; "
        "'none' for no grammars)",
    )
    p.add_argument(
        "--raw", action="store_true", help="baseline: engine on the whole crop, no rectify/grammars"
    )
    p.add_argument(
        "--whole-crops",
        action="store_true",
        help="read crop rows whole only (by default an unsure read of a crop is read again from the "
        "plate the plate detector finds in it, as the lane reads a detector's box)",
    )
    p.set_defaults(func=run_plates)


SUBCOMMANDS: tuple[Callable[[SubParsers], None], ...] = (add_plates_parser, add_trailers_parser)


def _progress(done: int, total: int) -> None:
    if done == total or done % 50 == 0:
        print(f"  {done}/{total}", file=sys.stderr, flush=True)


def run_plates(args: argparse.Namespace) -> int:
    """Run ``eval plates``; exit 2 for a bad manifest or option, 1 if the reader cannot load."""
    from vision.anpr.detector import PLATE_WIDER_MARGIN_X, PlateDetector  # noqa: PLC0415 - heavy imports
    from vision.anpr.evaluate import (  # noqa: PLC0415
        by_tag,
        evaluate,
        load_manifest,
        write_contact_sheet,
        write_csv,
    )
    from vision.anpr.reader import READER_ENGINES, ReaderOptions, build_reader  # noqa: PLC0415
    from vision.runtime import ModelLoadError  # noqa: PLC0415

    settings = get_settings()
    engine = args.engine or settings.reader.engine
    if engine not in READER_ENGINES:
        print(f"error: unknown engine {engine!r}; choose from {', '.join(READER_ENGINES)}", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return 2
    try:
        rows = load_manifest(args.manifest)
    except (OSError, ValueError) as e:
        print(f"error: cannot read manifest: {e}", file=sys.stderr)
        return 2
    skip = {t.strip() for arg in args.skip_tag for t in arg.split(",") if t.strip()}
    kept = [r for r in rows if not (r.tags & skip)]
    n_skipped = len(rows) - len(kept)
    if skip:
        print(f"skipped {n_skipped} row(s) tagged {', '.join(sorted(skip))}", file=sys.stderr)
    rows = kept
    if skip and not rows:
        print(f"error: every row is tagged {', '.join(sorted(skip))}", file=sys.stderr)
        return 2
    if args.limit is not None:
        rows = rows[: args.limit]
    countries: list[str] | None = None
    if args.countries:
        countries = [] if args.countries.lower() == "none" else [c for c in args.countries.split(",") if c]
    from api.lane_runner import model_files  # noqa: PLC0415 - the versions in use (registry)

    files = model_files(settings)
    if "crnn" in engine.split("+"):
        print(f"plate_reader {files.reader_version} ({files.reader})", file=sys.stderr)
    try:
        reader = build_reader(
            engine,
            work_dir=settings.data_dir,
            providers=settings.runtime.providers,
            intra_op_threads=settings.runtime.intra_op_threads or 1,
            countries=countries,
            options=ReaderOptions(top_n=settings.reader.top_n, raw=args.raw),
            models_dir=settings.models.dir,
            crnn_model=files.reader,
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ModelLoadError as e:
        print(f"error: reader could not load: {e}", file=sys.stderr)
        return 1
    n_scenes = sum(r.is_scene for r in rows)
    n_crops = len(rows) - n_scenes
    locate_crops = bool(n_crops) and not (args.whole_crops or args.raw)
    detector: PlateDetector | None = None
    find: Callable[[ImageBGR], BBox | None] | None = None
    model, in_use = files.plate, f"plate_detector {files.versions[1]} ({files.plate.name})"
    if (n_scenes or locate_crops) and model.is_file():
        from vision.anpr.detector import StillPlateDetector  # noqa: PLC0415
        from vision.detector import YoloDetector  # noqa: PLC0415

        try:
            still = StillPlateDetector(YoloDetector(model, settings.runtime.providers, shrink_by_area=True))
        except ModelLoadError as e:
            print(f"error: plate detector could not load: {e}", file=sys.stderr)
            return 1
        if n_scenes:
            detector = still
            print(f"scenes: plates found by {in_use}", file=sys.stderr)
        if locate_crops:
            find = still.in_crop
            print(f"crops: an unsure read is read again from the plate {in_use} finds", file=sys.stderr)
    else:
        if n_scenes:
            print(
                f"note: no plate detector model ({model}): the {n_scenes} "
                "scene(s) are read from their TRUE plate box; detection_recall is null (not measured)",
                file=sys.stderr,
            )
        if locate_crops:
            print(
                f"note: no plate detector model ({model}): the {n_crops} crop(s) are read whole only "
                "(as --whole-crops), not read again from the plate a detector finds in them",
                file=sys.stderr,
            )
    print(f"evaluating {len(rows)} image(s) with engine {reader.name}", file=sys.stderr)
    named = () if args.raw else countries  # a raw read names no country; None: every grammar
    wider = 0.0 if args.raw else PLATE_WIDER_MARGIN_X  # the raw baseline reads each plate once
    results, summary = evaluate(
        rows, reader, detector=detector, progress=_progress, countries=named, wider_x=wider, find=find
    )
    for r in results:
        if r.error is not None:
            print(f"  bad image {r.row.image_path}: {r.error}", file=sys.stderr)
    recall = "null (no detector)" if summary.detection_recall is None else f"{summary.detection_recall:.3f}"
    kinds = f"{summary.n_crops} crops, {summary.n_scenes} scenes"
    skipped = f", skipped: {n_skipped}" if skip else ""
    print(f"images: {summary.n} ({kinds}), errors: {summary.n_errors}{skipped}")
    print(f"engine: {summary.engine}")
    print(f"detection recall: {recall}")
    of = f" of {summary.n_read_scored} with a text" if summary.n_read_scored != summary.n else ""
    print(
        f"exact match: {summary.exact_match:.4f}{of} (up to look-alikes: {summary.exact_match_lookalike:.4f})"
    )
    print(f"char accuracy: {summary.char_accuracy:.4f}")
    if summary.country_match is not None:
        print(f"country guessed right: {summary.country_match:.4f} of {summary.n_country} exact reads")
    print(
        f"ms per image: p50 {summary.ms_per_image_p50:.1f}, p95 {summary.ms_per_image_p95:.1f} (wall); "
        f"CPU p50 {summary.cpu_ms_per_image_p50:.1f}"
    )
    if args.out is not None:
        csv_path = args.out / "plates.csv"
        write_csv(results, csv_path)
        print(f"per-image results: {csv_path}")
        sheet = args.out / "plates_misses.png"
        if write_contact_sheet(results, sheet):
            print(f"misses contact sheet: {sheet}")
    tags = by_tag(results) if args.by_tag else None
    if tags is not None:
        print(f"{'tag':16s} {'n':>5s} {'exact':>7s} {'chars':>7s}")
        for tag, t in tags.items():
            print(f"{tag:16s} {t['n']:>5.0f} {t['exact_match']:>7.4f} {t['char_accuracy']:>7.4f}")
    if args.json:
        extra = {"by_tag": tags} if tags is not None else {}
        print(json.dumps({**summary.as_json(), "n_skipped": n_skipped, **extra}))
    return 0
