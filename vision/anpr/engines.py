"""Recognition engines: one text line image in, per-character slots out.

An engine reads one already-rectified line ``(H, W, 3)`` uint8 BGR and returns its
characters as :class:`vision.anpr.ctc.CharSlot` (each with alternatives and their
probabilities), restricted to the plate alphabet A-Z 0-9. Rectification, two-line
handling, grammar ranking and the :class:`vision.types.PlateRead` are the reader's job
(:mod:`vision.anpr.reader`), the same for every engine.

- :class:`PpOcrRecogniser` (engine ``rapidocr``): RapidOCR's bundled PP-OCRv4 recogniser
  run through :class:`vision.runtime.OnnxModel`, with our own CTC decoding: its 6,625
  classes are folded into the plate alphabet (lower case and full-width forms join their
  upper-case letter; everything else becomes "other", read as a gap), which gives
  per-character confidences and alternatives.
- :class:`EasyOcrRecogniser` (engine ``easyocr``): EasyOCR's English recogniser from the
  packaged weights, with its ``allowlist`` set to the plate alphabet. EasyOCR reports one
  confidence per line, so each character gets the per-character probability that line
  confidence implies (:func:`easyocr_char_confidence`) and no alternatives.
- :class:`CrnnRecogniser` (engine ``crnn``): the project's own small CRNN
  (``models/plate_reader.onnx``, trained by :mod:`vision.train.recogniser` on synthetic
  UK/EU plates and the real dev crops) on a fixed 32x128 grey input
  (:mod:`vision.anpr.line_input`); its classes are blank + the 36 plate characters, read
  from the model's metadata, decoded with the same CTC helpers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from vision.anpr import line_input
from vision.anpr.ctc import (
    PLATE_ALPHABET,
    CharSlot,
    FloatArray,
    fold_map,
    fold_probs,
    greedy_slots,
    make_fold,
)
from vision.runtime import ModelLoadError, OnnxModel, Providers
from vision.types import ImageBGR

ENGINE_NAMES: tuple[str, ...] = ("rapidocr", "easyocr", "crnn")
"""Engine names accepted by :func:`build_engine` (and ``Settings.reader.engine``)."""


class RecognitionEngine(Protocol):
    """Reads text lines. ``recognise`` takes line images ``(H, W, 3)`` uint8 BGR and returns,
    for each, its character slots left to right (empty when nothing was read)."""

    name: str

    def recognise(self, lines: Sequence[ImageBGR]) -> list[tuple[CharSlot, ...]]: ...


def ppocr_rec_model_path() -> Path:
    """Path of the PP-OCRv4 recogniser ONNX file bundled in the ``rapidocr-onnxruntime`` wheel."""
    import rapidocr_onnxruntime  # noqa: PLC0415 - only to locate the wheel's files

    return Path(rapidocr_onnxruntime.__file__).parent / "models" / "ch_PP-OCRv4_rec_infer.onnx"


def ppocr_preprocess(
    lines: Sequence[ImageBGR], height_px: int = 48, min_width_px: int = 64, stretch: float = 1.0
) -> FloatArray:
    """Line images to the PP-OCR recogniser's input ``(N, 3, height_px, W)`` float32.

    Each line is resized to ``height_px``, its width scaled by the aspect ratio times
    ``stretch`` (> 1 gives narrow characters more CTC frames), scaled to [-1, 1]
    (BGR order, as PaddleOCR feeds it) and right-padded with zeros to the batch's width
    ``W = max(min_width_px, widest line)``, rounded up to a multiple of 8.
    """
    widths = [max(1, math.ceil(stretch * height_px * ln.shape[1] / max(1, ln.shape[0]))) for ln in lines]
    width = max(min_width_px, *widths) if widths else min_width_px
    width = int(math.ceil(width / 8) * 8)
    batch = np.zeros((len(lines), 3, height_px, width), np.float32)
    for i, (ln, w) in enumerate(zip(lines, widths, strict=True)):
        resized = cv2.resize(ln, (w, height_px), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        batch[i, :, :, :w] = resized.transpose(2, 0, 1) / 127.5 - 1.0
    return batch


class PpOcrRecogniser:
    """PP-OCRv4 recogniser (RapidOCR's bundled ONNX model) with plate-alphabet CTC decoding."""

    name = "rapidocr"

    def __init__(
        self,
        model_path: Path | None = None,
        providers: Providers = "auto",
        *,
        intra_op_threads: int | None = None,
        n_alternatives: int = 3,
        stretch: float = 1.3,
    ) -> None:
        path = model_path or ppocr_rec_model_path()
        self.model = OnnxModel(path, providers, warmup=False, intra_op_threads=intra_op_threads)
        raw = self.model.info.metadata.get("character")
        if not raw:
            raise ModelLoadError(f"{path}: no 'character' dictionary in the model's metadata")
        characters = raw.splitlines()
        # PP-OCR classes: 0 blank, 1..len(dict) the dictionary, then a space class.
        self.fold = make_fold(fold_map([*characters, " "]))
        self.n_alternatives = n_alternatives
        self.stretch = stretch
        self.model.run(ppocr_preprocess([np.zeros((48, 320, 3), np.uint8)]))  # warm-up once

    def probabilities(self, lines: Sequence[ImageBGR]) -> list[FloatArray]:
        """Folded per-frame probabilities ``(T, 38)`` for each line (padding frames removed)."""
        if not lines:
            return []
        batch = ppocr_preprocess(lines, stretch=self.stretch)
        (out,) = self.model.run(batch)[:1]
        probs = np.asarray(out, np.float32)  # (N, T, C) softmax already applied by the model
        if probs.shape[-1] != self.fold.n_classes:
            expected = self.fold.n_classes
            raise ModelLoadError(
                f"{self.model.path}: {probs.shape[-1]} output classes, its dictionary implies {expected}"
            )
        frames_per_px = probs.shape[1] / batch.shape[3]
        result = []
        for i, ln in enumerate(lines):
            w = math.ceil(self.stretch * 48 * ln.shape[1] / max(1, ln.shape[0]))
            t = min(probs.shape[1], max(1, math.ceil(w * frames_per_px) + 1))
            result.append(fold_probs(probs[i, :t], self.fold))
        return result

    def recognise(self, lines: Sequence[ImageBGR]) -> list[tuple[CharSlot, ...]]:
        return [greedy_slots(p, self.n_alternatives) for p in self.probabilities(lines)]


def easyocr_char_confidence(line_confidence: float, n_chars: int) -> float:
    """Per-character confidence implied by EasyOCR's line confidence.

    EasyOCR reports ``prod(p_i) ** (2 / sqrt(n))`` over the ``n`` characters' probabilities;
    with equal ``p`` that is ``p ** (2 sqrt(n))``, so ``p = conf ** (1 / (2 sqrt(n)))``.
    """
    if n_chars <= 0 or line_confidence <= 0.0:
        return 0.0
    return float(min(1.0, line_confidence ** (1.0 / (2.0 * math.sqrt(n_chars)))))


class EasyOcrRecogniser:
    """EasyOCR's English recogniser (packaged weights, no download) restricted to A-Z 0-9."""

    name = "easyocr"

    def __init__(self, work_dir: Path, *, gpu: bool = False) -> None:
        from vision.offline import build_easyocr_reader  # noqa: PLC0415 - imports torch

        self.reader: Any = build_easyocr_reader(work_dir / "easyocr", gpu=gpu)

    def recognise(self, lines: Sequence[ImageBGR]) -> list[tuple[CharSlot, ...]]:
        out: list[tuple[CharSlot, ...]] = []
        for ln in lines:
            gray = cv2.cvtColor(ln, cv2.COLOR_BGR2GRAY)
            with warnings.catch_warnings():  # torch's CPU data loader warns on every call
                warnings.filterwarnings("ignore", message=".*pin_memory.*", category=UserWarning)
                results = self.reader.recognize(gray, detail=1, allowlist=PLATE_ALPHABET, paragraph=False)
            text = "".join(ch for ch in "".join(str(r[1]) for r in results).upper() if ch in PLATE_ALPHABET)
            line_conf = float(np.mean([float(r[2]) for r in results])) if results else 0.0
            conf = easyocr_char_confidence(line_conf, len(text))
            out.append(tuple(CharSlot(((ch, conf),), i, i + 1) for i, ch in enumerate(text)))
        return out


CRNN_MODEL_FILE = "plate_reader.onnx"
"""File name of the project's own recogniser in the models folder."""

CRNN_TASK = "plate-line-ctc"
"""The ``task`` metadata of a model :class:`CrnnRecogniser` accepts."""

LINE_GREY_KEY = "line_grey"
"""Metadata key saying which grey a recogniser was trained on: :data:`LINE_GREY_PLATE` or
:data:`LINE_GREY_LUMINANCE`."""

LINE_GREY_PLATE = "plate"
"""Lines made grey by :func:`vision.anpr.line_input.plate_grey` (a red plate's red channel);
what the training code has written since the eleventh session (``models/plate_reader.md``)."""

LINE_GREY_LUMINANCE = "luminance"
"""Lines made grey by their luminance alone: the readers trained before ``plate_grey`` existed,
whose files carry no :data:`LINE_GREY_KEY` (rolled back to, they must see what they learnt)."""

PLATE_GREY_WITHOUT_KEY = frozenset({"60407f90dd2b276c95bcb7250056974022da5b638ac8358e017b0bc212c3c2c1"})
"""SHA-256 of reader files trained on ``plate_grey`` before the training code wrote
:data:`LINE_GREY_KEY`: reader15 as trained and shipped in the eleventh session (the same file
with the key added is 72f3ebfc...)."""


def _luminance(line: ImageBGR) -> line_input.GreyArray:
    """A line ``(h, w, 3)`` uint8 BGR as its ``(h, w)`` uint8 luminance (grey lines pass)."""
    return line if line.ndim == 2 else np.asarray(cv2.cvtColor(line, cv2.COLOR_BGR2GRAY), np.uint8)


def default_crnn_model_path() -> Path:
    """``models/plate_reader.onnx`` of the source tree (the shipped recogniser)."""
    return Path(__file__).resolve().parents[2] / "models" / CRNN_MODEL_FILE


class CrnnRecogniser:
    """The project's own CTC line recogniser (ONNX, metadata-described), see the module doc.

    The model's metadata must give ``task`` = :data:`CRNN_TASK`, ``alphabet`` (the
    characters of classes 1..C-1; class 0 is the CTC blank), ``imgsz`` ``[H, W]`` and
    ``frame_stride_px``; its input is ``(N, 1, H, W)`` float32 (:func:`line_input.line_batch`)
    and its output ``(N, T, C)`` per-frame probabilities (softmax applied). :data:`LINE_GREY_KEY`
    says how its lines are made grey (absent: :data:`LINE_GREY_LUMINANCE`, an older model, unless
    the file is one of :data:`PLATE_GREY_WITHOUT_KEY`).
    """

    name = "crnn"

    def __init__(
        self,
        model_path: Path | None = None,
        providers: Providers = "auto",
        *,
        intra_op_threads: int | None = None,
        n_alternatives: int = 3,
    ) -> None:
        path = model_path or default_crnn_model_path()
        self.model = OnnxModel(path, providers, warmup=False, intra_op_threads=intra_op_threads)
        meta = self.model.info.metadata
        if meta.get("task") != CRNN_TASK:
            raise ModelLoadError(f"{path}: task {meta.get('task')!r} is not {CRNN_TASK!r}")
        alphabet = meta.get("alphabet", "")
        if not alphabet or self.model.info.imgsz is None:
            raise ModelLoadError(f"{path}: metadata lacks 'alphabet' or 'imgsz'")
        if self.model.info.input_shape[1:2] != (1,):
            raise ModelLoadError(f"{path}: expected a 1-channel input, got {self.model.info.input_shape}")
        self.height_px, self.width_px = self.model.info.imgsz
        self.stride_px = int(meta.get("frame_stride_px", line_input.FRAME_STRIDE_PX))
        self.line_grey = meta.get(
            LINE_GREY_KEY,
            LINE_GREY_PLATE if self.model.info.sha256 in PLATE_GREY_WITHOUT_KEY else LINE_GREY_LUMINANCE,
        )
        if self.line_grey not in (LINE_GREY_PLATE, LINE_GREY_LUMINANCE):
            raise ModelLoadError(
                f"{path}: metadata {LINE_GREY_KEY}={self.line_grey!r} is not "
                f"{LINE_GREY_PLATE!r} or {LINE_GREY_LUMINANCE!r}"
            )
        self.fold = make_fold(fold_map(list(alphabet)))
        self.n_alternatives = n_alternatives
        self.model.run(np.zeros((1, 1, self.height_px, self.width_px), np.float32))  # warm-up once

    def probabilities(self, lines: Sequence[ImageBGR]) -> list[FloatArray]:
        """Folded per-frame probabilities ``(T, 38)`` for each line (padding frames removed)."""
        if not lines:
            return []
        if self.line_grey == LINE_GREY_LUMINANCE:  # grey lines skip plate_grey in line_grey
            lines = [_luminance(ln) for ln in lines]
        batch, widths = line_input.line_batch(lines, self.height_px, self.width_px)
        probs = np.asarray(self.model.run(batch)[0], np.float32)  # (N, T, C)
        if probs.ndim != 3 or probs.shape[-1] != self.fold.n_classes:
            raise ModelLoadError(
                f"{self.model.path}: output {probs.shape}, its alphabet implies {self.fold.n_classes} classes"
            )
        return [
            fold_probs(probs[i, : line_input.valid_frames(w, probs.shape[1], self.stride_px)], self.fold)
            for i, w in enumerate(widths)
        ]

    def recognise(self, lines: Sequence[ImageBGR]) -> list[tuple[CharSlot, ...]]:
        return [greedy_slots(p, self.n_alternatives) for p in self.probabilities(lines)]


def build_engine(
    name: str,
    *,
    work_dir: Path,
    providers: Providers = "auto",
    intra_op_threads: int | None = None,
    models_dir: Path | None = None,
    crnn_model: Path | None = None,
) -> RecognitionEngine:
    """The engine called ``name`` (one of :data:`ENGINE_NAMES`), loaded once.

    ``work_dir`` is a writable folder (EasyOCR wants one); engine ``crnn`` loads ``crnn_model``
    (the registry's ``plate_reader`` version in use), else :data:`CRNN_MODEL_FILE` in
    ``models_dir`` (default: the source tree's ``models/``).
    Raises ``ValueError`` for an unknown name and :class:`vision.runtime.ModelLoadError`
    when the model cannot load.
    """
    if name == "rapidocr":
        return PpOcrRecogniser(providers=providers, intra_op_threads=intra_op_threads)
    if name == "easyocr":
        return EasyOcrRecogniser(work_dir, gpu=providers == "cuda")
    if name == "crnn":
        path = crnn_model or ((models_dir / CRNN_MODEL_FILE) if models_dir is not None else None)
        return CrnnRecogniser(path, providers, intra_op_threads=intra_op_threads)
    raise ValueError(f"unknown reader engine {name!r}: use one of {', '.join(ENGINE_NAMES)}")
