"""The officers' web page: static HTML, CSS and JavaScript from ``api/web/`` (no build step, no CDN).

``/`` and ``/static/*`` need no authentication: they hold only the page's code and styles; every
piece of data the page shows comes from ``/v1`` with the session cookie. A Content-Security-Policy
keeps the page from loading anything from anywhere but this service.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def mount(app: FastAPI) -> None:
    """Serve the page at ``/`` and its files at ``/static``; add the security headers to every
    response that has none of its own."""
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        """The officers' page (no authentication: code only, see the module docstring)."""
        return FileResponse(
            WEB_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"}
        )

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        path = request.url.path
        if not path.startswith(("/docs", "/redoc")):  # Swagger UI needs its own scripts
            for key, value in SECURITY_HEADERS.items():
                response.headers.setdefault(key, value)
        else:  # no CSP, but never framed by another site either
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response
