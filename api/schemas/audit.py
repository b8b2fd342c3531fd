"""The audit log."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditPublic(BaseModel):
    """One audit row: who did what, when, from where."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ts_ms: int
    actor: str
    action: str
    detail: dict[str, Any]
    client_ip: str | None
    user_agent: str | None
