"""Request body limits, enforced before a route reads anything.

FastAPI reads and parses a JSON body before it runs a route's dependencies (the log-in check
among them), so without a limit anyone could make the service hold hundreds of megabytes per
request with no credentials. :class:`BodyLimit` is a pure ASGI middleware: a request whose
``Content-Length`` is over its route's limit is answered 413 without reading the body, and a
body sent without a length (chunked) is counted as it arrives and cut off with 413 once over.

Limits: a pushed camera frame ``frames.max_bytes``; an action-list file
:data:`api.routers.actionlist.MAX_CSV_BYTES`; every other route ``server.max_body_bytes`` (JSON
forms are a few kilobytes). Hand-written: neither Starlette nor uvicorn has a body limit, and
these few lines are less to keep than another dependency.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRAMES_PATH = re.compile(r"^/v1/lanes/[^/]+/frames/?$")
ACTIONLIST_IMPORT_PATH = "/v1/actionlist/imports"


class BodyTooLarge(Exception):
    """The body went over its limit while being read."""


class BodyLimit:
    """ASGI middleware: 413 for a body over ``limit_for(path)`` bytes (module doc)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        length = _content_length(scope)
        if length is not None and length > limit:
            await _too_large(send, limit)
            return
        seen = 0
        over = started = False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise BodyTooLarge
            return message

        async def answered(message: Message) -> None:
            # FastAPI turns an error while reading the body into its own 400: answer 413 instead
            nonlocal started
            if over:
                if not started and message["type"] == "http.response.start":
                    started = True
                    await _too_large(send, limit)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, answered)
        except BodyTooLarge:
            if not started:
                await _too_large(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body over {limit} bytes"}).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def route_limits(frame_bytes: int, csv_bytes: int, other_bytes: int) -> Callable[[str], int]:
    """The limit for a request path: frames, action-list imports, everything else."""

    def limit_for(path: str) -> int:
        if FRAMES_PATH.match(path):
            return frame_bytes
        if path.rstrip("/") == ACTIONLIST_IMPORT_PATH:
            return csv_bytes
        return other_bytes

    return limit_for
