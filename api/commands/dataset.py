"""``hgv-lane dataset ...``: prepare and import training data sets.

The shipped models' data sets are made by these commands (see ``make models``);
``dataset import`` brings labelled images from elsewhere into the same formats, with a
validation report (``docs/datasets.md``). Each action registers itself on the ``dataset``
sub-parsers in :func:`add_parser` (``register_import`` shows the shape).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vision.train.imports import ImportReport
    from vision.types import BBox, ImageBGR


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dataset``."""
    p = sub.add_parser("dataset", help="prepare training data sets")
    dsub = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    from api.commands.feedback import add_export_feedback  # noqa: PLC0415 - officers' feedback export

    add_export_feedback(dsub)
    register_import(dsub)
    d = dsub.add_parser(
        "plate-tiles", help="one-class plate tiles (320 px) from YOLO sets and plate manifests"
    )
    d.add_argument("--out", type=Path, required=True, help="output folder (a YOLO data set)")
    d.add_argument("--yolo", type=Path, action="append", default=[], help="YOLO set whose class 0 is plate")
    d.add_argument("--manifest", type=Path, action="append", default=[], help="plate manifest with boxes")
    d.add_argument("--val-fraction", type=float, default=0.2, help="share of sources held out (by name)")
    d.add_argument(
        "--manifest-tiles",
        type=int,
        default=1,
        help="training tiles around each plate of a --manifest photograph, each placed at random "
        "(default 1; real photographs are few beside the synthetic scenes)",
    )
    d.add_argument(
        "--clips",
        type=Path,
        action="append",
        default=[],
        help="rendered lane clips ('hgv-lane synth clip --frames'): front and rear frames with "
        "labelled plates, split by lane set (repeat for more folders)",
    )
    d.add_argument("--clip-every", type=int, default=2, help="every k-th frame of a --clips clip (default 2)")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=plate_tiles)
    d = dsub.add_parser("vehicles", help="the vehicle/body classes of a synthetic YOLO set")
    d.add_argument("--yolo", type=Path, required=True, help="YOLO set with classes plate, vehicle, body")
    d.add_argument("--out", type=Path, required=True)
    d.set_defaults(func=vehicle_subset)
    register_lane_frames(dsub)
    register_lane_bodies(dsub)

    d = dsub.add_parser(
        "trailer-squares", help="folder-per-class crops squashed to the classifier's square input"
    )
    d.add_argument(
        "--src",
        type=Path,
        action="append",
        required=True,
        help="folder-per-class set: <split>/<class>/*.jpg; repeat to merge sets (each file is then "
        "named after its set's folder, e.g. crops_000123.jpg)",
    )
    d.add_argument("--out", type=Path, required=True)
    d.add_argument("--size", type=int, default=224, help="side in pixels (the shipped classifier's)")
    d.set_defaults(func=trailer_squares)


