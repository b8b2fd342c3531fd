"""``/v1/audit``: the audit log (supervisors and admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import DbDep, SupervisorUser
from api.db import repository as repo
from api.schemas.audit import AuditPublic

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=list[AuditPublic], summary="The audit log, newest first")
def list_audit(
    user: SupervisorUser,
    db: DbDep,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="An action, or a prefix ending in '.', e.g. 'flag.'")
    ] = None,
    since_ts_ms: Annotated[int | None, Query(ge=0)] = None,
    before_id: Annotated[int | None, Query(ge=1, description="Page: rows older than this id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditPublic]:
    """Who did what, when and from where (client IP, user agent): log-ins, flag views and
    actions, evidence views, passage searches, action-list imports, user and token changes."""
    rows = repo.search_audit(
        db, actor=actor, action=action, since_ts_ms=since_ts_ms, before_id=before_id, limit=limit
    )
    return [AuditPublic.model_validate(r) for r in rows]
