"""``/v1/users`` and ``/v1/tokens``: people and machines that use the service (admins), and bearer
tokens (admins for anyone; every user for their own)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.auth import (
    AdminUser,
    AnyUser,
    Client,
    DbDep,
    Principal,
    StateDep,
    audit,
    check_password_policy,
    create_user,
    end_access,
    hash_password,
    issue_token,
    now_ms,
    token_expiry,
)
from api.db import repository as repo
from api.db.models import ApiToken, User, UserRole
from api.schemas.users import TokenCreate, TokenCreated, TokenPublic, UserCreate, UserPublic, UserUpdate

router = APIRouter(tags=["users"])


def user_public(u: User) -> UserPublic:
    return UserPublic(
        id=u.id,
        name=u.name,
        role=UserRole(u.role),
        active=u.active,
        has_password=bool(u.password_hash),
        created_ts_ms=u.created_ts_ms,
    )


def token_public(t: ApiToken) -> TokenPublic:
    return TokenPublic(
        id=t.id,
        user=t.user.name,
        name=t.name,
        prefix=t.prefix,
        created_ts_ms=t.created_ts_ms,
        expires_ts_ms=t.expires_ts_ms,
        last_used_ts_ms=t.last_used_ts_ms,
        revoked_ts_ms=t.revoked_ts_ms,
        lane=t.lane_id,
        camera=t.camera_id,
    )


@router.get("/users", response_model=list[UserPublic], summary="Every user")
def list_users(user: AdminUser, db: DbDep) -> list[UserPublic]:
    return [user_public(u) for u in repo.list_users(db)]


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED, summary="Add a user")
def add_user(body: UserCreate, user: AdminUser, db: DbDep, state: StateDep, client: Client) -> UserPublic:
    """A person (officer, supervisor, admin: with a password, or none for a token-only
    integration) or a machine (camera: tokens only); 422 for a camera with a password (it could
    never log in, and a later role change would let the password in)."""
    if body.role is UserRole.CAMERA and body.password is not None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{body.name!r}: a camera gets no password (it pushes frames with tokens)",
        )
    try:
        new = create_user(
            db, body.name, body.role, body.password, min_password_len=state.settings.auth.min_password_len
        )
    except ValueError as exc:
        code = status.HTTP_409_CONFLICT if "exists" in str(exc) else status.HTTP_422_UNPROCESSABLE_CONTENT
        raise HTTPException(code, str(exc)) from exc
    audit(db, user, "user.add", client, {"user": new.name, "role": new.role})
    db.commit()
    return user_public(new)


@router.patch("/users/{name}", response_model=UserPublic, summary="Change a user's role, password or state")
def update_user(
    name: str, body: UserUpdate, user: AdminUser, db: DbDep, state: StateDep, client: Client
) -> UserPublic:
    target = repo.get_user_by_name(db, name)
    if target is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {name!r}")
    changes: dict[str, object] = {}
    now = now_ms()
    if body.role is not None and body.role is not UserRole(target.role):
        bound = [
            t for t in repo.list_tokens(db, target.id) if t.lane_id is not None and t.revoked_ts_ms is None
        ]
        if bound:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"{name!r} has {len(bound)} lane-bound token(s), which only a camera may hold: revoke "
                "them first (a lane-bound token must not gain another role's powers)",
            )
        target.role = body.role
        changes["role"] = body.role
        if body.role is UserRole.CAMERA:  # cameras use tokens only: the password goes
            target.password_hash = None
            changes["password"] = "removed"
        # a session opened, or a token made, as the old role must not act as the new one
        changes.update(end_access(db, target, now, tokens=True))
    if body.active is not None and body.active != target.active:
        target.active = body.active
        changes["active"] = body.active
        if not body.active:  # enabling again must not bring a stolen cookie back
            changes.update(end_access(db, target, now))
    if body.password is not None and UserRole(target.role) is UserRole.CAMERA:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name!r} is a camera: it gets no password (tokens only)"
        )
    if body.password is not None:
        try:
            check_password_policy(body.password, state.settings.auth.min_password_len)
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        target.password_hash = hash_password(body.password)
        # a session opened with the old password (a stolen cookie), and any token made with it, end
        changes["password"] = "changed"
        changes.update(end_access(db, target, now, tokens=True))
    audit(db, user, "user.update", client, {"user": name, **changes})
    db.commit()
    return user_public(target)


@router.get("/tokens", response_model=list[TokenPublic], summary="Tokens (admins: all; others: their own)")
def list_tokens(user: AnyUser, db: DbDep) -> list[TokenPublic]:
    """Admins see every token, others their own; a lane-bound token sees only itself."""
    rows = repo.list_tokens(db, None if user.role is UserRole.ADMIN else user.user_id)
    if user.lane_id is not None:
        rows = [t for t in rows if t.id == user.credential_id]
    return [token_public(t) for t in rows]


def _lane_bound_may_not(user: Principal, what: str) -> None:
    """403 when ``user`` came with a lane-bound token: it pushes frames to its lane and nothing
    else (a leaked camera token must not make itself an unbound one, or revoke its siblings)."""
    if user.lane_id is not None:
        detail = f"a token bound to lane {user.lane_id!r} may not {what}"
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail)


@router.post(
    "/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED, summary="Make a bearer token"
)
def create_token(
    body: TokenCreate, user: AnyUser, db: DbDep, state: StateDep, client: Client
) -> TokenCreated:
    """A new token for yourself, or (admins) for any user, e.g. a camera. The value is returned
    this once; only its SHA-256 is stored. ``lane`` binds it to one lane's frames: only for a
    camera user's token (422 otherwise). A lane-bound token may not make tokens (403)."""
    _lane_bound_may_not(user, "make tokens")
    if user.role is UserRole.CAMERA:  # a camera's token, leaked, must not mint itself more
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a camera's tokens are made by an admin")
    name = body.user or user.name
    if name != user.name and user.role is not UserRole.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only admins make tokens for other users")
    owner = repo.get_user_by_name(db, name)
    if owner is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {name!r}")
    expires = token_expiry(owner, body.expires_days, state.settings.auth.person_token_days, now_ms())
    try:
        value, token_id = issue_token(
            db, owner, body.name, expires_ts_ms=expires, lane_id=body.lane, camera_id=body.camera
        )
    except ValueError as e:  # a lane for a user who is no camera (the schema checked the lane id)
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from e
    audit(
        db,
        user,
        "token.create",
        client,
        {
            "user": owner.name,
            "token": token_id,
            "name": body.name.strip(),
            "lane": body.lane,
            "camera": body.camera,
        },
    )
    db.commit()
    row = repo.get_token(db, token_id)
    assert row is not None
    return TokenCreated(**token_public(row).model_dump(), token=value)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a token")
def revoke_token(token_id: int, user: AnyUser, db: DbDep, client: Client) -> None:
    """Revoke one of your tokens (admins: anyone's); a lane-bound token may revoke only itself."""
    if user.lane_id is not None and token_id != user.credential_id:
        _lane_bound_may_not(user, "revoke other tokens")
    row = repo.get_token(db, token_id)
    if row is None or (row.user_id != user.user_id and user.role is not UserRole.ADMIN):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no token {token_id}")
    if row.revoked_ts_ms is not None:  # revoked already: 204 again, nothing more to audit
        return
    row.revoked_ts_ms = now_ms()
    audit(db, user, "token.revoke", client, {"token": token_id, "user": row.user.name})
    db.commit()
