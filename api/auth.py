"""Authentication, roles and the audit trail of requests.

- **Passwords** are hashed with argon2id (``argon2-cffi``'s defaults); hashes that the library
  would now make stronger are re-hashed at the next log-in.
- **Bearer tokens** (cameras, integrations): ``hgv_`` + 43 random URL-safe characters; only their
  SHA-256 is stored (a token has 256 bits of entropy, so a fast hash is enough), printed once.
- **Web sessions**: ``POST /v1/auth/login`` sets the ``hgv_session`` cookie (HttpOnly,
  SameSite=Strict, Secure when ``auth.cookie_secure``), stored server-side as a SHA-256, with an
  expiry and revocable at log-out. Cookie-authenticated requests that change anything must carry
  ``X-CSRF-Token`` equal to the token given at log-in (SameSite=Strict plus a custom header).
- **Roles** are checked on the server by the ``Annotated`` dependencies below: ``OfficerUser``
  (officer, supervisor, admin), ``SupervisorUser`` (supervisor, admin), ``AdminUser``,
  ``CameraUser`` (camera, admin), ``AnyUser``.

Every route depends on one of them unless its docstring says why not.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from api.app import AppState
from api.db import repository as repo
from api.db.models import User, UserRole
from api.db.session import session_factory, session_scope
from api.schemas.lanes import LANE_ID

SESSION_COOKIE = "hgv_session"
CSRF_HEADER = "X-CSRF-Token"
TOKEN_PREFIX = "hgv_"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
"""User names: lower-case letters, digits, dot, underscore, hyphen; 1-64 characters."""


def now_ms() -> int:
    return int(time.time() * 1000)


# --- secrets -----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; a user without a password (tokens only) never matches."""
    if not password_hash:
        _dummy_verify(password)
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def _dummy_verify(password: str) -> None:
    """Spend the time of a real check, so that unknown names cannot be told apart by timing."""
    with contextlib.suppress(VerificationError):
        _hasher().verify(_dummy_hash(), password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def new_token() -> str:
    """A new bearer token (shown once)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def sha256_hex(value: str) -> str:
    """How tokens and session cookies are stored."""
    return hashlib.sha256(value.encode()).hexdigest()


def check_password_policy(password: str, min_len: int) -> None:
    """Raise ``ValueError`` with the reason when ``password`` is too weak."""
    if len(password) < min_len:
        raise ValueError(f"password too short: at least {min_len} characters")
    if len(password) > 1024:
        raise ValueError("password too long: at most 1024 characters")


# --- principal ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Principal:
    """Who makes a request, and how they proved it."""

    user_id: int
    name: str
    role: UserRole
    via: str  # "token" or "session"
    credential_id: int  # the token's or the web session's id
    csrf_token: str | None = None
    lane_id: str | None = None  # a lane-bound token's lane (it may push frames to that lane only)
    camera_id: str | None = None  # a camera-bound token's camera (it pushes frames as that camera only)


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from (for the audit log)."""

    ip: str | None
    user_agent: str | None

    @classmethod
    def of(cls, request: Request) -> ClientInfo:
        return cls(request.client.host if request.client else None, request.headers.get("user-agent"))


def get_state(request: Request) -> AppState:
    """The shared state the lifespan opened."""
    state: AppState = request.app.state.lane
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_db(state: StateDep) -> Iterator[Session]:
    """A session for one request. Routes commit explicitly; anything uncommitted is rolled back."""
    with session_factory(state.engine)() as session:
        yield session


DbDep = Annotated[Session, Depends(get_db)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def _from_token(state: AppState, raw: str) -> Principal:
    now = now_ms()
    with session_scope(state.engine) as session:
        token = repo.token_by_sha256(session, sha256_hex(raw))
        if token is None or token.revoked_ts_ms is not None:
            raise _unauthorized("invalid or revoked token")
        if token.expires_ts_ms is not None and token.expires_ts_ms <= now:
            raise _unauthorized("token expired")
        if not token.user.active:
            raise _unauthorized("the token's user is disabled")
        resolution = state.settings.auth.token_last_used_resolution_s * 1000
        if token.last_used_ts_ms is None or now - token.last_used_ts_ms >= resolution:
            token.last_used_ts_ms = now
        user = token.user
        return Principal(
            user.id,
            user.name,
            UserRole(user.role),
            "token",
            token.id,
            lane_id=token.lane_id,
            camera_id=token.camera_id,
        )


def _from_cookie(state: AppState, raw: str, request: Request) -> Principal:
    with session_scope(state.engine) as session:
        row = repo.web_session_by_sha256(session, sha256_hex(raw))
        if row is None or row.revoked_ts_ms is not None or row.expires_ts_ms <= now_ms():
            raise _unauthorized("session expired or logged out: log in again")
        if not row.user.active:
            raise _unauthorized("user disabled")
        principal = Principal(
            row.user.id, row.user.name, UserRole(row.user.role), "session", row.id, row.csrf_token
        )
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        # bytes: compare_digest refuses non-ASCII str (a 500 before)
        if not sent or not hmac.compare_digest(sent.encode(), (principal.csrf_token or "").encode()):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"missing or wrong {CSRF_HEADER} header")
    return principal


def authenticate(request: Request, state: StateDep) -> Principal:
    """The request's principal: a bearer token (``Authorization: Bearer ...``) or the session
    cookie; 401 when neither is valid, 403 when a cookie request lacks the CSRF header."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("use 'Authorization: Bearer <token>'")
        return _from_token(state, value.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return _from_cookie(state, cookie, request)
    raise _unauthorized("not authenticated: log in, or send 'Authorization: Bearer <token>'")


def still_admitted(request: Request, state: AppState, roles: Iterable[UserRole]) -> str | None:
    """Why ``request``'s credentials no longer admit it to ``roles`` (logged out, expired,
    revoked, the user disabled or given another role), or ``None`` while they do: for a
    long-lived response such as the live stream, whose dependencies ran once, at its start."""
    try:
        principal = authenticate(request, state)
    except HTTPException as exc:
        return str(exc.detail)
    if principal.role not in set(roles):
        return f"role {principal.role.value} may no longer do this"
    return None


OFFICER_ROLES: tuple[UserRole, ...] = (UserRole.OFFICER, UserRole.SUPERVISOR, UserRole.ADMIN)
"""Who may watch and act on the flag queue."""


def require(*roles: UserRole) -> Callable[[Principal], Principal]:
    """A dependency that admits only ``roles`` (403 otherwise)."""
    allowed = frozenset(roles)

    def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"role {principal.role.value} may not do this (needs {names})"
            )
        return principal

    return dependency


R = UserRole
AnyUser = Annotated[Principal, Depends(authenticate)]
OfficerUser = Annotated[Principal, Depends(require(*OFFICER_ROLES))]
SupervisorUser = Annotated[Principal, Depends(require(R.SUPERVISOR, R.ADMIN))]
AdminUser = Annotated[Principal, Depends(require(R.ADMIN))]
CameraUser = Annotated[Principal, Depends(require(R.CAMERA, R.ADMIN))]
Client = Annotated[ClientInfo, Depends(ClientInfo.of)]


def audit(
    session: Session, actor: Principal | str, action: str, client: ClientInfo, detail: Mapping[str, Any]
) -> None:
    """Add one audit row (who, what, when, from where); the caller commits."""
    repo.audit(
        session,
        ts_ms=now_ms(),
        actor=actor.name if isinstance(actor, Principal) else actor,
        action=action,
        detail=detail,
        client_ip=client.ip,
        user_agent=client.user_agent,
    )


# --- users -------------------------------------------------------------------------------------


def create_user(
    session: Session, name: str, role: UserRole, password: str | None, *, min_password_len: int
) -> User:
    """Add a user (password optional: token-only users such as cameras). Raises ``ValueError``
    for a bad name, a weak password or a name in use."""
    import re  # noqa: PLC0415

    if not re.match(NAME_PATTERN, name):
        raise ValueError(f"user name {name!r}: lower-case letters, digits, '.', '_' or '-', at most 64")
    if repo.get_user_by_name(session, name) is not None:
        raise ValueError(f"user {name!r} exists already")
    if password is not None:
        check_password_policy(password, min_password_len)
    return repo.add_user(
        session,
        name=name,
        role=role,
        password_hash=hash_password(password) if password is not None else None,
        created_ts_ms=now_ms(),
    )


TOKEN_NAME_MAX = 100
"""The longest a token's name may be (as the API's schema allows)."""


def token_expiry(user: User, expires_days: int | None, person_days: int, now: int) -> int | None:
    """When a new token of ``user`` expires (ms since the epoch): after ``expires_days`` when
    asked; else a person's after ``person_days`` (``auth.person_token_days``; 0: never), and a
    camera's or a token-only integration's (a user with no password) never: a lane camera or
    a feed must not go dark on a date nobody remembers."""
    days = expires_days
    person = UserRole(user.role) is not UserRole.CAMERA and user.password_hash is not None
    if days is None and person and person_days > 0:
        days = person_days
    return now + days * 86_400_000 if days else None


def end_access(
    session: Session, user: User, now: int, *, tokens: bool = False, keep: Principal | None = None
) -> dict[str, int]:
    """End ``user``'s browser sessions (and with ``tokens`` revoke their tokens): what a change
    of who they are needs, so a stolen cookie or a token minted with it does not outlive the
    change. ``keep``: the caller's own session or token stays (a user changing their own
    password). Returns the counts for the audit row."""
    keep_session = keep.credential_id if keep is not None and keep.via == "session" else None
    keep_token = keep.credential_id if keep is not None and keep.via == "token" else None
    ended = {"sessions_ended": repo.revoke_web_sessions(session, user.id, now, keep=keep_session)}
    if tokens:
        ended["tokens_revoked"] = repo.revoke_tokens(session, user.id, now, keep=keep_token)
    return ended


def issue_token(
    session: Session,
    user: User,
    name: str,
    *,
    expires_ts_ms: int | None = None,
    lane_id: str | None = None,
    camera_id: str | None = None,
) -> tuple[str, int]:
    """A new bearer token for ``user``: ``(token, token id)``; only its hash is stored. With
    ``lane_id`` it may push frames to that lane only: ``ValueError`` (nothing stored) when that is
    no lane id or ``user`` is no camera (an officer's or admin's token would keep its role
    everywhere else, so a lane would promise a limit it does not give). With ``camera_id`` too
    it pushes frames as that camera of the lane only (``ValueError`` without ``lane_id``)."""
    if camera_id is not None and (lane_id is None or not 1 <= len(camera_id.strip()) <= 64):
        raise ValueError(
            "a token is bound to a camera of its lane: give the lane too, and a camera id of 1-64 characters"
        )
    if lane_id is not None:
        if not re.fullmatch(LANE_ID, lane_id):
            raise ValueError(f"{lane_id!r} is not a lane id (letters, digits, '_', '.', '-'; at most 64)")
        role = UserRole(user.role)
        if role is not UserRole.CAMERA:
            raise ValueError(
                f"only a camera user's token is bound to a lane; {user.name!r} is {role.value}, not camera"
            )
    name = name.strip()
    if not 1 <= len(name) <= TOKEN_NAME_MAX:
        raise ValueError(
            f"a token's name says what it is for: 1 to {TOKEN_NAME_MAX} characters, not {len(name)}"
        )
    token = new_token()
    row = repo.add_token(
        session,
        user_id=user.id,
        name=name,
        token_sha256=sha256_hex(token),
        prefix=token[: len(TOKEN_PREFIX) + 6],
        created_ts_ms=now_ms(),
        expires_ts_ms=expires_ts_ms,
        lane_id=lane_id,
        camera_id=camera_id.strip() if camera_id is not None else None,
    )
    return token, row.id


class LoginBusy(Exception):
    """More log-ins are checking passwords at once than :class:`LoginThrottle` allows."""


class LoginBlocked(Exception):
    """The throttle refuses a log-in for this name from this address; ``first``: the first
    refusal of its block (worth an audit row)."""

    def __init__(self, first: bool) -> None:
        super().__init__("blocked")
        self.first = first


def throttled_verify(
    throttle: LoginThrottle | None, name: str, ip: str, password_hash: str | None, password: str
) -> bool:
    """Whether ``password`` matches ``password_hash``, under ``throttle``: :class:`LoginBlocked`
    when the name or address is blocked, before and again once a password-check place is held
    (failures counted while this one waited count), :class:`LoginBusy` when no place comes free
    in time. A wrong password is counted before the place is given back, so the next check in
    line sees it: at most the places' number of guesses go past a limit at once."""
    if throttle is None:
        return verify_password(password_hash, password)
    if (refusal := throttle.refusal(name, ip)) is not None:
        raise LoginBlocked(refusal == "first")
    with throttle.checking():
        if (refusal := throttle.refusal(name, ip)) is not None:
            raise LoginBlocked(refusal == "first")
        ok = verify_password(password_hash, password)
        if not ok:
            throttle.failed(name, ip)
    return ok


