from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from vision.anpr.grammars import load_grammars
from vision.pipeline.config import (
    CameraView,
    LaneConfig,
    MotionGateConfig,
    ReadPolicy,
    RegionOfInterest,
    TrackingConfig,
)
from vision.pipeline.lane import LanePipeline
from vision.pipeline.protocols import LaneModels
from vision.pipeline.sources import VideoFileSource
from vision.pipeline.testing import (
    CLIP,
    ConstClassifier,
    ConstReader,
    DroppingTruthDetector,
    ScriptedDetector,
    blank,
    fixture_truth,
    frames_of,
)
from vision.pipeline.truth import TruthDetector, score_passages
from vision.types import (
    BBox,
    BodyType,
    Detection,
    Frame,
    ImageBGR,
    Passage,
    PlateCandidate,
    PlateRead,
    PlateRole,
    ReadStatus,
    TrailerVerdict,
)

T0 = 1_000_000


def run(pipeline: LanePipeline, frames: list[Frame] | None = None) -> list[Passage]:
    out: list[Passage] = []
    source = (
        frames
        if frames is not None
        else VideoFileSource(CLIP / "clip.mp4", lane_id="L1", start_ts_ms=T0).frames()
    )
    for f in source:
        out.extend(pipeline.process(f).passages)
    out.extend(pipeline.flush())
    return out


@pytest.fixture(scope="module")
def clip_frames() -> list[Frame]:
    return list(VideoFileSource(CLIP / "clip.mp4", lane_id="L1", start_ts_ms=T0).frames())


def run_scripted(
    vehicles: Callable[[int], list[Detection]],
    n_frames: int,
    *,
    view: CameraView = "front",
    plates: Callable[[int], list[Detection]] | None = None,
    reader: ConstReader | None = None,
    classifier: ConstClassifier | None = None,
) -> tuple[list[Passage], LanePipeline, list[Frame]]:
    """A pipeline of ``view`` on ``n_frames`` blank 1280x720 frames 80 ms apart, its detectors
    scripted by frame index: its passages, the pipeline (for its counters) and the frames."""
    detect_plates = ScriptedDetector(plates or (lambda i: []))
    models = LaneModels(ScriptedDetector(vehicles), detect_plates, reader or ConstReader(), classifier)
    pipeline = LanePipeline(LaneConfig("L1", view=view), models)
    frames = list(frames_of([blank(720, 1280)] * n_frames, period_ms=80))
    return run(pipeline, frames), pipeline, frames


def truth_models(reader: ConstReader | None = None, classifier: ConstClassifier | None = None) -> LaneModels:
    truth = fixture_truth()
    return LaneModels(
        TruthDetector(truth, "vehicle"), TruthDetector(truth, "plate"), reader or ConstReader(), classifier
    )


@pytest.mark.parametrize("interval_ms", [0, 150])
def test_one_passage_per_lorry_on_the_fixture_clip(clip_frames: list[Frame], interval_ms: int) -> None:
    """Ground-truth boxes as the detector: the two lorries make exactly two passages, each with its
    front plate voted from several reads, body type by consensus, crops, times and direction."""
    reader, classifier = ConstReader("AB12CDE"), ConstClassifier(BodyType.TILT)
    cfg = LaneConfig("L1", tracking=TrackingConfig(detect_interval_ms=interval_ms))
    pipeline = LanePipeline(cfg, truth_models(reader, classifier))
    passages = run(pipeline, clip_frames)
    score = score_passages(passages, fixture_truth(), start_ts_ms=T0)
    assert (score.expected, score.found, score.matched, score.duplicates, score.spurious) == (2, 2, 2, 0, 0)
    for p in passages:
        assert [pl.role for pl in p.plates] == [PlateRole.FRONT]
        plate = p.plates[0]
        assert plate.text == "AB12CDE" and plate.status is ReadStatus.COMMITTED and plate.n_looks >= 3
        assert plate.crop_jpeg.startswith(b"\xff\xd8")
        assert p.body.body_type is BodyType.TILT and p.body.n_looks >= 3
        assert p.body_crop_jpeg.startswith(b"\xff\xd8")
        assert p.direction == "towards_camera"
        assert p.camera_ids == ("cam1",) and p.lane_id == "L1"
    first = sorted(passages, key=lambda q: q.first_seen_ts_ms)
    assert first[0].first_seen_ts_ms == T0  # lorry 1 is labelled from frame 0 (kept from before its id)
    assert T0 + 300 <= first[1].first_seen_ts_ms <= T0 + 300 + interval_ms  # lorry 2 from frame 3
    assert len({p.passage_id for p in passages}) == 2
    if interval_ms:
        assert pipeline.counters.strided > 0 and pipeline.counters.detected < 40


def test_read_policy_skips_small_crops(clip_frames: list[Frame]) -> None:
    reader = ConstReader()
    pipeline = LanePipeline(LaneConfig("L1", reads=ReadPolicy(min_plate_height_px=16)), truth_models(reader))
    passages = run(pipeline, clip_frames)
    assert reader.heights and all(h >= 16 for h in reader.heights)
    assert len(passages) == 2


def test_plate_crops_take_in_a_margin_at_each_end_only() -> None:
    """The plate detector's boxes of lane plates are tight at the ends: a crop is the box plus
    ``plate_margin_x`` of its width left and right (a half-cut last character was dropped)."""
    vehicle = lambda i: [Detection(BBox(100, 50, 700, 470), 0, "vehicle", 0.9)]  # noqa: E731
    plate = lambda i: [Detection(BBox(300, 400, 400, 420), 0, "plate", 0.9)]  # noqa: E731
    for margin, width in ((0.06, 112), (0.0, 100)):
        reader = ConstReader()
        models = LaneModels(ScriptedDetector(vehicle), ScriptedDetector(plate), reader, None)
        run(
            LanePipeline(LaneConfig("L1", reads=ReadPolicy(plate_margin_x=margin)), models),
            list(frames_of([blank(480, 720)] * 6)),
        )
        assert reader.widths and set(reader.widths) == {width} and set(reader.heights) == {20}
    assert ReadPolicy().plate_margin_x == 0.06 and ReadPolicy().plate_wider_margin_x == 0.12
    with pytest.raises(ValueError):
        ReadPolicy(plate_margin_x=-0.1)
    with pytest.raises(ValueError):
        ReadPolicy(plate_wider_margin_x=0.6)


class CutReader(ConstReader):
    """Reads a crop at most ``cut_px`` wide as ``B12CDE`` 0.5 sure (the box cut the first character
    off; fits no grammar here), a wider one as ``AB12CDE`` 0.95 sure."""

    def __init__(self, cut_px: int) -> None:
        super().__init__()
        self.cut_px = cut_px

    def read(self, crop_bgr: ImageBGR) -> PlateRead:
        read = super().read(crop_bgr)
        if crop_bgr.shape[1] > self.cut_px:
            return replace(read, candidates=(replace(read.candidates[0], confidence=0.95),))
        return replace(read, candidates=(PlateCandidate("B12CDE", 0.5),))


def test_an_unsure_plate_is_read_again_from_a_wider_box() -> None:
    """A read that is not sure is read again from the box plus ``plate_wider_margin_x`` of its width
    at each end (``read_box``), and the two reads averaged: the wider crop's text wins the vote."""
    vehicle = lambda i: [Detection(BBox(100, 50, 700, 470), 0, "vehicle", 0.9)]  # noqa: E731
    plate = lambda i: [Detection(BBox(300, 400, 400, 420), 0, "plate", 0.9)]  # noqa: E731
    for wider, widths, texts in ((0.12, {112, 124}, [["AB12CDE"]]), (0.0, {112}, [])):
        reader = CutReader(cut_px=112)
        models = LaneModels(ScriptedDetector(vehicle), ScriptedDetector(plate), reader, None)
        passages = run(
            LanePipeline(LaneConfig("L1", reads=ReadPolicy(plate_wider_margin_x=wider)), models),
            list(frames_of([blank(480, 720)] * 6)),
        )
        assert set(reader.widths) == widths
        assert [[q.text for q in p.plates] for p in passages] == texts  # unsure B12CDE alone: no passage


