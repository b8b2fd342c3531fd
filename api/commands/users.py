"""``hgv-lane users``: add, list and disable users of the lane service."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from api.commands import error
from api.commands.db import add_db_option
from api.commands.store import opened_store
from api.settings import get_settings

ROLES = ("camera", "officer", "supervisor", "admin")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``users add|list|disable|enable|set-password``."""
    p = sub.add_parser("users", help="users of the service: add, list, disable, set a password")
    usub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    add = usub.add_parser(
        "add",
        help="add a user (officers, supervisors and admins get a password; cameras use tokens)",
        description="Add a user. People (officer, supervisor, admin) need a password: typed twice at a "
        "prompt, or one line on standard input with --password-stdin. Cameras and integrations get no "
        "password; make them a token with 'hgv-lane tokens create --user NAME'.",
    )
    add.add_argument("name", metavar="NAME", help="log-in name (lower-case letters, digits, . _ -)")
    add.add_argument("--role", required=True, choices=ROLES, help="what the user may do")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add_db_option(add)
    add.set_defaults(func=add_user)

    ls = usub.add_parser("list", help="every user with role and state")
    ls.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    add_db_option(ls)
    ls.set_defaults(func=list_users)

    for name, active in (("disable", False), ("enable", True)):
        d = usub.add_parser(name, help=f"{name} a user (a disabled user's sessions and tokens stop working)")
        d.add_argument("name", metavar="NAME")
        add_db_option(d)
        d.set_defaults(func=set_active, active=active)

    sp = usub.add_parser("set-password", help="set a user's password")
    sp.add_argument("name", metavar="NAME")
    sp.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add_db_option(sp)
    sp.set_defaults(func=set_password)


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        return line or None
    if not sys.stdin.isatty():
        error("no terminal to ask for the password: use --password-stdin")
        return None
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        error("the passwords differ")
        return None
    return first


def add_user(args: argparse.Namespace) -> int:
    """Add one user; exit 1 when the name is taken or the password too weak."""
    from api.auth import create_user  # noqa: PLC0415
    from api.db import repository as repo  # noqa: PLC0415
    from api.db.models import UserRole  # noqa: PLC0415
    from api.db.session import session_scope  # noqa: PLC0415

    role = UserRole(args.role)
    password = None
    if role is UserRole.CAMERA and args.password_stdin:
        error("a camera gets no password (it pushes frames with tokens: 'tokens create')")
        return 1
    if role is not UserRole.CAMERA:
        password = _read_password(args.password_stdin)
        if password is None:
            error("no password given" if args.password_stdin else "user not added")
            return 1
    with opened_store(args) as engine:
        try:
            with session_scope(engine) as session:
                create_user(
                    session, args.name, role, password, min_password_len=get_settings().auth.min_password_len
                )
                repo.audit(
                    session,
                    ts_ms=_now(),
                    actor=_login(),
                    action="user.add",
                    detail={"user": args.name, "role": role.value, "via": "cli"},
                )
        except ValueError as exc:
            error(f"{exc}")
            return 1
    print(f"added user {args.name} ({role.value}{', password set' if password else ', token only'})")
    return 0


def _now() -> int:
    import time  # noqa: PLC0415

    return int(time.time() * 1000)


def _login() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (OSError, KeyError):
        return "cli"


def list_users(args: argparse.Namespace) -> int:
    """Print every user."""
    from api.db import repository as repo  # noqa: PLC0415
    from api.db.session import session_scope  # noqa: PLC0415

    with opened_store(args) as engine, session_scope(engine) as session:
        rows = [
            {"name": u.name, "role": str(u.role), "active": u.active, "password": bool(u.password_hash)}
            for u in repo.list_users(session)
        ]
    if not rows:
        print("no users yet: add one with 'hgv-lane users add NAME --role admin'")
    for r in rows:
        state = "active" if r["active"] else "disabled"
        print(
            f"  {r['name']:<24} {r['role']:<11} {state:<9} {'password' if r['password'] else 'tokens only'}"
        )
    if args.json:
        print(json.dumps({"users": rows}))
    return 0


def set_active(args: argparse.Namespace) -> int:
    """Disable or enable a user."""
    from api.auth import end_access  # noqa: PLC0415
    from api.db import repository as repo  # noqa: PLC0415
    from api.db.session import session_scope  # noqa: PLC0415

    with opened_store(args) as engine, session_scope(engine) as session:
        user = repo.get_user_by_name(session, args.name)
        if user is None:
            error(f"no user {args.name!r}")
            return 1
        user.active = args.active
        # enabling again must not bring back a cookie stolen before the user was disabled
        ended = {} if args.active else end_access(session, user, _now())
        repo.audit(
            session,
            ts_ms=_now(),
            actor=_login(),
            action="user.update",
            detail={"user": args.name, "active": args.active, **ended, "via": "cli"},
        )
    print(f"user {args.name} {'enabled' if args.active else 'disabled'}")
    return 0


def set_password(args: argparse.Namespace) -> int:
    """Set a user's password."""
    from api.auth import check_password_policy, end_access, hash_password  # noqa: PLC0415
    from api.db import repository as repo  # noqa: PLC0415
    from api.db.models import UserRole  # noqa: PLC0415
    from api.db.session import session_scope  # noqa: PLC0415

    password = _read_password(args.password_stdin)
    if password is None:
        return 1
    try:
        check_password_policy(password, get_settings().auth.min_password_len)
    except ValueError as exc:
        error(f"{exc}")
        return 1
    with opened_store(args) as engine, session_scope(engine) as session:
        user = repo.get_user_by_name(session, args.name)
        if user is None:
            error(f"no user {args.name!r}")
            return 1
        if user.role == UserRole.CAMERA:
            error(f"{args.name!r} is a camera: it gets no password (tokens only)")
            return 1
        user.password_hash = hash_password(password)
        # sessions of the old password, and tokens made with them (a stolen cookie can mint one)
        ended = end_access(session, user, _now(), tokens=True)
        repo.audit(
            session,
            ts_ms=_now(),
            actor=_login(),
            action="user.update",
            detail={"user": args.name, "password": "changed", **ended, "via": "cli"},
        )
    print(
        f"password of {args.name} set; {ended['sessions_ended']} session(s) ended, "
        f"{ended['tokens_revoked']} token(s) revoked"
    )
    return 0
