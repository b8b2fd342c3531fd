"""``GET /health``: liveness and readiness, for load balancers and installers (no auth: it
says nothing about vehicles or officers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from api.app import AppState
from api.store import ping

router = APIRouter(tags=["health"])


class ModelStatus(BaseModel):
    name: str
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
    return Health(
        status="ok",
        version=request.app.version,
        store=ping(state.engine),
        models=[
            ModelStatus(
                name=name,
                task=m.info.task,
                classes=list(m.info.class_names),
                providers=list(m.info.providers),
            )
            for name, m in state.models.items()
        ],
    )
