"""Nothing lost when the store is away: :class:`RetryingSink` hands passages to the store on a
thread of its own, tries again, and keeps what the store will not take in a spool file that it
replays once the store is back.

The lane workers never wait on the store: :meth:`RetryingSink.emit` only queues the passage.
The delivery thread tries it with back-off for up to ``retry_s`` of wall-clock time (a store
locked by another process, a database restarting); still refused, the passage is appended to the
spool (a :class:`vision.pipeline.sinks.JsonlSink` file, crops beside it) and the sink is
*degraded*: later passages go straight to the spool while the thread probes the store by
replaying the spool, line by line, with growing pauses (``probe_s`` up to ``max_delay_s``
times four). Replayed lines go to ``<spool>.replayed.jsonl`` (their crops, which the store now
holds, are removed from the spool's folder); a line that cannot be read back (cut
short by a crash, a crop file gone) goes to ``<spool>.bad.jsonl`` and is logged; the rest stays
in the spool for the next try, and a spool left by a stopped service is replayed after the next
start. A passage the spool cannot take either (a full disk) is lost: logged in full (its JSON)
and counted. :meth:`close` waits for the queue, then spools what is left, so a store that hangs
at shutdown costs no passage (one may be both stored and spooled: the store skips a passage it
has, by id).
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vision.pipeline.sinks import JsonlSink, passage_from_json, passage_to_json, short_error, worth_logging
from vision.types import Passage

log = logging.getLogger(__name__)


@dataclass
class RetryCounts:
    """What a :class:`RetryingSink` did: passages the store took (``stored``, ``replayed`` of
    them from the spool), tries that failed (``retries``), passages put in the spool
    (``spooled``), spool lines that could not be read back (``bad``), passages neither stored
    nor spooled (``lost``: logged in full), and the last error."""

    stored: int = 0
    replayed: int = 0
    retries: int = 0
    spooled: int = 0
    bad: int = 0
    lost: int = 0
    last_error: str | None = None


class RetryingSink:
    """An :class:`vision.pipeline.protocols.EventSink` in front of ``inner`` (the store) that
    never blocks and never loses a passage it was given (module doc). Thread-safe."""

    def __init__(
        self,
        inner: Any,
        spool_path: Path | None,
        *,
        retry_s: float = 60.0,
        first_delay_s: float = 0.5,
        max_delay_s: float = 10.0,
        probe_s: float = 5.0,
    ) -> None:
        self.inner = inner
        self.spool_path = spool_path
        self.retry_s = retry_s
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.probe_s = probe_s
        self.counts = RetryCounts()
        self.degraded = False
        self._queue: queue.Queue[Passage | None] = queue.Queue()
        self._hurry = threading.Event()
        self._closed = False
        self._spool_lock = threading.Lock()
        self._spool: JsonlSink | None = None
        self._in_flight: Passage | None = None
        self.pending = self._count_lines()
        self._thread = threading.Thread(target=self._run, name="passage-delivery", daemon=True)
        self._thread.start()

    # --- the lanes' side ------------------------------------------------------------------------

    def emit(self, passage: Passage) -> None:
        """Queue ``passage`` for the store; returns at once (after :meth:`close`: the spool)."""
        if self._closed:
            self._keep(passage)
            return
        self._queue.put(passage)

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued passage was stored or spooled; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self, timeout_s: float = 20.0) -> None:
        """Deliver what is queued (half of ``timeout_s``), then spool the rest without trying
        the store (the other half); what the thread still holds then is spooled from here."""
        if self._closed:
            return
        self.drain(timeout_s / 2)
        self._hurry.set()
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout_s / 2)
        left = [p for p in self._take_all() if p is not None]
        in_flight = self._in_flight
        if self._thread.is_alive() and in_flight is not None:
            left.insert(0, in_flight)  # the store is hanging on it: spooled too (a duplicate is skipped)
        for p in left:
            self._keep(p)
        with self._spool_lock:
            self._close_spool()
        self.inner.close()

    # --- the delivery thread --------------------------------------------------------------------

    def _run(self) -> None:
        probe_at, probe_delay = 0.0, self.probe_s
        while True:
            probing = self.pending and not self._hurry.is_set()
            wait = max(0.0, probe_at - time.monotonic()) if probing else 1.0
            item: object
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                if self._closed:  # close() took the rest (this thread was held up by the store)
                    return
                item = _NOTHING
            if item is None:
                self._queue.task_done()
                return
            if isinstance(item, Passage):
                self._in_flight = item
                try:
                    self._deliver(item)
                finally:
                    self._in_flight = None
                    self._queue.task_done()
            if self.pending and not self._hurry.is_set() and time.monotonic() >= probe_at:
                emptied = self._replay()
                probe_delay = self.probe_s if emptied else min(probe_delay * 2, self.max_delay_s * 4)
                probe_at = time.monotonic() + probe_delay

    def _deliver(self, passage: Passage) -> None:
        if self.degraded or self._hurry.is_set():
            self._keep(passage)
            return
        deadline, delay = time.monotonic() + self.retry_s, self.first_delay_s
        while True:
            try:
                self.inner.emit(passage)
                self.counts.stored += 1
                return
            except Exception as e:
                self.counts.retries += 1
                self.counts.last_error = short_error(e)
                if self._hurry.is_set() or time.monotonic() + delay > deadline:
                    log.error(
                        "passage %s not stored: %s; kept in the spool",
                        passage.passage_id,
                        self.counts.last_error,
                    )
                    self.degraded = True
                    self._keep(passage)
                    return
                if worth_logging(self.counts.retries):
                    log.warning(
                        "passage %s not stored (%s): trying again for up to %.0f s",
                        passage.passage_id,
                        self.counts.last_error,
                        self.retry_s,
                    )
            self._hurry.wait(delay)
            delay = min(delay * 2, self.max_delay_s)

    def _keep(self, passage: Passage) -> None:
        """Append ``passage`` to the spool; log it in full and count it lost when that fails."""
        with self._spool_lock:
            if self.spool_path is not None:
                try:
                    if self._spool is None:
                        self._spool = JsonlSink(self.spool_path)
                    self._spool.emit(passage)
                    self.counts.spooled += 1
                    self.pending += 1
                    return
                except OSError as e:
                    log.error(
                        "passage %s: the spool %s failed too: %s", passage.passage_id, self.spool_path, e
                    )
            self.counts.lost += 1
        log.error("passage LOST (neither stored nor spooled): %s", json.dumps(passage_to_json(passage)))

    def _replay(self) -> bool:
        """Hand the spool's passages to the store in order; True when the spool is empty after.
        Lines the store took go to ``*.replayed.jsonl``, unreadable ones to ``*.bad.jsonl``; the
        first refusal stops (the store is still away) and leaves that line and the rest."""
        path = self.spool_path
        if path is None:
            return True
        with self._spool_lock:
            self._close_spool()  # appended lines reach the file before it is read
            lines = _read_lines(path)
        done: list[str] = []
        bad: list[str] = []
        stopped_at = len(lines)
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                passage = passage_from_json(json.loads(line), path.parent)
            except (ValueError, KeyError, TypeError, OSError) as e:
                log.error(
                    "spool %s: line %d cannot be read back (%s): moved to the .bad file", path, i + 1, e
                )
                bad.append(line)
                continue
            try:
                self.inner.emit(passage)
            except Exception as e:
                self.counts.last_error = short_error(e)
                stopped_at = i
                break
            done.append(line)
            self.counts.replayed += 1
            # the store keeps its own copy of the crops: the spool's go (its disk stays bounded)
            shutil.rmtree(JsonlSink.crop_folder_in(path, passage.passage_id), ignore_errors=True)
        with self._spool_lock:
            self._close_spool()
            rest = lines[stopped_at:] + _read_lines(path)[len(lines) :]  # left, and come meanwhile
            _append(path.with_suffix(".replayed.jsonl"), done)
            _append(path.with_suffix(".bad.jsonl"), bad)
            self.counts.bad += len(bad)
            if rest:
                tmp = path.with_suffix(".tmp")
                tmp.write_text(_as_text(rest), encoding="utf-8")
                tmp.replace(path)
            elif path.exists():
                path.unlink()
            self.pending = sum(1 for ln in rest if ln.strip())
        if done:
            log.warning(
                "replayed %d spooled passage(s) into the store; %d left in %s", len(done), self.pending, path
            )
        if not self.pending:
            self.degraded = False
        return not self.pending

    def _close_spool(self) -> None:
        """Close the spool's writer (the caller holds the spool lock); the next keep reopens it."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def _count_lines(self) -> int:
        return 0 if self.spool_path is None else sum(1 for ln in _read_lines(self.spool_path) if ln.strip())

    def _take_all(self) -> list[Passage | None]:
        out: list[Passage | None] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out
            self._queue.task_done()