def test_read_policy_reads_a_growing_plate_as_it_grows() -> None:
    """An approaching plate grows from 12 to 47 px over 36 frames: the first 3 crops are read, then
    only crops 15 % taller than the tallest read; at most 4 reads are kept (bigger ones replace)."""
    vehicle = lambda i: [Detection(BBox(100, 50, 700, 470), 0, "vehicle", 0.9)]  # noqa: E731
    plate = lambda i: [Detection(BBox(300, 400, 300 + 4 * (12 + i), 412 + i), 0, "plate", 0.9)]  # noqa: E731
    reader = ConstReader()
    policy = ReadPolicy(max_reads_per_plate=4, first_reads=3, bigger_by=1.15)
    models = LaneModels(ScriptedDetector(vehicle), ScriptedDetector(plate), reader, None)
    pipeline = LanePipeline(LaneConfig("L1", reads=policy), models)
    passages = run(pipeline, list(frames_of([blank(480, 720)] * 36)))
    h = reader.heights
    # frame 0's read, taken before the vehicle's track starts, is the plate track's first: the
    # fourth read is the first 15 % taller than the tallest (it was 15 px when frame 0's was lost)
    assert h[:4] == [12, 13, 14, 17]
    assert all(b >= 1.15 * a for a, b in itertools.pairwise(h[3:]))
    assert len(h) < 12 and h[-1] >= 40
    assert len(passages) == 1 and passages[0].plates[0].status is ReadStatus.COMMITTED


def test_body_looks_go_to_the_biggest_views_of_an_approaching_lorry() -> None:
    """A body grows from 60 to 200 px over 60 frames; a classifier that is wrong on crops under
    120 px: the track keeps 4 looks, and bigger crops replace the smallest, so the passage
    gets the right type (the first 4 looks alone would all be wrong)."""
    body = lambda i: BBox(100, 50, 100 + 60 + 2 * i, 50 + 60 + 2 * i)  # noqa: E731
    vehicle = lambda i: [  # noqa: E731
        Detection(BBox(90, 40, 180 + 2 * i, 130 + 2 * i), 0, "vehicle", 0.9),
        Detection(body(i), 1, "body", 0.9),
    ]

    class BySize:
        def __init__(self) -> None:
            self.sizes: list[int] = []

        def classify_body(self, crop: np.ndarray) -> TrailerVerdict:
            self.sizes.append(min(crop.shape[:2]))
            wrong = crop.shape[0] < 120
            return TrailerVerdict(BodyType.BOX if wrong else BodyType.TILT, 0.9)

    classifier = BySize()
    policy = ReadPolicy(max_body_looks=4, body_look_interval_ms=0, bigger_by=1.15)
    models = LaneModels(ScriptedDetector(vehicle), ScriptedDetector(lambda i: []), ConstReader(), classifier)
    frames = list(frames_of([blank(480, 720)] * 60))
    passages = run(LanePipeline(LaneConfig("L1", reads=policy), models), frames)
    assert len(passages) == 1 and passages[0].body.body_type is BodyType.TILT
    sizes = classifier.sizes
    assert sizes[:4] == sorted(sizes[:4]) and sizes[3] < 120  # the first 4 are the far, wrong ones
    assert all(b >= 1.15 * a - 2 for a, b in itertools.pairwise(sizes[4:]))  # then clearly bigger only
    assert len(sizes) < 20


def test_lost_vehicle_continues_as_the_same_passage(clip_frames: list[Frame]) -> None:
    """The detector misses lorry 1 for 3 frames: ByteTrack starts a new id, the pipeline continues
    the lost vehicle from its predicted box: still one passage per lorry."""
    truth = fixture_truth()
    models = LaneModels(
        DroppingTruthDetector(truth, "vehicle", range(8, 11)),
        TruthDetector(truth, "plate"),
        ConstReader(),
        None,
    )
    pipeline = LanePipeline(LaneConfig("L1", tracking=TrackingConfig(close_after_ms=600)), models)
    passages = run(pipeline, clip_frames)
    score = score_passages(passages, truth, start_ts_ms=T0)
    assert (score.found, score.duplicates) == (2, 0)


def test_a_vehicle_found_again_where_it_was_lost_is_the_same_passage() -> None:
    """A lorry's box jumps right on its last sighting (it grew over a passing lorry), then the
    detector misses it for 1.2 s and finds it again where it was: the prediction from the last
    two sightings has flown off, but the box overlaps the last one: one passage, not two."""
    steady = BBox(300, 100, 420, 250)

    def vehicle(i: int) -> list[Detection]:
        if i < 20:
            return [Detection(steady, 0, "vehicle", 0.9)]
        if i == 20:  # the jittered last sighting
            return [Detection(BBox(340, 100, 470, 250), 0, "vehicle", 0.9)]
        if i < 50:
            return []
        return [Detection(BBox(305, 100, 425, 250), 0, "vehicle", 0.9)]

    models = LaneModels(ScriptedDetector(vehicle), ScriptedDetector(lambda i: []), ConstReader(), None)
    pipeline = LanePipeline(LaneConfig("L1", tracking=TrackingConfig(close_after_ms=1500)), models)
    frames = list(frames_of([blank(480, 720)] * 80, period_ms=40))
    passages = run(pipeline, frames)
    assert len(passages) == 1 and pipeline.counters.stitched == 1
    assert (passages[0].first_seen_ts_ms, passages[0].last_seen_ts_ms) == (frames[0].ts_ms, frames[-1].ts_ms)


def test_a_vehicle_found_again_past_a_last_box_cut_short_is_the_same_passage() -> None:
    """Fresh lane set 5311: a front camera's lorry, partly hidden on its last sighting, was
    boxed 336 x 353 px after 435 x 474 px, lost for a frame and found again at 636 x 608 px:
    IoU 0.28 with the last box, 0.51 with the one before. A new box continues a lost vehicle
    that one of its last boxes overlaps: one passage, not two."""

    def vehicle(i: int) -> list[Detection]:
        if i < 40:  # approaching: grows to (386, 111, 821, 585)
            k = i / 39
            box = BBox(300 + 86 * k, 90 + 21 * k, 420 + 401 * k, 240 + 345 * k)
        elif i == 40:
            box = BBox(380, 110, 716, 463)  # cut short
        elif i == 41:
            return []
        elif i < 60:
            box = BBox(399, 99, 1035 + 10 * (i - 42), 707)
        else:
            return []
        return [Detection(box, 0, "vehicle", 0.9)]

    passages, pipeline, _ = run_scripted(vehicle, 90)
    assert len(passages) == 1 and pipeline.counters.stitched == 1


def test_short_tracks_are_noise_not_passages() -> None:
    det = Detection(BBox(10, 10, 60, 50), 0, "vehicle", 0.9)
    vehicles = ScriptedDetector(lambda i: [det] if i < 2 else [])
    models = LaneModels(vehicles, ScriptedDetector(lambda i: []), ConstReader(), None)
    pipeline = LanePipeline(LaneConfig("L1", tracking=TrackingConfig(min_hits=3)), models)
    assert run(pipeline, list(frames_of([blank()] * 5))) == []
    assert pipeline.counters.noise_tracks == 1


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("booth", 0),
        ("body_seen", 1),
        ("plate_read", 1),
        ("read_once", 1),
        ("moving", 1),
        ("no_classifier", 1),
    ],
)
def test_a_box_that_never_moves_with_no_body_or_plate_is_the_scene(case: str, expected: int) -> None:
    """Fresh lane set 5211: the rear camera boxed a control booth beside the empty lane for
    5.6 s (IoU 0.85 or more with its first box throughout), no trailer body seen on it and no
    plate read; it went on as a passage of no lorry. A track that never moved, with no body type
    and no plate read, is the scene. A body seen on it, a plate read on it (even once: a lorry
    standing still), a box that moves, or no classifier to tell by: a passage."""

    def vehicles(i: int) -> list[Detection]:
        if i >= 60:
            return []
        dx = 12 * i if case == "moving" else (i % 3) * 4  # the booth's box jitters by a few pixels
        out = [Detection(BBox(6 + dx, 120, 494 + dx, 512 + (i % 2) * 20), 0, "vehicle", 0.9)]
        if case == "body_seen":
            out.append(Detection(BBox(10, 130, 480, 500), 1, "body", 0.9))
        return out

    def plates(i: int) -> list[Detection]:
        read = (case == "plate_read" and i < 40) or (case == "read_once" and i == 10)
        return [Detection(BBox(200, 440, 300, 462), 0, "plate", 0.9)] if read else []

    classifier = None if case == "no_classifier" else ConstClassifier()
    reader = ConstReader(confidence=0.99)
    passages, pipeline, _ = run_scripted(
        vehicles, 100, view="rear", plates=plates, reader=reader, classifier=classifier
    )
    assert len(passages) == expected
    assert pipeline.counters.noise_tracks == 1 - expected


