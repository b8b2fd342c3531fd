"""The plate reader: one interface, every engine behind it.

:class:`PlateReader` is what the pipeline and the evaluation use. :class:`PipelineReader`
implements it for any :class:`vision.anpr.engines.RecognitionEngine`:

1. the crop is checked and converted (:func:`vision.anpr.imageio.to_bgr8`);
2. it is rectified (:func:`vision.anpr.rectify.rectify`): deskewed, blue band and border
   dropped, cut into one or two text lines (top then bottom);
3. the engine reads the lines; their characters are concatenated (top line first);
4. the top strings are built from each character's alternatives (:func:`vision.anpr.ctc.top_strings`);
5. the grammars rank and correct them (:meth:`vision.anpr.grammars.GrammarSet.rank`), the
   country named with the help of the plate's background colour
   (:func:`vision.anpr.colour.plate_colour`) when formats of several countries fit;
6. lines spanning little of the crop's width are also read across the whole width
   (:attr:`ReaderOptions.wide_below`), and lines that a frame hugging the characters cut short
   are also read grown through it (:attr:`ReaderOptions.grow_hugged`); the reading that wins
   is what the later steps read;
7. a squarish crop read as one line without a sure result is also read as its top and bottom
   halves (:attr:`ReaderOptions.halves_below_aspect`);
8. a result not sure is read again (2-7) from the crop cut to its text, when that cut is
   clearly narrower than the crop (:func:`vision.anpr.locate.text_crop`); that reading is what
   the later steps read when it is sure (:attr:`ReaderOptions.locate_unsure`);
9. a result not sure is read by the fallback engine (below);
10. a small crop (under :attr:`ReaderOptions.whole_below_px`) is also read whole, unrectified;
11. a result still not sure is read again by the primary engine from its lines stretched
    wider, and each candidate gets the mean confidence of the two readings
    (:attr:`ReaderOptions.stretch_unsure`).

``raw=True`` keeps steps 1 and 3 only (the engine on the whole crop, alphabet restricted,
greedy decoding, no grammars): the baseline the pipeline is measured against.

**A second opinion** (engine name ``primary+fallback``, e.g. ``crnn+rapidocr``): when the
primary engine's best candidate fits no grammar or is less sure than
:attr:`ReaderOptions.fallback_below`, the fallback engine reads the same lines (those the best
reading so far came from) and
the better of the two best candidates wins (one that fits a grammar first, then the more
confident). The project's own recogniser is fast and strong on the formats it was trained on;
a plate of another country or camera (no grammar fits) gets the broadly trained engine's
reading as well.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from vision.anpr.colour import PlateColour, plate_colour
from vision.anpr.ctc import CharSlot, top_strings
from vision.anpr.detector import PLATE_MARGIN_X, PLATE_WIDER_MARGIN_X
from vision.anpr.engines import ENGINE_NAMES, RecognitionEngine, build_engine
from vision.anpr.grammars import GrammarSet, load_grammars
from vision.anpr.imageio import BadImageError, to_bgr8
from vision.anpr.locate import text_crop
from vision.anpr.rectify import rectify
from vision.preprocess import crop
from vision.runtime import Providers
from vision.types import BBox, ImageBGR, PlateCandidate, PlateRead

READER_ENGINES: tuple[str, ...] = (*ENGINE_NAMES, "crnn+rapidocr")
"""What ``reader.engine`` / ``--engine`` may name: one engine, or a primary with a fallback."""


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
    characters than it removed emblems); ``raw`` disables rectification and grammars;
    ``fallback_below``: with a fallback engine, a best candidate less confident than this (or
    fitting no grammar) is read again by the fallback (see the module doc);
    ``whole_below_px``: a crop less tall than this (px) is also read whole, unrectified, by the
    primary engine, and the better best candidate wins (grammar fit, then confidence). On plates
    this small, rectification's character blobs merge into each other and into the band, and
    its lines lose characters or cut the plate short; the recogniser reads the whole crop better.
    24 was picked on the lane benchmarks (``bench pipeline`` read rate 0.833 -> 1.0; its far
    front plates are 13-24 px tall; 32 cost ``bench lane`` a plate); on the held-out sets it
    changed nothing (``docs/anpr-log.md``).
    ``halves_below_aspect``: a crop at most this many times as wide as high (blue band left
    out) whose lines rectification did not find as two, and whose best candidate is not sure
    (``fallback_below``), is also read as two lines, its top and bottom halves
    (:meth:`Rectified.halves`); that reading wins when its best candidate fits a grammar and is
    surer than the one-line best. A small or blurred two-line plate (a UK trailer mark 30 px
    high) has its characters merged into blobs that no line grouping finds; 1.6 keeps one-line
    plates out (2.2, rectification's own limit for a two-line plate, misread long plates).
    0 turns it off.
    ``stretch_unsure``: when the final best candidate is still not sure (fits no grammar or is
    under ``fallback_below``), the primary engine reads the lines it came from again, stretched
    this many times as wide (also when the fallback's reading won: a second RapidOCR reading lost
    a held-out real crop), and each candidate's confidence becomes the mean of the two readings'
    (a candidate only one reading gave counts 0 in the other, so its confidence is halved: an
    unsure read comes out less sure than before, never surer than its readings agree). Two readings of one
    plate, resampled differently, disagree where a character is in doubt and agree where it
    is not, so the mean settles doubts the way a vote across frames does. A line 6-10 heights
    wide is squashed to the recogniser's 4 either way, so for most lines this is a second
    resampling; a short line (``NRZ1``, the halves of a trailer mark) is also seen wider.
    1.25 (sixteenth session, ``docs/anpr-log.md``): 1.08-1.5 all helped; 1 turns it off.
    ``wide_below``: when rectification's lines span less than this share of the crop's width
    right of the blue band, the primary engine also reads each line's rows across that whole
    width (:meth:`Rectified.wide_line_images`), and that reading wins when its best candidate is
    surer and gives up no grammar fit, or reads the same text and more, fitting a grammar, at
    least 0.9 sure (:func:`_wider_wins`). A character next to the band or the plate's edge
    that the component analysis missed, on a noisy night plate or under a shadow's stripes,
    is otherwise cut off with the line (``R7045ZCW`` read ``7045ZCW``, 0.999 sure). Crops cut
    loosely around a plate (a detector's box with a margin) span more than their lines; tight
    real crops almost never trigger it. 0.85 (seventeenth session, ``docs/anpr-log.md``); 0 turns
    it off.
    ``wide_grow``: the whole-width rows are the line's grown by this share of its height up and
    down (:meth:`Rectified.wide_line_images`): the rest of a plate still a little tilted lies
    above or below the line found (``SC23LDD`` read ``SC23`` 0.93, across the line's own rows
    ``SC231LDD``, grown ``SC23LDD`` 1.0). 0.3 (thirty-third session, ``docs/anpr-log.md``).
    ``grow_hugged``: where the plate's frame hugs a line's characters (a blurred night plate's),
    the line is also read grown through it (:attr:`vision.anpr.rectify.TextLine.hugged_box`), and
    that reading wins when it reads the best's text and more, as the whole-width one wins
    (:func:`_grown_wins`; eighteenth session, ``docs/anpr-log.md``).
    ``locate_unsure``: a first reading (steps 2-7) whose best is not sure (fits no grammar or is
    under ``fallback_below``) is read again from the crop cut to its text
    (:func:`vision.anpr.locate.text_crop`) when that cut is less than this share of the crop's
    width, and that reading is taken when it is sure and is not a shorter part of the first
    reading's best (:func:`_reads_less`). The later steps (fallback engine, whole small crop,
    stretched reading) then read the cut instead of the crop; as its reading is sure, only the
    whole reading of a small cut can still change it. When the cut's reading is not taken they
    read the crop as before. Scene round a loosely cut plate gives rectification blobs of its
    own (``HH2`` for ``HHH2``, a two-line ``EGH4973`` read ``M7``). Only unsure reads are read
    again, and only a sure reading of the cut replaces them: reading every crop cut lost
    characters the located text left out. A cut must take a real part of the width away: a
    re-cut of a few pixels mostly resamples a crop already tight (most of the gains of a looser
    rule were such re-cuts, and one of them turned a right lane read ``NX69YEN`` into a sure
    ``X69YEN``). 0.92 (nineteenth session, ``docs/anpr-log.md``); 0 turns it off.
    """

    top_n: int = 5
    n_raw: int = 20
    drop_below: float = 0.0
    raw: bool = False
    fallback_below: float = 0.9
    whole_below_px: int = 24
    halves_below_aspect: float = 1.6
    stretch_unsure: float = 1.25
    wide_below: float = 0.85
    wide_grow: float = 0.3
    grow_hugged: bool = True
    locate_unsure: float = 0.92


