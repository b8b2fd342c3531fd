"""``GET /health``: liveness and readiness, for load balancers and installers (no auth: it
says nothing about vehicles or officers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.app import AppState
from api.store import ping

router = APIRouter(tags=["health"])


class ModelStatus(BaseModel):
    role: str
    name: str
    version: str | None = Field(None, description="Registry version the lanes run (null: no lanes running).")
    reload_error: str = Field("", description="Why the last promoted version did not load, if it did not.")
    task: str | None
    classes: list[str]
    providers: list[str]


class Health(BaseModel):
    status: str
    version: str
    store: str
    models: list[ModelStatus]


def app_state(request: Request) -> AppState:
    """The shared state the lifespan opened."""
    state: AppState = request.app.state.lane
    return state


@router.get("/health", response_model=Health, summary="Service health (no authentication)")
def health(state: Annotated[AppState, Depends(app_state)], request: Request) -> Health:
    in_use = {u.role: u for u in state.model_watcher.in_use()} if state.model_watcher else {}
    return Health(
        status="ok",
        version=request.app.version,
        store=ping(state.engine),
        models=[
            ModelStatus(
                role=role,
                name=m.path.name,
                version=in_use[role].version if role in in_use else None,
                reload_error=in_use[role].error if role in in_use else "",
                task=m.info.task,
                classes=list(m.info.class_names),
                providers=list(m.info.providers),
            )
            for role, m in state.models.items()
        ],
    )