def test_region_of_interest_keeps_only_the_lane(clip_frames: list[Frame]) -> None:
    """A region covering only the left tenth of the frame: no lorry's bottom centre is inside."""
    cfg = LaneConfig("L1", roi=RegionOfInterest(((0.0, 0.0), (0.1, 0.0), (0.1, 1.0), (0.0, 1.0))))
    reader = ConstReader()
    pipeline = LanePipeline(cfg, truth_models(reader))
    assert run(pipeline, clip_frames) == []
    assert reader.calls == 0


def test_roi_geometry() -> None:
    roi = RegionOfInterest(((0.25, 0.0), (0.75, 0.0), (0.75, 1.0), (0.25, 1.0)))
    assert roi.bounds_px(1280, 720) == (320, 0, 960, 720)
    assert roi.contains(640, 700, 1280, 720) and not roi.contains(100, 700, 1280, 720)
    assert RegionOfInterest().contains(5, 5, 10, 10)
    with pytest.raises(ValueError):
        RegionOfInterest(((0.0, 0.0), (1.5, 0.0), (0.0, 1.0)))


def test_motion_gate_skips_still_frames_but_keeps_a_heartbeat() -> None:
    still = [blank(value=50)] * 30
    moving = []
    for i in range(10):
        img = blank(value=50)
        img[20:40, 10 + 8 * i : 30 + 8 * i] = 220
        moving.append(img)
    vehicles = ScriptedDetector(lambda i: [])
    models = LaneModels(vehicles, ScriptedDetector(lambda i: []), ConstReader(), None)
    cfg = LaneConfig("L1", motion_gate=MotionGateConfig(enabled=True, heartbeat_ms=400))
    pipeline = LanePipeline(cfg, models)
    results = [pipeline.process(f) for f in frames_of(still + moving, period_ms=40)]
    gated = [r.gated for r in results]
    assert not any(gated[30:])  # every moving frame is processed
    assert sum(gated[:30]) >= 25  # still frames skipped ...
    assert sum(not g for g in gated[1:30]) >= 2  # ... but one per heartbeat (400 ms) is processed
    assert pipeline.counters.gated == sum(gated)


def test_a_plate_seen_only_as_its_lorry_comes_into_view_is_kept() -> None:
    """A rear camera sees a trailer mark only in the first two frames of its lorry (it is small
    after): the read of the lorry's first frame, before its track starts, and the second one are
    one plate track, and the passage has the mark (lane set 5233)."""
    vehicle = lambda i: [Detection(BBox(100, 60 + 10 * i, 700, 470), 0, "vehicle", 0.9)]  # noqa: E731
    mark = lambda i: [Detection(BBox(400, 300 + 10 * i, 460, 350 + 10 * i), 0, "plate", 0.9)] if i < 2 else []  # noqa: E731
    reader = ConstReader(by_height=lambda h: "A1234567")
    models = LaneModels(ScriptedDetector(vehicle), ScriptedDetector(mark), reader, None)
    passages = run(
        LanePipeline(LaneConfig("L1", view="rear"), models), list(frames_of([blank(480, 720)] * 20))
    )
    assert reader.heights == [50, 50]
    (p,) = passages
    (plate,) = p.plates
    assert plate.role is PlateRole.TRAILER_MARK and plate.text == "A1234567" and plate.n_looks == 2


@pytest.mark.parametrize(("confidence", "kept"), [(0.99, True), (0.9, False)])
def test_a_plate_detected_weakly_and_read_surely_is_kept(confidence: float, kept: bool) -> None:
    """Fresh lane set 5233: the rear camera detected lorry 1's rear plate on three frames at
    confidence 0.31-0.44, under what starts a track (0.5), read it right at 0.99 and 1.0, and
    the reads went with the untracked detections: the passage had no rear plate. Each sure
    read is kept as a plate of one look; the role's vote pools them. Unsure reads are not."""
    vehicle = lambda i: [Detection(BBox(100, 60 + 10 * i, 700, 470 + 5 * i), 0, "vehicle", 0.9)]  # noqa: E731

    def plate(i: int) -> list[Detection]:
        return [Detection(BBox(300, 380 + 5 * i, 400, 402 + 5 * i), 0, "plate", 0.4)] if 3 <= i < 6 else []

    models = LaneModels(
        ScriptedDetector(vehicle), ScriptedDetector(plate), ConstReader(confidence=confidence), None
    )
    pipeline = LanePipeline(LaneConfig("L1", view="rear"), models)
    (p,) = run(pipeline, list(frames_of([blank(720, 1280)] * 20)))
    assert [(q.role, q.text, q.n_looks) for q in p.plates] == (
        [(PlateRole.REAR, "AB12CDE", 3)] if kept else []
    )
    assert pipeline.counters.glimpsed_plates == (3 if kept else 0)


@pytest.mark.parametrize(
    ("text", "confidence", "kept", "at"),
    [
        ("AB12CDE", 0.99, True, 5),
        ("AB12CDE", 0.99, True, 19),
        ("AB12CDE", 0.9, False, 5),
        ("ABCDEFG", 0.99, False, 5),
        ("HB12", 1.0, False, 5),
    ],
)
def test_a_plate_read_surely_on_the_one_frame_it_was_seen_is_kept(
    text: str, confidence: float, kept: bool, at: int
) -> None:
    """Fresh lane set 5205: the rear camera detected lorry 1's rear plate on one frame only and
    read it right at 1.0; ByteTrack starts a track from a second sighting, so the read went
    with the detection and the passage had no rear plate. A read that sure, fitting a plate
    grammar, is kept as a plate of one look (low confidence); an unsure one, one that fits no
    grammar or one under 5 characters (``HB12`` fits a German format) is not. One seen on the
    source's last frame (``at`` 19) is kept at the end."""
    vehicle = lambda i: [Detection(BBox(100, 60 + 10 * i, 700, 470 + 5 * i), 0, "vehicle", 0.9)]  # noqa: E731
    plate = lambda i: [Detection(BBox(300, 400, 400, 422), 0, "plate", 0.9)] if i == at else []  # noqa: E731
    reader = ConstReader(text, confidence=confidence)
    models = LaneModels(ScriptedDetector(vehicle), ScriptedDetector(plate), reader, None)
    pipeline = LanePipeline(LaneConfig("L1", view="rear"), models)
    (p,) = run(pipeline, list(frames_of([blank(720, 1280)] * 20)))
    assert reader.calls >= 1
    assert [(q.text, q.status, q.n_looks) for q in p.plates] == (
        [(text, ReadStatus.LOW_CONFIDENCE, 1)] if kept else []
    )
    assert pipeline.counters.glimpsed_plates == int(kept)


def test_a_plate_read_surely_on_no_tracked_vehicle_is_a_passage() -> None:
    """The vehicle detector sees a lorry only weakly (no track starts) while its plate, coming
    closer, is read surely: the plate alone is the lorry's passage (set 5400's car transporter),
    body unknown, direction from the plate's growth; until it closes, frames say it is open (the
    lane merger waits on it). A text that is no sure plate (``MAREK``: no grammar), or one that
    stands still (a sign over the lane), on no vehicle makes no passage and holds nothing open."""
    weak = lambda i: [Detection(BBox(100, 50, 700, 470), 0, "vehicle", 0.4)] if i < 10 else []  # noqa: E731
    for text, moves, n in (("AB12CDE", True, 1), ("MAREK", True, 0), ("AB12CDE", False, 0)):
        plate = lambda i, m=moves: (  # noqa: E731
            [Detection(BBox(300, 200 + 20 * i * m, 400 + 2 * i * m, 230 + 22 * i * m), 0, "plate", 0.9)]
            if i < 10
            else []
        )
        models = LaneModels(ScriptedDetector(weak), ScriptedDetector(plate), ConstReader(text), None)
        pipeline = LanePipeline(LaneConfig("L1"), models)
        frames = list(frames_of([blank(480, 720)] * 60))
        results = [pipeline.process(f) for f in frames]
        passages = [p for r in results for p in r.passages] + list(pipeline.flush())
        assert len(passages) == n, (text, moves)
        assert pipeline.counters.plate_only_passages == n
        assert results[5].open_since_ms == (frames[0].ts_ms if n else None)
        assert results[-1].open_since_ms is None
        if n:
            (p,) = passages
            assert [(q.text, q.status) for q in p.plates] == [(text, ReadStatus.COMMITTED)]
            assert p.body.body_type is BodyType.UNKNOWN and p.camera_ids == (frames[0].camera_id,)
            assert p.first_seen_ts_ms == frames[0].ts_ms and p.direction == "towards_camera"


