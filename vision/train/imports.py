"""Import labelled images into the data sets ``hgv-lane train`` reads, with a validation report.

Sources (:class:`Format`): YOLO detection sets (``data.yaml`` + ``images/`` + ``labels/``, as
ultralytics reads them, or an ``images/`` tree without a ``data.yaml``), COCO instances JSON,
plate manifests (``../shared/data/README.md`` CSV format) and folder-per-class crops
(``<root>/<class>/*.jpg`` or ``<root>/<split>/<class>/*.jpg``).

Outputs: detection sources become one YOLO set (``data.yaml``, ``images/{train,val}``,
``labels/{train,val}``; plate manifests also give ``plates_{train,val}.csv`` that keep the plate
text); crop folders become a folder-per-class set (``{train,val}/<class>/``). Image files are
copied byte for byte (or hard-linked), never re-encoded.

The train/val split is :func:`vision.train.datasets.split_of` of each image's *group key* (one
vehicle or passage), so frames of one lorry never land on both sides. The key is an explicit
field when the source has one (a ``passage_id``/``group``/``vehicle_id`` manifest column or COCO
image attribute, or a ``groups.csv`` sidecar), otherwise the file's folder plus its stem with a
trailing frame number removed (:data:`DEFAULT_GROUP_PATTERN`).

Images are streamed: each file is read once (SHA-256 of its bytes, a reduced decode for its size,
readability and perceptual hash) and only small per-image records are kept. Everything is checked
before anything is written, so a refused ``strict`` import leaves only its report. See
``docs/datasets.md``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import imagehash
import yaml
from PIL import Image

from vision.anpr.imageio import open_pil, orientation_of, shown_size
from vision.train.datasets import manifest_image_name, split_of, split_score
from vision.types import BodyType

Task = Literal["detect", "classify"]
Split = Literal["train", "val"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
"""File suffixes taken as images when a folder is listed (ultralytics reads all of these)."""

SPLIT_DIRS = frozenset({"train", "val", "valid", "validation", "test"})
"""Folder names that are a source's own split, left out of names and group keys."""

LAYOUT_DIRS = SPLIT_DIRS | {"images", "labels"}

GROUP_FIELDS = ("passage_id", "group", "vehicle_id", "video_id")
"""Manifest columns / COCO image attributes that name an image's group, first non-empty wins."""

GROUPS_SIDECAR = "groups.csv"
"""A source root's sidecar with columns ``image_path`` (relative to it) and ``group``."""

DEFAULT_GROUP_PATTERN = r"^(?P<group>.+?)(?:[_-](?:f|frame)\d+|-\d+)$"
"""Matched against a file's stem; the ``group`` capture is the group key (``lorry7_f0012`` ->
``lorry7``, ``cam2-000123`` -> ``cam2``). A stem that does not match is its own key, so an
underscore-number suffix (``box_100_00007``, the generator's independent samples) is kept."""

PHASH_SIZE = 16
"""imagehash ``phash`` size: a 16x16 = 256-bit hash."""

PHASH_BITS = PHASH_SIZE * PHASH_SIZE

DEFAULT_NEAR_THRESHOLD = 10
"""Hamming distance (of 256 bits) at or below which two images are near duplicates. Re-encoding,
halving the size, blurring or brightening an image moves its hash by 0-4 bits; different lorries
seen by one fixed camera, and different frames of one lorry, are 28 bits or more apart."""

SIDES: tuple[str, ...] = ("hard", "other", "soft")
"""Trailer sides (the ``hard|soft|other`` labels of trailer manifests), sorted."""

BODY_TYPES: tuple[str, ...] = tuple(b.value for b in BodyType if b is not BodyType.UNKNOWN)
"""The trailer classifier's classes: the product's body types but ``unknown``."""

CLASS_PRESETS: Mapping[str, tuple[str, ...]] = {"sides": SIDES, "body-types": BODY_TYPES}

BODY_TO_SIDE: Mapping[str, str] = {b.value: b.side.value for b in BodyType if b is not BodyType.UNKNOWN}
"""The ``body-to-side`` class map: each body type to ``hard``, ``soft`` or ``other``."""

REPORT_JSON = "import_report.json"
REPORT_MD = "import_report.md"

_EPS = 1e-6
_PLATE_TEXT = re.compile(r"^[A-Z0-9?]*$")
_MANIFEST_COLUMNS = ("image_path", "plate_text", "country", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "notes")


class Format(StrEnum):
    """A source's format."""

    YOLO = "yolo"
    COCO = "coco"
    MANIFEST = "manifest"
    FOLDERS = "folders"

    @property
    def task(self) -> Task:
        return "classify" if self is Format.FOLDERS else "detect"


class ProblemKind(StrEnum):
    """What is wrong. The first group blocks ``--strict``; :data:`WARNING_KINDS` do not."""

    MISSING_FILE = "missing_file"
    UNREADABLE_IMAGE = "unreadable_image"
    BAD_LABEL = "bad_label"
    SIZE_MISMATCH = "size_mismatch"
    BOX_OUT_OF_RANGE = "box_out_of_range"
    BOX_EMPTY = "box_empty"
    UNKNOWN_CLASS = "unknown_class"
    BAD_TEXT = "bad_text"
    EXACT_DUPLICATE = "exact_duplicate"
    NEAR_DUPLICATE_ACROSS_SPLIT = "near_duplicate_across_split"
    ORPHAN_LABEL = "orphan_label"
    # warnings
    NEAR_DUPLICATE = "near_duplicate"
    CLASS_ABSENT = "class_absent"
    EMPTY_SPLIT = "empty_split"


WARNING_KINDS = frozenset({ProblemKind.NEAR_DUPLICATE, ProblemKind.CLASS_ABSENT, ProblemKind.EMPTY_SPLIT})


class SourceError(ValueError):
    """A source (or the output folder, or an option) cannot be used at all; nothing was written."""


