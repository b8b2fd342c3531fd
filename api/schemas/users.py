"""Users, tokens and log-in: create / update / public schemas."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.auth import NAME_PATTERN
from api.db.models import UserRole
from api.schemas.lanes import LANE_ID


class UserCreate(BaseModel):
    """A new user; ``password`` may be left out for token-only users (cameras, integrations)."""

    name: str = Field(pattern=NAME_PATTERN, description="Log-in name: lower-case letters, digits, . _ -")
    role: UserRole
    password: str | None = Field(None, min_length=1, max_length=1024)


class UserUpdate(BaseModel):
    """Changes to a user (fields left out stay as they are)."""

    role: UserRole | None = None
    active: bool | None = None
    password: str | None = Field(None, min_length=1, max_length=1024)


class UserPublic(BaseModel):
    """A user as the API shows it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: UserRole
    active: bool
    has_password: bool
    created_ts_ms: int


class TokenCreate(BaseModel):
    """A new bearer token for a user (default: yourself)."""

    user: str | None = Field(None, description="User name (admins only; default: the caller).")
    name: str = Field("api", min_length=1, max_length=100, description="What the token is for.")
    expires_days: int | None = Field(
        None,
        ge=1,
        le=3650,
        description="Days until it expires (default: a person's token auth.person_token_days, 90; a "
        "camera's never).",
    )
    lane: str | None = Field(
        None,
        pattern=LANE_ID,
        description="Bind the token to this lane: it may push frames there only (a lane camera's token).",
    )
    camera: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="With lane: bind it to this camera of the lane too (it pushes frames as that camera "
        "only, whatever X-Camera-Id says).",
    )


class TokenPublic(BaseModel):
    """A token as the API lists it: never its value."""

    id: int
    user: str
    name: str
    prefix: str
    created_ts_ms: int
    expires_ts_ms: int | None
    last_used_ts_ms: int | None
    revoked_ts_ms: int | None
    lane: str | None = Field(None, description="The lane it is bound to (None: any lane).")
    camera: str | None = Field(None, description="The camera of its lane it is bound to (None: any).")


class TokenCreated(TokenPublic):
    """A token just made: ``token`` is shown this once and never stored."""

    token: str


class LoginRequest(BaseModel):
    """Name and password."""

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChange(BaseModel):
    """Your password now, and the new one."""

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    """The logged-in user; ``csrf_token`` goes in the ``X-CSRF-Token`` header of changing requests."""

    name: str
    role: UserRole
    via: str
    csrf_token: str | None = None
    expires_ts_ms: int | None = None
    lane: str | None = Field(None, description="The lane a lane-bound token may push frames to (None: any).")