def test_a_plate_that_outlives_its_vehicles_box_is_no_second_passage() -> None:
    """A lorry tracked for 20 frames whose plate is still detected for 10 more (its box left
    first): the plate's track in frame coordinates is a piece of the lorry's, not a lorry the
    vehicle detector missed. The same when the lorry's track starts 6 frames after its plate
    was first seen, another lorry being in view."""
    lorry = lambda i: [Detection(BBox(100, 50, 700, 470), 0, "vehicle", 0.9)] if i < 20 else []  # noqa: E731
    plate = lambda i: [Detection(BBox(300, 200 + 8 * i, 400, 230 + 8 * i), 0, "plate", 0.9)] if i < 30 else []  # noqa: E731
    models = LaneModels(ScriptedDetector(lorry), ScriptedDetector(plate), ConstReader("AB12CDE"), None)
    passages = run(LanePipeline(LaneConfig("L1"), models), list(frames_of([blank(480, 720)] * 80)))
    assert [[q.text for q in p.plates] for p in passages] == [["AB12CDE"]]

    def late(i: int) -> list[Detection]:
        other = [Detection(BBox(800, 50, 1200, 300), 0, "vehicle", 0.9)]
        mine = [Detection(BBox(100, 50, 700, 470), 0, "vehicle", 0.9)] if i >= 6 else []
        return other + mine if i < 40 else []

    def plate2(i: int) -> list[Detection]:
        return [Detection(BBox(300, 200 + 4 * i, 400, 230 + 4 * i), 0, "plate", 0.9)] if i < 40 else []

    models = LaneModels(ScriptedDetector(late), ScriptedDetector(plate2), ConstReader("AB12CDE"), None)
    passages = run(LanePipeline(LaneConfig("L1"), models), list(frames_of([blank(480, 1280)] * 90)))
    texts = sorted(q.text for p in passages for q in p.plates)
    assert texts == ["AB12CDE"], [(p.first_seen_ts_ms, [q.text for q in p.plates]) for p in passages]


def test_a_new_lorry_keeps_its_plates_slot_beside_a_box_never_tracked() -> None:
    """A weak box (never tracked) listed before a rear camera's new lorry: the slot kept for the
    lorry while it was new is the one its track takes, so the trailer mark read in its first two
    frames is one plate track and the passage has it."""

    def vehicles(i: int) -> list[Detection]:
        weak = Detection(BBox(900, 20, 1200, 200), 0, "vehicle", 0.4)
        lorry = Detection(BBox(100, 60 + 10 * i, 700, 470), 0, "vehicle", 0.9)
        return [weak, lorry]

    mark = lambda i: [Detection(BBox(400, 300 + 10 * i, 460, 350 + 10 * i), 0, "plate", 0.9)] if i < 2 else []  # noqa: E731
    reader = ConstReader(by_height=lambda h: "A1234567")
    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(mark), reader, None)
    passages = run(
        LanePipeline(LaneConfig("L1", view="rear"), models), list(frames_of([blank(480, 1280)] * 20))
    )
    marks = [q for p in passages for q in p.plates]
    assert [(q.role, q.text, q.n_looks) for q in marks] == [(PlateRole.TRAILER_MARK, "A1234567", 2)]


def test_uk_trailer_mark_gets_its_own_role() -> None:
    """A rear camera sees a rear plate and a two-line UK trailer mark on one lorry."""
    vehicle = lambda i: [Detection(BBox(100 + i, 100, 600 + i, 400), 0, "vehicle", 0.9)]  # noqa: E731
    plates = lambda i: [  # noqa: E731
        Detection(BBox(200 + i, 350, 300 + i, 375), 0, "plate", 0.9),
        Detection(BBox(400 + i, 300, 450 + i, 340), 0, "plate", 0.9),
    ]
    reader = ConstReader(by_height=lambda h: "AB12CDE" if h < 30 else "A1234567")
    models = LaneModels(ScriptedDetector(vehicle), ScriptedDetector(plates), reader, None)
    pipeline = LanePipeline(LaneConfig("L1", view="rear"), models)
    passages = run(pipeline, list(frames_of([blank(480, 720)] * 8)))
    assert len(passages) == 1
    roles = {p.role: p.text for p in passages[0].plates}
    assert roles == {PlateRole.REAR: "AB12CDE", PlateRole.TRAILER_MARK: "A1234567"}


def test_no_classifier_means_unknown_body(clip_frames: list[Frame]) -> None:
    passages = run(LanePipeline(LaneConfig("L1"), truth_models()), clip_frames[:20])
    assert passages and all(p.body.body_type is BodyType.UNKNOWN and p.body.n_looks == 0 for p in passages)


def test_times_must_increase_and_are_made_to() -> None:
    det = Detection(BBox(10, 10, 60, 50), 0, "vehicle", 0.9)
    models = LaneModels(
        ScriptedDetector(lambda i: [det]), ScriptedDetector(lambda i: []), ConstReader(), None
    )
    pipeline = LanePipeline(LaneConfig("L1", tracking=TrackingConfig(min_track_ms=0)), models)
    frames = [replace_ts(f, 5_000) for f in frames_of([blank()] * 4)]
    results = [pipeline.process(f) for f in frames]
    assert [r.ts_ms for r in results] == [5_000, 5_001, 5_002, 5_003]
    passages = pipeline.flush()
    assert len(passages) == 1 and passages[0].first_seen_ts_ms == 5_000


def replace_ts(frame: Frame, ts: int) -> Frame:
    return Frame(frame.lane_id, frame.camera_id, ts, frame.image, frame.index)


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        LaneConfig("")
    with pytest.raises(ValueError):
        TrackingConfig(min_hits=0)
    cfg = LaneConfig("L1")
    assert replace(cfg, view="rear").view == "rear"
    assert np.isfinite(cfg.reads.bigger_by)


def test_a_piece_of_a_passing_trailer_is_noise_not_a_second_passage() -> None:
    """The detector follows a lorry for 2 s, loses it, then boxes a piece of its trailer at the
    frame edge for 4 frames (160 ms; the real vehicle detector does this on clip 5102): one
    passage, the piece counted as noise. A track that short with a plate read stays a passage."""

    def vehicles(i: int) -> list[Detection]:
        if i < 50:
            return [Detection(BBox(100 + 4 * i, 100, 500 + 8 * i, 400 + 4 * i), 0, "vehicle", 0.9)]
        if 60 <= i < 64:
            return [Detection(BBox(880, 80, 1270, 440), 0, "vehicle", 0.8)]
        return []

    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(lambda i: []), ConstReader(), None)
    pipeline = LanePipeline(LaneConfig("L1"), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 120)))
    assert len(passages) == 1 and pipeline.counters.noise_tracks == 1
    assert passages[0].last_seen_ts_ms - passages[0].first_seen_ts_ms >= 1900

    def plates(i: int) -> list[Detection]:
        return [Detection(BBox(1000, 380, 1100, 410), 0, "plate", 0.9)] if 60 <= i < 64 else []

    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(plates), ConstReader("XY34ZZZ"), None)
    pipeline = LanePipeline(LaneConfig("L1"), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 120)))
    assert len(passages) == 2 and passages[1].plates[0].text == "XY34ZZZ"


def test_a_track_taken_over_by_the_next_lorry_is_split_where_its_plate_appears() -> None:
    """One box slides from a passing trailer to the next lorry without a break (the detector sees
    them as one for a while; clip 5100): ByteTrack keeps one id. Lorry 1's front plate is read
    on frames 5-24, lorry 2's, clearly different, from frame 60: two passages, cut at frame 60."""

    def vehicles(i: int) -> list[Detection]:
        return [Detection(BBox(300, 100, 1200, 700), 0, "vehicle", 0.9)] if i < 90 else []

    def plates(i: int) -> list[Detection]:
        if 5 <= i < 25:
            return [Detection(BBox(600, 600, 700, 620), 0, "plate", 0.9)]  # 20 px tall: lorry 1
        if 60 <= i < 75:
            return [Detection(BBox(500, 500, 620, 526), 0, "plate", 0.9)]  # 26 px tall: lorry 2
        return []

    reader = ConstReader(by_height=lambda h: "AB12CDE" if h < 23 else "XY34ZZZ")
    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(plates), reader, None)
    pipeline = LanePipeline(LaneConfig("L1"), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 140)))
    assert [[p.text for p in q.plates] for q in passages] == [["AB12CDE"], ["XY34ZZZ"]]
    first, second = passages
    assert first.first_seen_ts_ms == T0 and first.last_seen_ts_ms < T0 + 60 * 40
    assert second.first_seen_ts_ms == T0 + 60 * 40 and second.last_seen_ts_ms == T0 + 89 * 40
    assert pipeline.counters.handovers == 1