# --- report ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding. ``item`` is the image as its source lists it (or ``row N``, ``annotation N``,
    a label file, a class); ``action`` is what the import did about it without ``--strict``."""

    kind: ProblemKind
    source: str
    item: str
    detail: str
    action: str


@dataclass(frozen=True, slots=True)
class DuplicatePair:
    """Two images with the same bytes (``exact``, distance 0) or perceptual hashes at most the
    threshold apart (``near``, distance in bits of :data:`PHASH_BITS`), each as ``source:item``.
    Splits are the final ones; ``"skipped"`` for the later copy of an exact duplicate."""

    kind: Literal["exact", "near"]
    first: str
    second: str
    distance_bits: int
    first_split: str
    second_split: str
    straddled_split: bool


@dataclass(frozen=True, slots=True)
class ClassCount:
    """Images holding the class, and its boxes (detection; equal to images for crops)."""

    images: int
    boxes: int


@dataclass(frozen=True, slots=True)
class SplitSummary:
    """One side of the split: images, groups, plate crops (manifest rows without a box) and
    the count of every output class."""

    images: int
    groups: int
    plate_crops: int
    per_class: Mapping[str, ClassCount]


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """A source as given, its format, the name its files are prefixed with, and its images."""

    path: str
    format: Format
    name: str
    found: int
    imported: int


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The validation report of one import (written as ``import_report.json`` and ``.md``).

    ``found`` counts images the sources list, ``imported`` those written, ``skipped`` the rest
    (each skipped image has at least one problem with action ``skipped``). ``refused`` is true
    when ``strict`` found problems (or nothing was importable): then only the report is written.
    """

    task: Task
    out: str
    strict: bool
    refused: bool
    refusal: str
    options: Mapping[str, object]
    sources: tuple[SourceSummary, ...]
    classes: tuple[str, ...]
    found: int
    imported: int
    skipped: int
    splits: Mapping[str, SplitSummary]
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    duplicates: tuple[DuplicatePair, ...]
    group_key_from: Mapping[str, int]
    largest_groups: tuple[tuple[str, int], ...]
    notes: Mapping[str, int]

    @property
    def problem_counts(self) -> dict[str, int]:
        """Problems per kind (sorted by kind)."""
        return dict(sorted(Counter(str(p.kind) for p in self.problems).items()))

    @property
    def warning_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(str(p.kind) for p in self.warnings).items()))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (adds ``problem_counts`` and ``warning_counts``)."""
        d = asdict(self)
        d["problem_counts"] = self.problem_counts
        d["warning_counts"] = self.warning_counts
        d["largest_groups"] = [{"group": g, "images": n} for g, n in self.largest_groups]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def to_markdown(self, limit: int = 50) -> str:
        """A readable report; lists show at most ``limit`` entries (the JSON has them all)."""
        verdict = (
            f"**REFUSED**: {self.refusal}"
            if self.refused
            else f"written to `{self.out}`" + (f" ({self.skipped} images skipped)" if self.skipped else "")
        )
        lines = [
            f"# Data-set import report ({self.task})",
            "",
            f"- result: {verdict}",
            f"- images: {self.found} found, {self.imported} imported, {self.skipped} skipped",
            f"- classes: {', '.join(self.classes) or '(none)'}",
            "- options: " + ", ".join(f"{k} `{v}`" for k, v in self.options.items()),
            "- group keys from: " + (", ".join(f"{k} {v}" for k, v in self.group_key_from.items()) or "-"),
            "- largest groups: " + (", ".join(f"`{g}` {n}" for g, n in self.largest_groups) or "-"),
            "",
            "| source | format | name | found | imported |",
            "|---|---|---|---:|---:|",
            *(f"| `{s.path}` | {s.format} | {s.name} | {s.found} | {s.imported} |" for s in self.sources),
            "",
            "## Split and class balance",
            "",
        ]
        classes = list(self.classes)
        detect = self.task == "detect"
        head = ["split", "images", "groups", *(["plate crops"] if detect else []), *classes]
        lines += ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        for name, s in self.splits.items():
            cells = [str(s.images), str(s.groups), *([str(s.plate_crops)] if detect else [])]
            cells += [
                f"{c.images}" + (f" ({c.boxes} boxes)" if detect else "")
                for c in (s.per_class.get(k, ClassCount(0, 0)) for k in classes)
            ]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "## Problems", ""]
        if not self.problems:
            lines.append("None.")
        else:
            lines += ["| kind | count |", "|---|---:|"]
            lines += [f"| {k} | {n} |" for k, n in self.problem_counts.items()]
            lines += ["", *_finding_lines(self.problems, limit)]
        lines += ["", "## Warnings", ""]
        lines += _finding_lines(self.warnings, limit) if self.warnings else ["None."]
        straddling = [d for d in self.duplicates if d.straddled_split]
        lines += [
            "",
            "## Duplicates",
            "",
            f"- exact: {sum(d.kind == 'exact' for d in self.duplicates)}; near, different groups: "
            f"{sum(d.kind == 'near' for d in self.duplicates)} ({len(straddling)} across the split); "
            f"near, one group: {self.notes.get('near_duplicates_same_group', 0)}",
        ]
        for d in self.duplicates[:limit]:
            lines.append(
                f"- {d.kind} ({d.distance_bits} bits): `{d.first}` ({d.first_split}) ~ `{d.second}` "
                f"({d.second_split})" + (" **straddled the split**" if d.straddled_split else "")
            )
        if len(self.duplicates) > limit:
            lines.append(f"- ... and {len(self.duplicates) - limit} more (see {REPORT_JSON})")
        if self.notes:
            lines += ["", "## Notes", "", *(f"- {k}: {v}" for k, v in self.notes.items())]
        return "\n".join(lines) + "\n"


def _finding_lines(findings: Sequence[Problem], limit: int) -> list[str]:
    lines = [f"- {p.kind} `{p.source}:{p.item}`: {p.detail} -> {p.action}" for p in findings[:limit]]
    if len(findings) > limit:
        lines.append(f"- ... and {len(findings) - limit} more (see {REPORT_JSON})")
    return lines


# --- what sources yield ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawBox:
    """A box as its source states it: class name and corners, in pixels or, when ``normalised``,
    as fractions of the image's width and height. ``where`` names it (``line 3``, ``row 7``);
    ``crowd`` marks a COCO ``iscrowd`` region (not imported)."""

    cls: str
    x1: float
    y1: float
    x2: float
    y2: float
    normalised: bool
    where: str
    crowd: bool = False


@dataclass(frozen=True, slots=True)
class PlateRow:
    """One plate-manifest row of an image: text, country, notes and its box (or ``None``: a crop)."""

    text: str
    country: str
    notes: str
    box: RawBox | None


@dataclass(frozen=True, slots=True)
class SourceItem:
    """One image a source lists, with its labels as the source states them.

    ``rel`` is the path as the source gives it (relative to its root when inside it);
    ``name_parts`` are its folders and file name without layout folders (``images``, splits,
    the class folder), used for output names and group keys. ``problems`` were found while
    parsing; an item with any is skipped. ``name_group`` is its group key when it has no
    explicit one, if its source decides it beyond the file-name pattern (a plate manifest:
    :func:`_manifest_groups`).
    """

    source: str
    path: Path
    rel: str
    name_parts: tuple[str, ...]
    label: str | None = None
    boxes: tuple[RawBox, ...] = ()
    plates: tuple[PlateRow, ...] = ()
    group: str | None = None
    expected_size: tuple[int, int] | None = None
    problems: tuple[Problem, ...] = ()
    name_group: str | None = None


@dataclass(frozen=True)
class OpenedSource:
    """A source whose structure has been read: its root, declared class names (in order) and a
    generator of its images (and of problems not tied to one image, e.g. orphan labels)."""

    path: Path
    format: Format
    name: str
    root: Path
    class_names: tuple[str, ...]
    items: Callable[[], Iterator[SourceItem | Problem]]
    sidecar: Path | None = None


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source path and its format (``None``: detect it from the path)."""

    path: Path
    format: Format | None = None


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How to import. ``classes``: output class names (detection ids are their indices; crop
    folders are sorted as ultralytics sorts them); ``None`` takes them from the sources.
    ``class_map``: source class name -> output name, ``None`` to drop that class on purpose.
    ``group_pattern``: see :data:`DEFAULT_GROUP_PATTERN`; ``None`` makes every file its own group.
    ``near_threshold``: bits of :data:`PHASH_BITS`, ``None`` to skip the near-duplicate check."""

    classes: tuple[str, ...] | None = None
    class_map: Mapping[str, str | None] = field(default_factory=dict)
    val_fraction: float = 0.2
    seed: int = 0
    group_pattern: str | None = DEFAULT_GROUP_PATTERN
    groups_csv: Path | None = None
    near_threshold: int | None = DEFAULT_NEAR_THRESHOLD
    strict: bool = False
    link: bool = False
    images_dir: Path | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0:
            raise SourceError(f"val fraction must be in [0, 1), got {self.val_fraction}")
        if self.near_threshold is not None and not 0 <= self.near_threshold < PHASH_BITS // 2:
            raise SourceError(f"near threshold must be in [0, {PHASH_BITS // 2}), got {self.near_threshold}")
        try:
            re.compile(self.group_pattern or "")
        except re.error as e:
            raise SourceError(f"bad group pattern {self.group_pattern!r}: {e}") from e


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What one read of an image file gives: SHA-256 of its bytes (hex), its 256-bit perceptual
    hash as an int, and its size in pixels as shown (EXIF orientation applied, as ultralytics
    and labelling tools show it)."""

    sha256: str
    phash: int
    width_px: int
    height_px: int