@dataclass(frozen=True, slots=True)
class _Look:
    """The primary engine's reading of a crop (:meth:`PipelineReader._look`): the crop, its
    ranked candidates, the line images they were read from (top first), whether as two lines,
    and the plate's colour (``None`` in raw mode)."""

    crop: ImageBGR
    ranked: tuple[PlateCandidate, ...]
    lines: list[ImageBGR]
    two_line: bool
    colour: PlateColour | None


class PipelineReader:
    """Rectify, recognise with ``engine``, rank with ``grammars``. See the module doc."""

    def __init__(
        self,
        engine: RecognitionEngine,
        grammars: GrammarSet,
        options: ReaderOptions,
        fallback: RecognitionEngine | None = None,
    ) -> None:
        self.engine = engine
        self.grammars = grammars
        self.options = options
        self.fallback = None if options.raw else fallback
        second = f"+{self.fallback.name}" if self.fallback is not None else ""
        self.name = engine.name + second + ("-raw" if options.raw else "")
        self.fallback_reads = 0
        """How many reads the fallback engine was asked for (``fallback`` only)."""

    def read(self, crop_bgr: npt.NDArray[Any]) -> PlateRead:
        """Read a crop: ``(H, W, 3)`` uint8 BGR, or anything :func:`to_bgr8` converts."""
        t0 = time.perf_counter()
        crop = to_bgr8(crop_bgr)
        h, w = crop.shape[:2]
        look = self._look(crop)
        locate = self.options.locate_unsure
        if not self.options.raw and locate > 0 and not _sure(look.ranked, self.options.fallback_below):
            cut = text_crop(crop, locate)
            if cut is not None:
                again = self._look(cut)
                if _sure(again.ranked, self.options.fallback_below) and not _reads_less(again, look):
                    look = again
        ranked, two_line = self._second_opinions(look)
        ms = (time.perf_counter() - t0) * 1000.0
        return PlateRead(
            box=BBox(0.0, 0.0, float(w), float(h)),
            candidates=ranked,
            engine=self.name,
            two_line=two_line,
            ms=ms,
        )

    def _look(self, crop: ImageBGR) -> _Look:
        """Steps 2-7 of the module doc on ``crop`` ``(H, W, 3)`` uint8 BGR: the primary engine's
        reading of its lines (whole-width, grown or halves when they win)."""
        if self.options.raw:
            return _Look(crop, self._ranked(self.engine, [crop]), [crop], False, None)
        rect = rectify(crop)
        lines = rect.line_images()
        two_line = rect.two_line
        colour = plate_colour(rect.image)
        ranked = self._ranked(self.engine, lines, colour)
        if self.options.wide_below > 0:
            wide = rect.wide_line_images(self.options.wide_below, self.options.wide_grow)
            across = self._ranked(self.engine, wide, colour) if wide else ()
            if across and (not ranked or _wider_wins(across[0], ranked[0])):
                ranked, lines = across, wide
        if self.options.grow_hugged:
            hugged = rect.hugged_line_images()
            grown = self._ranked(self.engine, hugged, colour) if hugged else ()
            if grown and (not ranked or _grown_wins(grown[0], ranked[0])):
                ranked, lines = grown, hugged
        if not two_line and not _sure(ranked, self.options.fallback_below):
            halves = rect.halves(self.options.halves_below_aspect)
            split = self._ranked(self.engine, halves, colour) if halves else ()
            if split and split[0].format_valid and (not ranked or split[0].confidence > ranked[0].confidence):
                ranked, lines, two_line = split, halves, True
        return _Look(crop, ranked, lines, two_line, colour)

    def _second_opinions(self, look: _Look) -> tuple[tuple[PlateCandidate, ...], bool]:
        """Steps 9-11 of the module doc after a ``look``: the fallback engine, the whole small
        crop, the stretched lines; the ranked candidates and whether they were read as two lines."""
        ranked, lines, two_line, colour = look.ranked, look.lines, look.two_line, look.colour
        if self.fallback is not None and not _sure(ranked, self.options.fallback_below):
            self.fallback_reads += 1
            second = self._ranked(self.fallback, lines, colour)
            if second and (not ranked or _preference(second[0]) > _preference(ranked[0])):
                ranked = second
        if not self.options.raw and look.crop.shape[0] < self.options.whole_below_px:
            whole = self._ranked(self.engine, [look.crop], colour)
            if whole and (not ranked or _preference(whole[0]) > _preference(ranked[0])):
                ranked, lines, two_line = whole, [look.crop], False
        stretch = self.options.stretch_unsure
        unsure = not _sure(ranked, self.options.fallback_below)
        if not self.options.raw and ranked and stretch > 1.0 and unsure:
            again = self._ranked(self.engine, [_stretched(line, stretch) for line in lines], colour)
            ranked = _mean_confidence(ranked, again, self.options.top_n)
        return ranked, two_line

    def _ranked(
        self, engine: RecognitionEngine, lines: list[ImageBGR], colour: PlateColour | None = None
    ) -> tuple[PlateCandidate, ...]:
        """``engine``'s reading of ``lines`` as ranked candidates (best first), countries named
        for the plate's background ``colour`` when known."""
        slots: list[CharSlot] = [s for line in engine.recognise(lines) for s in line]
        if self.options.raw:  # plain greedy decoding: every character kept
            confs = tuple(s.confidence for s in slots)
            text = "".join(s.char for s in slots)
            return (PlateCandidate(text, float(np.prod(confs)), confs),) if text else ()
        strings = top_strings(slots, self.options.n_raw, drop_below=self.options.drop_below)
        return self.grammars.rank(strings, self.options.top_n, colour=colour)


