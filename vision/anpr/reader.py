"""The plate reader: one interface, every engine behind it.

:class:`PlateReader` is what the pipeline and the evaluation use. :class:`PipelineReader`
implements it for any :class:`vision.anpr.engines.RecognitionEngine`:

1. the crop is checked and converted (:func:`vision.anpr.imageio.to_bgr8`);
2. it is rectified (:func:`vision.anpr.rectify.rectify`): deskewed, blue band and border
   dropped, cut into one or two text lines (top then bottom);
3. the engine reads the lines; their characters are concatenated (top line first);
4. the top strings are built from each character's alternatives (:func:`vision.anpr.ctc.top_strings`);
5. the grammars rank and correct them (:meth:`vision.anpr.grammars.GrammarSet.rank`).

``raw=True`` skips 2 and 5 (the engine on the whole crop, alphabet restricted): the
baseline the pipeline is measured against.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from vision.anpr.ctc import CharSlot, top_strings
from vision.anpr.engines import RecognitionEngine, build_engine
from vision.anpr.grammars import GrammarSet, load_grammars
from vision.anpr.imageio import to_bgr8
from vision.anpr.rectify import rectify
from vision.runtime import Providers
from vision.types import BBox, ImageBGR, PlateCandidate, PlateRead


class PlateReader(Protocol):
    """Reads one plate crop ``(H, W, 3)`` uint8 BGR (the whole image is the plate).

    Raises :class:`vision.anpr.imageio.BadImageError` for an image that cannot be read;
    returns a :class:`PlateRead` with no candidates when no text was found.
    """

    name: str

    def read(self, crop_bgr: ImageBGR) -> PlateRead: ...


@dataclass(frozen=True, slots=True)
class ReaderOptions:
    """How :class:`PipelineReader` reads.

    ``top_n`` candidates are returned; ``n_raw`` strings are built from the characters'
    alternatives before grammar ranking; a character read with less than ``drop_below``
    confidence may also be left out (0 = never: on the dev sets dropping lost more edge
    characters than it removed emblems); ``raw`` disables rectification and grammars.
    """

    top_n: int = 5
    n_raw: int = 20
    drop_below: float = 0.0
    raw: bool = False


class PipelineReader:
    """Rectify, recognise with ``engine``, rank with ``grammars``. See the module doc."""

    def __init__(self, engine: RecognitionEngine, grammars: GrammarSet, options: ReaderOptions) -> None:
        self.engine = engine
        self.grammars = grammars
        self.options = options
        self.name = engine.name + ("-raw" if options.raw else "")

    def read(self, crop_bgr: npt.NDArray[Any]) -> PlateRead:
        """Read a crop: ``(H, W, 3)`` uint8 BGR, or anything :func:`to_bgr8` converts."""
        t0 = time.perf_counter()
        crop = to_bgr8(crop_bgr)
        h, w = crop.shape[:2]
        two_line = False
        if self.options.raw:
            lines: list[ImageBGR] = [crop]
        else:
            rect = rectify(crop)
            lines = rect.line_images()
            two_line = rect.two_line
        slots: list[CharSlot] = [s for line in self.engine.recognise(lines) for s in line]
        ranked: tuple[PlateCandidate, ...]
        if self.options.raw:  # plain greedy decoding: every character kept
            confs = tuple(s.confidence for s in slots)
            text = "".join(s.char for s in slots)
            ranked = (PlateCandidate(text, float(np.prod(confs)), confs),) if text else ()
        else:
            strings = top_strings(slots, self.options.n_raw, drop_below=self.options.drop_below)
            ranked = self.grammars.rank(strings, self.options.top_n)
        ms = (time.perf_counter() - t0) * 1000.0
        return PlateRead(
            box=BBox(0.0, 0.0, float(w), float(h)),
            candidates=ranked,
            engine=self.name,
            two_line=two_line,
            ms=ms,
        )


def build_reader(
    engine: str,
    *,
    work_dir: Path,
    providers: Providers = "auto",
    intra_op_threads: int | None = 1,
    countries: Sequence[str] | None = None,
    options: ReaderOptions | None = None,
    models_dir: Path | None = None,
) -> PipelineReader:
    """A ready reader: engine ``engine`` (``rapidocr``, ``easyocr`` or ``crnn``) loaded once,
    grammars of ``countries`` (all shipped ones when ``None``). ``models_dir`` holds the
    ``crnn`` engine's model (default: the source tree's ``models/``).

    ``intra_op_threads`` defaults to 1: the recogniser is small and one thread per read is
    faster than two on a shared 2-core machine (run reads in parallel instead).
    """
    grammars = load_grammars(countries=countries)
    eng = build_engine(
        engine,
        work_dir=work_dir,
        providers=providers,
        intra_op_threads=intra_op_threads,
        models_dir=models_dir,
    )
    return PipelineReader(eng, grammars, options or ReaderOptions())
