from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.anpr.ctc import CharSlot
from vision.anpr.grammars import load_grammars
from vision.anpr.imageio import BadImageError
from vision.anpr.reader import PipelineReader, ReaderOptions, build_reader, read_box, read_crop
from vision.types import BBox, ImageBGR, PlateCandidate, PlateRead


def plate(lines: list[str]) -> np.ndarray:
    """Black-on-white plate text (H, W, 3) uint8 BGR, Hershey simplex, with a border."""
    h = 70 * len(lines) + 30
    img = np.full((h, 380, 3), 255, np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(img, text, (20, 75 + 70 * i), cv2.FONT_HERSHEY_SIMPLEX, 2.2, (0, 0, 0), 6, cv2.LINE_AA)
    cv2.rectangle(img, (1, 1), (378, h - 2), (0, 0, 0), 3)
    return img


class LineEcho:
    """A fake engine that reads each line as the next text of a script, to test line order."""

    name = "echo"

    def __init__(self, script: list[str]) -> None:
        self.script = script
        self.calls: list[int] = []

    def recognise(self, lines: Sequence[ImageBGR]) -> list[tuple[CharSlot, ...]]:
        self.calls.append(len(lines))
        out = []
        for text in self.script[: len(lines)]:
            out.append(tuple(CharSlot(((ch, 0.95),), i, i + 1) for i, ch in enumerate(text)))
        return out


def test_two_line_plate_is_read_top_then_bottom() -> None:
    engine = LineEcho(["A123", "4567"])
    options = ReaderOptions(stretch_unsure=1.0, wide_below=0.0, locate_unsure=0.0)
    reader = PipelineReader(engine, load_grammars(countries=["UK"]), options)
    read = reader.read(plate(["A123", "4567"]))
    assert engine.calls == [2]
    assert read.two_line
    assert read.best is not None and read.best.text == "A1234567"
    assert read.best.format_name == "UK trailer mark"


def test_bad_crops_raise_a_clear_error() -> None:
    reader = PipelineReader(LineEcho(["X"]), load_grammars(), ReaderOptions())
    with pytest.raises(BadImageError):
        reader.read(np.zeros((1, 1, 3), np.uint8))
    with pytest.raises(BadImageError):
        reader.read(np.zeros((0, 10, 3), np.uint8))


@pytest.mark.slow
def test_rapidocr_reads_a_clean_uk_plate(tmp_path: Path) -> None:
    reader = build_reader("rapidocr", work_dir=tmp_path, providers="cpu")
    read = reader.read(plate(["AB12 CDE"]))
    assert read.best is not None
    assert read.best.text == "AB12CDE"
    assert read.best.format_name == "UK current"
    assert len(read.best.char_confidences) == 7
    assert len(read.candidates) >= 2
    grey16 = (cv2.cvtColor(plate(["AB12 CDE"]), cv2.COLOR_BGR2GRAY).astype(np.uint16)) * 257
    assert reader.read(grey16).best is not None  # 16-bit greyscale works too
    two = reader.read(plate(["A123", "4567"]))
    assert two.two_line and two.best is not None and two.best.text == "A1234567"


@pytest.mark.slow
def test_easyocr_engine_reads_through_the_same_pipeline(tmp_path: Path) -> None:
    reader = build_reader("easyocr", work_dir=tmp_path, providers="cpu", countries=["UK"])
    read = reader.read(plate(["AB12 CDE"]))
    assert read.engine == "easyocr"
    assert read.best is not None and read.best.text == "AB12CDE"
    assert read.best.format_name == "UK current"


def test_unknown_engine(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown reader engine"):
        build_reader("tesseract", work_dir=tmp_path)


class Fixed:
    """A fake engine that reads every line as one fixed text with one confidence per character."""

    def __init__(self, name: str, text: str, confidence: float) -> None:
        self.name = name
        self.text = text
        self.confidence = confidence
        self.calls = 0

    def recognise(self, lines: Sequence[ImageBGR]) -> list[tuple[CharSlot, ...]]:
        self.calls += 1
        slot = [tuple(CharSlot(((ch, self.confidence),), i, i + 1) for i, ch in enumerate(self.text))]
        return slot + [() for _ in lines[1:]]


def _with_fallback(primary: Fixed, fallback: Fixed) -> tuple[PipelineReader, PlateRead]:
    """A UK-grammar reader of ``primary`` with ``fallback``, and its read of a drawn plate (no
    stretched second reading: tested on its own below)."""
    options = ReaderOptions(stretch_unsure=1.0)
    reader = PipelineReader(primary, load_grammars(countries=["UK"]), options, fallback)
    return reader, reader.read(plate(["AB12CDE"]))


def test_a_sure_grammar_fitting_read_asks_no_second_opinion() -> None:
    fallback = Fixed("f", "AB12CDF", 0.99)
    reader, read = _with_fallback(Fixed("p", "AB12CDE", 0.99), fallback)
    assert reader.name == "p+f" and read.engine == "p+f"
    assert fallback.calls == 0 and reader.fallback_reads == 0
    assert read.best is not None and read.best.text == "AB12CDE"


def test_an_unsure_read_takes_the_fallbacks_better_reading() -> None:
    # the primary is unsure (0.6 per character); the fallback reads a grammar-fitting text
    # more surely, so it wins
    fallback = Fixed("f", "AB12CDF", 0.99)
    reader, read = _with_fallback(Fixed("p", "AB12CDE", 0.6), fallback)
    assert fallback.calls == 1 and reader.fallback_reads == 1
    assert read.best is not None and read.best.text == "AB12CDF"


def test_a_grammar_fit_beats_a_more_confident_reading_that_fits_none() -> None:
    # the primary fits no grammar; the fallback's less confident reading fits one and wins;
    # the other way round the primary's grammar-fitting reading is kept
    _, read = _with_fallback(Fixed("p", "AB12CD", 0.99), Fixed("f", "AB12CDE", 0.5))
    assert read.best is not None and read.best.text == "AB12CDE"
    fallback = Fixed("f", "AB12CD", 0.99)
    _, read = _with_fallback(Fixed("p", "AB12CDE", 0.5), fallback)
    assert fallback.calls == 1
    assert read.best is not None and read.best.text == "AB12CDE"


def test_build_reader_takes_a_primary_and_a_fallback(tmp_path: Path) -> None:
    reader = build_reader("crnn+rapidocr", work_dir=tmp_path, providers="cpu")
    assert reader.name == "crnn+rapidocr" and reader.fallback is not None
    with pytest.raises(ValueError, match="primary\\+fallback"):
        build_reader("crnn+crnn", work_dir=tmp_path)


class WholeOrLines:
    """A fake engine: the unrectified crop ``whole`` reads as ``whole_text`` (0.9 sure), any
    other line image as ``lines_text`` (0.5 sure); records whether it was shown the whole crop."""

    name = "whole-or-lines"

    def __init__(self, whole: ImageBGR, whole_text: str, lines_text: str) -> None:
        self.whole, self.whole_text, self.lines_text = whole, whole_text, lines_text
        self.saw_whole = False

    def recognise(self, lines: Sequence[ImageBGR]) -> list[tuple[CharSlot, ...]]:
        out = []
        for line in lines:
            is_whole = line.shape == self.whole.shape and np.array_equal(line, self.whole)
            self.saw_whole |= is_whole
            text, conf = (self.whole_text, 0.9) if is_whole else (self.lines_text, 0.5)
            out.append(tuple(CharSlot(((ch, conf),), i, i + 1) for i, ch in enumerate(text)))
        return out


@pytest.mark.parametrize(("height", "expected"), [(20, "AB12CDE"), (40, "AB12CDF")])
def test_a_small_crop_is_also_read_whole(height: int, expected: str) -> None:
    """Under ``whole_below_px`` the whole crop's better reading wins; a taller crop is read
    from its rectified lines only."""
    big = plate(["AB12CDE"])
    size = (round(big.shape[1] * height / big.shape[0]), height)
    crop: ImageBGR = np.asarray(cv2.resize(big, size, interpolation=cv2.INTER_AREA), np.uint8)
    engine = WholeOrLines(crop, "AB12CDE", "AB12CDF")
    reader = PipelineReader(engine, load_grammars(countries=["UK"]), ReaderOptions(whole_below_px=24))
    read = reader.read(crop)
    assert engine.saw_whole is (height < 24)
    assert read.best is not None and read.best.text == expected


class ByLineCount:
    """A fake engine: one line image reads as ``one`` (0.4 sure per character); two read as
    the two texts of ``two`` (``two_conf`` sure per character)."""

    name = "by-line-count"

    def __init__(self, one: str, two: tuple[str, str], two_conf: float = 0.95) -> None:
        self.one, self.two, self.two_conf = one, two, two_conf
        self.calls: list[int] = []

    def recognise(self, lines: Sequence[ImageBGR]) -> list[tuple[CharSlot, ...]]:
        self.calls.append(len(lines))
        texts, conf = ([self.one], 0.4) if len(lines) == 1 else (list(self.two), self.two_conf)
        return [tuple(CharSlot(((ch, conf),), i, i + 1) for i, ch in enumerate(t)) for t in texts]


def _blurred_square(width: int = 34, height: int = 33) -> ImageBGR:
    """A small squarish crop where rectification finds no line (a flat plate with a blurred
    blob): what a 30-px UK trailer mark looks like when its characters merge."""
    img = np.full((height, width, 3), 200, np.uint8)
    cv2.rectangle(img, (6, 8), (width - 6, height - 8), (90, 90, 90), -1)
    return np.asarray(cv2.GaussianBlur(img, (0, 0), 4), np.uint8)


def test_a_squarish_unsure_crop_is_also_read_as_two_halves() -> None:
    engine = ByLineCount("8161", ("A283", "8161"))
    reader = PipelineReader(engine, load_grammars(countries=["UK"]), ReaderOptions())
    read = reader.read(_blurred_square())
    assert engine.calls == [1, 2, 2]  # the halves, unsure (0.95 ** 8), are read again stretched
    assert read.two_line
    assert read.best is not None and read.best.text == "A2838161"
    assert read.best.format_name == "UK trailer mark"


def test_the_halves_win_only_surer_and_fitting_a_grammar() -> None:
    grammars = load_grammars(countries=["UK"])
    # the halves read less surely than the one line: the one line is kept
    unsure = ByLineCount("A283816", ("A283", "8161"), two_conf=0.3)
    read = PipelineReader(unsure, grammars, ReaderOptions()).read(_blurred_square())
    assert read.best is not None and read.best.text == "A283816" and not read.two_line
    # the halves fit no grammar: the one line is kept
    misfit = ByLineCount("A283816", ("A28", "8161"))
    read = PipelineReader(misfit, grammars, ReaderOptions()).read(_blurred_square())
    assert read.best is not None and read.best.text == "A283816"
    # a long crop is never split; nor with the option off
    for crop, options in (
        (_blurred_square(width=80), ReaderOptions(stretch_unsure=1.0)),
        (_blurred_square(), ReaderOptions(halves_below_aspect=0, stretch_unsure=1.0)),
    ):
        engine = ByLineCount("8161", ("A283", "8161"))
        read = PipelineReader(engine, grammars, options).read(crop)
        assert engine.calls == [1] and not read.two_line


class ByWidth:
    """A fake engine: a line image at least ``wide_px`` wide reads as ``wide`` (``wide_conf`` per
    character), a narrower one as ``narrow`` (``narrow_conf``)."""

    name = "by-width"
    axis = 1
    """The line image's dimension measured (1: width)."""

    def __init__(self, wide_px: int, wide: str, wide_conf: float, narrow: str, narrow_conf: float) -> None:
        self.wide_px = wide_px
        self.wide, self.wide_conf, self.narrow, self.narrow_conf = wide, wide_conf, narrow, narrow_conf
        self.widths: list[int] = []

    def recognise(self, lines: Sequence[ImageBGR]) -> list[tuple[CharSlot, ...]]:
        out = []
        for line in lines:
            self.widths.append(line.shape[self.axis])
            wide = line.shape[self.axis] >= self.wide_px
            text, conf = (self.wide, self.wide_conf) if wide else (self.narrow, self.narrow_conf)
            out.append(tuple(CharSlot(((ch, conf),), i, i + 1) for i, ch in enumerate(text)))
        return out


def test_an_unsure_read_is_read_again_stretched_and_the_two_averaged() -> None:
    crop = plate(["AB12CDE"])
    grammars = load_grammars(countries=["UK"])
    # the line as rectified reads AB12CDF at 0.9 per character (0.48), stretched 1.25 times it
    # reads AB12CDE at 0.97 (0.81): the mean, 0.24 against 0.40, makes AB12CDE the best
    probe = ByWidth(10_000, "", 0.0, "AB12CDF", 0.9)
    PipelineReader(probe, grammars, ReaderOptions(stretch_unsure=1.0)).read(crop)
    (line_px,) = probe.widths
    engine = ByWidth(line_px + 1, "AB12CDE", 0.97, "AB12CDF", 0.9)
    read = PipelineReader(engine, grammars, ReaderOptions()).read(crop)
    assert engine.widths == [line_px, round(line_px * 1.25)]
    assert read.best is not None and read.best.text == "AB12CDE"
    assert read.best.confidence == pytest.approx(0.97**7 / 2)
    assert [c.text for c in read.candidates[:2]] == ["AB12CDE", "AB12CDF"]
    assert read.candidates[1].confidence == pytest.approx(0.9**7 / 2)
    # a sure read is not read again; nor with the option off
    sure = ByWidth(line_px + 1, "AB12CDE", 0.97, "AB12CDF", 0.999)
    read = PipelineReader(sure, grammars, ReaderOptions()).read(crop)
    assert sure.widths == [line_px] and read.best is not None and read.best.text == "AB12CDF"
    off = ByWidth(line_px + 1, "AB12CDE", 0.97, "AB12CDF", 0.9)
    PipelineReader(off, grammars, ReaderOptions(stretch_unsure=1.0)).read(crop)
    assert off.widths == [line_px]


def _loose(crop: ImageBGR, right_px: int) -> ImageBGR:
    """``crop`` with ``right_px`` of dark grey scene added at its right: a loosely cut plate."""
    return np.asarray(cv2.copyMakeBorder(crop, 0, 0, 0, right_px, cv2.BORDER_CONSTANT, value=(60, 60, 60)))


@pytest.mark.parametrize(
    ("right_px", "found", "found_conf", "wide_text", "wide_conf", "expected"),
    [
        (200, "B12CDE", 0.99, "AB12CDE", 0.995, "AB12CDE"),  # a character more, surer: the whole width wins
        (200, "B12CDE", 0.99, "AB12CDE", 0.9, "B12CDE"),  # less sure: the line as found is kept
        # surer (0.999 ** 8 / 2 = 0.50, halved for fitting no grammar, against 0.85 ** 6 = 0.38)
        # but giving up a grammar fit: the line as found is kept
        (200, "B12CDE", 0.85, "AB12CDEF", 0.999, "B12CDE"),
        (200, "B12CDEF", 0.99, "AB12CDE", 0.85, "B12CDEF"),  # fitting a grammar but less sure: kept
        (0, "B12CDE", 0.99, "AB12CDE", 0.995, "B12CDE"),  # the line spans the crop: no second reading
        # less sure (0.995 ** 7 = 0.97 against 0.999 ** 6 = 0.99) but the same text and a character
        # more, fitting a grammar and at least 0.9 sure: a character the line cut off
        (200, "B12CDE", 0.999, "AB12CDE", 0.995, "AB12CDE"),
        (200, "B12CDE", 0.999, "AB12CDE", 0.98, "B12CDE"),  # 0.98 ** 7 = 0.87: not sure enough
        (200, "B12CDE", 0.999, "AB13CDE", 0.995, "B12CDE"),  # not the same text and more
        (200, "B12CDE", 0.999, "AB12CDEF", 0.999, "B12CDE"),  # fitting no grammar
    ],
)
def test_lines_spanning_little_of_the_crop_are_also_read_across_it(
    right_px: int, found: str, found_conf: float, wide_text: str, wide_conf: float, expected: str
) -> None:
    crop = _loose(plate(["AB12CDE"]), right_px)
    engine = ByWidth(crop.shape[1] - 5, wide_text, wide_conf, found, found_conf)
    options = ReaderOptions(stretch_unsure=1.0, locate_unsure=0.0)
    read = PipelineReader(engine, load_grammars(countries=["UK"]), options).read(crop)
    assert engine.widths[1:] == ([crop.shape[1]] if right_px else [])  # no blue band: the whole width
    assert read.best is not None and read.best.text == expected


def test_the_whole_width_reading_when_it_wins_is_what_later_readings_read() -> None:
    # the whole width wins but is not sure (0.95 ** 7 = 0.70): the stretched second reading reads
    # the whole-width line stretched, not the line as found
    crop = _loose(plate(["AB12CDE"]), 200)
    engine = ByWidth(crop.shape[1] - 5, "AB12CDE", 0.95, "B12CDE", 0.9)
    options = ReaderOptions(locate_unsure=0.0)  # the crop cut to its text is read in its own test
    read = PipelineReader(engine, load_grammars(countries=["UK"]), options).read(crop)
    assert engine.widths[:2][1] == crop.shape[1]
    assert engine.widths[-1] == round(crop.shape[1] * 1.25)
    assert read.best is not None and read.best.text == "AB12CDE"


def test_the_stretched_reading_does_not_unseat_a_grammar_fit() -> None:
    # the best fits a grammar (AB12CDE, unsure); the stretched reading is surer of a text that
    # fits none (AB12CD): the best still fits a grammar, as between the two engines
    crop = plate(["AB12CDE"])
    probe = ByWidth(10_000, "", 0.0, "AB12CDE", 0.5)
    PipelineReader(probe, load_grammars(countries=["UK"]), ReaderOptions(stretch_unsure=1.0)).read(crop)
    engine = ByWidth(probe.widths[0] + 1, "AB12CD", 0.99, "AB12CDE", 0.5)
    read = PipelineReader(engine, load_grammars(countries=["UK"]), ReaderOptions()).read(crop)
    assert len(engine.widths) == 2
    assert read.best is not None and read.best.text == "AB12CDE"
    # AB12CD's mean (0.99 ** 6 * 0.5 / 2 = 0.23) is far above AB12CDE's (0.5 ** 7 / 2); it is
    # ranked after every candidate that fits a grammar (here out of the top 5)
    assert read.best.confidence == pytest.approx(0.5**7 / 2)
    assert all(c.format_valid for c in read.candidates)


@pytest.mark.parametrize(("background", "country"), [((30, 200, 240), "NL"), ((235, 235, 235), "PL")])
def test_the_reader_names_the_country_by_the_plates_colour(
    background: tuple[int, int, int], country: str
) -> None:
    # WS28PN is a Dutch trailer plate (yellow) or a Polish one (white): the crop's colour decides
    # (an EU band at the left, as both carry: a crop with no colour at all says nothing)
    crop = np.full((60, 300, 3), background, np.uint8)
    crop[:, :18] = (160, 60, 0)
    cv2.putText(crop, "WS28PN", (20, 48), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (20, 20, 20), 4, cv2.LINE_AA)
    engine = Fixed("p", "WS28PN", 0.999)
    read = PipelineReader(engine, load_grammars(), ReaderOptions()).read(crop)
    assert read.best is not None and read.best.text == "WS28PN" and read.best.country == country


class WidthReader:
    """A fake plate reader: a crop of a width in ``by_width`` reads as its (text, confidence,
    fits a grammar); any other as nothing."""

    name = "width"

    def __init__(self, by_width: dict[int, tuple[str, float, bool]]) -> None:
        self.by_width = by_width
        self.widths: list[int] = []

    def read(self, crop_bgr: ImageBGR) -> PlateRead:
        w = crop_bgr.shape[1]
        self.widths.append(w)
        got = self.by_width.get(w)
        cands = (PlateCandidate(got[0], got[1], format_name="UK current" if got[2] else None),) if got else ()
        return PlateRead(BBox(0, 0, w, crop_bgr.shape[0]), cands, "width", ms=1.0)


def test_read_box_reads_an_unsure_plate_again_from_a_wider_box_and_averages() -> None:
    image = np.zeros((100, 300, 3), np.uint8)
    box = BBox(100, 40, 200, 60)  # 100 px wide: 112 px with 6 % at each end, 124 with 12 %
    # the box cut the first character off: the narrow crop reads JT2905, unsure; the wider
    # one PJT2905, sure: the mean (0.25 against 0.45) makes PJT2905 the best, from the wider crop
    reader = WidthReader({112: ("JT2905", 0.5, False), 124: ("PJT2905", 0.9, False)})
    read, crop = read_box(reader, image, box, 0.06, 0.12)
    assert reader.widths == [112, 124] and crop.shape[1] == 124
    # as many candidates as a read gives (here one)
    assert [(c.text, round(c.confidence, 3)) for c in read.candidates] == [("PJT2905", 0.45)]
    assert read.ms == 2.0
    # both reads agree: the confidence is their mean, and the first crop is kept
    agree = WidthReader({112: ("PJT2905", 0.5, False), 124: ("PJT2905", 0.7, False)})
    read, crop = read_box(agree, image, box, 0.06, 0.12)
    assert crop.shape[1] == 112 and read.best is not None and read.best.confidence == pytest.approx(0.6)
    # the first crop read nothing: the wider read stands alone, its confidence whole
    alone = WidthReader({124: ("PJT2905", 0.7, False)})
    read, crop = read_box(alone, image, box, 0.06, 0.12)
    assert crop.shape[1] == 124 and read.best is not None and read.best.confidence == pytest.approx(0.7)
    # a sure read (fits a grammar, 0.9 or more) is read once; so is any read with no wider box
    for reader, wider in (
        (WidthReader({112: ("AB12CDE", 0.95, True)}), 0.12),
        (WidthReader({112: ("JT2905", 0.5, False)}), 0.06),
    ):
        read, crop = read_box(reader, image, box, 0.06, wider)
        assert reader.widths == [112] and crop.shape[1] == 112 and read.best is not None


def _finds(box: BBox | None) -> tuple[list[int], Callable[[ImageBGR], BBox | None]]:
    """A fake plate finder: records the widths of the crops it is shown, finds ``box``."""
    shown: list[int] = []

    def find(crop: ImageBGR) -> BBox | None:
        shown.append(crop.shape[1])
        return box

    return shown, find


def test_read_crop_reads_an_unsure_crop_again_from_the_plate_found_in_it() -> None:
    image = np.zeros((60, 150, 3), np.uint8)
    box = BBox(25, 10, 125, 50)  # 100 px wide: 112 px cut with 6 % at each end, 124 with 12 %
    # the whole crop reads a character wrong among the scene's edges, unsure; the plate's box reads it sure
    reader = WidthReader({150: ("KX18UPW", 0.4, False), 112: ("KX19UPW", 0.95, True)})
    shown, find = _finds(box)
    read, crop = read_crop(reader, image, find)
    assert shown == [150] and reader.widths == [150, 112] and crop.shape[1] == 112
    assert read.best is not None and read.best.text == "KX19UPW" and read.ms == 2.0
    # the box's read scores lower: the whole crop's read stands, and its crop with it
    reader = WidthReader(
        {150: ("KX19UPW", 0.6, True), 112: ("KX19UP", 0.5, True), 124: ("KX19UP", 0.5, True)}
    )
    read, crop = read_crop(reader, image, _finds(box)[1])
    assert crop.shape[1] == 150 and read.best is not None and read.best.text == "KX19UPW" and read.ms == 3.0
    # plain confidence decides, whether or not a text fits a grammar (the grammars' ranking has
    # already halved one that fits none; a fake reader's confidence is taken as ranked)
    reader = WidthReader(
        {150: ("XTEXASCK3", 0.25, False), 112: ("CK3H547", 0.3, True), 124: ("CK3H547", 0.3, True)}
    )
    read, _ = read_crop(reader, image, _finds(box)[1])
    assert read.best is not None and read.best.text == "CK3H547"
    reader = WidthReader(
        {150: ("CK3H547", 0.3, True), 112: ("XTEXASCK3", 0.25, False), 124: ("XTEXASCK3", 0.25, False)}
    )
    read, _ = read_crop(reader, image, _finds(box)[1])
    assert read.best is not None and read.best.text == "CK3H547"
    # a surer text that fits no grammar wins (a US plate's box read 0.4 over the crop's 0.3,
    # which halving the no-fit text again would have turned round)
    reader = WidthReader({150: ("I364", 0.3, True), 112: ("7364", 0.4, False), 124: ("7364", 0.4, False)})
    read, _ = read_crop(reader, image, _finds(box)[1])
    assert read.best is not None and read.best.text == "7364"
    # a shorter read wins too when it is surer: the whole crop read a scene edge as a character
    reader = WidthReader({150: ("AKX19UPW", 0.8, True), 112: ("KX19UPW", 0.95, True)})
    read, _ = read_crop(reader, image, _finds(box)[1])
    assert read.best is not None and read.best.text == "KX19UPW"
    # the whole crop read nothing: any read of the box wins
    reader = WidthReader({112: ("7364", 0.1, False), 124: ("7364", 0.1, False)})
    read, _ = read_crop(reader, image, _finds(box)[1])
    assert read.best is not None and read.best.text == "7364"


def test_read_crop_asks_for_the_plate_only_when_unsure_and_keeps_the_read_when_none_is_found() -> None:
    image = np.zeros((60, 150, 3), np.uint8)
    sure = WidthReader({150: ("AB12CDE", 0.95, True)})
    shown, find = _finds(BBox(25, 10, 125, 50))
    read, crop = read_crop(sure, image, find)
    assert shown == [] and sure.widths == [150] and crop is image
    unsure = WidthReader({150: ("AB12CD", 0.5, True)})
    shown, find = _finds(None)
    read, crop = read_crop(unsure, image, find)
    assert shown == [150] and unsure.widths == [150] and crop is image
    assert read.best is not None and read.best.text == "AB12CD"
    # no finder: read whole only
    read, crop = read_crop(WidthReader({150: ("AB12CD", 0.5, True)}), image)
    assert crop is image and read.best is not None and read.best.text == "AB12CD"


def test_read_crop_keeps_the_first_read_when_the_plates_box_cannot_be_read() -> None:
    class Fussy(WidthReader):
        def read(self, crop_bgr: ImageBGR) -> PlateRead:
            if crop_bgr.shape[1] != 150:
                raise BadImageError("too small")
            return super().read(crop_bgr)

    image = np.zeros((60, 150, 3), np.uint8)
    read, crop = read_crop(Fussy({150: ("AB12CD", 0.5, True)}), image, _finds(BBox(70, 10, 72, 12))[1])
    assert crop is image and read.best is not None and read.best.text == "AB12CD"


@pytest.mark.parametrize(
    ("grown_text", "grown_conf", "expected", "expected_conf"),
    [
        ("AB12CDE", 0.995, "AB12CDE", 0.995**7),  # the cut character back, nearly as sure (0.97 >= 0.9)
        ("B12CDE", 0.9999, "B12CDE", 0.9999**6),  # the same text, surer: it wins
        ("12CDE", 0.9999, "B12CDE", 0.999**6),  # surer and fitting, but a character lost to the frame
        ("AB12CDE", 0.98, "B12CDE", 0.999**6),  # 0.98 ** 7 = 0.87: not sure enough to add a character
    ],
)
def test_lines_grown_through_a_hugging_frame_win_when_they_read_more(
    monkeypatch: pytest.MonkeyPatch, grown_text: str, grown_conf: float, expected: str, expected_conf: float
) -> None:
    import vision.anpr.reader as reader_module
    from vision.anpr.rectify import Rectified, TextLine

    crop = plate(["AB12CDE"])
    w = crop.shape[1]
    line = TextLine((40, 20, w - 10, 90), (), hugged_box=(5, 20, w - 10, 90))
    rect = Rectified(crop, np.eye(2, 3), 0.0, 0, (line,))
    monkeypatch.setattr(reader_module, "rectify", lambda _crop: rect)
    assert [im.shape[1] for im in rect.hugged_line_images()] == [w - 15]
    engine = ByWidth(w - 15, grown_text, grown_conf, "B12CDE", 0.999)
    options = ReaderOptions(stretch_unsure=1.0, wide_below=0.5)  # the lines span 0.87: no wide reading
    read = PipelineReader(engine, load_grammars(countries=["UK"]), options).read(crop)
    assert engine.widths == [w - 50, w - 15]
    assert read.best is not None and read.best.text == expected
    assert read.best.confidence == pytest.approx(expected_conf)
    off = ByWidth(w - 15, grown_text, grown_conf, "B12CDE", 0.999)
    PipelineReader(off, load_grammars(countries=["UK"]), replace(options, grow_hugged=False)).read(crop)
    assert off.widths == [w - 50]


def test_no_hugged_box_no_grown_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    import vision.anpr.reader as reader_module
    from vision.anpr.rectify import Rectified, TextLine

    crop = plate(["AB12CDE"])
    rect = Rectified(crop, np.eye(2, 3), 0.0, 0, (TextLine((40, 20, crop.shape[1] - 10, 90), ()),))
    monkeypatch.setattr(reader_module, "rectify", lambda _crop: rect)
    assert rect.hugged_line_images() == []
    engine = ByWidth(10_000, "", 0.0, "B12CDE", 0.999)
    PipelineReader(engine, load_grammars(countries=["UK"]), ReaderOptions(stretch_unsure=1.0)).read(crop)
    assert len(engine.widths) == 1


class ByHeight(ByWidth):
    """:class:`ByWidth` by the line image's height: one at least ``wide_px`` high reads as
    ``wide``; ``widths`` are the heights seen."""

    name = "by-height"
    axis = 0


@pytest.mark.parametrize(
    ("first_conf", "cut_text", "cut_conf", "expected", "cut_read"),
    [
        (0.9, "AB12CDE", 0.999, "AB12CDE", True),  # unsure (0.9 ** 7); the cut's reading is sure: it wins
        (0.9, "AB12CDE", 0.95, "AB12CDF", True),  # the cut's reading is not sure (0.95 ** 7 = 0.70)
        (0.9, "AB12CDEF", 0.999, "AB12CDF", True),  # nor when it fits no grammar
        # nor when it is a part of the first reading (B12CDF, a UK prefix plate): the cut lost a
        # character the first reading saw
        (0.9, "B12CDF", 0.999, "AB12CDF", True),
        (0.999, "AB12CDE", 0.999, "AB12CDF", False),  # a sure first read: no cut is read
    ],
)
def test_an_unsure_read_is_read_again_from_the_crop_cut_to_its_text(
    monkeypatch: pytest.MonkeyPatch,
    first_conf: float,
    cut_text: str,
    cut_conf: float,
    expected: str,
    cut_read: bool,
) -> None:
    # the crop as cut reads AB12CDF (first_conf per character); the crop cut to its text, here the
    # plate twice as big, reads cut_text
    crop = plate(["AB12CDE"])
    cut = np.asarray(cv2.resize(crop, (crop.shape[1] * 2, crop.shape[0] * 2)), np.uint8)
    widths: list[float] = []

    def fake_text_crop(image: ImageBGR, narrower_than: float) -> ImageBGR:
        widths.append(narrower_than)
        return cut

    monkeypatch.setattr("vision.anpr.reader.text_crop", fake_text_crop)
    grammars = load_grammars(countries=["UK"])
    engine = ByHeight(crop.shape[0] + 1, cut_text, cut_conf, "AB12CDF", first_conf)
    read = PipelineReader(engine, grammars, ReaderOptions(stretch_unsure=1.0)).read(crop)
    assert read.best is not None and read.best.text == expected
    assert widths == ([0.92] if cut_read else [])
    assert any(h > crop.shape[0] for h in engine.widths) == cut_read
    if cut_read and read.best.text != cut_text:
        # the cut's reading lost: later steps read the crop as cut before (here the stretched
        # reading: lines of the crop's height, not the cut's)
        again = ByHeight(crop.shape[0] + 1, cut_text, cut_conf, "AB12CDF", first_conf)
        PipelineReader(again, grammars, ReaderOptions()).read(crop)
        assert again.widths[-1] <= crop.shape[0] < max(again.widths)
    # with the option off no cut is read
    widths.clear()
    PipelineReader(engine, grammars, ReaderOptions(stretch_unsure=1.0, locate_unsure=0.0)).read(crop)
    assert widths == []