def read_box(
    reader: PlateReader,
    image: ImageBGR,
    box: BBox,
    margin_x: float = PLATE_MARGIN_X,
    wider_x: float = PLATE_WIDER_MARGIN_X,
    sure_at: float = 0.9,
) -> tuple[PlateRead, ImageBGR]:
    """Read the plate a detector found at ``box`` (pixels) in ``image`` ``(H, W, 3)`` uint8 BGR,
    as the lane and ``eval plates`` read it; returns the read and the crop it is credited to.

    The crop is the box grown by ``margin_x`` of its width at each end. When that read is not
    sure (its best fits no grammar or is under ``sure_at``; 0.9 is the default reader's
    ``ReaderOptions.fallback_below``), the box grown by ``wider_x`` is read as well and each
    candidate gets the mean of its confidence in the two reads (:func:`_mean_confidence`, as
    for the stretched second reading; grammar-fitting candidates first only when the first
    read's best fits one): a detector's box shifted or tight at one end cuts a first or last
    character in half, and the cut character is dropped (``PJT2905`` read ``JT2905``), while a
    wider crop takes in frames and stickers that split a line. Two reads that agree keep their
    confidence; two that disagree are each less sure. When the first read found no text, the
    wider read stands alone. The wider crop is returned when the result's best is not the first
    read's. ``wider_x <= margin_x``: one read. Raises
    :class:`vision.anpr.imageio.BadImageError` when the first crop cannot be read (the first
    read stands when only the wider one cannot).
    """
    img = crop(image, box, margin_x, margin_y=0.0)
    read = reader.read(img)
    if wider_x <= margin_x or _sure(read.candidates, sure_at):
        return read, img
    wide_img = crop(image, box, wider_x, margin_y=0.0)
    try:
        wide = reader.read(wide_img)
    except BadImageError:
        return read, img
    ms = read.ms + wide.ms
    if read.best is None:
        return replace(wide, ms=ms), wide_img
    top_n = max(len(read.candidates), len(wide.candidates))
    merged = _mean_confidence(read.candidates, wide.candidates, top_n)
    if merged[0].text != read.best.text:
        return replace(wide, candidates=merged, ms=ms), wide_img
    return replace(read, candidates=merged, ms=ms), img


