"""``GET /health``: liveness and readiness, for load balancers and installers (no auth: it
says nothing about vehicles or officers)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.app import AppState
from api.schemas.lanes import LaneStatus
from api.store import ping
from vision.runtime import ModelLoadError, OnnxModel

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


class ModelStatus(BaseModel):
    role: str
    name: str
    path: str = Field("", description="The ONNX file the lanes run (or would run) for this role.")
    version: str | None = Field(None, description="Registry version the lanes run (null: no lanes running).")
    reload_error: str = Field("", description="Why the last promoted version did not load, if it did not.")
    task: str | None
    classes: list[str]
    providers: list[str]


class Health(BaseModel):
    status: str = Field(
        description="ok; degraded when a lane is down, the store refuses passages (they are kept "
        "in the spool), passages wait in the spool, or a passage was lost. The service answers "
        "either way (200)."
    )
    version: str
    store: str
    lanes_down: list[str] = Field(default_factory=list, description="Lanes whose status is down.")
    passages_spooled: int = Field(0, description="Passages the store refused, kept in the spool since start.")
    passages_in_spool: int = Field(0, description="Passages in the spool now, waiting to be replayed.")
    passages_lost: int = Field(0, description="Passages neither stored nor spooled since start (logged).")
    models: list[ModelStatus]


def app_state(request: Request) -> AppState:
    """The shared state the lifespan opened."""
    state: AppState = request.app.state.lane
    return state


@router.get("/health", response_model=Health, summary="Service health (no authentication)")
def health(state: Annotated[AppState, Depends(app_state)], request: Request) -> Health:
    in_use = {u.role: u for u in state.model_watcher.in_use()} if state.model_watcher else {}
    for role, u in in_use.items():  # a version swapped in since start: describe that file
        m = state.models.get(role)
        if m is not None and Path(u.path) != m.path:
            try:
                state.models[role] = OnnxModel(Path(u.path), state.settings.runtime.providers, warmup=False)
            except ModelLoadError as e:  # removed since it loaded: say so, keep the last description
                log.warning("health: %s %s: %s", role, u.version, e)
    down = sorted(lane.lane_id for lane in state.lanes.all() if lane.status == LaneStatus.DOWN)
    sink = state.passage_sink
    spooled, lost = (sink.counts.spooled, sink.counts.lost) if sink is not None else (0, 0)
    waiting = sink.pending if sink is not None else 0
    retrying = sink is not None and sink.degraded
    return Health(
        status="degraded" if down or retrying or waiting or lost else "ok",
        version=request.app.version,
        store=ping(state.engine),
        lanes_down=down,
        passages_spooled=spooled,
        passages_in_spool=waiting,
        passages_lost=lost,
        models=[
            ModelStatus(
                role=role,
                name=m.path.name,
                path=str(m.path),
                version=in_use[role].version if role in in_use else None,
                reload_error=in_use[role].error if role in in_use else "",
                task=m.info.task,
                classes=list(m.info.class_names),
                providers=list(m.info.providers),
            )
            for role, m in state.models.items()
        ],
    )
