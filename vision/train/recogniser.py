"""Training the project's own plate recogniser (reader engine ``crnn``): a small CRNN with a
CTC head, trained with torch on the CPU and exported to ONNX.

What the network reads is exactly what the reader gives an engine at run time: a plate crop
goes through :func:`vision.anpr.rectify.rectify` (deskew, blue band, line bands, two-line
split, top then bottom) and each line through :func:`vision.anpr.line_input.line_grey`
(grey, 32x128). Training lines are made the same way, so train and run inputs match:

- **synthetic, flat** (:func:`render_flat_plate`): plates drawn by the project's generator
  (:mod:`vision.synth.plates`: every UK format, the two-line DVLA trailer mark, the EU
  formats, chosen the way :func:`vision.synth.randomize.vehicle_plates` chooses them) warped
  in perspective onto a random background, with day / dusk / night-IR lighting, blur, motion,
  noise and JPEG; fast (a few ms each), so tens of thousands are affordable;
- **synthetic, scenes**: plate crops cut from whole rendered lane scenes
  (``hgv-lane synth plates``), the generator's own perspective, lighting and effects;
- **real**: ``../shared/data/plates-dev`` rows (crops, and scene rows cropped by their box
  with a jittered margin, as a detector's box would be) whose image falls on the *train*
  side of :func:`vision.train.datasets.split_of` (the split the plate detector used); the
  other side is written as held-out manifests and never trained on. Rows with a masked
  character (``?``) are left out.

A line is labelled with its part of the text (two-line plates: the generator's lines, or for
scene crops the grammar's split: the UK trailer mark 4 + 4, PL and D at the first digit). A
crop whose rectification does not give as many lines as the plate has is left out (counted
as ``skipped``): its lines cannot be labelled. When rectification finds no line the whole
crop is one line, as in the reader.

Lines are generated once and cached (uint8 arrays, ``lines.npz``); each epoch augments them
(small affine, blur, noise, contrast, resolution loss) before the same normalisation the
engine applies (:func:`vision.anpr.line_input.normalise`). The run is deterministic for a
seed, saves a checkpoint each epoch (``--resume`` continues), exports ONNX with its metadata
(task, alphabet, input size, frame stride), checks ONNX Runtime against torch, evaluates the
exported model through the full reader, and writes the model card.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import logging
import math
import multiprocessing
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

import vision.anpr.line_input as line_input_module
import vision.anpr.rectify as rectify_module
from vision.anpr.ctc import PLATE_ALPHABET
from vision.anpr.imageio import BadImageError, load_image, to_bgr8
from vision.anpr.line_input import (
    FRAME_STRIDE_PX,
    LINE_HEIGHT_PX,
    LINE_WIDTH_PX,
    line_grey,
    normalise,
    valid_frames,
)
from vision.anpr.rectify import rectify
from vision.train.datasets import manifest_image_name, split_of
from vision.types import ImageBGR

log = logging.getLogger(__name__)


def line_code_version() -> str:
    """SHA-256 (16 hex) of the code that turns a plate into training lines (rectification and
    the line input): cached lines are made again when it changes."""
    h = hashlib.sha256()
    for module in (rectify_module, line_input_module):
        h.update(Path(str(module.__file__)).read_bytes())
    return h.hexdigest()[:16]


SOURCES = ("synth-flat", "synth-scene", "real-crop", "real-scene", "blank")
"""Where a training line came from (index = the code stored per line). ``blank``: a line with
no text (:func:`blank_lines`), labelled ``""``."""

FINE_TUNE_LR = 1e-3
"""Peak learning rate of a run that starts from trained weights (``TrainConfig.init``); from
scratch the default is ``TrainConfig.lr``."""

REAL_SOURCES = (2, 3)
"""The codes of real lines (few: repeated ``real_repeat`` times per epoch)."""

N_CLASSES = 1 + len(PLATE_ALPHABET)
"""CTC blank + the 36 plate characters (the order of :data:`PLATE_ALPHABET`)."""

CHAR_INDEX = {ch: i + 1 for i, ch in enumerate(PLATE_ALPHABET)}

GreyBatch = npt.NDArray[np.uint8]


# --------------------------------------------------------------------------------------
# labelled lines


@dataclass(frozen=True, eq=False)
class LineSet:
    """Training lines: ``images`` ``(N, H, W)`` uint8 grey (as :func:`line_grey` makes them),
    ``widths`` ``(N,)`` the valid width of each, ``labels`` their text, ``sources`` ``(N,)``
    index into :data:`SOURCES`."""

    images: GreyBatch
    widths: npt.NDArray[np.int16]
    labels: tuple[str, ...]
    sources: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> dict[str, int]:
        """Lines per source."""
        return {
            name: int((self.sources == i).sum())
            for i, name in enumerate(SOURCES)
            if (self.sources == i).any()
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            images=self.images,
            widths=self.widths,
            labels=np.array(self.labels, dtype=object).astype(str),
            sources=self.sources,
        )
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> LineSet:
        with np.load(path) as z:
            return LineSet(z["images"], z["widths"], tuple(str(s) for s in z["labels"]), z["sources"])

    @staticmethod
    def of(items: Sequence[tuple[GreyBatch, int, str, int]]) -> LineSet:
        """From ``(grey, valid_width, label, source)`` tuples."""
        if not items:
            return LineSet(
                np.zeros((0, LINE_HEIGHT_PX, LINE_WIDTH_PX), np.uint8),
                np.zeros(0, np.int16),
                (),
                np.zeros(0, np.int8),
            )
        return LineSet(
            np.stack([it[0] for it in items]).astype(np.uint8),
            np.array([it[1] for it in items], np.int16),
            tuple(it[2] for it in items),
            np.array([it[3] for it in items], np.int8),
        )

    @staticmethod
    def concat(sets: Sequence[LineSet]) -> LineSet:
        return LineSet(
            np.concatenate([s.images for s in sets]),
            np.concatenate([s.widths for s in sets]),
            tuple(label for s in sets for label in s.labels),
            np.concatenate([s.sources for s in sets]),
        )


def split_lines(text: str, country: str, two_line: bool) -> tuple[str, ...]:
    """The printed lines of a plate whose manifest row says only its text: one line, or for a
    two-line plate the UK trailer mark's 4 + 4 (``A123`` over ``4567``) or, for PL and D,
    the letters over the rest (split at the first digit). Unknown splits give one line."""
    if not two_line:
        return (text,)
    if country == "UK" and re.fullmatch(r"[A-Z][0-9]{7}", text):
        return (text[:4], text[4:])
    m = re.search(r"[0-9]", text)
    if m is not None and 0 < m.start() < len(text):
        return (text[: m.start()], text[m.start() :])
    return (text,)


def labelled_lines(crop: ImageBGR, line_texts: Sequence[str]) -> tuple[list[tuple[GreyBatch, int, str]], str]:
    """Rectify ``crop`` as the reader does and pair its lines with ``line_texts`` (top first).

    Returns the ``(grey, valid_width, text)`` lines and ``""``, or ``[]`` and the reason the
    crop cannot be labelled (rectification found a different number of lines).
    """
    rect = rectify(crop)
    images = rect.line_images()
    if not rect.lines and len(line_texts) != 1:
        return [], "no line found on a two-line plate"
    if rect.lines and len(rect.lines) != len(line_texts):
        return [], f"{len(rect.lines)} line(s) found on a {len(line_texts)}-line plate"
    out = []
    for img, text in zip(images, line_texts, strict=True):
        if img.shape[0] < 2 or img.shape[1] < 2 or not text:
            return [], "degenerate line"
        grey, width = line_grey(img)
        out.append((grey, width, text))
    return out, ""


# --------------------------------------------------------------------------------------
# synthetic plates, drawn flat and warped (fast)


def _background(rng: np.random.Generator, h: int, w: int) -> ImageBGR:
    """A plausible surround for a plate: a painted bumper / cab colour with low-frequency
    shading, sometimes bars (grille, bumper edge) and sometimes livery-like text."""
    base = rng.uniform(20, 235, 3)
    lo = rng.random((max(2, h // 16 + 2), max(2, w // 16 + 2))).astype(np.float32)
    shade = cv2.resize(lo, (w, h), interpolation=cv2.INTER_CUBIC)[..., None]
    img = base[None, None, :] * (0.7 + 0.6 * shade)
    if rng.random() < 0.5:
        for _ in range(int(rng.integers(1, 4))):
            y = int(rng.integers(0, h))
            t = int(rng.integers(1, max(2, h // 8)))
            img[y : y + t] = rng.uniform(10, 240, 3)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.25:
        text = "".join(rng.choice(list("ABCDEFGHKLMNPRSTUVWXYZ0123456789 "), int(rng.integers(4, 12))))
        scale = h / 120.0 * float(rng.uniform(0.6, 1.2))
        colour = tuple(int(c) for c in rng.uniform(0, 255, 3))
        y = int(rng.choice([int(h * 0.12), int(h * 0.97)]))
        cv2.putText(
            out,
            text,
            (int(rng.integers(0, max(1, w // 3))), y),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            colour,
            max(1, int(scale * 2)),
        )
    return out


def _night_ir(img: ImageBGR, plate_mask: npt.NDArray[np.bool_], rng: np.random.Generator) -> ImageBGR:
    """Night infrared as the scene renderer does it: grey, dark surround, retro-reflective
    plate bright (its brightest channel stretched)."""
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32) * float(rng.uniform(0.15, 0.5))
    refl = img.max(axis=2).astype(np.float32)
    bright = np.clip((refl - 30.0) * float(rng.uniform(1.5, 2.1)) + 20.0, 0, 255)
    out = np.where(plate_mask, bright, grey).astype(np.uint8)
    return np.asarray(cv2.cvtColor(out, cv2.COLOR_GRAY2BGR), np.uint8)


def _motion_kernel(length: float, angle_deg: float) -> npt.NDArray[np.float32]:
    k = max(3, math.ceil(length) | 1)
    kernel = np.zeros((k, k), np.float32)
    c = k // 2
    dx, dy = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    for t in np.linspace(-length / 2, length / 2, 4 * k):
        kernel[round(c + t * dy), round(c + t * dx)] = 1.0
    return kernel / kernel.sum()


def render_flat_plate(rng: np.random.Generator) -> tuple[ImageBGR, tuple[str, ...], str, str]:
    """One synthetic plate crop ``(h, w, 3)`` uint8 BGR with its printed lines (normalised,
    top first), country and a short note of its conditions.

    The plate is chosen as the scene generator chooses a vehicle's plates (country weights
    of a UK port, front / rear / UK trailer mark, E red trailer plates, PL and D two-line
    plates), with two-line plates favoured when the vehicle has one; drawn by
    :func:`vision.synth.plates.render_plate`; warped with roll, yaw, pitch and shear to a
    plate height of 16-120 px; lit by day, dusk or night IR; blurred, noised and JPEG'd; and
    cropped with an 8-25 % margin like ``synth plates`` crops.
    """
    from vision.synth.plates import normalise as norm_text  # noqa: PLC0415
    from vision.synth.plates import plate_size_mm, render_plate  # noqa: PLC0415
    from vision.synth.randomize import random_country, vehicle_plates  # noqa: PLC0415
    from vision.synth.taxonomy import TRAILER_TYPES  # noqa: PLC0415

    country = random_country(rng)
    body = TRAILER_TYPES[int(rng.integers(len(TRAILER_TYPES)))] if rng.random() < 0.85 else "tractor_only"
    plates = vehicle_plates(rng, body, country)
    two = [p for p in plates if p.two_line]
    spec = two[0] if two and rng.random() < 0.6 else plates[int(rng.integers(len(plates)))]
    w_mm, h_mm = plate_size_mm(spec)
    plate_h = float(np.exp(rng.uniform(math.log(16.0), math.log(120.0))))
    if spec.two_line:
        plate_h = max(plate_h, 22.0)
    ppm = plate_h / h_mm
    ppm_render = min(2.5, max(0.8, 1.6 * ppm))
    tex = render_plate(spec, ppm_render, rng).image
    ratio = ppm_render / ppm
    if ratio > 1.5:  # anti-alias before the warp shrinks it
        tex = cv2.GaussianBlur(tex, (0, 0), sigmaX=0.45 * ratio)
    th, tw = tex.shape[:2]
    pw, ph = w_mm * ppm, h_mm * ppm
    quad = np.array([[-pw / 2, -ph / 2], [pw / 2, -ph / 2], [pw / 2, ph / 2], [-pw / 2, ph / 2]], np.float64)
    yaw = float(rng.uniform(-0.22, 0.22))
    quad[[1, 2], 1] *= 1.0 - yaw
    quad[[0, 3], 1] *= 1.0 + yaw
    pitch = float(rng.uniform(-0.08, 0.08))
    quad[[0, 1], 0] *= 1.0 - pitch
    quad[[2, 3], 0] *= 1.0 + pitch
    quad[:, 0] += float(rng.uniform(-0.12, 0.12)) * quad[:, 1]
    roll = math.radians(float(np.clip(rng.normal(0.0, 3.5), -12.0, 12.0)))
    rot = np.array([[math.cos(roll), -math.sin(roll)], [math.sin(roll), math.cos(roll)]])
    quad = quad @ rot.T + rng.normal(0.0, 0.015 * ph, (4, 2))
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    bw, bh = x1 - x0, y1 - y0
    pad_x, pad_y = 0.27 * bw, 0.27 * bh
    cw, ch = math.ceil(bw + 2 * pad_x), math.ceil(bh + 2 * pad_y)
    quad += np.array([pad_x - x0, pad_y - y0])
    src = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    warped = cv2.warpPerspective(tex, m, (cw, ch), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    alpha = warped[..., 3:].astype(np.float32) / 255.0
    img: npt.NDArray[Any] = (
        _background(rng, ch, cw).astype(np.float32) * (1 - alpha) + warped[..., :3] * alpha
    ).astype(np.uint8)
    notes = []
    r = rng.random()
    if r < 0.17:
        img = _night_ir(img, alpha[..., 0] > 0.5, rng)
        notes.append("night_ir")
    elif r < 0.33:
        gain = float(rng.uniform(0.45, 0.75)) * (
            np.array([1.05, 0.95, 0.9]) if rng.random() < 0.5 else np.array([0.85, 0.95, 1.1])
        )
        img = np.clip(img.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        notes.append("dusk")
    else:
        day_gain = float(rng.uniform(0.7, 1.3))
        img = np.clip(img.astype(np.float32) * day_gain + rng.uniform(-8, 8, 3), 0, 255).astype(np.uint8)
        notes.append("day")
    if rng.random() < 0.07:  # glare: a bright blob
        blob: npt.NDArray[Any] = np.zeros(img.shape[:2], np.float32)
        cv2.circle(blob, (int(rng.integers(0, cw)), int(rng.integers(0, ch))), int(max(2, 0.4 * bh)), 1.0, -1)
        blob = cv2.GaussianBlur(blob, (0, 0), sigmaX=max(1.0, 0.3 * bh))[..., None]
        img = np.clip(img.astype(np.float32) + blob * float(rng.uniform(60, 160)), 0, 255).astype(np.uint8)
        notes.append("glare")
    img = cv2.GaussianBlur(img, (0, 0), sigmaX=float(rng.uniform(0.3, 0.8)))
    if rng.random() < 0.15:
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=float(rng.uniform(0.6, 1.6)) * max(1.0, plate_h / 50.0))
        notes.append("defocus")
    if rng.random() < 0.16:
        img = cv2.filter2D(img, -1, _motion_kernel(float(rng.uniform(2, 7)), float(rng.uniform(-25, 25))))
        notes.append("motion")
    if rng.random() < 0.12:  # rain streaks
        streaks = np.zeros(img.shape[:2], np.uint8)
        for _ in range(int(rng.integers(5, 30))):
            sx, sy = int(rng.integers(0, cw)), int(rng.integers(0, ch))
            cv2.line(
                streaks, (sx, sy), (sx + int(rng.integers(-3, 4)), sy + int(rng.integers(4, 15))), 255, 1
            )
        img = cv2.addWeighted(
            img, 1.0, cv2.cvtColor(streaks, cv2.COLOR_GRAY2BGR), float(rng.uniform(0.1, 0.35)), 0
        )
        notes.append("rain")
    if rng.random() < 0.3:
        noise = rng.normal(0.0, float(rng.uniform(2, 10)), img.shape[:2])[..., None]
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        notes.append("noise")
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 85))])
        if ok:
            img = np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), np.uint8)
        notes.append("jpeg")
    mx0, mx1 = (float(rng.uniform(0.08, 0.25)) * bw for _ in range(2))
    my0, my1 = (float(rng.uniform(0.08, 0.25)) * bh for _ in range(2))
    cx0, cy0 = max(0, int(pad_x - mx0)), max(0, int(pad_y - my0))
    cx1, cy1 = min(cw, math.ceil(pad_x + bw + mx1)), min(ch, math.ceil(pad_y + bh + my1))
    crop: npt.NDArray[Any] = np.ascontiguousarray(img[cy0:cy1, cx0:cx1])
    ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
    if ok:
        crop = np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), np.uint8)
    lines = tuple(norm_text(line) for line in spec.lines)
    return crop, lines, spec.country, ";".join(notes)


@dataclass(frozen=True)
class _FlatJob:
    seed: int

    def __call__(
        self, block: tuple[int, int]
    ) -> tuple[list[tuple[GreyBatch, int, str, int]], dict[str, int]]:
        cv2.setNumThreads(1)
        out: list[tuple[GreyBatch, int, str, int]] = []
        skipped: dict[str, int] = {}
        for i in range(*block):
            rng = np.random.default_rng([self.seed, i, 31])
            crop, lines, _country, _notes = render_flat_plate(rng)
            got, reason = labelled_lines(crop, lines)
            if reason:
                skipped[reason] = skipped.get(reason, 0) + 1
            out.extend((g, w, t, 0) for g, w, t in got)
        return out, skipped


# --------------------------------------------------------------------------------------
# manifests (synthetic scene crops and real photographs)


@dataclass(frozen=True)
class ManifestItem:
    """One row to turn into training lines: the image, its box (scenes) and its lines."""

    path: Path
    text: str
    country: str
    box: tuple[float, float, float, float] | None  # x, y, w, h
    line_texts: tuple[str, ...]
    source: int
    variants: int


def read_rows(manifest: Path) -> list[dict[str, str]]:
    with manifest.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def manifest_items(
    manifest: Path, *, real: bool, val_fraction: float, variants: int = 1
) -> tuple[list[ManifestItem], list[dict[str, str]], dict[str, int]]:
    """The rows of ``manifest`` to train on, the held-out rows (real manifests: the val side
    of :func:`split_of`, with absolute image paths), and counts of what was left out."""
    items: list[ManifestItem] = []
    held: list[dict[str, str]] = []
    left: dict[str, int] = {}
    for row in read_rows(manifest):
        path = (manifest.parent / row["image_path"]).resolve()
        text = row["plate_text"].strip().upper()
        if real and split_of(manifest_image_name(manifest, path), val_fraction) == "val":
            held.append({**row, "image_path": str(path)})
            continue
        if "?" in text or not text:
            left["masked or empty text"] = left.get("masked or empty text", 0) + 1
            continue
        if any(ch not in CHAR_INDEX for ch in text):
            left["characters outside A-Z 0-9"] = left.get("characters outside A-Z 0-9", 0) + 1
            continue
        box = None
        if row.get("bbox_w"):
            box = (float(row["bbox_x"]), float(row["bbox_y"]), float(row["bbox_w"]), float(row["bbox_h"]))
        two = "two_line" in (row.get("notes") or "").split(";")
        source = (3 if box else 2) if real else 1
        items.append(
            ManifestItem(
                path,
                text,
                row.get("country", ""),
                box,
                split_lines(text, row.get("country", ""), two),
                source,
                variants,
            )
        )
    return items, held, left


def _jittered_crop(
    image: ImageBGR, box: tuple[float, float, float, float], rng: np.random.Generator, first: bool
) -> ImageBGR:
    """The plate box, as given (``first``) or with each side moved out by -13..+15 % of the box
    (the shipped detector's boxes differ from the true ones by about that much: 10th to 90th
    percentile -13..+13 % per side on the train side of ``plates-dev/scenes.csv``)."""
    x, y, w, h = box
    ih, iw = image.shape[:2]
    d = (0.0, 0.0, 0.0, 0.0) if first else tuple(float(v) for v in rng.uniform(-0.13, 0.15, 4))
    x0 = int(max(0, math.floor(x - d[0] * w)))
    x1 = int(min(iw, math.ceil(x + w + d[1] * w)))
    y0 = int(max(0, math.floor(y - d[2] * h)))
    y1 = int(min(ih, math.ceil(y + h + d[3] * h)))
    return image[y0:y1, x0:x1]


def _crop_variant(
    image: ImageBGR, rng: np.random.Generator, trim: tuple[float, float] = (-0.06, 0.06)
) -> ImageBGR:
    """A whole-image crop with each side trimmed by a share of the image drawn from ``trim``
    (negative: that much edge replicated instead)."""
    h, w = image.shape[:2]
    d = rng.uniform(trim[0], trim[1], 4)
    pads = [max(0, int(-v * s)) for v, s in zip(d, (w, w, h, h), strict=True)]
    padded = cv2.copyMakeBorder(image, pads[2], pads[3], pads[0], pads[1], cv2.BORDER_REPLICATE)
    ph, pw = padded.shape[:2]
    trims = [max(0, int(v * s)) for v, s in zip(d, (w, w, h, h), strict=True)]
    return np.asarray(padded[trims[2] : ph - trims[3], trims[0] : pw - trims[1]], np.uint8)


@dataclass(frozen=True)
class _ManifestJob:
    items: tuple[ManifestItem, ...]
    seed: int

    def __call__(
        self, block: tuple[int, int]
    ) -> tuple[list[tuple[GreyBatch, int, str, int]], dict[str, int]]:
        cv2.setNumThreads(1)
        out: list[tuple[GreyBatch, int, str, int]] = []
        skipped: dict[str, int] = {}
        for i in range(*block):
            item = self.items[i]
            rng = np.random.default_rng([self.seed, i, 17])
            try:
                image = load_image(item.path)
            except BadImageError as e:
                skipped[f"unreadable: {e}"[:60]] = skipped.get(f"unreadable: {e}"[:60], 0) + 1
                continue
            for v in range(item.variants):
                if item.box is not None:
                    crop = _jittered_crop(image, item.box, rng, v == 0)
                elif v == 0:
                    crop = image
                else:  # synthetic crops have an 8-25 % margin: trim some, as a tight detector box would
                    crop = _crop_variant(image, rng, (-0.06, 0.06) if item.source >= 2 else (-0.02, 0.1))
                try:
                    crop = to_bgr8(crop)
                except BadImageError:
                    skipped["crop too small"] = skipped.get("crop too small", 0) + 1
                    continue
                got, reason = labelled_lines(crop, item.line_texts)
                if reason:
                    skipped[reason] = skipped.get(reason, 0) + 1
                out.extend((g, w, t, item.source) for g, w, t in got)
        return out, skipped


def _run_blocks(
    job: Callable[[tuple[int, int]], tuple[list[tuple[GreyBatch, int, str, int]], dict[str, int]]],
    n: int,
    workers: int,
    label: str,
    block: int = 64,
) -> tuple[LineSet, dict[str, int]]:
    """Run ``job`` over ``range(n)`` in blocks (in ``workers`` processes); results in index order."""
    blocks = [(s, min(n, s + block)) for s in range(0, n, block)]
    items: list[tuple[GreyBatch, int, str, int]] = []
    skipped: dict[str, int] = {}
    t0 = time.perf_counter()
    done = 0

    def collect(res: tuple[list[tuple[GreyBatch, int, str, int]], dict[str, int]], size: int) -> None:
        nonlocal done
        items.extend(res[0])
        for k, v in res[1].items():
            skipped[k] = skipped.get(k, 0) + v
        done += size
        rate = done / max(1e-6, time.perf_counter() - t0)
        print(f"  {label}: {done}/{n} ({rate:.0f}/s)", file=sys.stderr, flush=True)

    if workers > 1 and len(blocks) > 1:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(workers) as pool:
            for b, res in zip(blocks, pool.imap(job, blocks), strict=True):
                collect(res, b[1] - b[0])
    else:
        for b in blocks:
            collect(job(b), b[1] - b[0])
    return LineSet.of(items), skipped


# --------------------------------------------------------------------------------------
# configuration and data


@dataclass(frozen=True)
class TrainConfig:
    """A training run. Paths are as given on the command line (recorded in the card)."""

    out: Path
    data_dir: Path
    synth_manifests: tuple[Path, ...] = ()
    real_manifests: tuple[Path, ...] = ()
    eval_manifests: tuple[Path, ...] = ()
    onnx_path: Path = Path("models/plate_reader.onnx")
    card_path: Path | None = None
    n_flat: int = 16000
    n_blank: int = 0
    """Text-free lines labelled ``""`` (:func:`blank_lines`): without them a fine-tuned model read
    characters on a blank line."""
    flat_seed: int = 302
    n_val: int = 600
    val_seed: int = 399
    real_variants: int = 3
    synth_variants: int = 2
    real_repeat: int = 3
    val_fraction: float = 0.2
    epochs: int = 4
    batch: int = 64
    lr: float = 3e-3
    seed: int = 0
    threads: int = 1
    workers: int = 2
    resume: bool = False
    command: str = ""
    channels: tuple[int, int, int, int] = (16, 32, 64, 96)
    hidden: int = 96
    init: Path | None = None
    """Weights to fine-tune from (a run's ``last.pt`` or the ``.pt`` beside an exported reader);
    ``None`` trains from scratch."""

    def data_key(self) -> dict[str, Any]:
        """What the cached manifest lines depend on (besides the manifests' fingerprints)."""
        return {
            "synth": [str(p) for p in self.synth_manifests],
            "real": [str(p) for p in self.real_manifests],
            "real_variants": self.real_variants,
            "synth_variants": self.synth_variants,
            "val_fraction": self.val_fraction,
            "seed": self.seed,
        }


@dataclass
class DataSummary:
    """What the training lines are made of (for the model card)."""

    lines: dict[str, int] = field(default_factory=dict)
    val_lines: int = 0
    real_val_lines: int = 0
    plates: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)
    heldout: dict[str, int] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def manifest_fingerprint(manifest: Path) -> tuple[str, int]:
    """SHA-256 over a manifest's bytes and every image it names (sorted), and the image count."""
    h = hashlib.sha256(manifest.read_bytes())
    rows = read_rows(manifest)
    paths = sorted({(manifest.parent / r["image_path"]).resolve() for r in rows})
    for p in paths:
        h.update(p.name.encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest(), len(paths)


def write_manifest(path: Path, rows: Sequence[dict[str, str]]) -> None:
    """Write plate-manifest rows (the ``../shared/data/README.md`` columns; others ignored)."""
    cols = ["image_path", "plate_text", "country", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "notes"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def build_data(cfg: TrainConfig) -> tuple[LineSet, LineSet, LineSet, DataSummary]:
    """Training lines, synthetic validation lines and real held-out validation lines (cached
    in ``cfg.data_dir``); held-out manifests written to ``cfg.data_dir / "heldout"``."""
    stems = [m.stem for m in cfg.real_manifests]
    if len(set(stems)) < len(stems):
        raise ValueError(
            f"real manifests {[str(m) for m in cfg.real_manifests]} share a file name; their held-out "
            f"rows would overwrite each other in {cfg.data_dir / 'heldout'}: rename one"
        )
    summary = DataSummary()
    items: list[ManifestItem] = []
    real_val_items: list[ManifestItem] = []
    for m in cfg.synth_manifests:
        got, _, left = manifest_items(
            m, real=False, val_fraction=cfg.val_fraction, variants=cfg.synth_variants
        )
        items += got
        summary.plates[str(m)] = len(got)
        for k, v in left.items():
            summary.left_out[k] = summary.left_out.get(k, 0) + v
    for m in cfg.real_manifests:
        got, held, left = manifest_items(
            m, real=True, val_fraction=cfg.val_fraction, variants=cfg.real_variants
        )
        items += got
        summary.plates[str(m)] = len(got)
        summary.heldout[str(m)] = len(held)
        write_manifest(cfg.data_dir / "heldout" / f"{m.stem}.csv", held)
        for k, v in left.items():
            summary.left_out[k] = summary.left_out.get(k, 0) + v
        val_items, _, _ = manifest_items(
            cfg.data_dir / "heldout" / f"{m.stem}.csv", real=False, val_fraction=0.0, variants=1
        )
        real_val_items += [
            ManifestItem(i.path, i.text, i.country, i.box, i.line_texts, 2 if i.box is None else 3, 1)
            for i in val_items
        ]
    for m in (*cfg.synth_manifests, *cfg.real_manifests):
        summary.fingerprints[str(m)] = manifest_fingerprint(m)[0]
    summary.plates["synth-flat"] = cfg.n_flat
    base = {"input": [LINE_HEIGHT_PX, LINE_WIDTH_PX], "version": 2, "code": line_code_version()}
    parts = [
        flat_lines(cfg.data_dir, cfg.flat_seed, cfg.n_flat, cfg.workers),
        cached_lines(
            cfg.data_dir / "manifest_lines.npz",
            {**base, **cfg.data_key(), "fingerprints": summary.fingerprints},
            lambda: _run_blocks(
                _ManifestJob(tuple(items), cfg.seed), len(items), cfg.workers, "manifest plates", 16
            ),
        ),
    ]
    val, _, val_s = flat_lines(cfg.data_dir, cfg.val_seed, cfg.n_val, cfg.workers)
    real_val, _, rv_s = cached_lines(
        cfg.data_dir / "heldout_lines.npz",
        {**base, **cfg.data_key(), "fingerprints": summary.fingerprints},
        lambda: _run_blocks(
            _ManifestJob(tuple(real_val_items), cfg.seed),
            len(real_val_items),
            cfg.workers,
            "held-out real plates",
            16,
        ),
    )
    for _, sk, _ in parts:
        for k, v in sk.items():
            summary.skipped[k] = summary.skipped.get(k, 0) + v
    if cfg.n_blank:
        parts.append((blank_lines(cfg.n_blank, cfg.seed), {}, 0.0))
    train = LineSet.concat([p[0] for p in parts])
    summary.seconds = sum(p[2] for p in parts) + val_s + rv_s
    summary.lines = train.counts()
    summary.val_lines = len(val)
    summary.real_val_lines = len(real_val)
    return train, val, real_val, summary


def blank_lines(n: int, seed: int) -> LineSet:
    """``n`` lines with no text on them, as :func:`line_grey` makes lines, labelled ``""``: what
    a plate box on a grille, a light or bare paint gives. Each is one of: flat grey with noise,
    a gradient, a plate's border or frame (a bright panel edged by dark bars), a grille's
    stripes, or smooth blotches; at a random size (12-60 px high, 1.5-8 times as wide), blurred
    or not, light or dark."""
    rng = np.random.default_rng([seed, 4242])
    items: list[tuple[npt.NDArray[np.uint8], int, str, int]] = []
    for _ in range(n):
        h = int(rng.integers(12, 61))
        w = int(h * rng.uniform(1.5, 8.0))
        base = rng.uniform(10, 245)
        kind = int(rng.integers(5))
        img = np.full((h, w), base, np.float32)
        if kind == 1:  # gradient
            g = np.linspace(0, rng.uniform(-120, 120), w if rng.random() < 0.5 else h, dtype=np.float32)
            img += g[None, :] if g.size == w else g[:, None]
        elif kind == 2:  # a panel's border or frame
            t = max(1, int(h * rng.uniform(0.05, 0.2)))
            edge = rng.uniform(0, 255)
            img[:t], img[-t:] = edge, edge
            if rng.random() < 0.5:
                img[:, :t], img[:, -t:] = edge, edge
        elif kind == 3:  # grille stripes, either way
            period = int(rng.integers(3, max(4, h // 2)))
            on = (np.arange(h if rng.random() < 0.6 else w) // max(1, period // 2)) % 2 == 0
            delta = rng.uniform(40, 160) * (1 if base < 128 else -1)
            if on.size == h:
                img[on] += delta
            else:
                img[:, on] += delta
        elif kind == 4:  # smooth blotches
            small = rng.uniform(-80, 80, (max(2, h // 8), max(2, w // 8))).astype(np.float32)
            img += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        img += rng.normal(0, rng.uniform(0, 12), img.shape).astype(np.float32)
        if rng.random() < 0.4:
            img = np.asarray(cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 2.0)), np.float32)
        grey, width = line_grey(np.clip(img, 0, 255).astype(np.uint8))
        items.append((grey, width, "", SOURCES.index("blank")))
    return LineSet.of(items)


def flat_lines(data_dir: Path, seed: int, n: int, workers: int) -> tuple[LineSet, dict[str, int], float]:
    """The lines of ``n`` flat synthetic plates of ``seed`` (:func:`render_flat_plate`), cached
    in ``data_dir`` (see :func:`cached_lines`)."""
    return cached_lines(
        data_dir / f"flat_s{seed}_n{n}.npz",
        {
            "input": [LINE_HEIGHT_PX, LINE_WIDTH_PX],
            "version": 1,
            "flat_seed": seed,
            "n": n,
            "code": line_code_version(),
        },
        lambda: _run_blocks(_FlatJob(seed), n, workers, f"synthetic plates (seed {seed})"),
    )


def cached_lines(
    path: Path, key: dict[str, Any], make: Callable[[], tuple[LineSet, dict[str, int]]]
) -> tuple[LineSet, dict[str, int], float]:
    """``make()``'s lines, cached in ``path`` (with ``key`` and the time it took beside it in
    ``.json``): made again only when ``key`` changes. Returns the lines, what was skipped and
    the seconds making them took (when they were made)."""
    meta = path.with_suffix(".json")
    if path.is_file() and meta.is_file():
        saved = json.loads(meta.read_text())
        if saved.get("key") == json.loads(json.dumps(key)):
            print(f"lines: {path} (cached)", file=sys.stderr)
            return LineSet.load(path), dict(saved["skipped"]), float(saved["seconds"])
    t0 = time.perf_counter()
    lines, skipped = make()
    seconds = time.perf_counter() - t0
    lines.save(path)
    meta.write_text(json.dumps({"key": key, "skipped": skipped, "seconds": round(seconds, 1)}, indent=1))
    return lines, skipped, seconds


# --------------------------------------------------------------------------------------
# augmentation


def augment(grey: GreyBatch, width: int, rng: np.random.Generator) -> GreyBatch:
    """A randomly altered copy of one ``(H, W)`` uint8 line: small affine (scale, rotation,
    shift within the valid width), contrast and gamma, blur, resolution loss and noise.
    The engine's :func:`normalise` follows, as at run time."""
    h, w = grey.shape
    out: npt.NDArray[Any] = grey
    if rng.random() < 0.7:
        angle = float(rng.uniform(-2.0, 2.0))
        scale = np.diag([float(rng.uniform(0.9, 1.08)), float(rng.uniform(0.88, 1.1))])
        centre = np.array([width / 2.0, h / 2.0])
        rot = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, 1.0)[:, :2]
        lin = rot @ scale
        shift = np.array([rng.uniform(-3, 3), rng.uniform(-2, 2)])
        m = np.hstack([lin, (centre - lin @ centre + shift)[:, None]])
        out = cv2.warpAffine(out, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.5:
        a = float(rng.uniform(0.5, 1.2))
        b = float(rng.uniform(-30, 30))
        gamma = float(np.exp(rng.uniform(-0.4, 0.4)))
        lut = np.clip(255.0 * ((np.arange(256) / 255.0) ** gamma) * a + b + (1 - a) * 128, 0, 255).astype(
            np.uint8
        )
        out = cv2.LUT(out, lut)
    if rng.random() < 0.25:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=float(rng.uniform(0.4, 1.2)))
    if rng.random() < 0.2:
        s = float(rng.uniform(0.35, 0.75))
        small = cv2.resize(out, (max(4, int(w * s)), max(4, int(h * s))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        noise = rng.normal(0.0, float(rng.uniform(2, 12)), out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out, np.uint8)


def encode_labels(labels: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Concatenated class indices of ``labels`` and each label's length (CTC targets)."""
    flat = [CHAR_INDEX[ch] for text in labels for ch in text]
    return np.array(flat, np.int64), np.array([len(t) for t in labels], np.int64)


def greedy_texts(probs: npt.NDArray[np.float32], n_frames: Sequence[int]) -> list[str]:
    """Greedy CTC decoding of ``(N, T, C)`` probabilities (or logits), first ``n_frames`` each."""
    best = probs.argmax(axis=2)
    out = []
    for row, t in zip(best, n_frames, strict=True):
        chars = []
        prev = 0
        for c in row[:t]:
            c = int(c)
            if c != prev and c != 0:
                chars.append(PLATE_ALPHABET[c - 1])
            prev = c
        out.append("".join(chars))
    return out


# --------------------------------------------------------------------------------------
# model, training, export


def build_model(channels: tuple[int, int, int, int] = (16, 32, 64, 96), hidden: int = 96) -> Any:
    """The CRNN: conv blocks (input ``(N, 1, 32, 128)``, width pooled by 4 to 32 frames,
    height to 1), one BiLSTM layer and a linear layer to :data:`N_CLASSES` logits ``(N, T, C)``."""
    import torch  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    def block(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    c1, c2, c3, c4 = channels

    class PlateCrnn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                *block(1, c1, 2),  # 16 x 64
                *block(c1, c2),
                nn.MaxPool2d(2),  # 8 x 32
                *block(c2, c3),
                *block(c3, c3),
                nn.MaxPool2d((2, 1)),  # 4 x 32
                *block(c3, c4),
                nn.MaxPool2d((2, 1)),  # 2 x 32
                nn.Conv2d(c4, c4, (2, 1), bias=False),  # 1 x 32
                nn.BatchNorm2d(c4),
                nn.ReLU(inplace=True),
            )
            self.rnn = nn.LSTM(c4, hidden, batch_first=True, bidirectional=True)
            self.head = nn.Linear(2 * hidden, N_CLASSES)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.features(x).squeeze(2).permute(0, 2, 1)  # (N, T, C)
            y, _ = self.rnn(f)
            return self.head(y)

    return PlateCrnn()


class _Probabilities:
    """Wraps the CRNN for export: softmax over classes, output ``(N, T, C)``."""

    @staticmethod
    def wrap(model: Any) -> Any:
        import torch  # noqa: PLC0415

        class WithSoftmax(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return torch.softmax(self.inner(x), dim=2)

        return WithSoftmax(model)


@dataclass
class EpochLog:
    epoch: int
    loss: float
    val_line_exact: float
    real_val_line_exact: float
    seconds: float
    samples_per_s: float


def _batches(
    lines: LineSet, order: npt.NDArray[np.int64], batch: int, rng: np.random.Generator, augmented: bool
) -> Iterable[tuple[npt.NDArray[np.float32], list[str], list[int]]]:
    for s in range(0, len(order), batch):
        idx = order[s : s + batch]
        greys = [
            augment(lines.images[i], int(lines.widths[i]), rng) if augmented else lines.images[i] for i in idx
        ]
        frames = [
            valid_frames(int(lines.widths[i]) + (4 if augmented else 0), LINE_WIDTH_PX // FRAME_STRIDE_PX)
            for i in idx
        ]
        yield normalise(greys), [lines.labels[i] for i in idx], frames


def json_safe(x: Any) -> Any:
    """``x`` with every NaN or infinite float (an accuracy over no lines) made ``None``: strict
    JSON parsers reject ``NaN``."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_safe(v) for v in x]
    return x


def line_accuracy(model: Any, lines: LineSet, batch: int = 256) -> float:
    """Share of lines the model reads exactly (greedy decoding)."""
    import torch  # noqa: PLC0415

    if not len(lines):
        return float("nan")
    model.eval()
    right = 0
    with torch.no_grad():
        for x, labels, frames in _batches(
            lines, np.arange(len(lines)), batch, np.random.default_rng(0), False
        ):
            probs = model(torch.from_numpy(x)).numpy()
            right += sum(p == t for p, t in zip(greedy_texts(probs, frames), labels, strict=True))
    return right / len(lines)


def _checkpoint(path: Path) -> dict[str, Any]:
    """The dict a reader ``.pt`` holds; ``ValueError`` for anything else."""
    import torch  # noqa: PLC0415

    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # a torch pickle of anything else, or no pickle at all
        raise ValueError(f"{path}: not a reader checkpoint ({e})") from e
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise ValueError(f"{path}: no reader weights in it (expected a dict with 'model')")
    return state


def recorded_commands(path: Path) -> list[str]:
    """The commands that made the weights in ``path`` (a run's ``last.pt`` or the ``.pt`` beside
    an export), oldest first; empty when the file does not say."""
    state = _checkpoint(path)
    commands = state.get("commands") or [state.get("config", {}).get("command", "")]
    return [str(c) for c in [*state.get("parents", []), *commands] if c]


def checkpoint_shape(path: Path) -> tuple[tuple[int, int, int, int], int] | None:
    """The CRNN shape (conv widths, BiLSTM width) the weights in ``path`` were trained with, as
    the ``.pt`` beside an export or a run's ``last.pt`` records it; ``None`` when it does not say.
    ``ValueError`` for a file that is no reader checkpoint."""
    state = _checkpoint(path)
    channels, hidden = state.get("channels"), state.get("hidden")
    if channels is None or hidden is None:  # a last.pt of an older run: its config as strings
        config = state.get("config", {})
        try:
            channels, hidden = ast.literal_eval(config["channels"]), int(config["hidden"])
        except (KeyError, ValueError, SyntaxError):
            return None
    c = tuple(int(x) for x in channels)
    if len(c) != 4:
        return None
    return (c[0], c[1], c[2], c[3]), int(hidden)


def load_weights(path: Path, channels: tuple[int, int, int, int], hidden: int) -> dict[str, Any]:
    """The CRNN weights (a state dict) in ``path``: a run's ``last.pt`` or the ``.pt`` written
    beside an exported reader. Raises ``ValueError`` when the file holds no CRNN weights or
    weights of another shape than ``channels``/``hidden`` (say the run's ``--channels``)."""
    weights = _checkpoint(path)["model"]
    expected = build_model(channels, hidden).state_dict()
    wrong = sorted(
        k for k in expected if k not in weights or tuple(weights[k].shape) != tuple(expected[k].shape)
    )
    if wrong or set(weights) - set(expected):
        raise ValueError(
            f"{path}: its weights do not fit a CRNN with channels {list(channels)} and hidden "
            f"{hidden} (first mismatch: {(wrong or sorted(set(weights) - set(expected)))[0]}); "
            "give the --channels/--hidden it was trained with"
        )
    return dict(weights)


def train_model(
    cfg: TrainConfig, train: LineSet, val: LineSet, real_val: LineSet
) -> tuple[Any, list[EpochLog], float, list[str], list[str]]:
    """Train (or resume) the CRNN; returns the model, per-epoch logs, training seconds, the
    commands that trained it (more than one when resumed) and those that made the weights it
    started from (``cfg.init``'s, or on a resume the checkpoint's), oldest first."""
    import torch  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.channels, cfg.hidden)
    n_params = sum(p.numel() for p in model.parameters())
    # real lines are few: each epoch sees them cfg.real_repeat times
    is_real = np.isin(train.sources, REAL_SOURCES)
    real = np.flatnonzero(is_real)
    synth = np.flatnonzero(~is_real)
    per_epoch = len(synth) + cfg.real_repeat * len(real)
    steps_per_epoch = math.ceil(per_epoch / cfg.batch)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=steps_per_epoch * cfg.epochs, pct_start=0.15
    )
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    logs: list[EpochLog] = []
    start_epoch = 0
    spent = 0.0
    commands: list[str] = []
    parents = recorded_commands(cfg.init) if cfg.init is not None else []
    ckpt = cfg.out / "last.pt"
    if cfg.init is not None and not (cfg.resume and ckpt.is_file()):
        model.load_state_dict(load_weights(cfg.init, cfg.channels, cfg.hidden))
        print(f"fine-tuning from {cfg.init}", file=sys.stderr)
    if cfg.resume and ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start_epoch = int(state["epoch"])
        spent = float(state["seconds"])
        logs = [EpochLog(**e) for e in state["logs"]]
        commands = list(state.get("commands") or [state["config"]["command"]])
        parents = list(state.get("parents", parents))  # a resume without --from keeps the chain
        print(f"resuming {ckpt} after epoch {start_epoch}", file=sys.stderr)
    print(
        f"training: {len(train)} lines ({len(synth)} synthetic, {len(real)} real x{cfg.real_repeat}), "
        f"{n_params} parameters, {cfg.epochs} epochs of {steps_per_epoch} steps, {cfg.threads} thread(s)",
        file=sys.stderr,
    )
    for epoch in range(start_epoch, cfg.epochs):
        rng = np.random.default_rng([cfg.seed, epoch])
        torch.manual_seed(cfg.seed * 1000 + epoch)
        order = rng.permutation(np.concatenate([synth, np.tile(real, cfg.real_repeat)]))
        model.train()
        t0 = time.perf_counter()
        total, n_seen = 0.0, 0
        for step, (x, labels, frames) in enumerate(_batches(train, order, cfg.batch, rng, True)):
            targets, lengths = encode_labels(labels)
            logits = model(torch.from_numpy(x))
            log_probs = logits.log_softmax(2).permute(1, 0, 2)
            loss = ctc(
                log_probs,
                torch.from_numpy(targets),
                torch.tensor(frames, dtype=torch.long),
                torch.from_numpy(lengths),
            )
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total += loss.item() * len(labels)
            n_seen += len(labels)
            if step % 50 == 0 or step == steps_per_epoch - 1:
                el = time.perf_counter() - t0
                rate = n_seen / max(el, 1e-6)
                eta = (per_epoch - n_seen) / max(rate, 1e-6) + (cfg.epochs - epoch - 1) * per_epoch / max(
                    rate, 1e-6
                )
                print(
                    f"  epoch {epoch + 1}/{cfg.epochs} step {step + 1}/{steps_per_epoch} "
                    f"loss {total / n_seen:.3f} {rate:.0f} lines/s, eta {eta / 60:.1f} min",
                    file=sys.stderr,
                    flush=True,
                )
        secs = time.perf_counter() - t0
        spent += secs
        acc = line_accuracy(model, val)
        real_acc = line_accuracy(model, real_val)
        logs.append(
            EpochLog(epoch + 1, total / max(1, n_seen), acc, real_acc, secs, n_seen / max(secs, 1e-6))
        )
        print(
            f"epoch {epoch + 1}: loss {total / max(1, n_seen):.3f}, synthetic val line exact {acc:.4f}, "
            f"real held-out line exact {real_acc:.4f} ({secs / 60:.1f} min)",
            file=sys.stderr,
            flush=True,
        )
        cfg.out.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "epoch": epoch + 1,
                "seconds": spent,
                "logs": [asdict(e) for e in logs],
                "commands": commands if commands[-1:] == [cfg.command] else [*commands, cfg.command],
                "parents": parents,  # what made the weights it started from: a chain of runs is traced
                "channels": list(cfg.channels),
                "hidden": cfg.hidden,
                "config": {k: str(v) for k, v in asdict(cfg).items()},
            },
            cfg.out / "last.tmp.pt",
        )
        (cfg.out / "last.tmp.pt").replace(ckpt)
    model.eval()
    if start_epoch < cfg.epochs and commands[-1:] != [cfg.command]:
        commands.append(cfg.command)
    return model, logs, spent, commands, parents


def save_weights(model: Any, cfg: TrainConfig, path: Path, commands: list[str]) -> None:
    """Write the model's weights, shape and the ``commands`` that made it (oldest first) to
    ``path`` (beside the ONNX file): what ``train reader --from`` fine-tunes from."""
    import torch  # noqa: PLC0415

    torch.save(
        {
            "model": model.state_dict(),
            "channels": list(cfg.channels),
            "hidden": cfg.hidden,
            "commands": commands,
        },
        path.with_suffix(".tmp.pt"),
    )
    path.with_suffix(".tmp.pt").replace(path)


def reader_metadata() -> dict[str, str]:
    """The ONNX metadata of a recogniser this code trains (what :class:`vision.anpr.engines.CrnnRecogniser`
    reads: task, alphabet, input size, frame stride, line grey)."""
    from vision.anpr.engines import LINE_GREY_KEY, LINE_GREY_PLATE  # noqa: PLC0415

    return {
        "task": "plate-line-ctc",
        "alphabet": PLATE_ALPHABET,
        "names": str(["blank", *PLATE_ALPHABET]),
        "imgsz": str([LINE_HEIGHT_PX, LINE_WIDTH_PX]),
        "frame_stride_px": str(FRAME_STRIDE_PX),
        LINE_GREY_KEY: LINE_GREY_PLATE,
        "input": "grey line (vision.anpr.line_input.plate_grey), resized to 32 px high, squashed/padded "
        "to 128, 2-98 percentile stretch to [-1, 1]",
        "output": "per-frame class probabilities (N, T, 37), class 0 = CTC blank",
        "author": "hgv-lane (vision/train/recogniser.py)",
    }


def export_onnx(model: Any, path: Path, check: LineSet, metadata: dict[str, str]) -> float:
    """Export ``model`` (softmax added) to ``path`` with ``metadata``; returns the largest
    absolute difference between torch's and ONNX Runtime's probabilities on ``check`` lines
    (raises ``RuntimeError`` above 1e-4)."""
    import onnx  # noqa: PLC0415
    import torch  # noqa: PLC0415

    from vision.runtime import OnnxModel  # noqa: PLC0415

    wrapped = _Probabilities.wrap(model).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, 1, LINE_HEIGHT_PX, LINE_WIDTH_PX)
    tmp = path.with_suffix(".tmp.onnx")
    with warnings.catch_warnings():  # the TorchScript exporter (no onnxscript here) warns it is old
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped,
            (dummy,),
            str(tmp),
            input_names=["image"],
            output_names=["probs"],
            dynamic_axes={"image": {0: "batch"}, "probs": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    proto = onnx.load(str(tmp))
    del proto.metadata_props[:]
    for k, v in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, str(tmp))
    tmp.replace(path)
    n = min(len(check), 64)
    x = (
        normalise(list(check.images[:n]))
        if n
        else np.zeros((1, 1, LINE_HEIGHT_PX, LINE_WIDTH_PX), np.float32)
    )
    with torch.no_grad():
        expected = wrapped(torch.from_numpy(x)).numpy()
    got = OnnxModel(path, "cpu", warmup=False).run(x)[0]
    diff = float(np.abs(expected - got).max())
    if diff > 1e-4:
        raise RuntimeError(f"ONNX export of {path} differs from torch by {diff:.2e}")
    return diff


# --------------------------------------------------------------------------------------
# evaluation through the reader, model card, the whole run


def evaluate_reader(onnx_path: Path, manifest: Path) -> dict[str, Any]:
    """``hgv-lane eval plates``' summary of the full reader (rectify, this model, grammars) on
    ``manifest`` (scenes read from their true box: no detector here)."""
    from vision.train.evaluate import evaluate_recogniser  # noqa: PLC0415

    report = evaluate_recogniser(onnx_path, manifest)
    return {
        "n_read_scored": report.n_images,
        **report.metrics,
        "cpu_ms_per_image_p50": report.ms_per_image_p50,
    }


def run(cfg: TrainConfig) -> dict[str, Any]:
    """Build the data, train, export, check, evaluate and write the card; returns the result
    (also written to ``cfg.out / "result.json"``)."""
    from vision.runtime import file_sha256  # noqa: PLC0415
    from vision.train.yolo import write_model_card  # noqa: PLC0415

    t_start = time.perf_counter()
    cv2.setNumThreads(1)
    train, val, real_val, data = build_data(cfg)
    print(f"data: {json.dumps(asdict(data))}", file=sys.stderr)
    model, logs, seconds, commands, parents = train_model(cfg, train, val, real_val)
    metadata = reader_metadata()
    diff = export_onnx(model, cfg.onnx_path, val, metadata)
    print(f"exported {cfg.onnx_path} (torch vs ONNX Runtime max |diff| {diff:.1e})", file=sys.stderr)
    save_weights(model, cfg, cfg.onnx_path.with_suffix(".pt"), [*parents, *commands])
    evals: dict[str, dict[str, Any]] = {}
    for m in [cfg.data_dir / "heldout" / f"{r.stem}.csv" for r in cfg.real_manifests] + list(
        cfg.eval_manifests
    ):
        if m.is_file() and read_rows(m):
            print(f"evaluating the reader on {m}", file=sys.stderr)
            evals[str(m)] = evaluate_reader(cfg.onnx_path, m)
    n_params = sum(p.numel() for p in model.parameters())
    result = {
        "onnx": str(cfg.onnx_path),
        "sha256": file_sha256(cfg.onnx_path),
        "parameters": n_params,
        "train_seconds": round(seconds, 1),
        "data_seconds": round(data.seconds, 1),
        "total_seconds": round(time.perf_counter() - t_start, 1),
        "lines": data.lines,
        "last_epoch": json_safe(asdict(logs[-1])) if logs else {},
        "onnx_max_abs_diff": diff,
        "eval": evals,
    }
    (cfg.out / "result.json").write_text(
        json.dumps(json_safe({**result, "data": asdict(data), "epochs": [asdict(e) for e in logs]}), indent=1)
    )
    card = cfg.card_path or cfg.onnx_path.with_suffix(".md")
    fields: dict[str, Any] = {
        "name": cfg.onnx_path.name,
        "task": "plate-line-ctc: one rectified text line -> per-frame probabilities of blank + A-Z 0-9 (CTC)",
        "engine": "reader engine `crnn` (`vision/anpr/engines.py: CrnnRecogniser`), "
        "`HGV_LANE_READER__ENGINE=crnn` or `--engine crnn`",
        "classes": f"blank + {PLATE_ALPHABET}",
        "input": f"(N, 1, {LINE_HEIGHT_PX}, {LINE_WIDTH_PX}) float32 grey in [-1, 1] "
        "(`vision/anpr/line_input.py`); output (N, 32, 37) probabilities",
        "architecture": f"CRNN: 5 conv blocks {list(cfg.channels)} + BiLSTM {cfg.hidden} + linear; "
        f"{n_params:,} parameters",
        "sha256": result["sha256"],
        "started from": (
            f"{cfg.init}, made by: {' ; then '.join(parents) or '(not recorded)'}"
            if cfg.init
            else "none (from scratch)"
        ),
        "training command": " ; then ".join(c or "(called from Python)" for c in commands),
        **(
            {"this command (export, evaluation, card)": cfg.command} if commands[-1:] != [cfg.command] else {}
        ),
        "training time": f"{seconds / 60:.1f} min training ({len(logs)} epochs) + "
        f"{data.seconds / 60:.1f} min making the lines (rendering, rectifying; cached), "
        f"on 2 shared CPU cores ({cfg.threads} torch thread(s)); "
        f"this command took {(time.perf_counter() - t_start) / 60:.1f} min",
        "export check": f"torch and ONNX Runtime probabilities agree within {diff:.1e} "
        f"on {min(64, len(val))} lines",
        "training lines": {
            **data.lines,
            f"synthetic validation lines (seed {cfg.val_seed})": data.val_lines,
            "real held-out lines": data.real_val_lines,
        },
        "plates per source (before rectification)": data.plates,
        "plates left out (their lines cannot be labelled)": {**data.skipped, **data.left_out},
        "held-out real rows (val side of split_of, never trained on)": {
            **{k: v for k, v in data.heldout.items()},
            "split": f"vision.train.datasets.split_of(manifest stem/folder_file, {cfg.val_fraction})",
        },
        "data fingerprints (sha256 of manifest + images)": {
            k: v[:16] + "..." for k, v in data.fingerprints.items()
        },
        "epochs (loss, synthetic val line exact, real held-out line exact)": {
            str(e.epoch): f"{e.loss:.3f}, {e.val_line_exact:.4f}, {e.real_val_line_exact:.4f}, "
            f"{e.seconds / 60:.1f} min, {e.samples_per_s:.0f} lines/s"
            for e in logs
        },
        "reader with this model (rectify + model + grammars; scenes from their true box)": {
            k: json.dumps(v) for k, v in evals.items()
        },
    }
    write_model_card(card, fields)
    print(f"wrote {card}", file=sys.stderr)
    return result