def read_crop(
    reader: PlateReader,
    image: ImageBGR,
    find: Callable[[ImageBGR], BBox | None] | None = None,
    sure_at: float = 0.9,
) -> tuple[PlateRead, ImageBGR]:
    """Read a crop ``image`` ``(H, W, 3)`` uint8 BGR cut round a plate by someone else (a
    manifest's crop row), loosely or not; returns the read and the crop it is credited to.

    The crop is read whole. When that read is not sure (as :func:`read_box` decides) and ``find``
    (a plate detector's :meth:`~vision.anpr.detector.StillPlateDetector.in_crop`) finds the plate
    in it, the plate is read again from that box as the lane reads a detector's box
    (:func:`read_box`), and that read wins when its best is surer. A candidate's confidence
    already carries the grammars' halving of a text that fits none
    (:data:`~vision.anpr.grammars.NO_FIT_FACTOR`); halving it again, as the twenty-first session
    shipped, read four real crops fewer and one coin-toss synthetic plate more (twenty-second
    session, ``docs/anpr-log.md``).
    Even a shorter read wins so: the whole crop's extra characters are as often the scene's edges
    (``AKX19UPW`` 0.80 for ``KX19UPW``) as the box's missing ones the plate's (``OF4040P`` read
    ``4040P`` 0.93 from its box); refusing shorter reads lost four plates for two.
    A crop with 8-25 % of scene round its plate gives rectification the scene's edges to measure
    (twenty-first session, ``docs/anpr-log.md``). Raises :class:`BadImageError` when ``image``
    cannot be read (the first read stands when only the second cannot)."""
    read = reader.read(image)
    if find is None or _sure(read.candidates, sure_at):
        return read, image
    box = find(image)
    if box is None:
        return read, image
    try:
        again, cut = read_box(reader, image, box, sure_at=sure_at)
    except BadImageError:
        return read, image
    ms = read.ms + again.ms
    if again.best is not None and (read.best is None or again.best.confidence > read.best.confidence):
        return replace(again, ms=ms), cut
    return replace(read, ms=ms), image


