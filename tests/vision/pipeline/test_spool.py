"""RetryingSink: the lanes never wait on the store, and no passage is lost while it is away."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.vision.pipeline.test_sinks import JPEG, _passage
from vision.pipeline.sinks import ListSink
from vision.pipeline.spool import RetryingSink
from vision.types import Passage


class Store(ListSink):
    """A store that refuses passages while ``down`` and takes ``delay_s`` per try."""

    def __init__(self, down: bool = False, delay_s: float = 0.0) -> None:
        super().__init__()
        self.down, self.delay_s = down, delay_s
        self.tries = 0
        self.closed = False

    def emit(self, passage: Passage) -> None:
        self.tries += 1
        time.sleep(self.delay_s)
        if self.down:
            raise OSError("database is locked")
        super().emit(passage)

    def close(self) -> None:
        self.closed = True


def ids(sink: ListSink) -> list[str]:
    return [p.passage_id for p in sink.passages]


def test_emit_never_waits_on_the_store_and_retries_until_it_takes_the_passage() -> None:
    store = Store(down=True, delay_s=0.2)  # a locked store that makes each try wait
    sink = RetryingSink(store, None, retry_s=30, first_delay_s=0.01)
    t0 = time.monotonic()
    for pid in ("a", "b", "c"):
        sink.emit(_passage(pid))
    assert time.monotonic() - t0 < 0.1  # the lane worker goes on at once
    threading.Timer(0.5, lambda: setattr(store, "down", False)).start()
    assert sink.drain(10)
    assert ids(store) == ["a", "b", "c"] and store.tries > 3
    assert sink.counts.stored == 3 and sink.counts.spooled == 0 and not sink.degraded
    sink.close()
    assert store.closed


def test_a_store_away_sends_passages_to_the_spool_then_they_are_replayed(tmp_path: Path) -> None:
    store = Store(down=True)
    spool = tmp_path / "spool" / "passages.jsonl"
    sink = RetryingSink(store, spool, retry_s=0.05, first_delay_s=0.01, probe_s=0.05, max_delay_s=0.05)
    sink.emit(_passage("a"))  # tried for retry_s, then spooled
    assert sink.drain(5) and sink.degraded and sink.counts.spooled == 1 and spool.exists()
    tries = store.tries
    sink.emit(_passage("b"))  # degraded: straight to the spool, no try of its own
    assert sink.drain(5) and sink.counts.spooled == 2 and sink.pending == 2
    assert sink.counts.last_error == "OSError: database is locked"
    assert store.tries - tries <= 2  # only the probes' replays touched the store
    store.down = False  # back: the next probe replays the spool in order, crops and all
    deadline = time.monotonic() + 5
    while sink.pending and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ids(store) == ["a", "b"] and not sink.degraded and sink.counts.replayed == 2
    assert (
        store.passages[0].body_crop_jpeg == JPEG + b"body" and store.passages[0].plates[0].crop_jpeg == JPEG
    )
    assert not spool.exists() and len(spool.with_suffix(".replayed.jsonl").read_text().splitlines()) == 2
    assert not any((spool.parent / "crops").iterdir())  # the store holds them now
    sink.emit(_passage("c"))
    assert sink.drain(5) and ids(store) == ["a", "b", "c"]
    sink.close()


def test_a_spool_left_from_before_is_replayed_after_start_and_a_torn_line_set_aside(tmp_path: Path) -> None:
    spool = tmp_path / "passages.jsonl"
    first = RetryingSink(Store(down=True), spool, retry_s=0, first_delay_s=0.01)
    first.emit(_passage("a"))
    first.drain(5)
    first.close()
    with spool.open("a") as f:
        f.write('{"passage_id": "torn by a cra')  # the process died mid-line ...
    second = RetryingSink(Store(down=True), spool, retry_s=0, first_delay_s=0.01)
    second.emit(_passage("b"))  # ... and the next start appended after it
    second.drain(5)
    second.close()
    store = Store()
    sink = RetryingSink(store, spool, probe_s=0.01)
    deadline = time.monotonic() + 5
    while sink.pending and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ids(store) == ["a", "b"] and sink.counts.bad == 1 and sink.pending == 0
    assert "torn by a cra" in spool.with_suffix(".bad.jsonl").read_text()
    sink.close()


def test_a_passage_neither_stored_nor_spooled_is_counted_lost_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    sink = RetryingSink(Store(down=True), blocker / "spool.jsonl", retry_s=0, first_delay_s=0.01)
    sink.emit(_passage("a"))  # never raises
    assert sink.drain(5)
    assert sink.counts.lost == 1 and sink.counts.spooled == 0
    assert any("LOST" in r.message and '"passage_id": "a"' in r.message for r in caplog.records)
    sink.close()


def test_close_spools_what_a_hanging_store_holds_up(tmp_path: Path) -> None:
    """At shutdown the store hangs on a try (SQLite's 30 s busy timeout): the passage it holds
    and those queued behind it are spooled within the close's time, not lost with the process."""
    store = Store(down=True, delay_s=2.0)
    spool = tmp_path / "passages.jsonl"
    sink = RetryingSink(store, spool, retry_s=600, first_delay_s=0.01)
    for pid in ("a", "b", "c"):
        sink.emit(_passage(pid))
    time.sleep(0.1)  # "a" is in the store's hands
    t0 = time.monotonic()
    sink.close(timeout_s=1.0)
    assert time.monotonic() - t0 < 2.0
    kept = {line.split('"passage_id": "')[1].split('"')[0] for line in spool.read_text().splitlines()}
    assert kept == {"a", "b", "c"} and sink.counts.lost == 0


def test_a_closed_sink_leaves_no_thread_behind(tmp_path: Path) -> None:
    """Held up by a hanging store at close, the delivery thread ends once the store lets go
    (it had spun on, a core at 100 %, with the spool pending)."""
    store = Store(down=True, delay_s=0.5)
    sink = RetryingSink(store, tmp_path / "passages.jsonl", retry_s=600, first_delay_s=0.01)
    sink.emit(_passage("a"))
    time.sleep(0.1)
    sink.close(timeout_s=0.2)
    sink._thread.join(3)
    assert not sink._thread.is_alive()
