from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from vision.pipeline.sinks import (
    FanoutSink,
    JsonlSink,
    ListSink,
    passage_from_json,
    passage_to_json,
    read_passages,
)
from vision.types import (
    BodyType,
    Passage,
    PassagePlate,
    PlateCandidate,
    PlateRole,
    ReadStatus,
    TrailerVerdict,
)

JPEG = b"\xff\xd8\xff\xe0fake\xff\xd9"


def _passage(pid: str = "L1-cam1-1000-1") -> Passage:
    return Passage(
        passage_id=pid,
        lane_id="L1",
        first_seen_ts_ms=1000,
        last_seen_ts_ms=5000,
        plates=(
            PassagePlate(
                PlateRole.FRONT,
                "AB12CDE",
                0.8,
                ReadStatus.COMMITTED,
                (
                    PlateCandidate("AB12CDE", 0.8, (0.9,) * 7, "UK", "UK current"),
                    PlateCandidate("AB12CDF", 0.2),
                ),
                country="UK",
                format_valid=True,
                n_looks=5,
                crop_jpeg=JPEG,
                first_seen_ts_ms=1400,
                last_seen_ts_ms=3200,
            ),
            PassagePlate(PlateRole.TRAILER_MARK, "", 0.0, ReadStatus.UNREAD, n_looks=2),
        ),
        body=TrailerVerdict(BodyType.TILT, 0.75, 4),
        direction="towards_camera",
        body_crop_jpeg=JPEG + b"body",
        camera_ids=("cam1",),
    )


def test_jsonl_round_trip_with_crops(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "run" / "passages.jsonl")
    sink.emit(_passage())
    sink.emit(_passage("L1-cam1-9000-2"))
    sink.close()
    back = read_passages(tmp_path / "run" / "passages.jsonl")
    assert back == [_passage(), _passage("L1-cam1-9000-2")]
    assert (tmp_path / "run" / "crops" / "L1-cam1-1000-1" / "plate-0-front.jpg").read_bytes() == JPEG
    assert not (tmp_path / "run" / "crops" / "L1-cam1-1000-1" / "plate-1-trailer_mark.jpg").exists()


def test_json_form_is_plain_and_readable_without_crops() -> None:
    d = passage_to_json(_passage())
    assert d["body"] == {
        "body_type": "tilt",
        "side": "soft",
        "confidence": 0.75,
        "soft_probability": 0.75,
        "n_looks": 4,
        "probabilities": {},
    }
    assert d["plates"][0]["crop"] is None and d["read_quality"] == 0.5
    p = passage_from_json(d)
    assert p.plates[0].crop_jpeg == b"" and p.plates[0].candidates[1].text == "AB12CDF"
    assert (d["plates"][0]["first_seen_ts_ms"], d["plates"][0]["last_seen_ts_ms"]) == (1400, 3200)
    assert d["plates"][1]["last_seen_ts_ms"] is None and p.plates[1].last_seen_ts_ms is None
    for k in ("first_seen_ts_ms", "last_seen_ts_ms"):  # written before plates had their times
        del d["plates"][0][k]
    assert passage_from_json(d).plates[0].first_seen_ts_ms is None


def test_an_unsettled_body_keeps_its_probabilities_through_json() -> None:
    """A consensus split between tilt and curtainsider is unknown, but probably soft: that must
    survive a JSONL round trip (a batch run's flags are assessed from it)."""
    probs = ((BodyType.TILT, 0.4), (BodyType.CURTAINSIDER, 0.35), (BodyType.BOX, 0.25))
    body = TrailerVerdict(BodyType.UNKNOWN, 0.0, 4, probs)
    d = passage_to_json(replace(_passage(), body=body))
    assert d["body"]["soft_probability"] == 0.75
    back = passage_from_json(json.loads(json.dumps(d))).body
    assert back == body and back.soft_probability == pytest.approx(0.75)


def test_fanout_reaches_every_sink() -> None:
    a, b = ListSink(), ListSink()
    FanoutSink([a, b]).emit(_passage())
    assert len(a.passages) == len(b.passages) == 1


class Store(ListSink):
    """A store that refuses passages while ``down`` (locked, away), counting the tries."""

    def __init__(self, down: bool = False) -> None:
        super().__init__()
        self.down = down
        self.tries = 0
        self.closed = False

    def emit(self, passage: Passage) -> None:
        self.tries += 1
        if self.down:
            raise OSError("database is locked")
        super().emit(passage)

    def close(self) -> None:
        self.closed = True


def test_fanout_hands_a_passage_to_the_other_sinks_when_one_fails() -> None:
    broken, b = Store(down=True), ListSink()
    with pytest.raises(OSError, match="locked"):
        FanoutSink([broken, b]).emit(_passage())
    assert len(b.passages) == 1  # the JSONL file failing no longer keeps it from the store


def test_a_torn_last_line_is_skipped_and_a_bad_middle_line_named(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "p.jsonl")
    sink.emit(_passage("a"))
    sink.emit(_passage("b"))
    sink.close()
    path = tmp_path / "p.jsonl"
    whole = path.read_text()
    path.write_text(whole + whole.splitlines()[0][:40])  # the writer stopped mid-line
    assert [p.passage_id for p in read_passages(path)] == ["a", "b"]
    path.write_text("{not json\n" + whole)
    with pytest.raises(ValueError, match="line 1 is not JSON"):
        read_passages(path)