@pytest.mark.parametrize("at", [(60,), (61,), (62,), (61, 62)])
def test_a_plate_read_surely_on_the_frame_a_handover_cuts_is_the_next_lorrys(at: tuple[int, ...]) -> None:
    """A rear camera's track taken over by the next lorry (its rear plate read from frame 60;
    the track is cut there on frame 61) and, on frames ``at``, that lorry's trailer mark
    detected and read surely: the mark is the second lorry's, also when seen on the very frame
    of the cut (it used to be dropped with the closed vehicle's key), once or as the first
    sighting of a track."""

    def vehicles(i: int) -> list[Detection]:
        return [Detection(BBox(300, 100, 1200, 700), 0, "vehicle", 0.9)] if i < 90 else []

    def plates(i: int) -> list[Detection]:
        out = []
        if 5 <= i < 25:
            out.append(Detection(BBox(600, 600, 700, 620), 0, "plate", 0.9))  # 20 px: lorry 1
        if 60 <= i < 75:
            out.append(Detection(BBox(500, 500, 620, 526), 0, "plate", 0.9))  # 26 px: lorry 2
        if i in at:
            out.append(Detection(BBox(700, 300, 780, 340), 0, "plate", 0.9))  # 40 px: its mark
        return out

    reader = ConstReader(
        by_height=lambda h: "AB12CDE" if h < 23 else "XY34ZZZ" if h < 30 else "K5592948", confidence=1.0
    )
    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(plates), reader, None)
    pipeline = LanePipeline(LaneConfig("L1", view="rear"), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 140)))
    assert [[(p.role, p.text) for p in q.plates] for q in passages] == [
        [(PlateRole.REAR, "AB12CDE")],
        [(PlateRole.TRAILER_MARK, "K5592948"), (PlateRole.REAR, "XY34ZZZ")],
    ]
    assert pipeline.counters.handovers == 1
    assert pipeline.counters.glimpsed_plates == int(len(at) == 1)


@pytest.mark.parametrize(
    ("found_at", "lost", "view", "n_passages"),
    [
        ((347, 46, 523, 266), 6, "rear", 1),
        ((700, 46, 876, 266), 6, "rear", 2),
        ((420, 150, 500, 230), 6, "rear", 2),
        ((347, 46, 523, 266), 6, "side", 2),
    ],
    ids=["inside", "aside", "far_smaller", "side_view"],
)
def test_a_rear_lorry_found_again_further_off_inside_its_last_box_is_the_same_passage(
    found_at: tuple[float, float, float, float], lost: int, view: CameraView, n_passages: int
) -> None:
    """Fresh lane set 5271's rear camera: a lorry driving off, its last two boxes shrinking fast
    (ByteTrack's prediction flies off), lost for 6 frames, boxed again 0.82 inside its last box
    at IoU 0.24: the same lorry (one passage), not a plateless second. Another vehicle: a box as
    small but beside the last one (none of it inside); one inside but a twentieth of it (a
    vehicle far ahead); on a side camera (lorries cross the view, the next one where the last
    left)."""

    def lerp(a: tuple[float, ...], b: tuple[float, ...], t: float) -> BBox:
        return BBox(*(x + (y - x) * t for x, y in zip(a, b, strict=True)))

    def vehicles(i: int) -> list[Detection]:
        if i < 22:
            return [Detection(lerp((300, 50, 1280, 720), (375, 42, 878, 499), i / 21), 0, "vehicle", 0.9)]
        last = {22: BBox(365, 50, 844, 476), 23: BBox(369, 60, 697, 440)}
        if i in last:
            return [Detection(last[i], 0, "vehicle", 0.9)]
        if 24 + lost <= i < 45:  # lost on frames 24 to 23 + lost
            x1, y1, x2, y2 = found_at
            t = (i - 24 - lost) / (20 - lost)
            return [Detection(lerp(found_at, (x1 - 7, y1 + 8, x2 - 49, y2 - 37), t), 0, "vehicle", 0.9)]
        return []

    plates = lambda i: [Detection(BBox(700, 500, 800, 526), 0, "plate", 0.9)] if 3 <= i < 10 else []  # noqa: E731
    passages, pipeline, _ = run_scripted(
        vehicles, 70, view=view, plates=plates, classifier=ConstClassifier(BodyType.REEFER)
    )
    assert len(passages) == n_passages
    assert [q.text for q in passages[0].plates] == ([] if view == "side" else ["AB12CDE"])  # side: no plates
    assert pipeline.counters.stitched == 2 - n_passages


def test_a_vehicle_boxed_inside_a_rear_lorry_missed_for_two_frames_is_another() -> None:
    """A rear camera's lorry driving off is not boxed on two frames while a vehicle further
    down the lane, a quarter of its box and inside it, is first boxed: the vehicle is another
    (two passages), not the lorry driven on (that needs :data:`DROVE_ON_LOST_MS` lost)."""

    def lerp(a: tuple[float, ...], b: tuple[float, ...], t: float) -> BBox:
        return BBox(*(x + (y - x) * t for x, y in zip(a, b, strict=True)))

    def vehicles(i: int) -> list[Detection]:
        out = []
        if i not in (12, 13) and i < 40:
            out.append(
                Detection(lerp((200, 150, 1180, 720), (330, 200, 1050, 640), i / 40), 0, "vehicle", 0.9)
            )
        if 12 <= i < 55:
            out.append(
                Detection(lerp((450, 220, 850, 480), (500, 240, 800, 430), (i - 12) / 43), 0, "vehicle", 0.9)
            )
        return out

    plates = lambda i: [Detection(BBox(640, 560, 760, 590), 0, "plate", 0.9)] if 2 <= i < 9 else []  # noqa: E731
    passages, pipeline, _ = run_scripted(
        vehicles, 70, view="rear", plates=plates, classifier=ConstClassifier(BodyType.REEFER)
    )
    assert len(passages) == 2 and pipeline.counters.stitched == 0


def _mark_then_rear_plate(lost: range) -> tuple[list[Passage], LanePipeline]:
    """A rear camera's track (bench lane set 5207): a UK trailer mark read on frames 5-14, the
    vehicle not boxed on frames ``lost``, a rear plate read on frames 60-74; 25 fps."""

    def vehicles(i: int) -> list[Detection]:
        return [Detection(BBox(300, 100, 1200, 700), 0, "vehicle", 0.9)] if i < 100 and i not in lost else []

    def plates(i: int) -> list[Detection]:
        if 5 <= i < 15:
            return [Detection(BBox(600, 400, 700, 440), 0, "plate", 0.9)]  # 40 px tall: the mark
        if 60 <= i < 75:
            return [Detection(BBox(500, 600, 620, 626), 0, "plate", 0.9)]  # 26 px tall: a rear plate
        return []

    reader = ConstReader(by_height=lambda h: "K5592948" if h > 30 else "XY34ZZZ")
    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(plates), reader, None)
    pipeline = LanePipeline(LaneConfig("L1", view="rear"), models)
    return run(pipeline, list(frames_of([blank(720, 1280)] * 140))), pipeline


def test_a_rear_track_lost_and_found_with_a_trailer_mark_then_a_rear_plate_is_split_where_found() -> None:
    """Lorry 1's trailer mark, then the vehicle lost for 800 ms (more than ByteTrack keeps it) and
    picked up again where it was, then a rear plate: the next lorry took the track over when it
    was picked up. Two passages, cut at frame 50."""
    passages, pipeline = _mark_then_rear_plate(range(30, 50))
    assert [[(p.role, p.text) for p in q.plates] for q in passages] == [
        [(PlateRole.TRAILER_MARK, "K5592948")],
        [(PlateRole.REAR, "XY34ZZZ")],
    ]
    assert passages[0].last_seen_ts_ms == T0 + 29 * 40 and passages[1].first_seen_ts_ms == T0 + 50 * 40
    assert pipeline.counters.handovers == 1