def _stretched(line: ImageBGR, factor: float) -> ImageBGR:
    """``line`` ``(h, w, 3)`` resized to ``(h, round(w * factor))`` (cubic)."""
    h, w = line.shape[:2]
    return np.asarray(cv2.resize(line, (max(1, round(w * factor)), h), interpolation=cv2.INTER_CUBIC))


def _mean_confidence(
    first: Sequence[PlateCandidate], second: Sequence[PlateCandidate], top_n: int
) -> tuple[PlateCandidate, ...]:
    """Candidates of two readings of one plate, each with the mean of its confidence in both (0
    where a reading did not give it), best first; ``top_n`` of them. When the first reading's
    best fits a grammar, candidates that fit one come before those that fit none (the rule
    between two engines, :func:`_preference`). A candidate keeps the fields (characters'
    confidences, grammar) of the first reading that gave it."""
    total: dict[str, float] = {}
    kept: dict[str, PlateCandidate] = {}
    for c in (*first, *second):
        total[c.text] = total.get(c.text, 0.0) + c.confidence
        kept.setdefault(c.text, c)
    merged = [replace(kept[t], confidence=v / 2.0) for t, v in total.items()]
    fit_first = bool(first) and first[0].format_valid
    return tuple(sorted(merged, key=lambda c: (fit_first and not c.format_valid, -c.confidence))[:top_n])


WIDER_MORE_SURE = 0.9
"""The whole-width reading also wins when it reads the lines' best text and more characters,
fits a grammar and is at least this sure."""


