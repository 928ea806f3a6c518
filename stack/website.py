"""The demo product website with the chat widget (an entry point: `python -m stack.website`).

Serves web/site/, the pinned rasa-webchat bundle (fetched from the npm registry at install time, never
from a CDN), the widget's configuration, and a demo login that signs a customer identity token the way
a real shop's back end would.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from aiohttp import web

from bot.contract import LANGUAGES
from bot.identity import CustomerIdentity, sign
from bot.kb.article import parse_article
from stack.settings import ROOT

logger = logging.getLogger(__name__)

SITE_DIR = ROOT / "web" / "site"
WEBCHAT_BUNDLE = ROOT / "web" / "vendor" / "rasa-webchat" / "index.js"

DEMO_CUSTOMERS: dict[str, CustomerIdentity] = {
    "anna": CustomerIdentity("cust-1001", "Anna Becker", "anna.becker@example.com", "standard"),
    "lars": CustomerIdentity("cust-2002", "Lars Nielsen", "lars.nielsen@example.com", "vip"),
    "acme": CustomerIdentity("cust-3003", "ACME GmbH (Jonas Weber)", "it@acme.example.com", "b2b"),
}

SECRET_KEY = web.AppKey("token_secret", str)
KB_ROOT_KEY = web.AppKey("kb_root", Path)
PUBLIC_RASA_KEY = web.AppKey("public_rasa_url", str)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(SITE_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def config(request: web.Request) -> web.Response:
    body = {"socketUrl": request.app[PUBLIC_RASA_KEY], "socketPath": "/socket.io/", "languages": list(LANGUAGES),
            "demoCustomers": {key: {"name": c.name, "tier": c.tier} for key, c in DEMO_CUSTOMERS.items()}}
    return web.json_response(body, headers={"Cache-Control": "no-cache"})


async def webchat_bundle(request: web.Request) -> web.StreamResponse:
    if not WEBCHAT_BUNDLE.exists():
        raise web.HTTPNotFound(text="rasa-webchat is not installed; run `make install`")
    return web.FileResponse(WEBCHAT_BUNDLE, headers={"Content-Type": "application/javascript"})


async def demo_login(request: web.Request) -> web.Response:
    try:
        payload = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.json_response({"error": "invalid_json", "detail": "body must be JSON"}, status=400)
    key = payload.get("customer") if isinstance(payload, dict) else None
    identity = DEMO_CUSTOMERS.get(key) if isinstance(key, str) else None
    if identity is None:
        return web.json_response({"error": "unknown_customer", "detail": f"choose one of {sorted(DEMO_CUSTOMERS)}"},
                                 status=400)
    token = sign(identity, request.app[SECRET_KEY])
    return web.json_response({"token": token, "name": identity.name, "tier": identity.tier, "id": identity.id})


ARTICLE_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} – Streamly</title>
<link rel="stylesheet" href="/static/site.css"></head><body><header class="top"><a class="brand" href="/?lang={lang}">▶ Streamly</a>
</header><main class="article"><h1>{title}</h1>{body}</main><div id="webchat"></div>
<script src="/static/webchat.js"></script><script src="/static/site.js"></script></body></html>"""


async def article(request: web.Request) -> web.Response:
    """A knowledge-base article as a web page: the bot's "read more" link."""
    import html

    import markdown  # type: ignore[import-untyped,unused-ignore]

    lang, article_id = request.match_info["lang"], request.match_info["article_id"]
    if lang not in LANGUAGES or not article_id.replace("-", "").isalnum():
        raise web.HTTPNotFound()
    parsed = parse_article(request.app[KB_ROOT_KEY] / lang / f"{article_id}.md", folder_lang=lang)
    if parsed.article is None:  # missing or malformed: the bot does not serve it either
        raise web.HTTPNotFound()
    title = parsed.article.title
    rendered = markdown.markdown(html.escape(parsed.article.body, quote=False))
    page = ARTICLE_PAGE.format(lang=lang, title=html.escape(title), body=rendered)
    return web.Response(text=page, content_type="text/html")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "webchat": WEBCHAT_BUNDLE.exists()})


def create_app(token_secret: str, public_rasa_url: str, kb_root: Path = ROOT / "kb_articles") -> web.Application:
    app = web.Application(client_max_size=16 * 1024)
    app[SECRET_KEY] = token_secret
    app[KB_ROOT_KEY] = kb_root
    app[PUBLIC_RASA_KEY] = public_rasa_url
    app.router.add_get("/", index)
    app.router.add_get("/config.json", config)
    app.router.add_get("/static/webchat.js", webchat_bundle)
    app.router.add_post("/api/demo-login", demo_login)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/help/{lang}/{article_id}", article)
    app.router.add_static("/static/", SITE_DIR / "static")
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = os.environ
    secret = env.get("FRONTDOOR_TOKEN_SECRET", "")
    if not secret:
        raise SystemExit("FRONTDOOR_TOKEN_SECRET is not set (frontdoor up generates one)")
    app = create_app(secret, env.get("PUBLIC_RASA_URL", "http://localhost:5005"),
                     Path(env.get("KB_ROOT", str(ROOT / "kb_articles"))))
    web.run_app(app, host=env.get("SITE_HOST", "127.0.0.1"), port=int(env.get("SITE_PORT", "8080")),
                print=None, access_log=None)


if __name__ == "__main__":
    main()