@pytest.mark.parametrize("lost", [range(0), range(30, 40)], ids=["never lost", "lost 400 ms"])
def test_a_trailer_mark_then_a_rear_plate_on_a_track_never_lost_for_long_are_one_lorry(lost: range) -> None:
    """The same scene with the vehicle boxed throughout, or lost for less than ByteTrack keeps it:
    a mark and a rear plate read one after the other are one lorry's."""
    passages, pipeline = _mark_then_rear_plate(lost)
    assert len(passages) == 1 and pipeline.counters.handovers == 0
    assert sorted(p.text for p in passages[0].plates) == ["K5592948", "XY34ZZZ"]


def test_a_misread_or_a_lost_plate_does_not_split_a_lorry() -> None:
    """The same lorry's plate lost for 1.6 s and read again, once as a near miss (one extra
    character, look-alikes): still one passage."""

    def vehicles(i: int) -> list[Detection]:
        return [Detection(BBox(300, 100, 1200, 700), 0, "vehicle", 0.9)] if i < 90 else []

    def plates(i: int) -> list[Detection]:
        if 5 <= i < 25:
            return [Detection(BBox(600, 600, 700, 620), 0, "plate", 0.9)]
        if 65 <= i < 80:
            return [Detection(BBox(600, 560, 720, 586), 0, "plate", 0.9)]
        return []

    reader = ConstReader(by_height=lambda h: "AB12CDE" if h < 23 else "PAB12CDE")
    assert load_grammars().match("PAB12CDE") is not None  # a sure read: it could split the lorry
    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(plates), reader, None)
    pipeline = LanePipeline(LaneConfig("L1"), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 140)))
    assert len(passages) == 1 and pipeline.counters.handovers == 0


def _cab_then_whole(i: int) -> list[Detection]:
    """A side camera's view of a flatbed (bench lane set 5210's boxes, 12.5 fps): the detector
    boxes the cab alone as it comes into view (frames 0-18), then the whole lorry too, while the
    cab's box, inside it, is still found for 8 frames; then the whole lorry moves on."""
    out = []
    if i < 27:
        box = (
            BBox(0, 269, 234 + 25 * i, 530)
            if i < 19
            else BBox(443 + 8 * (i - 19), 269, 947 + 8 * (i - 19), 530)
        )
        out.append(Detection(box, 0, "vehicle", 0.9))
    if 19 <= i < 50:
        x = 20 * (i - 19)
        out.append(Detection(BBox(x, 288, min(1280, x + 996), 529), 0, "vehicle", 0.9))
    return out


@pytest.mark.parametrize(("view", "expected"), [("side", 1), ("front", 1)])
def test_a_side_cameras_track_of_a_cab_inside_the_whole_lorry_is_a_part_of_it(
    view: str, expected: int
) -> None:
    """Side view: the cab's track is a part of the lorry's by its boxes, one passage from the
    cab's first sighting. Front view: boxes of a queue's lorries overlap, so boxes say nothing;
    but the track that started second and closed first, no plate read on it, is a piece of the
    other by the queue's order (:meth:`LanePipeline._queue_whole_of`)."""
    models = LaneModels(
        ScriptedDetector(_cab_then_whole), ScriptedDetector(lambda i: []), ConstReader(), None
    )
    pipeline = LanePipeline(LaneConfig("L1", view=view), models)  # type: ignore[arg-type]
    frames = list(frames_of([blank(720, 1280)] * 80, period_ms=80))
    passages = run(pipeline, frames)
    assert len(passages) == expected
    assert pipeline.counters.parts == 1
    if view == "side":
        assert passages[0].first_seen_ts_ms == frames[0].ts_ms
        assert passages[0].last_seen_ts_ms == frames[49].ts_ms


@pytest.mark.parametrize("view", ["front", "rear"])
@pytest.mark.parametrize("read", [False, True])
def test_a_track_that_starts_after_another_and_ends_before_it_is_a_piece(view: str, read: bool) -> None:
    """Fresh lane set 5321: the front camera tracked a lorry's trailer alone (frames 20-35) inside
    the lorry's own track (frames 0-60), and the piece made a second passage. A queue's lorries
    leave the view in the order they came, so a track that started after another and closed
    while it was open is a piece of it: one passage. A plate read on it makes it a lorry: two."""

    def vehicles(i: int) -> list[Detection]:
        out = [Detection(BBox(500, 100, 1200, 700), 0, "vehicle", 0.9)] if i < 60 else []
        if 20 <= i < 35:
            out.append(Detection(BBox(20, 200, 380, 600), 0, "vehicle", 0.9))
        return out

    def plates(i: int) -> list[Detection]:
        return [Detection(BBox(150, 540, 250, 562), 0, "plate", 0.9)] if read and 22 <= i < 32 else []

    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(plates), ConstReader(), None)
    pipeline = LanePipeline(LaneConfig("L1", view=view), models)  # type: ignore[arg-type]
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 100, period_ms=80)))
    assert len(passages) == (2 if read else 1)
    assert pipeline.counters.parts == (0 if read else 1)


@pytest.mark.parametrize(
    ("split", "expected", "parts"), [("two", 2, 1), ("one", 2, 0), ("early", 3, 0), ("hidden", 3, 0)]
)
def test_a_far_box_of_two_lorries_that_split_is_a_part_of_them(split: str, expected: int, parts: int) -> None:
    """Fresh lane set 5320: the front camera boxed lorries 1 and 2 far off as one for 23 frames
    (here T, frames 0-25), then each on its own (O1, O2 from frame 23, their first boxes 0.60
    and 0.85 inside T's); T closed two frames later with no plate and went on as a passage of
    its own, a duplicate. A plateless track that ends just as two others begin inside it was
    those lorries boxed as one: a part of them. A lorry whose track ends as one other begins
    inside it, or whose box held two others begun long before it ended, or a near lorry leaving
    as two small ones far off it hid come out (their boxes fill a small part of its box), keeps
    its passage. The biggest of the two takes the group's time."""
    start = 10 if split == "early" else 23

    def t_box(i: int) -> BBox:
        return (
            BBox(150, 60 + 2 * i, 1100, 700)
            if split == "hidden"
            else BBox(830 - 4 * i, 135, 940, 275 + 2 * i)
        )

    def vehicles(i: int) -> list[Detection]:
        out = [Detection(t_box(i), 0, "vehicle", 0.9)] if i <= 25 else []
        t, k = t_box(start), i - start
        if split == "hidden" and start <= i < 90:
            out.append(Detection(BBox(600 - 2 * k, 200 + k, 700 + 2 * k, 300 + 3 * k), 0, "vehicle", 0.9))
            out.append(Detection(BBox(760, 180, 840, 260 + k), 0, "vehicle", 0.9))
        elif start <= i < 55:
            o1 = BBox(t.x1 - 33 - 18 * k, 160 + 3 * k, t.x2 - 60 - 8 * k, t.y2 + 44 + 11 * k)
            out.append(Detection(o1, 0, "vehicle", 0.9))
        if split not in ("one", "hidden") and start <= i < 90:
            o2 = BBox(t.x1 + 77 - 9 * k, 125, 940 - 3 * k, t.y2 - 41 + 6 * k)
            out.append(Detection(o2, 0, "vehicle", 0.9))
        return out

    def plates(i: int) -> list[Detection]:
        if not 30 <= i < 50:
            return []
        o1 = next(d.box for d in vehicles(i) if d.box.y1 >= 160)
        cx = (o1.x1 + o1.x2) / 2
        return [Detection(BBox(cx - 50, o1.y2 - 50, cx + 50, o1.y2 - 28), 0, "plate", 0.9)]

    passages, pipeline, frames = run_scripted(vehicles, 130, plates=plates)
    assert len(passages) == expected
    assert pipeline.counters.parts == parts
    assert min(p.first_seen_ts_ms for p in passages) == frames[0].ts_ms  # the group's time is kept
    if split == "two":  # the biggest first box, O1's, took it
        (o1,) = [p for p in passages if p.plates]
        assert o1.first_seen_ts_ms == frames[0].ts_ms