class LoginThrottle:
    """Refuses log-ins for a name from an address after ``limit`` failures within ``window_s``,
    and log-ins from an address after ``address_limit`` failures whatever the names (a spray of
    names from one address), except for a name that logged in from that address within
    ``known_s`` (behind a proxy or NAT every officer shares one address: a spray must not lock
    out the officers already working there). At most ``concurrent`` password checks run at once;
    a check waits up to ``wait_s`` for a place (:meth:`checking`; a waiting log-in holds one of
    the worker threads every route shares, so the wait is short).

    Not per account across addresses: anyone could then lock a named officer out; the argon2
    cost and the per-address limit bound a spread-out guesser instead. In memory (a restart
    forgets it). Keys whose failures have all aged out are dropped whenever more than
    ``max_keys`` are held, and past that the unblocked keys with the oldest last failure,
    blocked ones last: someone trying many names or addresses cannot grow it without bound, nor
    push a blocked name out by doing so. :meth:`refusal` says whether a refusal is the first of
    its block, so the audit log gets one row per block, not one per try."""

    ANY_NAME = ""
    """The name part of an address's own key (a log-in name is never empty)."""

    def __init__(
        self,
        limit: int = 5,
        window_s: float = 300.0,
        max_keys: int = 10_000,
        *,
        address_limit: int = 20,
        known_s: float = 86_400.0,
        concurrent: int = 4,
        wait_s: float = 0.5,
    ) -> None:
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self.address_limit, self.known_s, self.wait_s = address_limit, known_s, wait_s
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._reported: set[tuple[str, str]] = set()
        self._known: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._checking = threading.BoundedSemaphore(concurrent)

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.window_s]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        if len(times) < self._limit_of(key):  # unblocked: the next block is reported again
            self._reported.discard(key)
        return times

    def _limit_of(self, key: tuple[str, str]) -> int:
        return self.address_limit if key[0] == self.ANY_NAME else self.limit

    def _prune(self, now: float) -> None:
        """Drop aged-out keys, then down to nine tenths of ``max_keys`` the least recently failed
        keys that are not blocked (so spraying names cannot push a blocked one out), blocked ones
        last."""
        for key in [k for k, ts in self._failures.items() if now - ts[-1] >= self.window_s]:
            del self._failures[key]
            self._reported.discard(key)
        excess = len(self._failures) - self.max_keys * 9 // 10  # room for the next ones
        if excess > 0:
            order = sorted(
                self._failures,
                key=lambda k: (len(self._failures[k]) >= self._limit_of(k), self._failures[k][-1]),
            )
            for key in order[:excess]:
                del self._failures[key]
                self._reported.discard(key)

    def _blocking_key(self, name: str, ip: str, now: float) -> tuple[str, str] | None:
        keys = [(name, ip)]
        known = self._known.get((name, ip))
        if known is None or now - known >= self.known_s:
            keys.append((self.ANY_NAME, ip))
        for key in keys:
            if len(self._recent(key, now)) >= self._limit_of(key):
                return key
        return None

    def blocked(self, name: str, ip: str) -> bool:
        with self._lock:
            return self._blocking_key(name, ip, time.monotonic()) is not None

    def refusal(self, name: str, ip: str) -> str | None:
        """``None`` when a log-in for ``name`` from ``ip`` may go ahead; else ``"first"`` for the
        first refusal of the block that stops it (worth an audit row) and ``"again"`` after."""
        with self._lock:
            key = self._blocking_key(name, ip, time.monotonic())
            if key is None:
                return None
            if key in self._reported:
                return "again"
            self._reported.add(key)
            return "first"

    def failed(self, name: str, ip: str) -> None:
        with self._lock:
            now = time.monotonic()
            for key in ((name, ip), (self.ANY_NAME, ip)):
                self._failures[key] = [*self._recent(key, now), now]
            if len(self._failures) > self.max_keys:
                self._prune(now)

    def succeeded(self, name: str, ip: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._failures.pop((name, ip), None)
            self._reported.discard((name, ip))
            self._known[(name, ip)] = now
            if len(self._known) > self.max_keys:  # oldest out first
                for key, _ in sorted(self._known.items(), key=lambda kv: kv[1])[: len(self._known) // 10]:
                    del self._known[key]

    @contextlib.contextmanager
    def checking(self) -> Iterator[None]:
        """Hold one of the ``concurrent`` password-check places, waiting up to ``wait_s`` for
        one; :class:`LoginBusy` when none comes free (a flood of log-ins must not take every
        worker thread the other routes share, nor refuse a burst of officers starting a shift)."""
        if not self._checking.acquire(timeout=self.wait_s):
            raise LoginBusy
        try:
            yield
        finally:
            self._checking.release()

    def __len__(self) -> int:
        """How many (name, address) keys are held."""
        return len(self._failures)