_NOTHING = object()


def spool_path(data_dir: Path) -> Path:
    """The service's spool file under ``data_dir`` (its ``.replayed`` and ``.bad`` files beside it)."""
    return data_dir / "spool" / "passages.jsonl"


@dataclass(frozen=True, slots=True)
class SpoolPrune:
    """What :func:`prune_replayed` did: replayed lines removed and kept, lines of the ``.bad``
    file (never removed: passages that reached no store, for a person to look at)."""

    replayed_removed: int = 0
    replayed_kept: int = 0
    bad_lines: int = 0


def prune_replayed(spool: Path, cutoff_ts_ms: int, *, dry_run: bool = False) -> SpoolPrune:
    """Remove from ``<spool>.replayed.jsonl`` the passages last seen before ``cutoff_ts_ms``
    (ms since the epoch): the store holds them and its own retention applies there, so the
    record of their replay need not outlive it. A line that does not parse is kept. A line the
    service appends while this rewrites the file can be lost from the record (never from the
    store)."""
    replayed = spool.with_suffix(".replayed.jsonl")
    bad = sum(1 for ln in _read_lines(spool.with_suffix(".bad.jsonl")) if ln.strip())
    kept: list[str] = []
    removed = 0
    for line in _read_lines(replayed):
        if not line.strip():
            continue
        try:
            old = int(json.loads(line)["last_seen_ts_ms"]) < cutoff_ts_ms
        except (ValueError, KeyError, TypeError):
            old = False
        if old:
            removed += 1
        else:
            kept.append(line)
    if removed and not dry_run:
        tmp = replayed.with_suffix(".tmp")
        try:
            tmp.write_text(_as_text(kept), encoding="utf-8")
            tmp.replace(replayed)
        finally:
            tmp.unlink(missing_ok=True)  # a write cut short (a full disk) leaves no part file
    return SpoolPrune(removed, len(kept), bad)


def _read_lines(path: Path) -> list[str]:
    """The lines of ``path`` with their line ends (none when it does not exist)."""
    return path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []


def _as_text(lines: list[str]) -> str:
    """``lines`` joined, each ended by a newline (a last line cut short gets one)."""
    return "".join(ln if ln.endswith("\n") else ln + "\n" for ln in lines)


def _append(path: Path, lines: list[str]) -> None:
    if lines:
        with path.open("a", encoding="utf-8") as f:
            f.write(_as_text(lines))
