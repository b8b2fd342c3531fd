"""In-process seams between the lane pipeline and the service: the flag event hub, the lane
registry, the frame sink and the passage recorder. All live in the app state
(:class:`api.app.AppState`) and are safe to call from any thread.

How the pipeline plugs in::

    state = app.state.lane                     # the AppState the lifespan built
    state.lanes.update("L1", status=LaneStatus.OK, fps=9.7, source="rtsp://...")
    outcome = state.recorder.record(passage)   # store + flag rules + live notification
    state.frame_sink = MyPipelineSink(...)     # receives pushed JPEG frames (FrameSink protocol)

Live queue: every flag change is a row in ``flag_events`` (its id is the event id). The
:class:`EventHub` only wakes connected streams; each stream then reads the events after the
last one it sent from the store. So a reconnecting browser (``Last-Event-ID``) gets what it
missed, and flags written by another process reach officers within ``live.poll_s`` seconds
even without a notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Engine

from api.actionlist import build_matcher
from api.db import repository as repo
from api.db.session import session_scope
from api.flags import FlagAction, FlagOutcome, FlagRules, process_passage, rematch
from api.matching import Matcher
from api.schemas.lanes import LaneHealth, LaneStatus
from api.settings import Settings
from vision.pipeline.sources import LaneDown
from vision.types import Frame, Passage

log = logging.getLogger(__name__)


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch."""
    return int(time.time() * 1000)


# --- event hub ---------------------------------------------------------------------------------


class Subscription:
    """One live stream's wake-up signal."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.event = asyncio.Event()

    async def wait(self, timeout_s: float) -> bool:
        """Wait until notified or ``timeout_s`` passed; True when notified."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout_s)
        except TimeoutError:
            return False
        self.event.clear()
        return True


class EventHub:
    """Wakes the connected live streams when flags changed. :meth:`notify` may be called from
    any thread (e.g. the pipeline's) after the change is committed."""

    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self.notifications = 0

    @property
    def n_clients(self) -> int:
        with self._lock:
            return len(self._subs)

    def notify(self) -> None:
        """Flags changed (committed): wake every stream."""
        with self._lock:
            subs = list(self._subs)
            self.notifications += 1
        for sub in subs:
            with contextlib.suppress(RuntimeError):  # that stream's loop closed; it unsubscribes itself
                sub.loop.call_soon_threadsafe(sub.event.set)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        """A subscription for the current event loop, removed on exit."""
        sub = Subscription(asyncio.get_running_loop())
        with self._lock:
            self._subs.add(sub)
        try:
            yield sub
        finally:
            with self._lock:
                self._subs.discard(sub)


# --- lanes -------------------------------------------------------------------------------------


class LaneRegistry:
    """The lanes' health, filled by the pipeline (:meth:`update`) and by pushed frames."""

    def __init__(self) -> None:
        self._lanes: dict[str, LaneHealth] = {}
        self._lock = threading.Lock()

    def update(self, lane_id: str, **fields: Any) -> LaneHealth:
        """Set some fields of a lane's health (registering the lane when new); returns the result."""
        with self._lock:
            have = self._lanes.get(lane_id) or LaneHealth(lane_id=lane_id)
            new = LaneHealth.model_validate({**have.model_dump(), **fields, "updated_ts_ms": now_ms()})
            self._lanes[lane_id] = new
            return new

    def record_frame(self, lane_id: str, ts_ms: int, *, dropped: bool) -> LaneHealth:
        """Count one pushed frame (and whether the sink dropped one to take it)."""
        with self._lock:
            have = self._lanes.get(lane_id) or LaneHealth(lane_id=lane_id, source="push")
            status = have.status if have.status is not LaneStatus.UNKNOWN else LaneStatus.OK
            new = have.model_copy(
                update={
                    "frames_received": have.frames_received + 1,
                    "frames_dropped": have.frames_dropped + int(dropped),
                    "last_frame_ts_ms": ts_ms,
                    "status": status,
                    "updated_ts_ms": now_ms(),
                }
            )
            self._lanes[lane_id] = new
            return new

    def record_passage(self, lane_id: str, ts_ms: int) -> None:
        """Count one recorded passage."""
        with self._lock:
            have = self._lanes.get(lane_id) or LaneHealth(lane_id=lane_id)
            self._lanes[lane_id] = have.model_copy(
                update={"passages": have.passages + 1, "last_passage_ts_ms": ts_ms, "updated_ts_ms": now_ms()}
            )

    def get(self, lane_id: str) -> LaneHealth | None:
        with self._lock:
            return self._lanes.get(lane_id)

    def all(self) -> list[LaneHealth]:
        """Every lane, by id."""
        with self._lock:
            return [self._lanes[k] for k in sorted(self._lanes)]


# --- frames ------------------------------------------------------------------------------------