def plate_tiles(args: argparse.Namespace) -> int:
    """Build the plate detector's tile set."""
    from vision.train.datasets import (  # noqa: PLC0415
        load_image,
        manifest_image_name,
        read_plate_manifest,
        read_yolo_dataset,
        write_plate_tiles,
    )
    from vision.train.recogniser import write_manifest  # noqa: PLC0415

    sources: list[tuple[str, Callable[[], ImageBGR], Sequence[BBox]]] = []
    for root in args.yolo:
        for split in ("train", "val"):
            for item in read_yolo_dataset(root, split):
                plates = [b for c, b in item.boxes if c == 0]
                sources.append((f"{root.name}/{item.path.name}", partial(load_image, item.path), plates))
    n_yolo = len(sources)
    heldout: dict[str, list[dict[str, str]]] = {}
    for manifest in args.manifest:
        by_image: dict[Path, list[BBox]] = {}
        for path, _text, box in read_plate_manifest(manifest):
            if box is not None:
                by_image.setdefault(path, []).append(box)
        for path, boxes in by_image.items():
            sources.append((manifest_image_name(manifest, path), partial(load_image, path), boxes))
        heldout[manifest.stem] = held_out_rows(manifest, args.val_fraction)
    from_manifest = {name for name, _, _ in sources[n_yolo:]}
    groups: dict[str, str] = {}
    if args.clips:
        from vision.train.lane_frames import plate_frames  # noqa: PLC0415

        try:
            frames = plate_frames(args.clips, every=args.clip_every)
        except (FileNotFoundError, ValueError) as e:
            print(f"hgv-lane dataset plate-tiles: {e}", file=sys.stderr)
            return EXIT_UNUSABLE
        for f in frames:
            sources.append((f.name, partial(load_image, f.image), f.plates))
            groups[f.name] = f.group
    t0 = time.perf_counter()
    counts = write_plate_tiles(
        sources,
        args.out,
        val_fraction=args.val_fraction,
        seed=args.seed,
        group_of=lambda name: groups.get(name, name),
        train_tiles_per_plate=lambda name: args.manifest_tiles if name in from_manifest else 1,
    )
    for stem, rows in heldout.items():
        write_manifest(args.out / "heldout" / f"{stem}.csv", rows)
    summary = {
        "sources": len(sources),
        "lane_frames": len(groups),
        "tiles": counts,
        "heldout_rows": {k: len(v) for k, v in heldout.items()},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(summary))
    return 0


def held_out_rows(manifest: Path, val_fraction: float) -> list[dict[str, str]]:
    """The manifest's rows whose image went to the validation side (never trained on), with
    absolute image paths, for evaluating on real images the detector has not seen."""
    import csv  # noqa: PLC0415

    from vision.train.datasets import manifest_image_name, split_of  # noqa: PLC0415

    rows = []
    with manifest.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            path = (manifest.parent / row["image_path"]).resolve()
            if row.get("bbox_w") and split_of(manifest_image_name(manifest, path), val_fraction) == "val":
                rows.append({**row, "image_path": str(path)})
    return rows


def vehicle_subset(args: argparse.Namespace) -> int:
    """The vehicle/body detector's set: classes 1, 2 of the synthetic set as 0, 1."""
    from vision.train.datasets import write_class_subset  # noqa: PLC0415

    counts = write_class_subset(args.yolo, args.out, {1: 0, 2: 1}, ("vehicle", "body"))
    print(json.dumps({"images": counts}))
    return 0


def _lane_clip_arguments(d: argparse.ArgumentParser, *, out_help: str, every: int) -> None:
    """The arguments the lane-clip data sets share: CLIPS, --out, --every, --val-fraction."""
    d.add_argument(
        "clips", type=Path, nargs="+", metavar="CLIPS", help="clip or lane-set folder, or a folder of them"
    )
    d.add_argument("--out", type=Path, required=True, help=out_help)
    d.add_argument(
        "--every", type=int, default=every, help=f"keep every k-th frame of each clip (default {every})"
    )
    d.add_argument("--val-fraction", type=float, default=0.2, help="share of lane sets in val (default 0.2)")


