from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from vision.anpr.vote import VoteRule
from vision.pipeline.assemble import (
    BodyLook,
    PlateLook,
    PlateTrack,
    VehicleTrack,
    assemble_plates,
    clearly_different,
    is_livery,
    is_livery_piece,
    plate_is_sure,
    text_evidence,
)
from vision.pipeline.testing import ConstReader
from vision.types import BBox, BodyType, PlateCandidate, PlateRead, PlateRole, ReadStatus, TrailerVerdict


def _track(track_id: int, texts: list[str], height_px: int, t0: int = 0, grey: int = 0) -> PlateTrack:
    """A plate track with one read per text ('' reads nothing) on crops ``height_px`` tall of
    one ``grey``, each also offered as the track's tallest crop (as the lane pipeline does)."""
    t = PlateTrack(track_id, t0, t0 + 40 * len(texts), BBox(0, 0, 100, height_px))
    for i, text in enumerate(texts):
        crop = np.full((height_px, 4 * height_px, 3), grey, np.uint8)
        t.keep_tallest(crop)
        read = ConstReader(text).read(crop) if text else PlateRead(BBox(0, 0, 1, 1), (), "none")
        t.add_read(PlateLook(t0 + 40 * i, read, crop))
        t.seen(t0 + 40 * i, BBox(0, 0, 100, height_px), 1)
    return t


def test_false_plate_boxes_do_not_spoil_the_plate_vote() -> None:
    """A front plate read 4 times at 20 px, plus two false plate boxes on the same lorry (a grille
    read as nothing at 40 px, a sign read as 'OMM' at 30 px): the plate is still AB12CDE,
    committed. (Pooled by crop height, the taller crops that read nothing or another text used to
    push the plate's reads out of the vote: the read misses of clips 5100 and 5102.)"""
    plate = _track(1, ["AB12CDE"] * 4, 20)
    grille = _track(2, [""] * 5, 40)
    sign = _track(3, ["OMM"] * 3, 30)
    (passage_plate,) = assemble_plates([plate, grille, sign], "front", VoteRule())
    assert passage_plate.role is PlateRole.FRONT
    assert (passage_plate.text, passage_plate.status) == ("AB12CDE", ReadStatus.COMMITTED)
    # seen while the plate's track read it (0-160 ms), not while the grille was boxed (to 200)
    assert (passage_plate.first_seen_ts_ms, passage_plate.last_seen_ts_ms) == (0, 160)


def test_fragments_of_one_plate_still_pool() -> None:
    """Two tracks of one plate (the track broke), one read with a look-alike: pooled, one plate."""
    a = _track(1, ["AB12CDE", "AB12CDE"], 20)
    b = _track(2, ["AB12CDE", "A812CDE"], 22, t0=400)
    (p,) = assemble_plates([a, b], "front", VoteRule())
    assert p.text == "AB12CDE" and p.status is ReadStatus.COMMITTED and p.n_looks == 4
    assert (p.first_seen_ts_ms, p.last_seen_ts_ms) == (0, 480)  # from a's first sighting to b's last


