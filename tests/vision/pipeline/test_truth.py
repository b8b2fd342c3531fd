from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from vision.pipeline.truth import (
    BODY_SHOWN_FRACTION,
    BODY_SHOWN_FRAMES,
    ClipTruthData,
    TruthObject,
    TruthPlate,
    TruthVehicle,
    has_body_shown,
    load_clip_truth,
    score_passages,
)
from vision.types import BBox, BodyType, Passage, PassagePlate, PlateRole, ReadStatus, TrailerVerdict

T0 = 1_000_000
A = BBox(100, 100, 400, 400)
B = BBox(600, 100, 900, 400)


def _truth() -> ClipTruthData:
    """Lorry 1 labelled on frames 0-117 in box A; lorry 2 labelled on frames 42-195 in box B (far
    away and hard to see until about frame 140: the night clip 5102)."""
    frames = tuple(
        tuple([TruthObject(1, A, None, ())] * (i <= 117) + [TruthObject(2, B, None, ())] * (42 <= i <= 195))
        for i in range(240)
    )
    vehicles = (
        TruthVehicle(1, BodyType.BOX, (), 0, 117),
        TruthVehicle(2, BodyType.TILT, (), 42, 195),
    )
    return ClipTruthData(25.0, 1280, 720, 240, "front", vehicles, frames)


def _passage(pid: str, first: int, last: int) -> Passage:
    return Passage(pid, "L1", T0 + 40 * first, T0 + 40 * last, (), TrailerVerdict(BodyType.UNKNOWN, 0.0, 0))


def test_passages_are_matched_to_lorries_by_what_their_tracks_followed() -> None:
    """The tracker follows lorry 1 on frames 34-148 (on past its label) and lorry 2 on 142-231.
    By time spans alone the first passage fits lorry 2 best and the second then fits nobody: one
    'duplicate', one lorry 'missed'. By the tracks' boxes each passage is its lorry's."""
    passages = [_passage("p1", 34, 148), _passage("p2", 142, 231)]
    boxes = {"p1": [(i, A) for i in range(34, 149, 2)], "p2": [(i, B) for i in range(142, 232, 2)]}
    by_time = score_passages(passages, _truth(), start_ts_ms=T0)
    assert (by_time.matched, by_time.duplicates) == (1, 1)
    by_box = score_passages(passages, _truth(), start_ts_ms=T0, boxes=boxes)
    assert (by_box.expected, by_box.found, by_box.matched, by_box.duplicates, by_box.spurious) == (
        2,
        2,
        2,
        0,
        0,
    )


def test_a_second_passage_on_one_lorry_is_a_duplicate_and_one_on_nothing_is_spurious() -> None:
    passages = [_passage("p1", 0, 60), _passage("p2", 70, 110), _passage("p3", 200, 230)]
    boxes = {
        "p1": [(i, A) for i in range(0, 61, 2)],
        "p2": [(i, A) for i in range(70, 111, 2)],
        "p3": [(i, BBox(0, 500, 50, 700)) for i in range(200, 231, 2)],
    }
    s = score_passages(passages, _truth(), start_ts_ms=T0, boxes=boxes)
    assert (s.matched, s.duplicates, s.spurious) == (1, 1, 1)
    assert any("vehicle 2 (tilt): no passage" in m for m in s.misses)


def test_a_plate_seen_but_not_read_is_no_read_and_a_plate_read_wrong_is_wrong() -> None:
    """Lorry 1's front plate is readable, its rear plate never is (too small or blurred: no
    frame labels it). A passage with the front plate right and the rear plate seen but not read
    (no text) reads right; with the rear plate read as a piece of text it does not; with the
    front plate not read it does not either."""
    front = TruthPlate(PlateRole.FRONT, "AB12CDE", "UK", False, 30)
    rear = TruthPlate(PlateRole.REAR, "AB12CDE", "UK", False, 0)
    truth = _truth()
    vehicles = (replace(truth.vehicles[0], plates=(front, rear)), truth.vehicles[1])
    truth = replace(truth, vehicles=vehicles)

    def plate(role: PlateRole, text: str) -> PassagePlate:
        status = ReadStatus.COMMITTED if text else ReadStatus.UNREAD
        return PassagePlate(role, text, 0.9 if text else 0.0, status)

    def read_ok(*plates: PassagePlate) -> int:
        p = replace(_passage("p1", 0, 117), plates=plates)
        return score_passages(
            [p], truth, start_ts_ms=T0, boxes={"p1": [(i, A) for i in range(0, 118, 2)]}
        ).read_ok

    assert read_ok(plate(PlateRole.FRONT, "AB12CDE"), plate(PlateRole.REAR, "")) == 1
    assert read_ok(plate(PlateRole.FRONT, "AB12CDE"), plate(PlateRole.REAR, "AB12")) == 0
    assert read_ok(plate(PlateRole.FRONT, ""), plate(PlateRole.REAR, "")) == 0


