"""Evaluation of plate reading (and, when a detector exists, detection) on a labelled manifest.

Manifest format (``../shared/data/README.md``): CSV with ``image_path`` (relative to the
manifest), ``plate_text`` (A-Z 0-9, ``?`` = a character masked by the source), ``country``,
``bbox_x,bbox_y,bbox_w,bbox_h`` (pixels; empty for a crop, where the whole image is the
plate) and ``notes``.

Scoring:
- *exact*: the prediction equals the truth on every unmasked position; each ``?`` in the
  truth matches one character or none (``"AB?12"`` accepts ``"ABX12"`` and ``"AB12"``).
- *char accuracy* per image: ``max(0, 1 - edit_distance / unmasked_length)``, the edit
  distance letting each ``?`` match any one character or nothing at no cost; averaged over
  images.
- an image that cannot be read (not an image, empty, too small or too large) counts as a
  miss with char accuracy 0, and is counted in ``n_errors``.
- scenes (rows with a box): with a detector, the plate is found by the detector (a hit is
  IoU >= 0.5 with the true box) and the best-matching detection is read, grown by
  :data:`~vision.anpr.detector.PLATE_MARGIN_X` of its width at each end as the lane reads
  plates; without one, the true box is read and ``detection_recall`` is ``None``.
- a scene row with an empty ``plate_text`` (a plate boxed for the detector, its text unknown:
  ``dataset import`` keeps such rows) counts for detection only: it is left out of the reading
  figures (``exact_match``, ``char_accuracy``, by tag), which are over ``n_read_scored`` rows.
- crops (rows without a box) are read whole; an unsure read is read again from the plate's box
  in the crop when a detector finds one (:func:`vision.anpr.reader.read_crop`), unless the
  command says to read crops whole only.
"""

from __future__ import annotations

import csv
import re
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vision.anpr.detector import PLATE_CLASS, PLATE_MARGIN_X, PLATE_WIDER_MARGIN_X, PlateDetector
from vision.anpr.grammars import load_grammars
from vision.anpr.imageio import BadImageError, load_image
from vision.anpr.lookalike import lookalike_key
from vision.anpr.reader import PlateReader, read_box, read_crop
from vision.preprocess import crop
from vision.types import BBox, ImageBGR, PlateRead