def test_a_livery_word_is_no_plate() -> None:
    """A haulier's name read on a cab (no digit, no plate format) gives no plate when nothing
    else was seen in that role (set 5900: ``MAREK`` kept as a hidden front plate); beside an
    unread track it gives that track's empty plate and crop; a plate read beside it wins; a short
    digit-free read (a plate fragment) is kept."""
    name = _track(1, ["MAREK"] * 4, 30, grey=255)
    assert is_livery(name.vote(VoteRule()))
    assert is_livery(_track(6, ["GIRTEKA"] * 3, 30).vote(VoteRule()))  # no PL plate: no digits
    assert assemble_plates([name], "front", VoteRule()) == ()
    (unread,) = assemble_plates([name, _track(2, [""] * 3, 20)], "front", VoteRule())
    assert unread.text == "" and unread.n_looks == 3
    evidence = cv2.imdecode(np.frombuffer(unread.crop_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert evidence is not None
    assert evidence.shape[:2] == (20, 80) and evidence.mean() < 20  # the unread plate's, not the word's
    (plate,) = assemble_plates([name, _track(3, ["AB12CDE", "AB12CDE"], 20)], "front", VoteRule())
    assert plate.text == "AB12CDE"
    # partial plate reads (digits, no format) still rank above the word, and stay plates
    (part,) = assemble_plates([name, _track(4, ["R1324N", "R1324N"], 20)], "rear", VoteRule())
    assert part.text == "R1324N" and not part.format_valid
    (frag,) = assemble_plates([_track(5, ["C", "C", "C"], 20)], "rear", VoteRule())
    assert frag.text == "C"


def test_a_piece_of_a_livery_word_is_no_plate() -> None:
    """A track that read a haulier's name whole in one look and only its end in another (set
    5900: ``MAREK`` and ``REK``, neither committed) gives no plate whichever of the two its vote
    takes. A piece stays when it is committed, when the track says it more than the word
    (``NPB`` eight times, ``WOBNPB`` once: a plate and one misread), when it has a digit, when
    the longer read has one or is under 4 characters, or when no longer read holds it."""
    rule = VoteRule()
    for texts in (["MAREK", "REK"], ["REK", "MAREK"], ["REK", "", "MAREK"]):
        track = _track(1, texts, 30)
        v = track.vote(rule)
        assert v.status is not ReadStatus.COMMITTED and v.text in ("MAREK", "REK"), texts
        assert is_livery(v) or is_livery_piece(track, v), texts
        assert assemble_plates([track], "front", rule) == (), texts

    # the rule on its own, for a vote of the piece (whatever the vote of these reads would be)
    def piece_vote(texts: list[str], piece: str, status: ReadStatus = ReadStatus.LOW_CONFIDENCE) -> bool:
        track = _track(2, texts, 30)
        v = replace(track.vote(rule), text=piece, status=status, format_name=None)
        return is_livery_piece(track, v)

    assert piece_vote(["REK", "MAREK"], "REK")
    assert piece_vote(["REK", "REK", "MAREK"], "REK")  # MAREK 0.9 + 2 x 0.54 >= 1.8
    assert not piece_vote(["REK", "MAREK"], "REK", ReadStatus.COMMITTED)
    assert not piece_vote(["NPB"] * 8 + ["WOBNPB"], "NPB")  # a plate and one misread of it
    assert not piece_vote(["NRZ"] * 5 + ["NRZI"], "NRZ")
    assert not piece_vote(["RE4", "MARE4"], "RE4")  # a digit in the piece
    assert not piece_vote(["REK", "MA1REK"], "REK")  # a digit in the longer read
    assert not piece_vote(["EK", "REK"], "EK")  # the longer read under 4 characters
    assert not piece_vote(["REK", "REK"], "REK")  # no longer read


def test_a_container_code_is_no_plate() -> None:
    """A container's ISO 6346 size-type code or owner code read as a plate (lane set 5230:
    ``42G1`` kept as a front plate) is no plate; a plate read beside it wins, and a real plate
    of a similar shape that fits a grammar stays a plate."""
    for code in ("42G1", "45R1", "22T6", "MSCU1234567", "TGHU123456"):
        assert is_livery(_track(1, [code] * 4, 30).vote(VoteRule())), code
    assert assemble_plates([_track(1, ["42G1"] * 4, 30)], "front", VoteRule()) == ()
    (plate,) = assemble_plates(
        [_track(1, ["42G1"] * 4, 30), _track(2, ["AB12CDE"] * 2, 20)], "front", VoteRule()
    )
    assert plate.text == "AB12CDE"
    for text in ("12G5", "131D12", "AB12CDE"):  # Irish 2012 and 2013 plates, a UK one
        v = _track(3, [text] * 4, 30).vote(VoteRule())
        assert v.format_valid and not is_livery(v), text


def _look(
    text: str, height_px: int, width_px: int, confidence: float, format_name: str | None = None
) -> PlateLook:
    crop = np.zeros((height_px, width_px, 3), np.uint8)
    read = PlateRead(
        BBox(0, 0, width_px, height_px),
        (PlateCandidate(text, confidence, (confidence,) * len(text), None, format_name),),
        "const",
    )
    return PlateLook(0, read, crop)


def test_the_plate_read_surely_wins_over_a_sign_read_many_ways() -> None:
    """Clip 5100's third lorry (a wider reader, twelfth session): its plate read ``BL851``,
    ``BL851T``, ``BL851T`` at 0.98-1.00; a sign beside it read four ways, once ``LB4`` (0.49),
    a short text a permissive grammar fits. Both votes fit a grammar and have the same status
    (with one candidate per read both commit here; in the lane neither did); the plate's reads
    say its text surely, the sign's barely, so the plate is the passage's."""
    plate = PlateTrack(1, 0, 120, BBox(0, 0, 80, 26))
    for i, (text, conf) in enumerate((("BL851", 0.98), ("BL851T", 0.99), ("BL851T", 1.0))):
        plate.add_read(_look(text, 26, 80, conf, "NL side-code"))
        plate.seen(40 * i, BBox(0, 0, 80, 26), 1)
    sign = PlateTrack(2, 160, 440, BBox(0, 0, 90, 30))
    for i, (text, conf) in enumerate((("L814", 0.25), ("LB4", 0.49), ("LBT444", 0.07), ("L8744", 0.08))):
        sign.add_read(_look(text, 23 + i, 80, conf, "D current"))
        sign.seen(160 + 80 * i, BBox(0, 0, 90, 30), 1)
    votes = [t.vote(VoteRule()) for t in (plate, sign)]
    assert [(v.text, v.format_valid) for v in votes] == [("BL851T", True), ("LB4", True)]
    assert votes[0].status is votes[1].status
    assert text_evidence(plate, "BL851T") == pytest.approx(0.98 * 5 / 6 + 0.99 + 1.0)
    assert text_evidence(sign, "LB4") == pytest.approx(0.49)
    assert text_evidence(sign, "") == 0.0
    (p,) = assemble_plates([sign, plate], "front", VoteRule())
    assert p.text == "BL851T"


def _track_of(looks: list[PlateLook], track_id: int = 1) -> PlateTrack:
    """A plate track holding ``looks``, in that order, 80 ms apart."""
    t = PlateTrack(track_id, 0, 80 * len(looks), BBox(0, 0, 100, 20))
    for i, lk in enumerate(looks):
        t.add_read(replace(lk, ts_ms=80 * i))
        t.seen(80 * i, lk.read.box, 1)
    return t


def test_every_read_is_voted_the_small_sure_ones_too() -> None:
    """Lane set 5290's front track: its first crops, 20-43 px, were of a cab's lettering and read
    nothing surely; its last three, 13-18 px, read the plate, once 0.98 sure. Only the tallest
    voted, the passage's front plate was ``DAVE`` while the track's own vote was the plate; every
    read voted, it is the plate. Set 5261's rear track: a piece ``PYJ2220`` read 0.9 sure at 26
    px, the plate ``PYJ2220V`` 0.47 at 29 px and 0.93 at 13 px: the plate, committed."""
    front = _track_of(
        [
            _look("XT2", 20, 60, 0.19, "uk_dateless"),
            _look("DAVE", 24, 70, 0.24),
            _look("V21", 30, 90, 0.02, "uk_dateless"),
            _look("P49", 43, 120, 0.13, "uk_dateless"),
            _look("CMS9237G", 15, 60, 0.34, "uk_current"),
            _look("CMS92378", 13, 55, 0.6, "uk_current"),
            _look("CMS9237G", 18, 70, 0.98, "uk_current"),
        ]
    )
    (p,) = assemble_plates([front], "front", VoteRule())
    assert p.text == front.vote(VoteRule()).text == "CMS9237G"
    rear = _track_of(
        [
            _look("PYJ2220V", 29, 90, 0.47, "nl"),
            _look("PYJ2220", 26, 80, 0.9, "nl"),
            _look("PTJ2420V", 24, 75, 0.33, "nl"),
            _look("PYJ2220V", 13, 40, 0.93, "nl"),
        ]
    )
    (p,) = assemble_plates([rear], "rear", VoteRule())
    assert (p.text, p.status) == ("PYJ2220V", ReadStatus.COMMITTED)


def test_a_cut_read_of_the_tallest_crop_does_not_win_over_the_plate() -> None:
    """Clip 5100's front plate: the tallest crop (23 px) read a cut ``RRG38``; smaller crops read
    the plate ``RRG3890L`` (18 px, 14 px) and two misreads (14 px). The plate wins."""
    t = _track_of(
        [
            _look("RSS368NJ", 14, 37, 0.26, "uk_current"),
            _look("RG3990L", 14, 39, 0.74, "uk_current"),
            _look("RRG3890L", 14, 58, 0.97, "uk_current"),
            _look("RRG3890L", 18, 65, 0.95, "uk_current"),
            _look("RRG38", 23, 73, 0.97, "uk_dateless"),
        ]
    )
    (p,) = assemble_plates([t], "front", VoteRule())
    assert p.text == "RRG3890L"


def test_clearly_different_and_sure() -> None:
    assert clearly_different("AB12CDE", "XY34ZZZ")
    assert not clearly_different("AB12CDE", "PAB12CDE")  # an extra character from the plate's edge
    assert not clearly_different("HIB5640", "IHIB5640")
    assert not clearly_different("AB12CDE", "A812C0E")  # look-alikes
    sure = _track(1, ["", "BL851T", "BL851T"], 20).vote(VoteRule())
    assert sure.status is ReadStatus.LOW_CONFIDENCE and plate_is_sure(sure)
    assert not plate_is_sure(_track(2, ["BL851T"], 20).vote(VoteRule()))
    assert not plate_is_sure(_track(3, ["BL851T", "XY34ZZZ"], 20).vote(VoteRule()))
    # a committed short text (a fragment; UK dateless grammar fits it) does not split lorries
    short = _track(4, ["C3", "C3", "C3"], 24).vote(VoteRule())
    assert short.status is ReadStatus.COMMITTED and short.format_valid and not plate_is_sure(short)


def _vehicle(key: int, times: list[int], sizes: list[float]) -> VehicleTrack:
    """A vehicle track seen at ``times`` (ms) with one body look per time of the given sizes."""
    box = BBox(0, 0, 10, 10)
    v = VehicleTrack(key, {key}, times[0], times[0], box, box)
    for t, size in zip(times, sizes, strict=True):
        v.seen(t, BBox(t, 0, t + 10, 10))
        v.body_looks.append(BodyLook(t, TrailerVerdict(BodyType.FLATBED, 0.9), size))
    v.first_box = BBox(times[0], 0, times[0] + 10, 10)
    return v


def test_a_vehicle_absorbs_a_part_of_it() -> None:
    whole = _vehicle(1, [500, 600, 700], [100.0, 120.0, 140.0])
    part = _vehicle(2, [100, 200, 550], [50.0, 130.0, 60.0])
    part.camera_ids = {"side"}
    part.seen(800, BBox(800, 0, 810, 10))  # seen once more after the whole's last sighting
    part.sightings.append((600, BBox(0, 0, 5, 5)))  # and at a time the whole was seen too
    own_first_box = whole.first_box
    whole.absorb(part)
    assert whole.first_ts_ms == 100 and whole.first_box == own_first_box
    assert whole.last_ts_ms == 800 and whole.hits == 7
    assert [t for t, _ in whole.sightings] == [100, 200, 500, 550, 600, 700, 800]
    assert dict(whole.sightings)[600] == BBox(600, 0, 610, 10)  # the whole's own box
    assert whole.camera_ids == {"side"}
    # the part's body looks are of the part: kept only by a whole without looks of its own
    assert [b.ts_ms for b in whole.body_looks] == [500, 600, 700]
    bare = _vehicle(3, [500], [100.0])
    bare.body_looks = []
    bare.absorb(part)
    assert [b.ts_ms for b in bare.body_looks] == [100, 200, 550]


def test_found_again_is_the_first_sighting_after_a_long_enough_gap_in_the_window() -> None:
    v = _vehicle(1, [0, 100, 200, 900, 1000, 2000, 2100], [1.0] * 7)
    assert v.found_again(0, 2100, 600) == 900  # lost 200-900 ms
    assert v.found_again(150, 2100, 600) == 900
    assert v.found_again(250, 2100, 600) == 2000  # the gap began before 250 ms: the next one
    assert v.found_again(0, 800, 600) is None  # not found again by 800 ms
    assert v.found_again(0, 2100, 1200) is None  # never lost that long


def test_a_trailer_mark_read_on_a_rear_plate_track_is_not_the_rear_plate() -> None:
    """A rear camera's plate track that starts on a UK trailer's two-line mark and slides onto the
    rear plate beside it (bench lane set 5240): its first two crops, the tallest, read the mark,
    the next three the plate. The rear plate is the plate; the mark's own track gives the mark."""
    slid = _track(1, ["Y6379111"] * 2, 47)
    plate = _track(2, ["TH11VFW"] * 3, 16, t0=200)
    for lk in plate.looks:
        slid.add_read(lk)
    mark = _track(3, ["Y6379111"] * 3, 38, t0=160)
    assert slid.role("rear", VoteRule()) is PlateRole.REAR
    assert mark.role("rear", VoteRule()) is PlateRole.TRAILER_MARK
    plates = {p.role: p.text for p in assemble_plates([slid, mark], "rear", VoteRule())}
    assert plates == {PlateRole.TRAILER_MARK: "Y6379111", PlateRole.REAR: "TH11VFW"}


def test_a_mark_track_half_of_whose_reads_are_pieces_is_the_mark_when_its_vote_is() -> None:
    """Bench lane set 5241's rear camera: the mark's track read ``S553693`` (0.50), ``5193``
    (0.25), then ``S5513693`` twice (0.999, 0.994) and voted it; the lorry's rear plate had a
    track of its own. The mark is the trailer mark, not a second rear plate that lost."""
    mark = _track(1, ["S553693", "5193", "S5513693", "S5513693"], 40, t0=126)
    plate = _track(2, ["ST63YTD"] * 3, 36, t0=128)
    assert mark.vote(VoteRule()).text == "S5513693"
    assert mark.role("rear", VoteRule()) is PlateRole.TRAILER_MARK
    plates = {p.role: p.text for p in assemble_plates([mark, plate], "rear", VoteRule())}
    assert plates == {PlateRole.TRAILER_MARK: "S5513693", PlateRole.REAR: "ST63YTD"}
    # half the reads a mark but the vote not one: the camera's role
    half = _track(3, ["AB12CDE"] * 2, 40)
    for lk in _track(4, ["S5513693"] * 2, 12, t0=100).looks:
        half.add_read(lk)
    assert half.vote(VoteRule()).text == "AB12CDE"
    assert half.role("rear", VoteRule()) is PlateRole.REAR


def _read_of(height_px: int, *candidates: tuple[str, float]) -> PlateLook:
    """One look at a crop ``height_px`` tall, read as ``candidates`` (text, confidence), best first."""
    crop = np.zeros((height_px, 3 * height_px, 3), np.uint8)
    cands = tuple(PlateCandidate(t, c, (c,) * len(t), None, "lt") for t, c in candidates)
    return PlateLook(0, PlateRead(BBox(0, 0, 3 * height_px, height_px), cands, "const"), crop)


@pytest.mark.parametrize(
    ("reads", "text", "status"),
    [
        # lane set 5230: a far front plate (JZR917) read in two looks, ``7`` and ``ER917``
        ([[("7", 0.5)], [("ER917", 0.83), ("ZR917", 0.23), ("ERB17", 0.21)]], "", ReadStatus.UNREAD),
        # set 5272: the plate WP72VPC read PJE8 and I6
        (
            [[("PJE8", 0.18), ("HJE8", 0.08), ("DJE8", 0.04)], [("I6", 0.2), ("I8", 0.1)]],
            "",
            ReadStatus.UNREAD,
        ),
        # set 5207: a trailer mark read as its start, then whole: a reading
        (
            [[("K559", 1.0), ("K5S9", 0.9)], [("K5592948", 1.0), ("K5552948", 0.9)]],
            "K5592948",
            ReadStatus.LOW_CONFIDENCE,
        ),
        # two looks reading different texts, one of them holding most of the vote: a reading
        ([[("AB12CDE", 0.95)], [("X7", 0.1)]], "AB12CDE", ReadStatus.LOW_CONFIDENCE),
        # two looks a look-alike apart (B/8): a misread of one plate, not another plate
        (
            [[("AB12CDE", 0.6), ("AB12CDF", 0.6)], [("A812CDE", 0.6), ("AB12CDE", 0.5)]],
            "AB12CDE",
            ReadStatus.LOW_CONFIDENCE,
        ),
        # one look read the consensus surely, another read junk
        ([[("AB12CDE", 1.0), ("AB12CDF", 0.9)], [("X7", 0.3)]], "AB12CDE", ReadStatus.LOW_CONFIDENCE),
        # one look, its candidates close: nothing to disagree with
        ([[("ER917", 0.83), ("ZR917", 0.6), ("ERB17", 0.5)]], "ER917", ReadStatus.LOW_CONFIDENCE),
        # one look whose first candidate (a grammar's fit, as the reader orders them) is not
        # its surest: still one look, nothing to disagree with
        ([[("AB12CDE", 0.4), ("X7", 0.45), ("Q9", 0.3)]], "X7", ReadStatus.LOW_CONFIDENCE),
        # two looks agreeing
        ([[("ER917", 0.5)], [("ER917", 0.6), ("ZR917", 0.2)]], "ER917", ReadStatus.LOW_CONFIDENCE),
        # three looks with no majority: the vote's own low-confidence read
        (
            [
                [("ER917", 0.5), ("ZR917", 0.4)],
                [("ZR917", 0.5), ("ER917", 0.4)],
                [("EZ917", 0.6), ("ER917", 0.5)],
            ],
            "ER917",
            ReadStatus.LOW_CONFIDENCE,
        ),
    ],
    ids=[
        "two_disagree",
        "two_unsure",
        "piece_and_whole",
        "two_one_sure",
        "lookalike",
        "sure_and_junk",
        "one",
        "one_reordered",
        "two_agree",
        "three",
    ],
)
def test_a_plate_read_differently_by_too_few_looks_is_seen_not_read(
    reads: list[list[tuple[str, float]]], text: str, status: ReadStatus
) -> None:
    """Two looks or more, fewer than the vote needs to commit, that read different plates (not
    a piece nor a misread of the consensus), with no majority and no sure read of it, are no
    reading: the passage's plate is seen, not read, its
    candidates kept for the action-list match (the truth of sets 5230 and 5272 has no legible
    front plate, and the passages reported ``ER917`` and ``PJE8``)."""
    track = _track_of([_read_of(25, *r) for r in reads])
    (p,) = assemble_plates([track], "front", VoteRule())
    assert (p.text, p.status) == (text, status)
    assert p.candidates and p.candidates[0].text == track.vote(VoteRule()).text
    if not text:  # nothing of a read but the candidates
        assert (p.confidence, p.country, p.format_valid) == (0.0, None, False)