def test_a_side_track_that_starts_after_another_and_ends_before_it_is_a_piece() -> None:
    """Fresh lane set 5330: the side camera tracked lorry 3's tractor a second time for 0.7 s
    (here frames 20-32, a box half outside the lorry's, so the box rule does not take it) inside
    the lorry's own track (frames 0-60); the piece went on as a passage of its own, a duplicate.
    Lorries pass a side camera in queue order too: one passage, the piece a part of it."""

    def vehicles(i: int) -> list[Detection]:
        out = [Detection(BBox(100 + 10 * i, 300, 700 + 10 * i, 560), 0, "vehicle", 0.9)] if i < 60 else []
        if 20 <= i < 32:
            out.append(Detection(BBox(500 + 10 * i, 200, 900 + 10 * i, 600), 0, "vehicle", 0.9))
        return out

    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(lambda i: []), ConstReader(), None)
    pipeline = LanePipeline(LaneConfig("L1", view="side"), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 100, period_ms=80)))
    assert len(passages) == 1 and pipeline.counters.parts == 1


@pytest.mark.parametrize("continues", [False, True])
def test_a_side_track_that_only_held_the_next_lorry_is_a_wrong_big_box(continues: bool) -> None:
    """Fresh lane set 5322: as lorry A left, the side camera boxed the whole frame for 10 frames
    while lorry B came in, B's own box inside it; the big box closed first and went on as a
    passage of its own, which took B's front passage (B got two). A closing track that held an
    open one on most of its detections is a wrong box around it: two passages. When the big box
    is where A's own track ended (the tracker carried A into it), A keeps its passage: two."""

    def vehicles(i: int) -> list[Detection]:
        out = []
        if i < 40:  # A leaves to the right: slowly when the tracker carries it into the big box
            out.append(Detection(BBox(100 + (5 if continues else 25) * i, 100, 1280, 510), 0, "vehicle", 0.9))
        if (i >= 40 if continues else i >= 43) and i < 52:
            out.append(Detection(BBox(30, 90, 1280, 510), 0, "vehicle", 0.9))
        if 45 <= i < 95:
            out.append(Detection(BBox(0, 130, 380 + 15 * (i - 45), 500), 0, "vehicle", 0.9))
        return out

    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(lambda i: []), ConstReader(), None)
    pipeline = LanePipeline(LaneConfig("L1", view="side"), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 140, period_ms=80)))
    assert len(passages) == 2
    assert pipeline.counters.parts == (0 if continues else 1)


def test_a_side_camera_keeps_lorries_nose_to_tail_apart() -> None:
    """Two lorries one after the other along the lane, the second's box overlapping the first's
    tail by a quarter of its width for 6 frames: two passages, no part."""

    def vehicles(i: int) -> list[Detection]:
        out = []
        x1 = 300 + 30 * i
        if i < 30:
            out.append(Detection(BBox(x1, 280, min(1280, x1 + 900), 530), 0, "vehicle", 0.9))
        if i >= 24:
            x = x1 if i < 30 else 300 + 30 * 29
            out.append(Detection(BBox(max(0, x - 700), 270, x + 250, 530), 0, "vehicle", 0.9))
        return out

    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(lambda i: []), ConstReader(), None)
    pipeline = LanePipeline(LaneConfig("L1", view="side"), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 70, period_ms=80)))
    assert len(passages) == 2 and pipeline.counters.parts == 0


def test_a_lorry_inside_a_brief_big_box_is_not_lost() -> None:
    """Side view: a big box around a tractor for 4 frames makes the tractor's track look like a
    part of it; the big box closes first, having held the tractor on every detection: it was a
    wrong box around the tractor (a part of it, not noise), and the tractor keeps its passage."""

    def vehicles(i: int) -> list[Detection]:
        out = [Detection(BBox(100 + 10 * i, 300, 500 + 10 * i, 520), 0, "vehicle", 0.9)]
        if 10 <= i < 14:
            out.append(Detection(BBox(50 + 10 * i, 250, 700 + 10 * i, 540), 0, "vehicle", 0.9))
        return out

    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(lambda i: []), ConstReader(), None)
    pipeline = LanePipeline(LaneConfig("L1", view="side", tracking=TrackingConfig(min_hits=5)), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 60, period_ms=80)))
    assert len(passages) == 1 and pipeline.counters.noise_tracks == 0 and pipeline.counters.parts == 1


@pytest.mark.parametrize(("view", "expected"), [("rear", 2), ("side", 1)])
def test_a_bigger_box_where_a_rear_camera_lost_a_lorry_is_the_next_lorry(view: str, expected: int) -> None:
    """bench lane set 5213: a rear camera sees a tractor for 11 frames, loses it (hidden by the
    next lorry) and 1 s later boxes the next lorry where it was, 1.3 times as big: lorries drive
    away from a rear camera, so that is another lorry, not the tractor found again."""

    def vehicles(i: int) -> list[Detection]:
        if i < 11:
            return [Detection(BBox(0, 80, 640 + 10 * i, 720), 0, "vehicle", 0.9)]
        if 23 <= i < 50:
            return [Detection(BBox(0, 0, 860 - 5 * (i - 23), 720), 0, "vehicle", 0.9)]
        return []

    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(lambda i: []), ConstReader(), None)
    pipeline = LanePipeline(LaneConfig("L1", view=view), models)  # type: ignore[arg-type]
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 80, period_ms=80)))
    assert len(passages) == expected
    assert pipeline.counters.stitched == (0 if view == "rear" else 1)


@pytest.mark.parametrize(("jump_to", "expected"), [((0, 61, 953, 711), 2), ((430, 130, 940, 700), 1)])
def test_a_rear_track_whose_box_jumps_to_twice_its_size_is_the_next_lorry(
    jump_to: tuple[int, int, int, int], expected: int
) -> None:
    """bench lane set 5207 (thirty-third session): a rear camera's flatbed drives off, its box
    shrinking to (441, 136, 933, 692), and on the next frame the next lorry comes in under the
    camera at (0, 61, 953, 711), 2.3 times as big; ByteTrack keeps one track, and no plate is
    read on the flatbed to cut it. Lorries drive away from a rear camera: the jump is the next
    lorry, and the flatbed gets a passage of its own. A box that grows a little is the same lorry."""
    start = (0, 150, 930, 720)
    end = (441, 136, 933, 692)

    def vehicles(i: int) -> list[Detection]:
        if i < 12:
            f = i / 11
            return [
                Detection(BBox(*(start[k] + f * (end[k] - start[k]) for k in range(4))), 0, "vehicle", 0.9)
            ]
        if i < 40:
            x1, y1, x2, y2 = jump_to
            return [Detection(BBox(x1 + 8 * (i - 12), y1, x2, y2), 0, "vehicle", 0.9)]
        return []

    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(lambda i: []), ConstReader(), None)
    pipeline = LanePipeline(LaneConfig("L1", view="rear"), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 70, period_ms=80)))
    assert len(passages) == expected
    assert pipeline.counters.handovers == expected - 1


@pytest.mark.parametrize(
    ("follower", "expected"),
    [
        ("nose_to_tail", 2),  # set 5282: the leaving lorry's box jumps back over its follower
        ("cab_then_whole", 1),  # a lorry coming in, boxed as its cab, then whole, on the left edge
        ("one_frame", 1),  # the box takes in more for one frame only
    ],
)
def test_a_side_track_whose_leaving_box_jumps_back_is_the_lorry_behind(follower: str, expected: int) -> None:
    """bench lane set 5282 (thirty-fourth session): a side camera's car transporter leaves
    to the right, its box narrowing on the frame's edge to (963, 159, 1280, 493); on the next
    frame the tractor behind it nose to tail comes out from behind it and is boxed with the
    tail, (474, 188, 1280, 498), 2.4 times as big, one track. A leaving lorry's box cannot
    grow: the rest is the next lorry. A lorry coming in whose box grows on the edge it comes
    in by (its cab boxed first) and a box grown for one frame are one lorry."""

    def vehicles(i: int) -> list[Detection]:
        if follower == "cab_then_whole":
            if i >= 60:
                return []
            box = BBox(0, 200, 150 + 10 * i, 500) if i < 8 else BBox(0, 190, 160 + 25 * i, 505)
            return [Detection(box, 0, "vehicle", 0.9)]
        if i < 20:  # A comes in from the left and crosses
            box = BBox(0, 190, 200 + 50 * i, 505) if i < 16 else BBox(50 * (i - 15), 190, 1280, 505)
        elif i < 30:  # A leaves to the right
            box = BBox(260 + 70 * (i - 20), 190, 1280, 505)
        elif follower == "one_frame" and i == 30:
            box = BBox(470, 185, 1280, 500)
        elif follower == "one_frame":
            if i >= 45:
                return []
            box = BBox(960 + 20 * (i - 31), 190, 1280, 505)
        elif i < 50:  # B (tractor and tail as one box, then B alone) leaves to the right
            box = BBox(470 + 35 * (i - 30), 185, 1280, 500)
        else:
            return []
        return [Detection(box, 0, "vehicle", 0.9)]

    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(lambda i: []), ConstReader(), None)
    pipeline = LanePipeline(LaneConfig("L1", view="side"), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 80, period_ms=80)))
    assert len(passages) == expected
    assert pipeline.counters.handovers == expected - 1


