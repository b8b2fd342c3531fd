"""The FastAPI application factory. Models and the store are opened once, in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine

from api.db.session import open_store
from api.events import EventHub, FrameSink, LaneRegistry, LanesStarting, PassageRecorder, QueueFrameSink
from api.settings import Settings, get_settings
from api.store import ping
from vision.registry import ROLES
from vision.runtime import OnnxModel

if TYPE_CHECKING:
    from api.auth import LoginThrottle
    from api.lane_runner import LaneRunner
    from vision.pipeline.reload import ModelWatcher
    from vision.pipeline.spool import RetryingSink

log = logging.getLogger(__name__)

DemoLaneRunner = Callable[["AppState"], Coroutine[Any, Any, None]]
"""A demo lane: started as a task in the lifespan with the app state, cancelled at shutdown.
It feeds passages through ``state.recorder.record`` and lane health through ``state.lanes``."""


@dataclass
class AppState:
    """What the lifespan opens once and every request shares.

    ``hub``, ``lanes``, ``frame_sink`` and ``recorder`` are the seams the lane pipeline uses
    (:mod:`api.events`); the pipeline may replace ``frame_sink`` with its own and sets
    ``passage_sink`` (the recorder behind retries and the spool: ``/health`` and ``/metrics``
    report what it kept).
    """

    settings: Settings
    engine: Engine
    models: dict[str, OnnxModel] = field(default_factory=dict)
    model_watcher: ModelWatcher | None = None
    hub: EventHub = field(default_factory=EventHub)
    lanes: LaneRegistry = field(default_factory=LaneRegistry)
    frame_sink: FrameSink = field(default_factory=lambda: QueueFrameSink(32))
    recorder: PassageRecorder | None = None
    passage_sink: RetryingSink | None = None
    login_throttle: LoginThrottle | None = None
    demo_lane: DemoLaneRunner | None = None
    lane_runner: LaneRunner | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def passage_recorder(self) -> PassageRecorder:
        """The recorder (set in the lifespan)."""
        if self.recorder is None:
            raise RuntimeError("the service is not started: no passage recorder")
        return self.recorder


def _load_runner(path: str) -> DemoLaneRunner:
    module, _, name = path.partition(":")
    if not module or not name:
        raise ValueError(f"server.demo_lane_runner {path!r}: expected 'module:callable'")
    runner: DemoLaneRunner = getattr(importlib.import_module(module), name)
    return runner


def create_app(
    settings: Settings | None = None,
    *,
    demo_lane: DemoLaneRunner | None = None,
    lane_runner: bool | None = None,
) -> FastAPI:
    """Build the lane service. ``settings`` defaults to :func:`api.settings.get_settings`.

    ``demo_lane`` (or the setting ``server.demo_lane_runner``) is the demo lane started in the
    lifespan when ``server.demo`` is on. Otherwise the lane runner runs ``pipeline.lanes`` when
    ``lane_runner`` is true (``serve``: with no lanes listed, a lane starts when a camera first pushes
    frames to it) or, by default, when any are listed; without it pushed frames only queue in
    a :class:`~api.events.QueueFrameSink` (tests, or a pipeline of one's own).
    """
    settings = settings or get_settings()
    run_lane_runner = bool(settings.pipeline.lanes) if lane_runner is None else lane_runner

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = open_store(settings.database_url)  # upgrades the schema to head
        backend = ping(engine)
        log.info("store: %s (%s)", backend, engine.url.render_as_string(hide_password=True))
        registry = settings.model_registry()
        models = {}  # each role's version in use, loaded once to prove it loads (GET /health)
        for role in ROLES:
            current = registry.current(role)
            if current.onnx.is_file():
                models[role] = OnnxModel(
                    current.onnx,
                    settings.runtime.providers,
                    intra_op_threads=settings.runtime.intra_op_threads or None,
                )
        from api.auth import LoginThrottle  # noqa: PLC0415 - auth imports this module

        hub, lanes = EventHub(), LaneRegistry()
        recorder = PassageRecorder(engine=engine, settings=settings, hub=hub, lanes=lanes)
        recorder.rebuild_matcher()
        state = AppState(
            settings=settings,
            engine=engine,
            models=models,
            hub=hub,
            lanes=lanes,
            frame_sink=LanesStarting() if run_lane_runner else QueueFrameSink(settings.frames.queue_per_lane),
            recorder=recorder,
            login_throttle=LoginThrottle(),
            demo_lane=demo_lane,
        )
        app.state.lane = state
        if settings.server.demo or settings.server.demo_replay:
            await _start_demo(state)
        elif run_lane_runner:
            from api.lane_runner import run_lanes  # noqa: PLC0415 - loads the models

            if settings.pipeline.lanes:
                log.info("starting %d configured lane(s)", len(settings.pipeline.lanes))
            else:
                log.info(
                    "no lanes in pipeline.lanes: a lane starts when a camera first pushes frames to it "
                    "(at most pipeline.max_pushed_lanes, %d)",
                    settings.pipeline.max_pushed_lanes,
                )
            state.tasks.append(asyncio.create_task(_supervise(run_lanes, state), name="lanes"))
        try:
            yield
        finally:
            for task in state.tasks:
                task.cancel()
            for task in state.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            engine.dispose()

    # FastAPIOffline: /docs (Swagger UI) and /redoc load their scripts from this service
    # (/static-offline-docs), not a CDN: a port's network often has no internet.
    app = FastAPIOffline(
        title="HGV lane assistant",
        version="0.1.0",
        summary="Plates, trailer body type, action list and the officers' flag queue.",
        lifespan=lifespan,
    )
    from api import hygiene  # noqa: PLC0415
    from api.limits import BodyLimit, route_limits  # noqa: PLC0415
    from api.routers import (  # noqa: PLC0415 - routers import the app state types
        actionlist,
        audit,
        auth,
        flags,
        health,
        lanes,
        metrics,
        passages,
        users,
        web,
    )
    from api.routers.actionlist import MAX_CSV_BYTES  # noqa: PLC0415

    hygiene.install(app)
    app.add_middleware(
        BodyLimit,
        limit_for=route_limits(settings.frames.max_bytes, MAX_CSV_BYTES, settings.server.max_body_bytes),
    )
    app.include_router(health.router)
    app.include_router(metrics.router)
    for module in (auth, lanes, flags, passages, actionlist, users, audit):
        app.include_router(module.router, prefix="/v1")
    web.mount(app)
    return app


async def _start_demo(state: AppState) -> None:
    """Demo mode: demo users and action list, then the demo lane (if one is registered)."""
    from api.demo import replay_ground_truth, setup_demo  # noqa: PLC0415

    await asyncio.to_thread(setup_demo, state)
    runner = state.demo_lane
    if runner is None and state.settings.server.demo_lane_runner:
        runner = _load_runner(state.settings.server.demo_lane_runner)
    if state.settings.server.demo_replay:
        if runner is not None:
            log.warning("demo: demo_replay is on, so the registered demo lane runner is not started")
        runner = replay_ground_truth
        log.warning("demo: REPLAYING THE DEMO CLIP'S GROUND TRUTH as passages (no vision runs)")
        if isinstance(state.frame_sink, LanesStarting):
            state.frame_sink.reason = "the service replays the demo's ground truth: no pipeline takes frames"
    if runner is None:
        log.warning(
            "demo: no demo lane runner registered (server.demo_lane_runner is empty), so no lane feeds "
            "passages; set HGV_LANE_SERVER__DEMO_REPLAY=1 to replay the demo clip's ground truth instead"
        )
        if isinstance(state.frame_sink, LanesStarting):
            state.frame_sink.reason = "the service runs no lane pipeline (server.demo_lane_runner is empty)"
        return
    log.info("demo: starting demo lane %s", getattr(runner, "__qualname__", runner))
    state.tasks.append(asyncio.create_task(_supervise(runner, state), name="demo-lane"))


async def _supervise(runner: DemoLaneRunner, state: AppState) -> None:
    try:
        await runner(state)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("lane runner stopped with an error")
        raise