def _shown_truth(shown_frames: int | None) -> ClipTruthData:
    frames = tuple((TruthObject(1, A, A, ()),) for _ in range(10))
    return ClipTruthData(
        25.0, 1280, 720, 10, "front", (TruthVehicle(1, BodyType.TANKER, (), 0, 9, shown_frames),), frames
    )


def test_a_body_the_clip_hardly_shows_is_scored_and_counted_apart() -> None:
    """A passage's wrong body type counts against ``body_ok`` whether or not the clip showed the
    body; ``body_shown`` counts only the lorries whose body it did, and the miss says so."""
    wrong = [_passage("p1", 0, 9)]
    hidden = score_passages(wrong, _shown_truth(2), start_ts_ms=T0)
    assert (hidden.expected, hidden.body_ok, hidden.body_shown, hidden.body_shown_ok) == (1, 0, 0, 0)
    assert any("body hardly shown: 2 frames" in m for m in hidden.misses)
    shown = score_passages(wrong, _shown_truth(BODY_SHOWN_FRAMES), start_ts_ms=T0)
    assert (shown.body_shown, shown.body_shown_ok) == (1, 0)
    assert not any("hardly" in m for m in shown.misses)
    unknown = score_passages(wrong, _shown_truth(None), start_ts_ms=T0)  # an older truth file
    assert unknown.body_shown == 1
    right = [
        Passage("p1", "L1", T0, T0 + 360, (), TrailerVerdict(BodyType.TANKER, 0.9, 3)),
    ]
    ok = score_passages(right, _shown_truth(BODY_SHOWN_FRAMES), start_ts_ms=T0)
    total = ok + hidden
    assert (total.body_ok, total.body_shown, total.body_shown_ok) == (1, 1, 1)
    assert total.body_accuracy == 0.5 and total.body_accuracy_shown == 1.0


def test_body_shown_frames_follow_the_per_frame_shares_and_box_sizes(tmp_path: Path) -> None:
    """``load_clip_truth`` counts the frames whose body shows at least BODY_SHOWN_FRACTION with a
    box at least BODY_SHOWN_SIDE_PX on each side; a file without ``body_shown`` gives None."""
    big, small = [0, 0, 200, 200], [0, 0, 200, 40]
    objs = [
        (big, 0.5),  # counts
        (big, BODY_SHOWN_FRACTION),  # counts
        (big, 0.1),  # too little shows
        (small, 0.9),  # too small a box
        (None, None),  # no body box
    ]
    raw: dict[str, Any] = {
        "format": "hgv-lane-synth-clip/1",
        "fps": 25.0,
        "width": 1280,
        "height": 720,
        "n_frames": len(objs),
        "view": "front",
        "vehicles": [
            {"vehicle_id": 1, "crop_class": "tanker", "plates": [], "first_frame": 0, "last_frame": 4}
        ],
        "frames": [
            {
                "frame": i,
                "objects": [{"vehicle_id": 1, "box": big, "body_box": b, "body_shown": s, "plates": []}],
            }
            for i, (b, s) in enumerate(objs)
        ],
    }
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(raw))
    assert has_body_shown(raw)
    assert load_clip_truth(path).vehicles[0].body_shown_frames == 2
    for f in raw["frames"]:
        for o in f["objects"]:
            del o["body_shown"]
    path.write_text(json.dumps(raw))
    assert not has_body_shown(raw)
    old = load_clip_truth(path).vehicles[0]
    assert old.body_shown_frames is None and old.body_shown