def register_lane_frames(dsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dataset lane-frames``."""
    d = dsub.add_parser(
        "lane-frames",
        help="rendered lane clips (frames + truth.json) as a vehicle/body YOLO set",
        description=(
            "Turn clips rendered by 'hgv-lane synth clip --frames' into a YOLO set with the vehicle "
            "detector's classes (vehicle, body): every --every-th frame, split train/val by lane set "
            "(all cameras of one queue on one side), boxes clipped to the frame and dropped when less "
            "than --min-in-frame of the box is inside or a side is under --min-side-px. --merge adds "
            "an existing set (e.g. data/train/vehicles) as merged.yaml, images left in place. "
            "See docs/datasets.md."
        ),
    )
    _lane_clip_arguments(d, out_help="output folder (no images/ in it yet)", every=3)
    d.add_argument(
        "--min-in-frame",
        type=float,
        default=0.5,
        help="share of a box that must be in the frame (default 0.5)",
    )
    d.add_argument("--min-side-px", type=float, default=16.0, help="shortest kept box side (default 16 px)")
    d.add_argument(
        "--empty-every", type=int, default=2, help="keep one in N frames with no labelled vehicle (default 2)"
    )
    d.add_argument(
        "--merge", type=Path, default=None, help="existing set (data.yaml or its folder), same classes"
    )
    d.add_argument(
        "--merge-sample", type=int, default=None, help="train images sampled from --merge (default: all)"
    )
    d.add_argument("--seed", type=int, default=0, help="seed of the --merge-sample draw")
    d.add_argument("--quiet", action="store_true", help="no progress counter on stderr")
    d.set_defaults(func=lane_frames)


def lane_frames(args: argparse.Namespace) -> int:
    """Run ``dataset lane-frames``; prints the counts as one JSON line. Exit 2 on bad input."""
    from vision.train.lane_frames import write_lane_frames, write_merged  # noqa: PLC0415

    def make() -> dict[str, object]:
        if args.merge is not None and not args.merge.exists():
            raise FileNotFoundError(f"--merge {args.merge}: no such file or folder")
        if args.merge_sample is not None and args.merge_sample < 0:
            raise ValueError("--merge-sample must be >= 0")
        counts = write_lane_frames(
            args.clips,
            args.out,
            every=args.every,
            val_fraction=args.val_fraction,
            min_in_frame=args.min_in_frame,
            min_side_px=args.min_side_px,
            empty_every=args.empty_every,
            progress=None if args.quiet else _progress,
        )
        if args.merge is not None:
            counts.merged = write_merged(args.out, args.merge, sample=args.merge_sample, seed=args.seed)
        return counts.as_json()

    return _print_counts("lane-frames", args.quiet, make)


def register_lane_bodies(dsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dataset lane-bodies``."""
    d = dsub.add_parser(
        "lane-bodies",
        help="rendered lane clips (frames + truth.json) as body-type crops for the trailer classifier",
        description=(
            "Cut the labelled body of every vehicle in every --every-th frame of clips rendered by "
            "'hgv-lane synth clip --frames' (front, side and rear cameras) as a folder-per-class set "
            "(<split>/<class>/*.jpg, the trailer classifier's format), cut as the lane pipeline cuts "
            "them (its body margin; bodies under --min-side-px skipped, as in service); split "
            "train/val by lane set as 'dataset lane-frames'. Squash with 'dataset trailer-squares'. "
            "See docs/datasets.md."
        ),
    )
    _lane_clip_arguments(d, out_help="output folder (no train/ or val/ in it yet)", every=1)
    d.add_argument(
        "--max-hidden",
        type=float,
        default=0.5,
        help="skip a body more than this share of which is behind a nearer vehicle's box (default 0.5)",
    )
    d.add_argument(
        "--min-shown",
        type=float,
        default=0.0,
        help=(
            "skip a body less than this share of which shows, its own cab counted as hiding it "
            "(truth.json's body_shown; clips rendered before it was added are refused; default 0: keep all)"
        ),
    )
    d.add_argument(
        "--boxes",
        choices=("labelled", "detector"),
        default="labelled",
        help=(
            "cut the labelled body boxes (default) or the vehicle detector's body boxes, as the lane "
            "pipeline does, each labelled with the body it overlaps most"
        ),
    )
    d.add_argument(
        "--detector",
        type=Path,
        default=None,
        help="vehicle detector ONNX for --boxes detector (default: the settings' models folder)",
    )
    d.add_argument("--quiet", action="store_true", help="no progress counter on stderr")
    d.set_defaults(func=lane_bodies)


def lane_bodies(args: argparse.Namespace) -> int:
    """Run ``dataset lane-bodies``; prints the counts as one JSON line. Exit 2 on bad input."""
    from vision.train.lane_bodies import write_lane_bodies  # noqa: PLC0415

    def make() -> dict[str, object]:
        detector = None
        if args.detector is not None and args.boxes != "detector":
            raise ValueError("--detector is only used with --boxes detector")
        if args.boxes == "detector":
            from api.lane_runner import model_files  # noqa: PLC0415
            from api.settings import get_settings  # noqa: PLC0415
            from vision.pipeline.factory import DetectorLoaders  # noqa: PLC0415
            from vision.runtime import ModelLoadError  # noqa: PLC0415

            path = args.detector or model_files(get_settings()).vehicle
            try:
                detector = DetectorLoaders("cpu").vehicle(path)
            except ModelLoadError as e:  # a missing or wrong model: one error line, exit 2
                raise ValueError(str(e)) from e
        return write_lane_bodies(
            args.clips,
            args.out,
            every=args.every,
            val_fraction=args.val_fraction,
            max_hidden=args.max_hidden,
            min_shown=args.min_shown,
            detector=detector,
            progress=None if args.quiet else _progress,
        ).as_json()

    return _print_counts("lane-bodies", args.quiet, make)


def _print_counts(action: str, quiet: bool, make: Callable[[], dict[str, object]]) -> int:
    """Run ``make`` (a data-set writer returning its counts) and print the counts, with the
    seconds taken, as one JSON line: exit 0; or exit 2 with one error line for a missing input,
    an existing output or a bad argument."""
    t0 = time.perf_counter()
    try:
        counts = make()
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"hgv-lane dataset {action}: {e}", file=sys.stderr)
        return EXIT_UNUSABLE
    if not quiet:
        print("", file=sys.stderr)  # end the progress counter's line
    print(json.dumps({**counts, "seconds": round(time.perf_counter() - t0, 1)}))
    return EXIT_OK


