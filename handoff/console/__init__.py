"""The agents' web console: one static page at ``/agent`` (plain HTML/CSS/JS, no build step, nothing
loaded from the network) that talks to the agent JSON API with the agent's bearer token. The leads'
analytics view draws with Chart.js, fetched from the npm registry at install (``make install``) into
``vendor/`` and served from here like the console's own files."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

CONSOLE_DIR = Path(__file__).resolve().parent
# Only these files are served (the package directory also holds Python code): name -> (path, content type)
STATIC_FILES: dict[str, tuple[str, str]] = {
    "console.js": ("console.js", "application/javascript"),
    "console.css": ("console.css", "text/css"),
    "analytics.js": ("analytics.js", "application/javascript"),
    "analytics.css": ("analytics.css", "text/css"),
    "incidents.js": ("incidents.js", "application/javascript"),
    "chart.umd.js": ("vendor/chart.umd.js", "application/javascript"),  # Chart.js (vendor/chart.js-LICENSE.md)
}
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
    known = STATIC_FILES.get(request.match_info["name"])
    if known is None or not (CONSOLE_DIR / known[0]).is_file():  # vendor/ is empty until `make install`
        raise web.HTTPNotFound()
    path, content_type = known
    response = web.FileResponse(CONSOLE_DIR / path, headers={"X-Content-Type-Options": "nosniff",
                                                             "Cache-Control": "no-cache"})
    response.content_type = content_type
    response.charset = "utf-8"
    return response


async def console_redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/agent")


def setup_console(app: web.Application) -> None:
    """``GET /agent`` (the page) and ``GET /agent/static/{name}`` (the files of ``STATIC_FILES``)."""
    app.router.add_get("/agent", console_page)
    app.router.add_get("/agent/", console_redirect)
    app.router.add_get("/agent/static/{name}", console_static)
