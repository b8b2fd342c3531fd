"""What the service's answers do not carry: validation errors without the values sent (a
password sent to ``/v1/auth/login`` came back in the 422, into proxies' and browsers' logs), and
API answers marked ``Cache-Control: no-store`` (flags, plates and passages are not for a shared
or disk cache). Crops and the live stream set their own.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = "/v1/"


def without_input(errors: Any) -> list[dict[str, Any]]:
    """FastAPI's validation errors with each error's ``input`` (what was sent) and ``url`` left
    out: where and why, never the value."""
    return [{k: v for k, v in e.items() if k not in ("input", "url")} for e in errors]


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 as FastAPI gives it, less the values sent (:func:`without_input`)."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": jsonable_encoder(without_input(exc.errors()))},
    )


class NoStore:
    """ASGI middleware: ``Cache-Control: no-store`` on answers under ``/v1/`` that set none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, marked)


def install(app: FastAPI) -> None:
    """Add the validation-error handler and :class:`NoStore` to ``app``."""
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(NoStore)