def trailer_squares(args: argparse.Namespace) -> int:
    """Squash folder-per-class crop sets to the classifier's input size (several ``--src`` are
    merged; their files are prefixed with the set's folder name so none overwrites another).
    Exit 2 when a source is missing or two sources share a folder name."""
    from vision.train.datasets import write_square_crops  # noqa: PLC0415

    srcs: list[Path] = args.src
    names = [s.name for s in srcs]
    problem = next((f"--src {s}: no such folder" for s in srcs if not s.is_dir()), None)
    if problem is None and len(set(names)) < len(names):
        problem = f"--src folders must have different names (got {', '.join(names)})"
    if problem is not None:
        print(f"hgv-lane dataset trailer-squares: {problem}", file=sys.stderr)
        return EXIT_UNUSABLE
    counts: dict[str, dict[str, int]] = {}
    for src in srcs:
        prefix = f"{src.name}_" if len(srcs) > 1 else ""
        for split, per_class in write_square_crops(src, args.out, args.size, prefix=prefix).items():
            for cls, n in per_class.items():
                counts.setdefault(split, {})[cls] = counts.get(split, {}).get(cls, 0) + n
    print(json.dumps({"crops": counts}))
    return EXIT_OK


# --- dataset import ----------------------------------------------------------------------------

EXIT_OK = 0
"""Imported (problems, if any, were skipped or fixed and are counted in the report)."""
EXIT_REFUSED = 1
"""Nothing imported: ``--strict`` found problems, or no image was usable; only the report written."""
EXIT_UNUSABLE = 2
"""Bad arguments, a source that cannot be read at all, or a non-empty output folder; nothing written."""