def _wider_wins(across: PlateCandidate, found: PlateCandidate) -> bool:
    """Whether the whole-width reading's best ``across`` replaces the lines' best ``found``: it is
    surer and gives up no grammar fit (a grammar fit alone does not win it: the text of a plate
    of another country fits some grammar by chance as often as not); or it reads ``found``'s text
    and more characters, fits a grammar and is at least :data:`WIDER_MORE_SURE` sure. The lines
    of a night plate whose frame hugs its characters stop at the first character that touches
    the frame, and are read surely without it (``DUFR5978`` read ``UFR5978`` 0.997, ``DUFR5978``
    across 0.99; ``MP1758M`` read ``1758M`` 0.998, across 0.997): being a hair less sure of more
    characters is no evidence against them (eighteenth session, ``docs/anpr-log.md``)."""
    if across.confidence > found.confidence and (across.format_valid or not found.format_valid):
        return True
    more = _reads_more(across.text, found.text)
    return across.format_valid and more and across.confidence >= WIDER_MORE_SURE


def _grown_wins(grown: PlateCandidate, found: PlateCandidate) -> bool:
    """Whether the reading of lines grown through a hugging frame (:meth:`Rectified.hugged_line_images`)
    replaces the best so far ``found``: it reads ``found``'s text (and perhaps more), and wins as
    the whole-width reading does (:func:`_wider_wins`). Grown lines take in the frame's edges; a
    reading that lost characters to them (``EXN2894`` read ``XN2894``, turned 20 degrees) is no
    better reading."""
    return found.text in grown.text and _wider_wins(grown, found)


def _reads_less(cut: _Look, first: _Look) -> bool:
    """Whether the best of the ``cut``'s reading is part of the ``first`` reading's best and
    shorter: the cut lost characters the first reading saw (a plate turned 20 degrees, ``IUI393``
    read ``I393`` 0.95 sure from its cut, where the fallback engine read it right)."""
    return bool(cut.ranked and first.ranked) and _reads_more(first.ranked[0].text, cut.ranked[0].text)


def _reads_more(text: str, part: str) -> bool:
    """Whether ``text`` is ``part`` with characters added (``part`` is in it, and shorter)."""
    return len(text) > len(part) and part in text


def _preference(c: PlateCandidate) -> tuple[bool, float]:
    """Which of two engines' best candidates wins: fitting a grammar, then confidence."""
    return c.format_valid, c.confidence


def _sure(ranked: Sequence[PlateCandidate], below: float) -> bool:
    """Whether a best candidate needs no second opinion: it fits a grammar and is at least ``below`` sure."""
    return bool(ranked) and ranked[0].format_valid and ranked[0].confidence >= below


def build_reader(
    engine: str,
    *,
    work_dir: Path,
    providers: Providers = "auto",
    intra_op_threads: int | None = 1,
    countries: Sequence[str] | None = None,
    options: ReaderOptions | None = None,
    models_dir: Path | None = None,
    crnn_model: Path | None = None,
) -> PipelineReader:
    """A ready reader: engine ``engine`` (``rapidocr``, ``easyocr`` or ``crnn``, or
    ``primary+fallback`` such as ``crnn+rapidocr``: see the module doc) loaded once, grammars of
    ``countries`` (all shipped ones when ``None``). The ``crnn`` engine loads ``crnn_model``, else
    its file in ``models_dir`` (default: the source tree's ``models/``).

    ``intra_op_threads`` defaults to 1: the recogniser is small and one thread per read is
    faster than two on a shared 2-core machine (run reads in parallel instead).
    """
    grammars = load_grammars(countries=countries)
    names = engine.split("+")
    if len(names) > 2 or len(set(names)) != len(names):
        raise ValueError(f"reader engine {engine!r}: one engine, or two as primary+fallback")
    engines = [
        build_engine(
            name,
            work_dir=work_dir,
            providers=providers,
            intra_op_threads=intra_op_threads,
            models_dir=models_dir,
            crnn_model=crnn_model,
        )
        for name in names
    ]
    return PipelineReader(
        engines[0], grammars, options or ReaderOptions(), engines[1] if len(engines) > 1 else None
    )
