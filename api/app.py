"""The FastAPI application factory. Models and the store are opened once, in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI
from sqlalchemy import Engine

from api.db.session import open_store
from api.settings import Settings, get_settings
from api.store import ping
from vision.runtime import OnnxModel
from vision.shipped import onnx_files

log = logging.getLogger(__name__)


@dataclass
class AppState:
    """What the lifespan opens once and every request shares."""

    settings: Settings
    engine: Engine
    models: dict[str, OnnxModel] = field(default_factory=dict)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the lane service. ``settings`` defaults to :func:`api.settings.get_settings`."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = open_store(settings.database_url)  # upgrades the schema to head
        backend = ping(engine)
        log.info("store: %s (%s)", backend, engine.url.render_as_string(hide_password=True))
        models = {
            p.stem: OnnxModel(
                p, settings.runtime.providers, intra_op_threads=settings.runtime.intra_op_threads or None
            )
            for p in onnx_files(settings.models.dir)
        }
        app.state.lane = AppState(settings=settings, engine=engine, models=models)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="HGV lane assistant",
        version="0.1.0",
        summary="Plates, trailer body type, action list and the officers' flag queue.",
        lifespan=lifespan,
    )
    from api.routers import health  # noqa: PLC0415 - routers import the app state types

    app.include_router(health.router)
    return app
