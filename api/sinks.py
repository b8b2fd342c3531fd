"""Event sinks on the service side: passages into the store through the flag rules.

- :class:`StoreSink`: :func:`api.flags.process_passage` in its own transaction per passage,
  with a matcher built once from the action list (batch runs: ``hgv-lane process``).
- :class:`RecorderSink`: the running service's :class:`api.events.PassageRecorder` (store,
  flag rules, and the live queue's notification), used by the lane runner.

Both are :class:`vision.pipeline.protocols.EventSink` and are called on a lane worker's
thread. A passage already stored (same ``passage_id``) is logged and counted, not fatal; any
other error surfaces (the lane's health shows it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from api.db.session import session_scope
from api.events import PassageRecorder
from api.flags import DuplicatePassage, FlagAction, FlagOutcome, FlagRules, process_passage
from api.matching import Matcher
from vision.types import Passage

log = logging.getLogger(__name__)

OutcomeCallback = Callable[[Passage, FlagOutcome], None]


@dataclass
class SinkCounts:
    """What a store sink did: passages stored, flags created / updated, duplicates skipped."""

    stored: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    flagged_passages: list[str] = field(default_factory=list)

    def add(self, passage: Passage, outcome: FlagOutcome) -> None:
        self.stored += 1
        if outcome.action is FlagAction.CREATED:
            self.created += 1
        elif outcome.action is FlagAction.UPDATED:
            self.updated += 1
        if outcome.flag_id is not None:
            self.flagged_passages.append(passage.passage_id)


class _CountingSink:
    """Counts what storing each passage did; subclasses say how a passage is stored."""

    def __init__(self, on_outcome: OutcomeCallback | None) -> None:
        self.on_outcome = on_outcome
        self.counts = SinkCounts()
        self._lock = threading.Lock()

    def _store(self, passage: Passage) -> FlagOutcome:
        raise NotImplementedError

    def emit(self, passage: Passage) -> None:
        try:
            outcome = self._store(passage)
        except DuplicatePassage as e:
            log.warning("%s", e)
            with self._lock:
                self.counts.duplicates += 1
            return
        with self._lock:
            self.counts.add(passage, outcome)
        if self.on_outcome is not None:
            self.on_outcome(passage, outcome)

    def close(self) -> None:
        pass


class StoreSink(_CountingSink):
    """Stores each passage with :func:`api.flags.process_passage` (one transaction each);
    ``on_outcome`` is called after the commit."""

    def __init__(
        self,
        engine: Engine,
        matcher: Matcher,
        rules: FlagRules,
        *,
        data_dir: Path,
        on_outcome: OutcomeCallback | None = None,
    ) -> None:
        super().__init__(on_outcome)
        self.engine = engine
        self.matcher = matcher
        self.rules = rules
        self.data_dir = data_dir

    def _store(self, passage: Passage) -> FlagOutcome:
        with session_scope(self.engine) as session:
            return process_passage(session, passage, self.matcher, self.rules, data_dir=self.data_dir)


class RecorderSink(_CountingSink):
    """Hands passages to the service's :class:`api.events.PassageRecorder` (store, flag rules,
    live-queue notification, lane passage count)."""

    def __init__(self, recorder: PassageRecorder, *, on_outcome: OutcomeCallback | None = None) -> None:
        super().__init__(on_outcome)
        self.recorder = recorder

    def _store(self, passage: Passage) -> FlagOutcome:
        return self.recorder.record(passage)
