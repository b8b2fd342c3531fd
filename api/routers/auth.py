"""``/v1/auth``: log in (session cookie for the web page), log out, who am I."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from fastapi import APIRouter, HTTPException, Request, Response, status

from api.auth import (
    SESSION_COOKIE,
    AnyUser,
    Client,
    DbDep,
    LoginBlocked,
    LoginBusy,
    LoginThrottle,
    StateDep,
    audit,
    check_password_policy,
    end_access,
    hash_password,
    needs_rehash,
    now_ms,
    sha256_hex,
    throttled_verify,
)
from api.db import repository as repo
from api.db.models import UserRole
from api.schemas.users import LoginRequest, Me, PasswordChange

router = APIRouter(tags=["auth"])


@router.post(
    "/auth/login",
    response_model=Me,
    summary="Log in (sets the session cookie)",
    responses={401: {"description": "Wrong name or password"}, 429: {"description": "Too many failures"}},
)
def login(body: LoginRequest, response: Response, db: DbDep, state: StateDep, client: Client) -> Me:
    """No authentication (this is how you get it). Sets ``hgv_session`` (HttpOnly,
    SameSite=Strict) and returns the CSRF token to send as ``X-CSRF-Token`` on every request that
    changes something. Cameras log in with tokens, not here. Failures are audited; five failures
    for a name from one address, or twenty for any names from one address, within five minutes
    block further tries for a while (the block's first refusal is audited, not every one). A
    log-in that finds four others checking passwords waits up to half a second for a place, then
    is 429."""
    throttle = state.login_throttle
    ip = client.ip or "?"
    user = repo.get_user_by_name(db, body.name)

    def blocked() -> None:  # the block's first refusal is audited
        audit(db, body.name[:64], "auth.login_blocked", client, {})
        db.commit()

    ok = _verify(throttle, body.name, ip, user.password_hash if user else None, body.password, blocked)
    if user is None or not ok or not user.active or user.role is UserRole.CAMERA:
        if ok and throttle is not None:  # a wrong password was counted already
            throttle.failed(body.name, ip)
        audit(db, body.name[:64], "auth.login_failed", client, {})
        db.commit()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong name or password")
    if throttle is not None:
        throttle.succeeded(body.name, ip)
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(body.password)
    raw, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    ttl_ms = state.settings.auth.session_ttl_min * 60_000
    now = now_ms()
    repo.delete_expired_web_sessions(db, now)
    repo.add_web_session(
        db,
        user_id=user.id,
        token_sha256=sha256_hex(raw),
        csrf_token=csrf,
        created_ts_ms=now,
        expires_ts_ms=now + ttl_ms,
        client_ip=client.ip,
        user_agent=(client.user_agent or "")[:256] or None,
    )
    audit(db, user.name, "auth.login", client, {"role": user.role})
    db.commit()
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=ttl_ms // 1000,
        httponly=True,
        samesite="strict",
        secure=state.settings.auth.cookie_secure,
        path="/",
    )
    return Me(
        name=user.name, role=UserRole(user.role), via="session", csrf_token=csrf, expires_ts_ms=now + ttl_ms
    )


def _verify(
    throttle: LoginThrottle | None,
    name: str,
    ip: str,
    password_hash: str | None,
    password: str,
    on_first_block: Callable[[], None] | None = None,
) -> bool:
    """:func:`api.auth.throttled_verify`, its refusals as 429 (``on_first_block`` called for the
    first refusal of a block)."""
    try:
        return throttled_verify(throttle, name, ip, password_hash, password)
    except LoginBlocked as refused:
        if refused.first and on_first_block is not None:
            on_first_block()
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, "too many failed log-ins: wait a few minutes"
        ) from None
    except LoginBusy:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, "too many log-ins at once: try again in a moment"
        ) from None


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Log out (ends the session)")
def logout(user: AnyUser, request: Request, response: Response, db: DbDep, client: Client) -> None:
    """Revokes the session of the cookie (a token caller: nothing to end) and clears the cookie."""
    raw = request.cookies.get(SESSION_COOKIE)
    if user.via == "session" and raw:
        row = repo.web_session_by_sha256(db, sha256_hex(raw))
        if row is not None:
            row.revoked_ts_ms = now_ms()
    audit(db, user, "auth.logout", client, {})
    db.commit()
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


@router.post(
    "/auth/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change your own password (ends your other sessions and tokens)",
    responses={
        403: {"description": "The current password is wrong, or a camera"},
        429: {"description": "Too many failures"},
    },
)
def change_password(body: PasswordChange, user: AnyUser, db: DbDep, state: StateDep, client: Client) -> None:
    """A person changes their own password, giving the current one (a stolen cookie alone cannot
    change it). A wrong current password counts as a failed log-in for the name and address
    (the log-in throttle). Every other session and token of the user ends: the one making the
    request stays. Cameras have no password (403)."""
    if user.role is UserRole.CAMERA:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a camera has no password (tokens only)")
    target = repo.get_user_by_name(db, user.name)
    assert target is not None  # authenticated just now
    if target.password_hash is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{user.name!r} has no password (tokens only)")
    ok = _verify(
        state.login_throttle, user.name, client.ip or "?", target.password_hash, body.current_password
    )
    if not ok:
        audit(db, user, "auth.password_failed", client, {})
        db.commit()
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the current password is wrong")
    try:
        check_password_policy(body.new_password, state.settings.auth.min_password_len)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    target.password_hash = hash_password(body.new_password)
    ended = end_access(db, target, now_ms(), tokens=True, keep=user)
    audit(db, user, "auth.password_changed", client, ended)
    db.commit()


@router.get("/auth/me", response_model=Me, summary="Who am I")
def me(user: AnyUser, db: DbDep, request: Request) -> Me:
    """The caller; for a browser session also the CSRF token (readable only by same-origin pages)."""
    expires = None
    if user.via == "session":
        row = repo.web_session_by_sha256(db, sha256_hex(request.cookies.get(SESSION_COOKIE, "")))
        expires = row.expires_ts_ms if row is not None else None
    return Me(
        name=user.name,
        role=user.role,
        via=user.via,
        csrf_token=user.csrf_token,
        expires_ts_ms=expires,
        lane=user.lane_id,
    )
