"""The agents' web console: one static page at ``/agent`` (plain HTML/CSS/JS, no build step, nothing
loaded from the network) that talks to the agent JSON API with the agent's bearer token."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

CONSOLE_DIR = Path(__file__).resolve().parent
# Only these files are served (the package directory also holds Python code).
STATIC_FILES = {"console.js": "application/javascript", "console.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


async def console_page(request: web.Request) -> web.StreamResponse:
    response = web.FileResponse(CONSOLE_DIR / "index.html", headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})
    response.content_type = "text/html"
    response.charset = "utf-8"
    return response


async def console_static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    content_type = STATIC_FILES.get(name)
    if content_type is None:
        raise web.HTTPNotFound()
    response = web.FileResponse(CONSOLE_DIR / name, headers={"X-Content-Type-Options": "nosniff",
                                                             "Cache-Control": "no-cache"})
    response.content_type = content_type
    response.charset = "utf-8"
    return response


async def console_redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/agent")


def setup_console(app: web.Application) -> None:
    """``GET /agent`` (the page) and ``GET /agent/static/{console.js,console.css}``."""
    app.router.add_get("/agent", console_page)
    app.router.add_get("/agent/", console_redirect)
    app.router.add_get("/agent/static/{name}", console_static)