@dataclass(frozen=True, slots=True)
class ImportedItem:
    """One image of the imported set: where it came from, its output file name, group key and
    split, and its labels (``label`` for crops; ``boxes`` as YOLO ``(class id, cx, cy, w, h)``
    normalised to [0, 1]; ``plates`` with pixel boxes clipped to the image)."""

    source: str
    path: Path
    rel: str
    name: str
    group: str
    split: Split
    facts: ImageFacts
    label: str | None
    boxes: tuple[tuple[int, float, float, float, float], ...]
    plates: tuple[PlateRow, ...]

    @property
    def is_plate_crop(self) -> bool:
        """A plate-manifest image without any box: the plate crop itself (not detector data)."""
        return bool(self.plates) and all(p.box is None for p in self.plates)


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The report and, unless refused, the items written."""

    report: ImportReport
    items: tuple[ImportedItem, ...]


# --- class names and maps ----------------------------------------------------------------------


def parse_classes(spec: str) -> tuple[str, ...]:
    """Output class names from ``--classes``: a preset (``sides``, ``body-types``), a file
    (a ``.yaml`` with ``names``, or one name per line) or a comma-separated list."""
    if spec in CLASS_PRESETS:
        return CLASS_PRESETS[spec]
    path = Path(spec)
    if path.suffix.lower() in (".yaml", ".yml", ".txt") and not path.is_file():
        raise SourceError(f"class file {spec} does not exist")
    if path.is_file():
        if path.suffix.lower() in (".yaml", ".yml"):
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            by_id = _yaml_names(doc.get("names") if isinstance(doc, dict) else None, path)
            return tuple(by_id[i] for i in sorted(by_id))
        return tuple(n.strip() for n in path.read_text(encoding="utf-8").splitlines() if n.strip())
    names = tuple(n.strip() for n in spec.split(",") if n.strip())
    if not names:
        raise SourceError(f"no class names in {spec!r}")
    if len(set(names)) != len(names):
        raise SourceError(f"repeated class names in {spec!r}")
    return names


def parse_class_map(entries: Sequence[str]) -> dict[str, str | None]:
    """``--class-map`` entries: ``SRC=DST`` (rename), ``SRC=`` (drop on purpose), comma lists of
    those, or the preset ``body-to-side``."""
    out: dict[str, str | None] = {}
    for entry in entries:
        if entry == "body-to-side":
            out.update(BODY_TO_SIDE)
            continue
        for part in (p.strip() for p in entry.split(",")):
            if not part:
                continue
            if "=" not in part:
                raise SourceError(f"class map entry {part!r} is not SRC=DST (or SRC= to drop)")
            src, dst = (s.strip() for s in part.split("=", 1))
            out[src] = dst or None
    return out


def _yaml_names(names: object, where: Path) -> dict[int, str]:
    if isinstance(names, list):
        return {i: str(n) for i, n in enumerate(names)}
    if isinstance(names, dict):
        try:
            return {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError) as e:
            raise SourceError(f"{where}: names keys must be class ids") from e
    raise SourceError(f"{where}: no 'names' list or map")


def output_classes(task: Task, declared: Sequence[str], options: ImportOptions) -> tuple[str, ...]:
    """The output classes: ``options.classes`` if given, else the mapped source names (detection:
    in order of first appearance; crops: :data:`SIDES` or
    :data:`BODY_TYPES`, whichever names more of them). Crop classes come back sorted, as
    ultralytics orders folders."""
    if options.classes is not None:
        classes = options.classes
    else:
        mapped = [options.class_map.get(n, n) for n in declared]
        kept = [m for m in mapped if m is not None]
        if task == "detect":
            classes = tuple(dict.fromkeys(kept))
        else:  # the vocabulary naming more of the folders ("other" is in both)
            sides = len(set(kept) & (set(SIDES) - {"other"}))
            body_types = len(set(kept) & (set(BODY_TYPES) - {"other"}))
            classes = SIDES if sides > body_types else BODY_TYPES
    return tuple(sorted(classes)) if task == "classify" else tuple(classes)


# --- group keys --------------------------------------------------------------------------------


def group_key_from_name(name_parts: Sequence[str], pattern: re.Pattern[str] | None) -> str:
    """``folder/.../key`` where ``key`` is the file stem with a trailing frame number removed by
    ``pattern`` (its ``group`` capture, else its first; a stem that does not match is kept;
    ``None``: every file is its own group)."""
    *folders, file = name_parts
    stem = Path(file).stem
    m = pattern.match(stem) if pattern is not None else None
    if m is not None and m.re.groups:
        stem = m.group("group") if "group" in m.re.groupindex else m.group(1)
    return "/".join([*folders, stem])


def _name_group(item: SourceItem, pattern: re.Pattern[str] | None) -> str:
    """An item's group key from its file name (its source's ``name_group`` when it gives one)."""
    return item.name_group or group_key_from_name(item.name_parts, pattern)


def _manifest_groups(
    manifest: Path, by_image: Mapping[str, Sequence[tuple[int, dict[str, str]]]], options: ImportOptions
) -> dict[str, str]:
    """A plate manifest's group key per image (``image_path`` as written) when no column names
    it: the images the file-name pattern groups stay one group when their read texts repeat (no
    more distinct texts, joined, than three quarters of the read images: frames of one vehicle,
    ``lorry7_f0001.jpg`` ... ``lorry7_f0008.jpg``, its tractor's and trailer's plates, a part-read
    one, frames with no text read among them); otherwise they are photographs of different
    vehicles (``car9-0.jpg``, ``car9-1.jpg`` of two cars; plates-dev's 167 ``wts-lg-NNN``
    captures), split where no text joins them. Each group is named by
    :func:`~vision.train.datasets.manifest_image_name`, the name ``dataset plate-tiles`` and
    ``train reader`` split photographs by, and a group of several by its member that split scores
    highest, so a group is in val only when the shipped models held out all of it: none of their
    training photographs lands in val."""
    pattern = re.compile(options.group_pattern) if options.group_pattern else None
    salt = _salt(options)
    by_key: dict[str, list[str]] = defaultdict(list)
    for image_path in by_image:
        by_key[group_key_from_name(_name_parts(Path(image_path).as_posix()), pattern)].append(image_path)
    groups: dict[str, str] = {}
    for images in by_key.values():
        texts = {
            image: {(row.get("plate_text") or "").strip().upper() for _, row in by_image[image]}
            for image in images
        }
        components = _sharing_a_text(images, texts)
        read = [c for c in components if any(texts[image] - {""} for image in c)]
        n_read = sum(len(c) for c in read)
        if 4 * len(read) <= 3 * n_read:
            # texts repeat (a quarter or more of the read images share one with another): one
            # vehicle's frames (its tractor's plate, its trailer's, a part-read one), with those
            # whose plate was not read, as the pattern grouped them; kept whole when unsure, as
            # a group split wrongly leaks a vehicle into val and one kept whole does not
            components = [list(images)]
        for component in components:
            names = [manifest_image_name(manifest, manifest.parent / image) for image in component]
            name = max(names, key=lambda n: split_score(n, salt))
            groups.update(dict.fromkeys(component, name))
    return groups


def _sharing_a_text(images: Sequence[str], texts: Mapping[str, set[str]]) -> list[list[str]]:
    """``images`` in groups joined wherever two share a text (connected components, in order)."""
    parent = {image: image for image in images}

    def root(image: str) -> str:
        while parent[image] != image:
            image = parent[image]
        return image

    first_with: dict[str, str] = {}
    for image in images:
        for text in texts[image] - {""}:
            parent[root(image)] = root(first_with.setdefault(text, image))
    members: dict[str, list[str]] = defaultdict(list)
    for image in images:
        members[root(image)].append(image)
    return list(members.values())


def read_groups_csv(path: Path) -> dict[Path, str]:
    """A groups sidecar: ``image_path`` (relative to the CSV's folder) -> ``group``."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not {"image_path", "group"} <= set(reader.fieldnames or ()):
            raise SourceError(f"{path}: a groups file needs the columns image_path, group")
        return {
            (path.parent / row["image_path"]).resolve(): row["group"].strip()
            for row in reader
            if row.get("image_path") and (row.get("group") or "").strip()
        }


# --- sources -----------------------------------------------------------------------------------


def detect_format(path: Path) -> Format:
    """The format of a source path: ``.json`` COCO, ``.csv`` manifest, ``.yaml`` YOLO; a folder
    with a ``data.yaml`` (or ``images/``) YOLO, else folder-per-class."""
    if not path.exists():
        raise SourceError(f"source {path} does not exist")
    if path.is_file():
        suffix = path.suffix.lower()
        formats = {".json": Format.COCO, ".csv": Format.MANIFEST, ".yaml": Format.YOLO, ".yml": Format.YOLO}
        if suffix in formats:
            return formats[suffix]
        raise SourceError(f"cannot tell the format of {path} (give --format)")
    if any((path / n).is_file() for n in _DATA_YAML_NAMES) or (path / "images").is_dir():
        return Format.YOLO
    return Format.FOLDERS


def open_source(spec: SourceSpec, options: ImportOptions) -> OpenedSource:
    """Read a source's structure (not its images); raises :class:`SourceError` when unusable."""
    fmt = spec.format or detect_format(spec.path)
    if not spec.path.exists():
        raise SourceError(f"source {spec.path} does not exist")
    openers = {
        Format.YOLO: _open_yolo,
        Format.COCO: _open_coco,
        Format.MANIFEST: _open_manifest,
        Format.FOLDERS: _open_folders,
    }
    return openers[fmt](spec.path.resolve(), options)


def _source_name(path: Path) -> str:
    if path.is_dir():
        return path.name
    if path.stem in ("data", "dataset"):
        return path.parent.name
    return path.stem


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _name_parts(rel: str) -> tuple[str, ...]:
    """Folders and file name of ``rel`` without layout folders (``images``, ``labels``, splits)."""
    parts = [p for p in Path(rel).parts if p not in ("..", ".", "/") and not p.endswith(":\\")]
    *folders, file = parts
    return (*(f for f in folders if f.lower() not in LAYOUT_DIRS), file)


_DATA_YAML_NAMES = ("data.yaml", "data.yml", "dataset.yaml")


def _find_data_yaml(root: Path) -> Path | None:
    """``data.yaml`` (or ``data.yml``, ``dataset.yaml``) in ``root``, else its only ``.yaml``."""
    for name in _DATA_YAML_NAMES:
        if (root / name).is_file():
            return root / name
    yamls = sorted(root.glob("*.yaml")) + sorted(root.glob("*.yml"))
    return yamls[0] if len(yamls) == 1 else None


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def label_path_of(image: Path) -> Path:
    """ultralytics' rule: the last ``/images/`` folder becomes ``/labels/``, the suffix ``.txt``."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return Path(sb.join(str(image).rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt")


def _open_yolo(path: Path, options: ImportOptions) -> OpenedSource:
    data_yaml = path if path.is_file() else _find_data_yaml(path)
    entries: list[Path] = []
    names: dict[int, str] = {}
    if data_yaml is not None:
        try:
            doc = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise SourceError(f"{data_yaml}: not readable YAML: {e}") from e
        if not isinstance(doc, dict):
            raise SourceError(f"{data_yaml}: not a YOLO data.yaml (no mapping)")
        root = data_yaml.parent
        if doc.get("path"):
            given = Path(str(doc["path"]))
            for candidate in (given if given.is_absolute() else root / given, given):
                if candidate.is_dir():
                    root = candidate.resolve()
                    break
        if doc.get("names") is not None:
            names = _yaml_names(doc["names"], data_yaml)
        elif isinstance(doc.get("nc"), int) and options.classes is None:
            raise SourceError(f"{data_yaml}: 'nc' without 'names': give --classes")
        for key in ("train", "val", "validation", "valid", "test", "minival"):
            value = doc.get(key)
            for entry in value if isinstance(value, list) else [value] if value else []:
                p = Path(str(entry))
                resolved = p if p.is_absolute() else (root / p).resolve()
                if not resolved.exists() and str(entry).startswith("../"):  # as ultralytics (Roboflow)
                    resolved = (root / str(entry)[3:]).resolve()
                entries.append(resolved)
        if not entries:
            raise SourceError(f"{data_yaml}: lists no train/val/test images")
    else:
        root = path
        if not (root / "images").is_dir():
            raise SourceError(f"{root}: neither a data.yaml nor an images/ folder")
        entries = [root / "images"]
        if (root / "classes.txt").is_file():
            names = dict(enumerate(parse_classes(str(root / "classes.txt"))))
    if not names:
        if options.classes is None:
            raise SourceError(f"{path}: no class names (data.yaml 'names' or classes.txt): give --classes")
        names = dict(enumerate(options.classes))
    name = _source_name(path if path.is_dir() else data_yaml or path)

    def items() -> Iterator[SourceItem | Problem]:
        seen_labels: set[Path] = set()
        label_dirs: list[tuple[Path, Path]] = []
        for entry in entries:
            if not entry.exists():
                yield Problem(
                    ProblemKind.MISSING_FILE,
                    name,
                    _rel(entry, root),
                    "listed in data.yaml but absent",
                    "ignored",
                )
                continue
            if entry.is_dir():
                images = sorted(p for p in entry.rglob("*") if p.is_file() and _is_image(p))
                label_dirs.append((entry, label_path_of(entry / "x.jpg").parent))
            else:
                images = _read_image_list(entry)
            for image in images:
                label = label_path_of(image)
                seen_labels.add(label)
                rel = _rel(image, root)
                boxes, problems = _yolo_labels(label, names, name, rel)
                yield SourceItem(name, image, rel, _name_parts(rel), boxes=boxes, problems=problems)
        for image_dir, label_dir in dict.fromkeys(label_dirs):
            if label_dir == image_dir or not label_dir.is_dir():
                continue
            for label in sorted(label_dir.rglob("*.txt")):
                if label not in seen_labels and label.name != "classes.txt":
                    yield Problem(
                        ProblemKind.ORPHAN_LABEL,
                        name,
                        _rel(label, root),
                        "label file without an image",
                        "ignored",
                    )

    return OpenedSource(
        path, Format.YOLO, name, root, tuple(names[i] for i in sorted(names)), items, _sidecar(root)
    )


def _read_image_list(list_file: Path) -> list[Path]:
    out = []
    for line in list_file.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            p = Path(line[2:] if line.startswith("./") else line)
            out.append(p if p.is_absolute() else (list_file.parent / p).resolve())
    return out


def _yolo_labels(
    label: Path, names: Mapping[int, str], source: str, rel: str
) -> tuple[tuple[RawBox, ...], tuple[Problem, ...]]:
    """Boxes and parse problems of one YOLO label file (no file: a background image). Polygon
    (segmentation) lines give their bounding box, as ultralytics does."""
    if not label.is_file():
        return (), ()
    boxes: list[RawBox] = []
    problems: list[Problem] = []
    try:
        text = label.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return (), (Problem(ProblemKind.BAD_LABEL, source, rel, f"label unreadable: {e}", "skipped"),)
    for n, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            values = [float(v) for v in fields]
            if not all(math.isfinite(v) for v in values):
                raise ValueError("not a finite number")
            if len(values) < 5 or (len(values) > 5 and len(values) % 2 == 0) or values[0] != int(values[0]):
                raise ValueError(f"{len(fields)} fields")
        except ValueError as e:
            problems.append(
                Problem(ProblemKind.BAD_LABEL, source, rel, f"{label.name} line {n}: {e}", "skipped")
            )
            continue
        cls_id = int(values[0])
        cls = names.get(cls_id, str(cls_id))
        if len(values) == 5:
            cx, cy, w, h = values[1:]
            x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        else:
            xs, ys = values[1::2], values[2::2]
            x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
        boxes.append(RawBox(cls, x1, y1, x2, y2, normalised=True, where=f"line {n}"))
    return tuple(boxes), tuple(problems)


def _sidecar(root: Path) -> Path | None:
    return root / GROUPS_SIDECAR if (root / GROUPS_SIDECAR).is_file() else None


def _open_coco(path: Path, options: ImportOptions) -> OpenedSource:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SourceError(f"{path}: not readable JSON: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise SourceError(f"{path}: not a COCO instances file (no 'images' list)")
    try:
        categories = {int(c["id"]): str(c["name"]) for c in doc.get("categories") or []}
    except (KeyError, TypeError, ValueError) as e:
        raise SourceError(f"{path}: bad 'categories': {e}") from e
    image_root = (options.images_dir or path.parent).resolve()
    name = _source_name(path)
    anns_by_image: dict[object, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    image_ids = {img.get("id") for img in doc["images"] if isinstance(img, dict)}
    orphans: list[Problem] = []
    for n, ann in enumerate(doc.get("annotations") or []):
        if not isinstance(ann, dict) or ann.get("image_id") not in image_ids:
            ref = ann.get("image_id") if isinstance(ann, dict) else None
            orphans.append(
                Problem(
                    ProblemKind.BAD_LABEL,
                    name,
                    f"annotation {n}",
                    f"image_id {ref!r} not in images",
                    "ignored",
                )
            )
            continue
        anns_by_image[ann["image_id"]].append((n, ann))

    def items() -> Iterator[SourceItem | Problem]:
        yield from orphans
        for k, img in enumerate(doc["images"]):
            if not isinstance(img, dict) or not img.get("file_name"):
                yield Problem(ProblemKind.BAD_LABEL, name, f"image {k}", "no file_name", "ignored")
                continue
            file_name = str(img["file_name"])
            candidates = [image_root / file_name, image_root / "images" / file_name]
            image = next((c for c in candidates if c.exists()), candidates[0])
            boxes: list[RawBox] = []
            problems: list[Problem] = []
            for n, ann in anns_by_image.get(img.get("id"), []):
                cat = ann.get("category_id")
                cls = categories[cat] if isinstance(cat, int) and cat in categories else f"category {cat}"
                bbox = ann.get("bbox")
                if ann.get("iscrowd"):
                    boxes.append(
                        RawBox(cls, 0, 0, 0, 0, normalised=False, where=f"annotation {n}", crowd=True)
                    )
                    continue
                try:
                    if not isinstance(bbox, list | tuple):
                        raise TypeError("not a list")
                    x, y, w, h = (float(v) for v in bbox)
                    if not all(math.isfinite(v) for v in (x, y, w, h)):
                        raise ValueError("not finite")
                except (TypeError, ValueError):
                    problems.append(
                        Problem(
                            ProblemKind.BAD_LABEL,
                            name,
                            file_name,
                            f"annotation {n}: bbox {bbox!r}",
                            "skipped",
                        )
                    )
                    continue
                boxes.append(RawBox(cls, x, y, x + w, y + h, normalised=False, where=f"annotation {n}"))
            size = None
            if isinstance(img.get("width"), int | float) and isinstance(img.get("height"), int | float):
                size = (int(img["width"]), int(img["height"]))
            group = next((str(img[f]) for f in GROUP_FIELDS if img.get(f) not in (None, "")), None)
            yield SourceItem(
                name,
                image,
                file_name,
                _name_parts(file_name),
                boxes=tuple(boxes),
                group=group,
                expected_size=size,
                problems=tuple(problems),
            )

    return OpenedSource(
        path,
        Format.COCO,
        name,
        image_root,
        tuple(categories[i] for i in sorted(categories)),
        items,
        _sidecar(path.parent),
    )


def _open_manifest(path: Path, options: ImportOptions) -> OpenedSource:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = set(reader.fieldnames or ())
            rows = list(enumerate(reader, start=2))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise SourceError(f"{path}: not a readable CSV: {e}") from e
    if "image_path" in columns and "label" in columns and "plate_text" not in columns:
        raise SourceError(
            f"{path}: a trailer manifest (image_path,label) lists whole photographs for 'eval trailers'; "
            "the classifier trains on crops: import a folder-per-class crop set instead"
        )
    missing = {"image_path", "plate_text"} - columns
    if missing:
        raise SourceError(f"{path}: not a plate manifest, missing column(s) {', '.join(sorted(missing))}")
    name = _source_name(path)
    by_image: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, row in rows:
        by_image.setdefault((row.get("image_path") or "").strip(), []).append((line, row))
    name_groups = _manifest_groups(path, by_image, options)

    def items() -> Iterator[SourceItem | Problem]:
        for image_path, image_rows in by_image.items():
            if not image_path:
                for line, _ in image_rows:
                    yield Problem(ProblemKind.BAD_LABEL, name, f"row {line}", "empty image_path", "ignored")
                continue
            plates: list[PlateRow] = []
            problems: list[Problem] = []
            group = None
            for line, row in image_rows:
                group = group or next(
                    (row[f].strip() for f in GROUP_FIELDS if (row.get(f) or "").strip()), None
                )
                text = (row.get("plate_text") or "").strip().upper()
                raw = [(row.get(k) or "").strip() for k in ("bbox_x", "bbox_y", "bbox_w", "bbox_h")]
                box = None
                if any(raw):
                    try:
                        x, y, w, h = (float(v) for v in raw)
                        if not all(math.isfinite(v) for v in (x, y, w, h)):
                            raise ValueError("not finite")
                    except ValueError:
                        problems.append(
                            Problem(
                                ProblemKind.BAD_LABEL,
                                name,
                                image_path,
                                f"row {line}: bad box {raw}",
                                "skipped",
                            )
                        )
                        continue
                    box = RawBox("plate", x, y, x + w, y + h, normalised=False, where=f"row {line}")
                if not _PLATE_TEXT.match(text) or (box is None and not text):
                    problems.append(
                        Problem(
                            ProblemKind.BAD_TEXT,
                            name,
                            image_path,
                            f"row {line}: a crop row (no box) needs a plate_text"
                            if not text
                            else f"row {line}: plate_text {text!r} is not A-Z, 0-9 and ?",
                            "skipped",
                        )
                    )
                    continue
                plates.append(
                    PlateRow(text, (row.get("country") or "").strip(), (row.get("notes") or "").strip(), box)
                )
            image = (path.parent / image_path).resolve()
            rel = Path(image_path).as_posix()
            yield SourceItem(
                name,
                image,
                rel,
                _name_parts(rel),
                boxes=tuple(p.box for p in plates if p.box is not None),
                plates=tuple(plates),
                group=group,
                problems=tuple(problems),
                name_group=name_groups.get(image_path),
            )

    return OpenedSource(path, Format.MANIFEST, name, path.parent, ("plate",), items, _sidecar(path.parent))


def _open_folders(path: Path, options: ImportOptions) -> OpenedSource:
    if not path.is_dir():
        raise SourceError(f"{path}: a folder-per-class source must be a folder")
    children = sorted(p for p in path.iterdir() if p.is_dir())
    split_layout = bool(children) and all(c.name.lower() in SPLIT_DIRS for c in children)
    class_dirs = (
        [c for s in children for c in sorted(s.iterdir()) if c.is_dir()] if split_layout else children
    )
    if not class_dirs:
        empty = not any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in path.rglob("*"))
        raise SourceError(
            f"{path}: no class folders (<root>/<class>/ or <root>/<split>/<class>/)"
            + (
                ": it holds no image, nothing to import yet (a feedback export with no corrections?)"
                if empty
                else ""
            )
        )
    name = _source_name(path)
    declared = tuple(dict.fromkeys(c.name for c in class_dirs))

    def items() -> Iterator[SourceItem | Problem]:
        parents = children if split_layout else [path]
        loose = [f for d in parents for f in sorted(d.iterdir()) if f.is_file()]
        for f in loose:
            if _is_image(f):
                rel = _rel(f, path)
                yield SourceItem(
                    name,
                    f,
                    rel,
                    _name_parts(rel),
                    problems=(
                        Problem(ProblemKind.BAD_LABEL, name, rel, "not inside a class folder", "skipped"),
                    ),
                )
        for class_dir in class_dirs:
            for f in sorted(class_dir.rglob("*")):
                if f.is_file() and _is_image(f):
                    rel = _rel(f, path)
                    inside = f.relative_to(class_dir).as_posix()  # sub-folders kept, class left out
                    yield SourceItem(name, f, rel, _name_parts(inside), label=class_dir.name)

    return OpenedSource(path, Format.FOLDERS, name, path, declared, items, _sidecar(path))


# --- reading images ----------------------------------------------------------------------------


def inspect_image(path: Path) -> ImageFacts:
    """Read one image file once: SHA-256 of its bytes, size, and a perceptual hash from a reduced
    decode. Raises ``OSError`` (missing, truncated) or ``ValueError`` (not an image:
    :class:`vision.anpr.imageio.BadImageError`)."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    try:
        with open_pil(io.BytesIO(data), path) as im:
            width, height = shown_size(im.width, im.height, orientation_of(im))
            im.draft("L", (PHASH_SIZE * 8, PHASH_SIZE * 8))  # JPEG: decode at 1/2..1/8 scale
            im.load()
            ph = imagehash.phash(im, hash_size=PHASH_SIZE)
    except (SyntaxError, Image.DecompressionBombError) as e:
        raise ValueError(str(e)) from e
    return ImageFacts(digest, int(str(ph), 16), int(width), int(height))


def near_duplicate_pairs(
    hashes: Sequence[int], threshold: int, bits: int = PHASH_BITS
) -> list[tuple[int, int, int]]:
    """Index pairs ``(i, j, distance)``, ``i < j``, whose hashes differ in at most ``threshold``
    bits, sorted. Multi-index search: cut each hash into ``threshold + 1`` chunks; two hashes
    that close agree exactly on at least one chunk, so only hashes sharing a chunk are compared."""
    n_chunks = threshold + 1
    bounds = [round(k * bits / n_chunks) for k in range(n_chunks + 1)]
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, h in enumerate(hashes):
        for k in range(n_chunks):
            lo, hi = bounds[k], bounds[k + 1]
            buckets[(k, (h >> lo) & ((1 << (hi - lo)) - 1))].append(i)
    found: dict[tuple[int, int], int] = {}
    for members in buckets.values():
        for a, i in enumerate(members):
            for j in members[a + 1 :]:
                if (i, j) not in found:
                    found[(i, j)] = (hashes[i] ^ hashes[j]).bit_count()
    return sorted((i, j, d) for (i, j), d in found.items() if d <= threshold)


def check_box(
    raw: RawBox, width_px: int, height_px: int
) -> tuple[tuple[float, float, float, float] | None, ProblemKind | None, str]:
    """A source box against its image: ``((cx, cy, w, h) normalised or None, problem, detail)``.
    Partly outside the image (or normalised coordinates outside [0, 1]): clipped, reported as
    ``box_out_of_range``. Zero or negative size, or nothing left inside: ``None``, ``box_empty``."""
    sx, sy = (1.0, 1.0) if raw.normalised else (1.0 / width_px, 1.0 / height_px)
    x1, y1, x2, y2 = raw.x1 * sx, raw.y1 * sy, raw.x2 * sx, raw.y2 * sy
    unit = "normalised" if raw.normalised else "px"
    given = (
        f"{raw.where}: {raw.cls} box ({raw.x1:g}, {raw.y1:g}, {raw.x2:g}, {raw.y2:g}) {unit}"
        f" in a {width_px}x{height_px} image"
    )
    if x2 - x1 <= 0 or y2 - y1 <= 0:
        return None, ProblemKind.BOX_EMPTY, given + ": zero or negative size"
    out = x1 < -_EPS or y1 < -_EPS or x2 > 1 + _EPS or y2 > 1 + _EPS
    x1, y1, x2, y2 = max(x1, 0.0), max(y1, 0.0), min(x2, 1.0), min(y2, 1.0)
    if x2 - x1 <= 0 or y2 - y1 <= 0:
        return None, ProblemKind.BOX_EMPTY, given + ": wholly outside the image"
    box = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
    return (
        box,
        (ProblemKind.BOX_OUT_OF_RANGE if out else None),
        given + (": outside the image" if out else ""),
    )


# --- the import --------------------------------------------------------------------------------


@dataclass
class _Scan:
    """What the read pass keeps: small per-image records, never pixels."""

    task: Task
    classes: tuple[str, ...]
    sources: list[OpenedSource]
    items: list[ImportedItem] = field(default_factory=list)
    group_from: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    found: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    exact: list[tuple[int, str]] = field(default_factory=list)
    """Exact duplicates: (index of the kept copy in ``items``, ``source:item`` of the skipped one)."""


def import_dataset(
    sources: Sequence[SourceSpec],
    out: Path,
    options: ImportOptions,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Check ``sources`` and, unless refused, write the normalised set to ``out``; the report
    goes to ``out`` either way. ``progress`` is called with the number of images read so far.
    Raises :class:`SourceError` (nothing written) when a source or ``out`` cannot be used."""
    check_output_folder(out)
    scan = _scan(sources, options, progress)
    near_pairs, near_problems = _join_near_duplicates(scan, options)
    _cover_every_class(scan, options)
    report = _report(scan, out, options, near_pairs, near_problems)
    out.mkdir(parents=True, exist_ok=True)
    items = tuple(scan.items)
    if not report.refused:
        _write(scan.task, scan.classes, items, out, options.link)
    (out / REPORT_JSON).write_text(report.to_json(), encoding="utf-8")
    (out / REPORT_MD).write_text(report.to_markdown(limit=200), encoding="utf-8")
    return ImportResult(report, () if report.refused else items)


def check_output_folder(out: Path) -> None:
    """Raise :class:`SourceError` unless ``out`` is absent, empty, or holds only an earlier report."""
    if out.exists() and not out.is_dir():
        raise SourceError(f"output {out} is a file")
    if out.is_dir():
        left = sorted(p.name for p in out.iterdir() if p.name not in (REPORT_JSON, REPORT_MD))
        if left:
            raise SourceError(f"output folder {out} is not empty ({', '.join(left[:5])}): choose a new one")


def _scan(
    sources: Sequence[SourceSpec], options: ImportOptions, progress: Callable[[int], None] | None
) -> _Scan:
    """Open every source, then read and check its images one at a time."""
    if not sources:
        raise SourceError("no sources given")
    opened = [open_source(s, options) for s in sources]
    tasks = {o.format.task for o in opened}
    if len(tasks) > 1:
        raise SourceError(
            "cannot mix detection sources (YOLO, COCO, manifests) with class folders in one import"
        )
    task: Task = tasks.pop()
    seen_names: Counter[str] = Counter()
    for i, o in enumerate(opened):  # unique source names: they prefix output files
        seen_names[o.name] += 1
        if seen_names[o.name] > 1:
            opened[i] = replace(o, name=f"{o.name}_{seen_names[o.name]}")
    classes = output_classes(task, [n for o in opened for n in o.class_names], options)
    if not classes:
        raise SourceError("no output classes (every source class was mapped away)")
    sidecar: dict[Path, str] = {}
    for o in opened:
        if o.sidecar is not None:
            sidecar.update(read_groups_csv(o.sidecar))
    if options.groups_csv is not None:
        sidecar.update(read_groups_csv(options.groups_csv))
    pattern = re.compile(options.group_pattern) if options.group_pattern else None
    scan = _Scan(task, classes, opened)
    first_of: dict[str, int] = {}
    used_stems: set[str] = set()
    for o in opened:
        listed: set[Path] = set()
        for entry in o.items():
            if isinstance(entry, Problem):
                scan.problems.append(replace(entry, source=o.name))
                continue
            if entry.path in listed:  # e.g. a data.yaml whose val is its train
                scan.notes["images_listed_twice_by_a_source"] += 1
                continue
            listed.add(entry.path)
            item = replace(
                entry, source=o.name, problems=tuple(replace(p, source=o.name) for p in entry.problems)
            )
            scan.found[o.name] += 1
            if progress is not None:
                progress(sum(scan.found.values()))
            checked = _check_item(item, task, classes, options, scan)
            if checked is None:
                continue
            facts, label, boxes, plates = checked
            first = first_of.get(facts.sha256)
            if first is not None:
                kept = scan.items[first]
                labels = f" (labelled {kept.label}, this one {label})" if kept.label != label else ""
                scan.problems.append(
                    Problem(
                        ProblemKind.EXACT_DUPLICATE,
                        o.name,
                        item.rel,
                        f"same bytes as {kept.source}:{kept.rel}{labels}",
                        "skipped",
                    )
                )
                scan.exact.append((first, f"{o.name}:{item.rel}"))
                continue
            if item.group is not None:
                group, group_from = item.group, "column"
            elif sidecar and item.path.resolve() in sidecar:
                group, group_from = sidecar[item.path.resolve()], "sidecar"
            else:
                group, group_from = _name_group(item, pattern), "file name"
            name = _unique_stem(o.name, item.name_parts, used_stems) + item.path.suffix.lower()
            first_of[facts.sha256] = len(scan.items)
            scan.items.append(
                ImportedItem(
                    o.name,
                    item.path,
                    item.rel,
                    name,
                    group,
                    _side(group, options),
                    facts,
                    label,
                    boxes,
                    plates,
                )
            )
            scan.group_from.append(group_from)
    return scan


def _salt(options: ImportOptions) -> str:
    """The split hash's salt: the project's usual split for seed 0."""
    return "hgv-lane" if options.seed == 0 else f"hgv-lane:{options.seed}"


def _side(group: str, options: ImportOptions) -> Split:
    return "val" if split_of(group, options.val_fraction, _salt(options)) == "val" else "train"


def _unique_stem(source: str, parts: Sequence[str], used: set[str]) -> str:
    """``<source>__<folders>__<stem>`` with unsafe characters replaced, made unique (case-blind:
    ``a.jpg`` and ``a.png`` would share a label file)."""
    flat = "__".join([source, *parts[:-1], Path(parts[-1]).stem])
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", flat)
    candidate, n = stem, 1
    while candidate.lower() in used:
        n += 1
        candidate = f"{stem}_{n}"
    used.add(candidate.lower())
    return candidate


_Checked = tuple[
    ImageFacts, str | None, tuple[tuple[int, float, float, float, float], ...], tuple[PlateRow, ...]
]


def _check_item(
    item: SourceItem, task: Task, classes: tuple[str, ...], options: ImportOptions, scan: _Scan
) -> _Checked | None:
    """Read and check one image: ``(facts, class, YOLO boxes, plate rows)``, or ``None`` when it
    is skipped. Its problems go to ``scan``."""
    problems = list(item.problems)
    class_id = {c: i for i, c in enumerate(classes)}

    def problem(kind: ProblemKind, detail: str, action: str = "skipped") -> None:
        problems.append(Problem(kind, item.source, item.rel, detail, action))

    label = None
    if task == "classify" and item.label is not None:
        label = options.class_map.get(item.label, item.label)
        if label is None:
            scan.notes["images_dropped_by_class_map"] += 1
            return None
        if label not in class_id:
            problem(ProblemKind.UNKNOWN_CLASS, f"class {item.label!r} is not one of {_short(classes)}")
    for raw in item.boxes:
        mapped = options.class_map.get(raw.cls, raw.cls)
        if not raw.crowd and mapped is not None and mapped not in class_id:
            problem(
                ProblemKind.UNKNOWN_CLASS, f"{raw.where}: class {raw.cls!r} is not one of {_short(classes)}"
            )
    try:
        facts = inspect_image(item.path)
    except FileNotFoundError:
        problem(ProblemKind.MISSING_FILE, f"no file at {item.path}")
        scan.problems += problems
        return None
    except (OSError, ValueError) as e:
        problem(ProblemKind.UNREADABLE_IMAGE, f"{type(e).__name__}: {e}")
        scan.problems += problems
        return None
    if item.expected_size is not None and item.expected_size != (facts.width_px, facts.height_px):
        w, h = item.expected_size
        problem(
            ProblemKind.SIZE_MISMATCH, f"annotated as {w}x{h}, the file is {facts.width_px}x{facts.height_px}"
        )
    boxes: list[tuple[int, float, float, float, float]] = []
    for raw in item.boxes:
        mapped = options.class_map.get(raw.cls, raw.cls)
        if raw.crowd:
            scan.notes["crowd_boxes_dropped"] += 1
            continue
        if mapped is None:
            scan.notes["boxes_dropped_by_class_map"] += 1
            continue
        box, kind, detail = check_box(raw, facts.width_px, facts.height_px)
        if kind is not None:
            problem(kind, detail, "box dropped" if box is None else "box clipped to the image")
        if box is not None and mapped in class_id:
            boxes.append((class_id[mapped], *box))
    scan.problems += problems
    if any(p.action == "skipped" for p in problems):
        return None
    if task == "detect" and not item.boxes and not item.plates:
        scan.notes["background_images"] += 1
    # plate rows keep their pixel boxes, clipped; a row whose box was dropped is left out
    clipped = [(p, _clip_px(p.box, facts)) for p in item.plates]
    plates = tuple(replace(p, box=c) for p, c in clipped if p.box is None or c is not None)
    return facts, label, tuple(boxes), plates


def _clip_px(box: RawBox | None, facts: ImageFacts) -> RawBox | None:
    if box is None:
        return None
    x1, y1 = max(box.x1, 0.0), max(box.y1, 0.0)
    x2, y2 = min(box.x2, float(facts.width_px)), min(box.y2, float(facts.height_px))
    return replace(box, x1=x1, y1=y1, x2=x2, y2=y2) if x2 > x1 and y2 > y1 else None


def _short(classes: Sequence[str], n: int = 12) -> str:
    return ", ".join(classes[:n]) + (", ..." if len(classes) > n else "")


def _join_near_duplicates(scan: _Scan, options: ImportOptions) -> tuple[list[DuplicatePair], list[Problem]]:
    """Find near duplicates between groups and put groups joined by them on one side (the side
    of the smallest group key among them), so no near-duplicate pair straddles the split.
    Returns the pairs (with final splits) and one finding per pair: a problem when the pair
    straddled the split, else a warning."""
    items = scan.items
    if options.near_threshold is None or len(items) < 2:
        return [], []
    pairs = near_duplicate_pairs([it.facts.phash for it in items], options.near_threshold)
    parent: dict[str, str] = {}

    def find(g: str) -> str:
        while parent.get(g, g) != g:
            g = parent[g]
        return g

    cross: list[tuple[int, int, int]] = []
    for i, j, d in pairs:
        gi, gj = items[i].group, items[j].group
        if gi == gj:
            scan.notes["near_duplicates_same_group"] += 1
            continue
        cross.append((i, j, d))
        ri, rj = find(gi), find(gj)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    side = {g: _side(find(g), options) for g in set(parent) | set(parent.values())}
    dup_pairs: list[DuplicatePair] = []
    problems: list[Problem] = []
    for i, j, d in cross:
        a, b = items[i], items[j]
        final = side[a.group]
        straddled = a.split != b.split
        dup_pairs.append(
            DuplicatePair("near", f"{a.source}:{a.rel}", f"{b.source}:{b.rel}", d, final, final, straddled)
        )
        groups = f"groups {a.group!r} ({a.split}) and {b.group!r} ({b.split})"
        problems.append(
            Problem(
                ProblemKind.NEAR_DUPLICATE_ACROSS_SPLIT if straddled else ProblemKind.NEAR_DUPLICATE,
                b.source,
                b.rel,
                f"{d} bits from {a.source}:{a.rel}, {groups}",
                f"groups put together in {final}" if straddled else f"groups kept together in {final}",
            )
        )
    for k, it in enumerate(items):
        new = side.get(it.group)
        if new is not None and new != it.split:
            items[k] = replace(it, split=new)
            scan.notes["images_moved_with_near_duplicates"] += 1
    return dup_pairs, problems


def _cover_every_class(scan: _Scan, options: ImportOptions) -> None:
    """Classifier sets: a class whose groups all fell on one side of the split gets one group
    moved to the other side, when it has two groups or more (ultralytics refuses a validation
    split that lacks a class, and a class never validated is never measured). The group moved
    is the one whose split hash is nearest the other side, so the choice is deterministic; a
    whole group moves, so one lorry still never lands on both sides."""
    if scan.task != "classify" or options.val_fraction <= 0:
        return
    salt = _salt(options)

    def score(group: str) -> float:  # split_of's hash: low scores go to val
        return split_score(group, salt)

    by_class: dict[str, dict[str, Split]] = defaultdict(dict)
    for it in scan.items:
        if it.label is not None:
            by_class[it.label][it.group] = it.split
    moves: dict[str, Split] = {}
    for groups in by_class.values():
        if len(groups) < 2:
            continue
        sides = set(groups.values())
        if sides == {"train"}:
            moves[min(groups, key=score)] = "val"
        elif sides == {"val"}:
            moves[max(groups, key=score)] = "train"
    for k, it in enumerate(scan.items):
        new = moves.get(it.group)
        if new is not None and new != it.split:
            scan.items[k] = replace(it, split=new)
            scan.notes["images_moved_so_every_class_is_in_both_splits"] += 1


def _report(
    scan: _Scan,
    out: Path,
    options: ImportOptions,
    near_pairs: list[DuplicatePair],
    near_problems: list[Problem],
) -> ImportReport:
    """The report of a scan (after the near-duplicate join)."""
    items = scan.items
    findings = scan.problems + near_problems
    problems = tuple(p for p in findings if p.kind not in WARNING_KINDS)
    warnings = [p for p in findings if p.kind in WARNING_KINDS]
    splits: dict[str, SplitSummary] = {}
    for s in ("train", "val"):
        mine = [it for it in items if it.split == s]
        images: Counter[str] = Counter()
        boxes: Counter[str] = Counter()
        for it in mine:
            if it.label is not None:
                images[it.label] += 1
                boxes[it.label] += 1
            images.update(scan.classes[c] for c in {b[0] for b in it.boxes})
            boxes.update(scan.classes[b[0]] for b in it.boxes)
        splits[s] = SplitSummary(
            len(mine),
            len({it.group for it in mine}),
            sum(it.is_plate_crop for it in mine),
            {c: ClassCount(images[c], boxes[c]) for c in scan.classes},
        )
    trained = [it for it in items if not it.is_plate_crop]
    if trained:
        for s in ("train", "val") if options.val_fraction > 0 else ("train",):
            if not any(it.split == s for it in trained):
                warnings.append(Problem(ProblemKind.EMPTY_SPLIT, "-", s, f"no images in {s}", "reported"))
        what = "images" if scan.task == "classify" else "boxes"
        for c in scan.classes:
            counts = {s: splits[s].per_class[c].boxes for s in splits}
            if not any(counts.values()):
                warnings.append(
                    Problem(ProblemKind.CLASS_ABSENT, "-", c, f"class {c!r} has no {what}", "reported")
                )
                continue
            for s, n in counts.items():
                if n == 0 and any(it.split == s for it in trained):
                    why = (
                        ": ultralytics indexes a classification set's val folders on their own,"
                        " so train and val must hold the same classes"
                        if scan.task == "classify"
                        else ""
                    )
                    warnings.append(
                        Problem(
                            ProblemKind.CLASS_ABSENT,
                            "-",
                            c,
                            f"class {c!r} has no {what} in {s}{why}",
                            "reported",
                        )
                    )
    exact = [
        DuplicatePair(
            "exact", f"{items[k].source}:{items[k].rel}", second, 0, items[k].split, "skipped", False
        )
        for k, second in scan.exact
    ]
    found = sum(scan.found.values())
    refusal = ""
    if not items:
        refusal = "no image could be imported"
    elif options.strict and problems:
        by_kind = ", ".join(f"{k} {n}" for k, n in sorted(Counter(str(p.kind) for p in problems).items()))
        refusal = f"--strict and {len(problems)} problem(s): {by_kind}"
    imported = Counter(it.source for it in items)
    group_sizes = Counter(it.group for it in items)
    return ImportReport(
        task=scan.task,
        out=str(out),
        strict=options.strict,
        refused=bool(refusal),
        refusal=refusal,
        options={
            "val_fraction": options.val_fraction,
            "seed": options.seed,
            "group_pattern": options.group_pattern or "none (one group per file)",
            "near_threshold_bits": options.near_threshold if options.near_threshold is not None else "off",
            "phash_bits": PHASH_BITS,
            "class_map": dict(options.class_map),
        },
        sources=tuple(
            SourceSummary(str(o.path), o.format, o.name, scan.found[o.name], imported[o.name])
            for o in scan.sources
        ),
        classes=scan.classes,
        found=found,
        imported=len(items),
        skipped=found - len(items),
        splits=splits,
        problems=problems,
        warnings=tuple(warnings),
        duplicates=tuple(exact + near_pairs),
        group_key_from=dict(sorted(Counter(scan.group_from).items())),
        largest_groups=tuple(sorted(group_sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:5]),
        notes=dict(sorted(scan.notes.items())),
    )


# --- writing -----------------------------------------------------------------------------------


def _place(src: Path, dst: Path, link: bool) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if link:
        try:
            dst.hardlink_to(src)
            return
        except OSError:
            pass
    shutil.copyfile(src, dst)


def _write(
    task: Task, classes: tuple[str, ...], items: Sequence[ImportedItem], out: Path, link: bool
) -> None:
    """Write the set: a YOLO detection set (+ plate manifests) or a folder-per-class set."""
    if task == "classify":
        for it in items:
            assert it.label is not None
            _place(it.path, out / it.split / it.label / it.name, link)
        return
    plate_rows: dict[str, list[list[str]]] = {"train": [], "val": []}
    has_manifest = any(it.plates for it in items)
    has_detector_images = not all(it.is_plate_crop for it in items)
    if has_detector_images:
        for s in ("train", "val"):
            (out / "images" / s).mkdir(parents=True, exist_ok=True)
            (out / "labels" / s).mkdir(parents=True, exist_ok=True)
    for it in items:
        if it.is_plate_crop:
            image_rel = f"crops/{it.split}/{it.name}"
        else:
            image_rel = f"images/{it.split}/{it.name}"
            lines = [f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}" for c, cx, cy, w, h in it.boxes]
            label = out / "labels" / it.split / (Path(it.name).stem + ".txt")
            label.write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
        _place(it.path, out / image_rel, link)
        for p in it.plates:
            b = p.box
            xywh = (
                ["", "", "", ""]
                if b is None
                else [f"{round(v, 2):g}" for v in (b.x1, b.y1, b.x2 - b.x1, b.y2 - b.y1)]
            )
            plate_rows[it.split].append([image_rel, p.text, p.country, *xywh, p.notes, it.group])
    names = "".join(f"  {i}: {n}\n" for i, n in enumerate(classes))
    if has_detector_images:
        (out / "data.yaml").write_text(
            "# Made by 'hgv-lane dataset import' (see import_report.md).\n"
            "# No 'path' key: ultralytics resolves train/val against this file's folder.\n"
            f"train: images/train\nval: images/val\nnc: {len(classes)}\nnames:\n{names}",
            encoding="utf-8",
        )
    if has_manifest:
        for s, rows in plate_rows.items():
            with (out / f"plates_{s}.csv").open("w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow([*_MANIFEST_COLUMNS, "passage_id"])
                w.writerows(rows)