MATCH_IOU = 0.5
"""IoU with the true box at which a detection counts as finding the plate."""


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One labelled image. ``box`` is the true plate box for a scene, ``None`` for a crop."""

    image_path: Path
    plate_text: str
    country: str = ""
    box: BBox | None = None
    notes: str = ""

    @property
    def is_scene(self) -> bool:
        return self.box is not None

    @property
    def tags(self) -> frozenset[str]:
        """The ``;``-separated entries of ``notes``, stripped (the synthetic sets' tags)."""
        return frozenset(t.strip() for t in self.notes.split(";") if t.strip())


_TRUTH = re.compile(r"^[A-Z0-9?]*$")


def load_manifest(path: Path) -> list[ManifestRow]:
    """Read a plate manifest. Raises ``ValueError`` naming the line for a malformed row (a crop
    with an empty ``plate_text`` among them: it has nothing to score; a scene's counts for
    detection only), and for a manifest with no rows."""
    rows: list[ManifestRow] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"image_path", "plate_text"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for line, rec in enumerate(reader, start=2):
            text = (rec.get("plate_text") or "").strip().upper()
            if not _TRUTH.match(text):
                raise ValueError(f"{path}:{line}: plate_text {text!r} is not A-Z, 0-9 and ?")
            raw_box = [(rec.get(k) or "").strip() for k in ("bbox_x", "bbox_y", "bbox_w", "bbox_h")]
            box: BBox | None = None
            if any(raw_box):
                try:
                    x, y, w, h = (float(v) for v in raw_box)
                    box = BBox.from_xywh(x, y, w, h)
                except ValueError as e:
                    raise ValueError(f"{path}:{line}: bad box {raw_box}: {e}") from e
            if not text and box is None:
                raise ValueError(
                    f"{path}:{line}: a crop with an empty plate_text (write the plate's characters, "
                    "'?' for each one that cannot be read)"
                )
            rows.append(
                ManifestRow(
                    image_path=path.parent / (rec.get("image_path") or "").strip(),
                    plate_text=text,
                    country=(rec.get("country") or "").strip(),
                    box=box,
                    notes=(rec.get("notes") or "").strip(),
                )
            )
    if not rows:
        raise ValueError(f"{path}: no rows under the header")
    return rows


def exact_match(truth: str, prediction: str) -> bool:
    """True when ``prediction`` equals ``truth`` on every position but the masked ``?`` ones
    (each of which may be any one character or left out)."""
    pattern = "".join(".?" if ch == "?" else re.escape(ch) for ch in truth)
    return re.fullmatch(pattern, prediction) is not None


def char_errors(truth: str, prediction: str) -> int:
    """Edit distance where each ``?`` of ``truth`` matches any one character or none at no cost."""
    n, m = len(truth), len(prediction)
    prev = list(range(m + 1))
    for i in range(1, n + 1):
        t = truth[i - 1]
        masked = t == "?"
        cur = [prev[0] + (0 if masked else 1)] + [0] * m
        for j in range(1, m + 1):
            sub = prev[j - 1] + (0 if masked or t == prediction[j - 1] else 1)
            cur[j] = min(sub, prev[j] + (0 if masked else 1), cur[j - 1] + 1)
        prev = cur
    return prev[m]


def char_accuracy(truth: str, prediction: str) -> float:
    """``max(0, 1 - char_errors / unmasked length)`` in [0, 1]."""
    n = sum(ch != "?" for ch in truth)
    if n == 0:
        return 1.0 if exact_match(truth, prediction) else 0.0
    return max(0.0, 1.0 - char_errors(truth, prediction) / n)


@dataclass(frozen=True, slots=True, eq=False)
class ImageResult:
    """The outcome for one manifest row.

    ``crop`` is the image that was read ``(H, W, 3)`` uint8 BGR, or for a scene whose plate
    the detector did not find, the true plate box (kept for misses only, for the contact
    sheet). ``detected`` is ``None`` for crops and when there is no detector.
    ``error`` says why the image could not be read (then ``read`` is ``None``). ``ms`` is
    the wall time of detection (if any) and reading; ``cpu_ms`` the CPU time of the process (all
    its threads) over the same span (what the read costs on an idle core, when other processes
    share the machine).
    """

    row: ManifestRow
    read: PlateRead | None
    ms: float
    detected: bool | None = None
    error: str | None = None
    crop: ImageBGR | None = None
    cpu_ms: float = 0.0

    @property
    def prediction(self) -> str:
        best = self.read.best if self.read else None
        return best.text if best else ""

    @property
    def confidence(self) -> float:
        best = self.read.best if self.read else None
        return best.confidence if best else 0.0

    @property
    def exact(self) -> bool:
        return self.error is None and exact_match(self.row.plate_text, self.prediction)

    @property
    def char_accuracy(self) -> float:
        return 0.0 if self.error is not None else char_accuracy(self.row.plate_text, self.prediction)


@dataclass(frozen=True, slots=True)
class EvalSummary:
    """Figures of one evaluation run; fractions in [0, 1], ``None`` when not measured.

    ``exact_match_lookalike`` counts a prediction as right when it equals the truth up to
    look-alike characters (0/O, 1/I, ...): how far the miss rate is only look-alikes.
    ``country_match``: of the rows read exactly whose manifest ``country`` the reader's grammars
    cover (``n_country`` of them; ISO codes such as ``GB``, ``DE`` count as ``UK``, ``D``), the
    share whose reported country is that country; ``None`` when there are none (the plates-dev
    sets: US, Brazil, Argentina; a reader without grammars).
    """

    n: int
    n_crops: int
    n_scenes: int
    n_errors: int
    detection_recall: float | None
    exact_match: float
    exact_match_lookalike: float
    char_accuracy: float
    ms_per_image_p50: float
    ms_per_image_p95: float
    cpu_ms_per_image_p50: float
    engine: str
    country_match: float | None = None
    n_country: int = 0
    n_read_scored: int = 0

    def as_json(self) -> dict[str, object]:
        """The fields, rounded, for the one-line JSON summary."""
        return {
            "n": self.n,
            "detection_recall": None if self.detection_recall is None else round(self.detection_recall, 4),
            "exact_match": round(self.exact_match, 4),
            "char_accuracy": round(self.char_accuracy, 4),
            "ms_per_image_p50": round(self.ms_per_image_p50, 2),
            "ms_per_image_p95": round(self.ms_per_image_p95, 2),
            "cpu_ms_per_image_p50": round(self.cpu_ms_per_image_p50, 2),
            "exact_match_lookalike": round(self.exact_match_lookalike, 4),
            "n_crops": self.n_crops,
            "n_scenes": self.n_scenes,
            "n_errors": self.n_errors,
            "engine": self.engine,
            "country_match": None if self.country_match is None else round(self.country_match, 4),
            "n_country": self.n_country,
            "n_read_scored": self.n_read_scored,
        }


_HEIGHT_TAG = re.compile(r"^h(\d+)px$")
HEIGHT_BUCKETS_PX = (20, 30, 50)
"""Edges of the plate-height groups :func:`by_tag` puts the synthetic sets' ``hNNpx`` tags in."""


def group_tag(tag: str) -> str | None:
    """The group a manifest tag counts in for :func:`by_tag`: a synthetic plate's height tag
    (``h37px``) goes to its height range (``h30-49px``); a tag with spaces or longer than 24
    characters (a real set's free-text note) to none; any other tag to itself."""
    m = _HEIGHT_TAG.match(tag)
    if m is None:
        return tag if len(tag) <= 24 and " " not in tag else None
    h = int(m.group(1))
    lo = max(e for e in (0, *HEIGHT_BUCKETS_PX) if e <= h)
    hi = next((e for e in HEIGHT_BUCKETS_PX if e > h), None)
    if hi is None:
        return f"h{lo}px+"
    return f"h<{hi}px" if lo == 0 else f"h{lo}-{hi - 1}px"


def by_tag(results: Sequence[ImageResult]) -> dict[str, dict[str, float]]:
    """Exact match and char accuracy per tag group (:func:`group_tag`) of the rows' notes, and per
    manifest country (``country:PL``; ISO codes mapped as for ``country_match``):
    ``{group: {"n", "exact_match", "char_accuracy"}}``, the largest groups first. Tells where a
    reader fails (night, two-line, small plates, defocus, a country's formats) on a set."""
    groups: dict[str, list[ImageResult]] = {}
    for r in scored(results):
        tags = {g for t in r.row.tags if (g := group_tag(t)) is not None}
        if r.row.country.strip():
            tags.add(f"country:{_country(r.row.country)}")
        for g in sorted(tags):
            groups.setdefault(g, []).append(r)
    return {
        g: {
            "n": len(rs),
            "exact_match": round(sum(r.exact for r in rs) / len(rs), 4),
            "char_accuracy": round(sum(r.char_accuracy for r in rs) / len(rs), 4),
        }
        for g, rs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    }


def _lookalike_exact(truth: str, prediction: str) -> bool:
    if "?" in truth:
        return exact_match(truth, prediction)
    return lookalike_key(truth) == lookalike_key(prediction)


def evaluate_row(
    row: ManifestRow,
    reader: PlateReader,
    detector: PlateDetector | None,
    wider_x: float = PLATE_WIDER_MARGIN_X,
    find: Callable[[ImageBGR], BBox | None] | None = None,
) -> ImageResult:
    """Load, (detect,) read and score one row; bad images become an error result. A crop row is
    read by :func:`vision.anpr.reader.read_crop` with ``find``."""
    try:
        image = load_image(row.image_path)
    except BadImageError as e:
        return ImageResult(row, None, 0.0, error=str(e))
    t0 = time.perf_counter()
    c0 = time.process_time()
    detected: bool | None = None
    box = row.box
    missed: ImageBGR | None = None  # the true plate, for the contact sheet, when not found
    plate = image  # a crop row is read whole
    read_at: BBox | None = None  # a detector's box, read as the lane reads plates (read_box)
    if box is not None:
        h, w = image.shape[:2]
        truth_box = box.clip(w, h)
        if detector is not None:
            found = detector.detect(image).of_class(PLATE_CLASS)
            best = max(found, key=lambda d: d.box.iou(truth_box), default=None)
            detected = best is not None and best.box.iou(truth_box) >= MATCH_IOU
            if not detected:
                missed = crop(image, truth_box)
                missed = missed if missed.size else None
            if best is None:
                ms = (time.perf_counter() - t0) * 1000.0
                return ImageResult(row, None, ms, detected=False, crop=missed)
            read_at = best.box
        else:
            plate = crop(image, truth_box)
    try:
        if read_at is not None:
            read, plate = read_box(reader, image, read_at, PLATE_MARGIN_X, wider_x)
        elif box is None:
            read, plate = read_crop(reader, plate, find)
        else:
            read = reader.read(plate)
    except BadImageError as e:
        return ImageResult(row, None, 0.0, detected=detected, error=str(e), crop=missed)
    ms = (time.perf_counter() - t0) * 1000.0
    cpu_ms = (time.process_time() - c0) * 1000.0
    exact = exact_match(row.plate_text, read.best.text if read.best else "")
    kept = None if exact else (missed if missed is not None else plate)
    return ImageResult(row, read, ms, detected=detected, crop=kept, cpu_ms=cpu_ms)


def summarise(
    results: Sequence[ImageResult], engine: str, with_detector: bool, countries: Iterable[str] | None = None
) -> EvalSummary:
    """Aggregate per-image results (see the module doc for the definitions). ``countries``: those
    the reader's grammars could name (``country_match`` counts rows of these; default every
    shipped grammar's)."""
    scenes = [r for r in results if r.row.is_scene]
    n_all = len(results)
    timed = [r.ms for r in results if r.error is None]
    cpu = [r.cpu_ms for r in results if r.error is None]
    n_errors = sum(r.error is not None for r in results)
    results = scored(results)  # the reading figures: rows with a text to read
    n = len(results)
    recall: float | None = None
    if with_detector and scenes:
        recall = sum(bool(r.detected) for r in scenes) / len(scenes)
    known = {c.upper() for c in (load_grammars().countries if countries is None else countries)}
    placed = [r for r in results if r.exact and _country(r.row.country) in known]
    right = sum(
        r.read is not None and r.read.best is not None and r.read.best.country == _country(r.row.country)
        for r in placed
    )
    return EvalSummary(
        n=n_all,
        n_crops=n_all - len(scenes),
        n_scenes=len(scenes),
        n_errors=n_errors,
        detection_recall=recall,
        exact_match=sum(r.exact for r in results) / n if n else 0.0,
        exact_match_lookalike=(
            sum(r.error is None and _lookalike_exact(r.row.plate_text, r.prediction) for r in results) / n
            if n
            else 0.0
        ),
        char_accuracy=sum(r.char_accuracy for r in results) / n if n else 0.0,
        ms_per_image_p50=statistics.median(timed) if timed else 0.0,
        ms_per_image_p95=float(np.percentile(timed, 95)) if timed else 0.0,
        cpu_ms_per_image_p50=statistics.median(cpu) if cpu else 0.0,
        engine=engine,
        country_match=right / len(placed) if placed else None,
        n_country=len(placed),
        n_read_scored=n,
    )


def scored(results: Sequence[ImageResult]) -> list[ImageResult]:
    """The rows whose reading is scored: all but scenes with no ``plate_text`` (detection only)."""
    return [r for r in results if r.row.plate_text]


ISO_TO_VEHICLE_CODE = {"GB": "UK", "DE": "D", "ES": "E", "FR": "F", "HU": "H", "IE": "IRL"}
"""ISO 3166 codes a manifest may use for the countries whose grammars use the international
vehicle registration code (the rest, PL, RO, BG, LT, NL, are the same in both)."""


def _country(code: str) -> str:
    """A manifest's country code as the grammars write it (upper case; ISO codes mapped by
    :data:`ISO_TO_VEHICLE_CODE`)."""
    c = code.strip().upper()
    return ISO_TO_VEHICLE_CODE.get(c, c)


def evaluate(
    rows: Sequence[ManifestRow],
    reader: PlateReader,
    detector: PlateDetector | None = None,
    progress: Callable[[int, int], None] | None = None,
    countries: Iterable[str] | None = None,
    wider_x: float = PLATE_WIDER_MARGIN_X,
    find: Callable[[ImageBGR], BBox | None] | None = None,
) -> tuple[list[ImageResult], EvalSummary]:
    """Evaluate ``reader`` (and ``detector``, if any) on ``rows``; per-image results and summary.
    ``wider_x``: a scene's unsure read is read again from the box grown by this much
    (:func:`vision.anpr.reader.read_box`; 0: one read, as for the raw baseline). ``find``: where
    the plate is in a crop row, for an unsure read of it (:func:`vision.anpr.reader.read_crop`;
    None: crops are read whole only)."""
    results: list[ImageResult] = []
    for i, row in enumerate(rows):
        results.append(evaluate_row(row, reader, detector, wider_x, find))
        if progress is not None:
            progress(i + 1, len(rows))
    return results, summarise(results, reader.name, detector is not None, countries)


CSV_COLUMNS = (
    "image_path",
    "truth",
    "prediction",
    "exact",
    "char_accuracy",
    "confidence",
    "country",
    "format",
    "two_line",
    "detected",
    "ms",
    "cpu_ms",
    "candidates",
    "error",
)


def write_csv(results: Sequence[ImageResult], path: Path) -> None:
    """One row per image: truth, prediction, confidence, candidates (``TEXT:conf`` joined by ``|``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for r in results:
            best = r.read.best if r.read else None
            cands = "|".join(f"{c.text}:{c.confidence:.3f}" for c in (r.read.candidates if r.read else ()))
            w.writerow(
                [
                    str(r.row.image_path),
                    r.row.plate_text,
                    r.prediction,
                    int(r.exact),
                    f"{r.char_accuracy:.3f}",
                    f"{r.confidence:.3f}",
                    best.country or "" if best else "",
                    best.format_name or "" if best else "",
                    int(r.read.two_line) if r.read else "",
                    "" if r.detected is None else int(r.detected),
                    f"{r.ms:.1f}",
                    f"{r.cpu_ms:.1f}",
                    cands,
                    r.error or "",
                ]
            )


def contact_sheet(
    results: Sequence[ImageResult], *, tile_w: int = 240, crop_h: int = 80, columns: int = 5, limit: int = 100
) -> ImageBGR | None:
    """A ``(H, W, 3)`` uint8 BGR grid of the misses that have a crop (at most ``limit``):
    each tile is the crop read (a scene's true plate when the detector did not find it,
    marked ``not found``), the truth (green) and the prediction (red). ``None`` when there
    is no miss to show."""
    misses = [r for r in scored(results) if not r.exact and r.crop is not None][:limit]
    if not misses:
        return None
    tile_h = crop_h + 44
    rows_n = (len(misses) + columns - 1) // columns
    sheet = np.full((rows_n * tile_h, columns * tile_w, 3), 255, np.uint8)
    for k, r in enumerate(misses):
        assert r.crop is not None
        ch, cw = r.crop.shape[:2]
        scale = min((tile_w - 8) / max(1, cw), crop_h / max(1, ch))
        img = cv2.resize(r.crop, (max(1, int(cw * scale)), max(1, int(ch * scale))))
        y0, x0 = (k // columns) * tile_h, (k % columns) * tile_w
        sheet[y0 + 2 : y0 + 2 + img.shape[0], x0 + 4 : x0 + 4 + img.shape[1]] = img
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(sheet, f"T {r.row.plate_text}", (x0 + 4, y0 + crop_h + 20), font, 0.55, (0, 140, 0), 1)
        cv2.putText(sheet, miss_label(r), (x0 + 4, y0 + crop_h + 40), font, 0.55, (0, 0, 200), 1)
    return sheet


def miss_label(r: ImageResult) -> str:
    """The prediction line of a miss's contact-sheet tile: ``P TEXT conf``, and ``not found``
    when the detector missed the scene's plate (the tile then shows the true plate)."""
    return f"P {r.prediction or '-'} {r.confidence:.2f}" + (" not found" if r.detected is False else "")


def write_contact_sheet(results: Sequence[ImageResult], path: Path) -> bool:
    """Write :func:`contact_sheet` as PNG; False (and no file) when there are no misses."""
    sheet = contact_sheet(results)
    if sheet is None:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet):
        raise OSError(f"cannot write {path}")
    return True