def register_import(dsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dataset import``."""
    d = dsub.add_parser(
        "import",
        help="import YOLO / COCO / plate-manifest / folder-per-class sets, with a validation report",
        description=(
            "Check labelled images and write them as a set 'hgv-lane train' reads: a YOLO data.yaml "
            "(detection sources) or a folder-per-class root (crop folders), split train/val by "
            "vehicle/passage group. The report (import_report.json / .md) goes into --out. Exit codes: "
            "0 imported (bad items skipped and counted), 1 refused (--strict with problems, or nothing "
            "usable; only the report written), 2 unusable source/arguments or non-empty --out (nothing "
            "written). See docs/datasets.md."
        ),
    )
    d.add_argument(
        "sources",
        type=Path,
        nargs="+",
        metavar="SOURCE",
        help="YOLO folder or data.yaml, COCO .json, plate manifest .csv, or folder-per-class root",
    )
    d.add_argument("--out", type=Path, required=True, help="output folder (new or empty)")
    d.add_argument(
        "--format",
        choices=("auto", "yolo", "coco", "manifest", "folders"),
        default="auto",
        help="format of every SOURCE (default: from each path)",
    )
    d.add_argument("--images", type=Path, default=None, help="COCO: folder its file_name values are under")
    d.add_argument(
        "--classes",
        default=None,
        help="output classes: comma list, 'sides', 'body-types', or a file (data.yaml names / one per line); "
        "default: the sources' own names",
    )
    d.add_argument(
        "--class-map",
        action="append",
        default=[],
        metavar="SRC=DST",
        help="rename a source class (SRC= drops it on purpose; comma lists; 'body-to-side'); repeatable",
    )
    d.add_argument("--val-fraction", type=float, default=0.2, help="share of groups in val (default 0.2)")
    d.add_argument("--seed", type=int, default=0, help="split seed (0: the project's usual split)")
    d.add_argument(
        "--group-pattern",
        default=None,
        help="regex on the file stem whose 'group' capture is the group key "
        "(default strips a trailing _f0012 / _frame12 / -000123; 'none': one group per file)",
    )
    d.add_argument(
        "--groups", type=Path, default=None, help="CSV image_path,group (paths relative to the CSV)"
    )
    d.add_argument(
        "--near-threshold",
        type=int,
        default=None,
        help="near duplicates: perceptual-hash distance, in bits of 256 (default 10)",
    )
    d.add_argument("--no-near-duplicates", action="store_true", help="skip the near-duplicate check")
    d.add_argument(
        "--strict", action="store_true", help="refuse (exit 1, write only the report) on any problem"
    )
    d.add_argument("--link", action="store_true", help="hard-link images instead of copying them")
    d.add_argument("--json", action="store_true", help="print the JSON report instead of the summary")
    d.add_argument("--quiet", action="store_true", help="no progress counter on stderr")
    d.set_defaults(func=import_dataset)


def import_dataset(args: argparse.Namespace) -> int:
    """Run ``dataset import``; prints the report; returns an exit code (``EXIT_*``)."""
    from vision.train import imports  # noqa: PLC0415

    try:
        options = imports.ImportOptions(
            classes=imports.parse_classes(args.classes) if args.classes else None,
            class_map=imports.parse_class_map(args.class_map),
            val_fraction=args.val_fraction,
            seed=args.seed,
            group_pattern=None
            if args.group_pattern == "none"
            else (args.group_pattern or imports.DEFAULT_GROUP_PATTERN),
            groups_csv=args.groups,
            near_threshold=None
            if args.no_near_duplicates
            else (imports.DEFAULT_NEAR_THRESHOLD if args.near_threshold is None else args.near_threshold),
            strict=args.strict,
            link=args.link,
            images_dir=args.images,
        )
        fmt = None if args.format == "auto" else imports.Format(args.format)
        specs = [imports.SourceSpec(p, fmt) for p in args.sources]
        t0 = time.perf_counter()
        result = imports.import_dataset(specs, args.out, options, progress=None if args.quiet else _progress)
    except imports.SourceError as e:
        print(f"hgv-lane dataset import: {e}", file=sys.stderr)
        return EXIT_UNUSABLE
    if not args.quiet:
        print(f"\rread {result.report.found} images in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    report = result.report
    print(report.to_json() if args.json else _summary(report, args.out))
    return EXIT_REFUSED if report.refused else EXIT_OK


def _progress(n: int) -> None:
    if n % 100 == 0:
        print(f"\rread {n} images", end="", file=sys.stderr, flush=True)


def _summary(report: ImportReport, out: Path) -> str:
    """The Markdown report with short lists, and where the full one is."""
    from vision.train.imports import REPORT_JSON, REPORT_MD  # noqa: PLC0415

    return report.to_markdown(limit=20) + f"\nFull report: {out / REPORT_MD} and {out / REPORT_JSON}\n"