@runtime_checkable
class FrameSink(Protocol):
    """Takes decoded pushed frames for the lane pipeline. ``submit`` must never block: when the
    lane is behind it drops (the oldest frame, counted) and returns False; a frame it does not
    take at all (a lane it does not serve, a camera the lane lacks) raises
    :class:`vision.pipeline.sources.FrameRefused`, which the route answers with 409."""

    def submit(self, frame: Frame) -> bool:
        """Hand over one frame; True when nothing was dropped to take it."""
        ...


class LanesStarting:
    """The frame sink while the service's lanes start (models loading): every pushed frame is
    503 with ``reason`` (a frame taken then would be queued where no pipeline reads it). The
    lane runner replaces it with its router once its lanes run, or sets ``reason`` to why they
    could not start."""

    def __init__(
        self, reason: str = "the service's lanes are starting (models loading): try again in a few seconds"
    ) -> None:
        self.reason = reason

    def submit(self, frame: Frame) -> bool:
        raise LaneDown(self.reason)


class QueueFrameSink:
    """The default sink: a bounded queue per lane that drops the oldest frame when full.

    The pipeline may consume it (:meth:`get`) or replace it with its own sink in the app state.
    """

    def __init__(self, per_lane: int) -> None:
        self.per_lane = per_lane
        self._queues: dict[str, deque[Frame]] = {}
        self._dropped: dict[str, int] = {}
        self._lock = threading.Lock()

    def submit(self, frame: Frame) -> bool:
        with self._lock:
            q = self._queues.setdefault(frame.lane_id, deque(maxlen=self.per_lane))
            full = len(q) == q.maxlen
            if full:
                self._dropped[frame.lane_id] = self._dropped.get(frame.lane_id, 0) + 1
            q.append(frame)  # a full deque drops its oldest
            return not full

    def get(self, lane_id: str) -> Frame | None:
        """The oldest queued frame of a lane, or None."""
        with self._lock:
            q = self._queues.get(lane_id)
            return q.popleft() if q else None

    def queued(self, lane_id: str) -> int:
        with self._lock:
            return len(self._queues.get(lane_id, ()))

    def dropped(self, lane_id: str) -> int:
        with self._lock:
            return self._dropped.get(lane_id, 0)


# --- passages ----------------------------------------------------------------------------------


@dataclass
class PassageRecorder:
    """Stores passages through the flag rules (:func:`api.flags.process_passage`) in their own
    transaction, then wakes the live queue. Thread-safe; the pipeline calls :meth:`record`.

    The action-list matcher is rebuilt after every import (:meth:`rebuild_matcher`).
    """

    engine: Engine
    settings: Settings
    hub: EventHub
    lanes: LaneRegistry
    matcher: Matcher = field(default_factory=lambda: Matcher(()))
    counts: dict[str, int] = field(default_factory=lambda: {a.value: 0 for a in FlagAction})
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def rules(self) -> FlagRules:
        return FlagRules.from_settings(self.settings.flags)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def rebuild_matcher(self) -> Matcher:
        """Index the current action list (call after an import commits) and apply it to the open
        flags and recent passages without a flag (:func:`api.flags.rematch`) in a transaction of
        its own, then wake the live queue when a flag changed."""
        flags = self.settings.flags
        with session_scope(self.engine) as session:
            matcher = build_matcher(
                session, max_edit_distance=flags.max_edit_distance, edit_min_length=flags.edit_min_length
            )
            changed = rematch(session, matcher, self.rules)
        with self._lock:
            self.matcher = matcher
        log.info("action-list matcher: version %s, %d entries", matcher.version_id, len(matcher))
        for c in changed:
            log.info(
                "action-list version %s: flag %d %s, risk %d -> %d",
                matcher.version_id,
                c.flag_id,
                c.action.value,
                c.score_before,
                c.score_after,
            )
        if changed:
            self.hub.notify()
        return matcher

    def record(self, passage: Passage) -> FlagOutcome:
        """Store one passage and apply the flag rules against the current action list (rebuilt
        first when another process imported a version: ``hgv-lane actionlist import``); notifies
        the live queue when a flag was created or updated. Raises
        :class:`api.flags.DuplicatePassage` for a passage stored before."""
        with self._lock:
            matcher = self.matcher
        with session_scope(self.engine) as session:
            current = repo.latest_version(session)
            current_id = current.id if current is not None else None
        if current_id != matcher.version_id:
            log.warning(
                "the action list changed outside this service (version %s, matching used %s): reindexed",
                current_id,
                matcher.version_id,
            )
            matcher = self.rebuild_matcher()
        with session_scope(self.engine) as session:
            outcome = process_passage(session, passage, matcher, self.rules, data_dir=self.data_dir)
        with self._lock:
            self.counts[outcome.action.value] += 1
        self.lanes.record_passage(passage.lane_id, passage.last_seen_ts_ms)
        if outcome.action is not FlagAction.NONE:
            self.hub.notify()
        return outcome
