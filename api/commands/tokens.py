"""``hgv-lane tokens``: bearer tokens for cameras and integrations (shown once, stored as a hash)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from api.commands import error
from api.commands.db import add_db_option
from api.commands.store import opened_store
from api.settings import get_settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``tokens create|list|revoke``."""
    p = sub.add_parser("tokens", help="bearer tokens for cameras and integrations: create, list, revoke")
    tsub = p.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)

    c = tsub.add_parser(
        "create",
        help="make a token for a user and print it once",
        description="Make a bearer token for USER and print it once (only its SHA-256 is stored). "
        "Send it as 'Authorization: Bearer <token>'.",
    )
    c.add_argument("--user", required=True, metavar="NAME", help="the user the token acts as")
    c.add_argument("--name", default="cli", help="what the token is for, e.g. 'lane 3 camera' (default: cli)")
    c.add_argument(
        "--expires-days",
        type=int,
        default=None,
        metavar="N",
        help="expire after N days (default: a person's token auth.person_token_days, 90; a camera's never)",
    )
    c.add_argument(
        "--lane",
        default=None,
        metavar="LANE",
        help="bind the token to this lane: it may push frames to LANE only and make or revoke no "
        "tokens (camera users only)",
    )
    c.add_argument(
        "--camera",
        default=None,
        metavar="ID",
        help="with --lane: bind it to this camera of the lane too (it pushes frames as camera ID only, "
        "whatever X-Camera-Id says: a front camera's token cannot feed the rear camera's pipeline)",
    )
    c.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    add_db_option(c)
    c.set_defaults(func=create)

    ls = tsub.add_parser("list", help="tokens (never their values)")
    ls.add_argument("--user", default=None, metavar="NAME", help="only this user's")
    ls.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    add_db_option(ls)
    ls.set_defaults(func=list_)

    r = tsub.add_parser("revoke", help="revoke a token by its id")
    r.add_argument("token_id", type=int, metavar="ID")
    add_db_option(r)
    r.set_defaults(func=revoke)


def _now() -> int:
    return int(time.time() * 1000)


def create(args: argparse.Namespace) -> int:
    """Print a new token for ``--user``; exit 1 when there is no such user."""
    from api.auth import issue_token, token_expiry  # noqa: PLC0415
    from api.db import repository as repo  # noqa: PLC0415
    from api.db.session import session_scope  # noqa: PLC0415

    if args.expires_days is not None and not 1 <= args.expires_days <= 3650:
        error("--expires-days must be 1 to 3650")
        return 2
    with opened_store(args) as engine, session_scope(engine) as session:
        user = repo.get_user_by_name(session, args.user)
        if user is None:
            error(f"no user {args.user!r}: add it first with 'hgv-lane users add NAME --role R'")
            return 1
        expires = token_expiry(user, args.expires_days, get_settings().auth.person_token_days, _now())
        try:
            token, token_id = issue_token(
                session, user, args.name, expires_ts_ms=expires, lane_id=args.lane, camera_id=args.camera
            )
        except ValueError as e:  # a name not 1-100 characters; --lane: no lane id, or not a camera's token
            error(f"{e}")
            return 2
        role = str(user.role)
        repo.audit(
            session,
            ts_ms=_now(),
            actor="cli",
            action="token.create",
            detail={
                "user": args.user,
                "token": token_id,
                "name": args.name,
                "lane": args.lane,
                "camera": args.camera,
                "via": "cli",
            },
        )
    listed = sorted({lane.lane_id for lane in get_settings().pipeline.lanes})
    if args.lane and listed and args.lane not in listed:
        print(
            f"warning: lane {args.lane!r} is not in pipeline.lanes ({', '.join(listed)}): the service will "
            "refuse this camera's frames until it is (a typo?)",
            file=sys.stderr,
        )
    bound = f", for lane {args.lane!r} only" if args.lane else ""
    if args.camera:
        bound += f" as camera {args.camera!r}"
    until = (
        f", expires {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(expires / 1000))}"
        if expires
        else ", never expires"
    )
    print(
        f"token {token_id} for {args.user} ({role}), named {args.name!r}{bound}{until}; it is shown only now:"
    )
    print(token)
    if args.json:
        out = {
            "id": token_id,
            "user": args.user,
            "name": args.name,
            "lane": args.lane,
            "camera": args.camera,
            "expires_ts_ms": expires,
            "token": token,
        }
        print(json.dumps(out))
    return 0


def list_(args: argparse.Namespace) -> int:
    """Print tokens (id, user, prefix, state, lane, name); with ``--json`` also as one object."""
    from api.db import repository as repo  # noqa: PLC0415
    from api.db.session import session_scope  # noqa: PLC0415

    with opened_store(args) as engine, session_scope(engine) as session:
        user_id = None
        if args.user:
            user = repo.get_user_by_name(session, args.user)
            if user is None:
                error(f"no user {args.user!r}")
                return 1
            user_id = user.id
        rows = [
            {
                "id": t.id,
                "user": t.user.name,
                "name": t.name,
                "prefix": t.prefix,
                "revoked": t.revoked_ts_ms is not None,
                "expires_ts_ms": t.expires_ts_ms,
                "last_used_ts_ms": t.last_used_ts_ms,
                "lane": t.lane_id,
                "camera": t.camera_id,
            }
            for t in repo.list_tokens(session, user_id)
        ]
    for r in rows:
        state = "revoked" if r["revoked"] else "active"
        lane = f"lane {r['lane']}" if r["lane"] else "any lane"
        lane += f"/{r['camera']}" if r["camera"] else ""
        print(f"  {r['id']:>5} {r['user']:<20} {r['prefix']}...  {state:<8} {lane:<14} {r['name']}")
    if not rows:
        print("no tokens")
    if args.json:
        print(json.dumps({"tokens": rows}))
    return 0


def revoke(args: argparse.Namespace) -> int:
    """Revoke one token."""
    from api.db import repository as repo  # noqa: PLC0415
    from api.db.session import session_scope  # noqa: PLC0415

    with opened_store(args) as engine, session_scope(engine) as session:
        token = repo.get_token(session, args.token_id)
        if token is None:
            error(f"no token {args.token_id}")
            return 1
        if token.revoked_ts_ms is not None:
            print(f"token {args.token_id} was revoked already")
            return 0
        token.revoked_ts_ms = _now()
        repo.audit(
            session,
            ts_ms=_now(),
            actor="cli",
            action="token.revoke",
            detail={"token": args.token_id, "user": token.user.name, "via": "cli"},
        )
    print(f"token {args.token_id} revoked")
    return 0