def test_a_rear_box_that_grows_for_one_frame_is_no_jump() -> None:
    """A rear camera's lorry drives off; on one frame its box takes in more (twice its size),
    then shrinks back: one lorry, one passage (a jump must hold for two sightings)."""

    def vehicles(i: int) -> list[Detection]:
        if i >= 40:
            return []
        x1 = 200 + 10 * i
        box = BBox(x1, 150, x1 + 600 - 8 * i, 700 - 8 * i)
        if i == 15:
            box = BBox(0, 60, x1 + 600 - 8 * i, 710)
        return [Detection(box, 0, "vehicle", 0.9)]

    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(lambda i: []), ConstReader(), None)
    pipeline = LanePipeline(LaneConfig("L1", view="rear"), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 70, period_ms=80)))
    assert len(passages) == 1 and pipeline.counters.handovers == 0


def test_a_lorry_cut_off_by_a_rear_box_jump_keeps_its_passage_behind_a_lorry_ahead() -> None:
    """A rear camera: lorry A far ahead in view; flatbed B, no plate read, drives off
    and its track jumps to lorry C coming in under the camera. What came before the cut is B's
    passage, not a piece of A (which was open and first seen before it)."""
    start, end = (0, 150, 930, 720), (441, 136, 933, 692)

    def vehicles(i: int) -> list[Detection]:
        out = [Detection(BBox(1000, 100, 1100 - i, 200 - i), 0, "vehicle", 0.9)] if i < 30 else []
        if 2 <= i < 12:
            f = (i - 2) / 9
            out.append(
                Detection(BBox(*(start[k] + f * (end[k] - start[k]) for k in range(4))), 0, "vehicle", 0.9)
            )
        elif 12 <= i < 40:
            out.append(Detection(BBox(8 * (i - 12), 61, 953, 711), 0, "vehicle", 0.9))
        return out

    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(lambda i: []), ConstReader(), None)
    pipeline = LanePipeline(LaneConfig("L1", view="rear"), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 80, period_ms=80)))
    assert pipeline.counters.handovers == 1 and pipeline.counters.parts == 0
    assert len(passages) == 3


def test_a_far_rear_box_that_grows_clear_of_the_frame_edges_is_no_jump() -> None:
    """Set 5260 (thirty-third session): a rear camera's lorry 6 s on, far off, its box grown
    twice over another far box and held: the next lorry comes in under the camera, its box at
    the frame's edge; a grown box well inside the frame is the same lorry's."""

    def vehicles(i: int) -> list[Detection]:
        if i >= 40:
            return []
        box = BBox(700, 150, 800, 250) if i < 20 else BBox(650, 120, 820, 290)
        return [Detection(box, 0, "vehicle", 0.9)]

    models = LaneModels(ScriptedDetector(vehicles), ScriptedDetector(lambda i: []), ConstReader(), None)
    pipeline = LanePipeline(LaneConfig("L1", view="rear"), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 70, period_ms=80)))
    assert len(passages) == 1 and pipeline.counters.handovers == 0


class _ReaderByHeight:
    """Reads a crop ``height_px`` tall as ``script[height_px]``: (text, confidence) pairs, best first."""

    name = "scripted"

    def __init__(self, script: dict[int, list[tuple[str, float]]]) -> None:
        self.script = script
        self.grammars = load_grammars()

    def read(self, crop_bgr: ImageBGR) -> PlateRead:
        h, w = crop_bgr.shape[:2]
        cands = []
        for text, conf in self.script.get(h, []):
            g = self.grammars.match(text)
            country, fmt = (g.country, g.name) if g is not None else (None, None)
            cands.append(PlateCandidate(text, conf, (conf,) * len(text), country, fmt))
        return PlateRead(BBox(0, 0, w, h), tuple(cands), self.name)


@pytest.mark.parametrize(("later", "n"), [("JZR917", 1), ("WP72VPC", 2)])
def test_a_plate_seen_not_read_is_remembered_by_its_best_candidate(later: str, n: int) -> None:
    """A lorry whose plate two looks read as different plates (``JZR917``, ``PJE8``) leaves with
    its plate seen, not read; the same plate then read surely on no tracked vehicle, moving
    on after the lorry's box was lost, is that lorry's, not a second passage. Another plate
    read there is a lorry of its own."""
    lorry = lambda i: [Detection(BBox(100, 50, 700, 470), 0, "vehicle", 0.9)] if i < 15 else []  # noqa: E731

    def plates(i: int) -> list[Detection]:
        if i < 2:  # two looks at the lorry's plate, 20 and 22 px
            return [Detection(BBox(300, 400, 400, 420 + 2 * i), 0, "plate", 0.9)]
        if 20 <= i < 35:  # a plate on no vehicle, moving down and growing from 24 px
            return [Detection(BBox(300, 100 + 8 * i, 420, 104 + 8 * i + i), 0, "plate", 0.9)]
        return []

    script = {20: [("JZR917", 0.6), ("JZR91", 0.3)], 22: [("PJE8", 0.4), ("PJF8", 0.3)]}
    script |= {h: [(later, 0.99)] for h in range(24, 80)}
    models = LaneModels(ScriptedDetector(lorry), ScriptedDetector(plates), _ReaderByHeight(script), None)
    pipeline = LanePipeline(LaneConfig("L1"), models)
    passages = run(pipeline, list(frames_of([blank(720, 1280)] * 80)))
    first = min(passages, key=lambda p: p.first_seen_ts_ms)
    (seen,) = first.plates
    assert (seen.text, seen.status, seen.candidates[0].text) == ("", ReadStatus.UNREAD, "JZR917")
    assert len(passages) == n, [[q.text for q in p.plates] for p in passages]
    assert pipeline.counters.plate_only_passages == n - 1


def test_a_new_track_over_two_lost_vehicles_continues_the_one_it_overlaps_most() -> None:
    """Two lorries boxed side by side, overlapping (IoU 0.45), both lost for 720 ms (past
    ByteTrack's 600): a new box over both, IoU 0.86 with the first and 0.54 with the second,
    continues the first (its plate's passage goes on to the new box's last frame); the second
    ends where it was lost."""
    a, b, again = BBox(100, 100, 500, 400), BBox(250, 100, 650, 400), BBox(130, 100, 530, 400)
    assert again.iou(a) > again.iou(b) > 0.3

    def vehicles(i: int) -> list[Detection]:
        if i < 10:
            return [Detection(a, 0, "vehicle", 0.9), Detection(b, 0, "vehicle", 0.9)]
        return [Detection(again, 0, "vehicle", 0.9)] if 19 <= i < 31 else []

    plate = lambda i: [Detection(BBox(120, 350, 200, 370), 0, "plate", 0.9)] if i < 10 else []  # noqa: E731
    passages, _, frames = run_scripted(vehicles, 60, plates=plate)
    assert len(passages) == 2
    by_plate = {bool(p.plates): p for p in passages}
    assert by_plate[True].last_seen_ts_ms == frames[30].ts_ms
    assert by_plate[False].last_seen_ts_ms == frames[9].ts_ms


def test_a_plates_size_for_the_installers_check_is_per_line_read_or_not() -> None:
    # only plates that were read had counted: a lane of plates too small to read reported nothing
    from vision.pipeline.assemble import PlateLook, PlateTrack
    from vision.pipeline.lane import _line_px
    from vision.types import BBox, PlateRead

    unread = PlateTrack(1, 0, 0, BBox(0, 0, 30, 10))
    unread.keep_tallest(np.zeros((10, 30, 3), np.uint8))  # under min_plate_height_px: never read
    assert _line_px(unread) == 10.0
    mark = PlateTrack(2, 0, 0, BBox(0, 0, 40, 30))
    mark.keep_tallest(np.zeros((30, 40, 3), np.uint8))
    mark.add_read(
        PlateLook(
            0, PlateRead(BBox(0, 0, 40, 30), (), "crnn", two_line=True), np.zeros((30, 40, 3), np.uint8)
        )
    )
    assert _line_px(mark) == 15.0  # a 30 px trailer mark's lines are as small as a 15 px plate's
