"""HTTP routes of incidents (``handoff.incident_service``): the bot's (open incidents, link or unlink a
customer, status for a linked customer), the agents' (list, detail) and the leads' (confirm, rename, merge,
resolve). Errors are the HandoffError family, mapped by ``web.error_middleware``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.contract import LANGUAGES
from handoff import keys as appkeys
from handoff.errors import InvalidRequest
from handoff.schema import Obj, Str, validate
from handoff.web import Handler, json_body, require_agent, require_bot

LINK = Obj({"conversation_id": Str(required=True), "language": Str(required=True, values=LANGUAGES),
            "reference": Str()})
RENAME = Obj({"title": Str(required=True, max_len=120)})
MERGE = Obj({"into": Str(required=True)})
DECLARE = Obj({"title": Str(required=True, max_len=120), "category": Str(), "product": Str(), "error_code": Str(),
               "article": Str()})


def _message(body: dict[str, Any]) -> dict[str, str]:
    """``message``: one text for every language, or ``{"de": ..., "en": ..., "da": ...}`` (some may be left
    out: those customers get the bot's own words only)."""
    raw = body.get("message", {})
    if isinstance(raw, str):
        return {lang: raw for lang in LANGUAGES} if raw.strip() else {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise InvalidRequest("'message' must be a text or an object of texts by language (de, en, da)")
    return dict(raw)


# -- the bot ------------------------------------------------------------------------------------------


async def bot_open_incidents(request: web.Request) -> web.Response:
    require_bot(request)
    found = await request.app[appkeys.INCIDENTS].open_incidents()
    return web.json_response({"incidents": [{"id": i.id, "title": i.title, "status": i.status, "keys": list(i.keys)}
                                            for i in found]})


async def bot_incident(request: web.Request) -> web.Response:
    require_bot(request)
    return web.json_response(await request.app[appkeys.INCIDENTS].public_view(request.match_info["id"]))


async def bot_link(request: web.Request) -> web.Response:
    require_bot(request)
    body = await json_body(request)
    validate(LINK, body)
    incident = await request.app[appkeys.INCIDENTS].link_customer(
        request.match_info["id"], body["conversation_id"], body["language"], str(body.get("reference") or ""))
    return web.json_response({"id": incident.id, "title": incident.title, "status": incident.status})


async def bot_unlink(request: web.Request) -> web.Response:
    require_bot(request)
    removed = await request.app[appkeys.INCIDENTS].unlink_customer(request.match_info["id"],
                                                                    request.match_info["conversation_id"])
    return web.json_response({"unlinked": removed})


# -- agents and leads ---------------------------------------------------------------------------------


async def list_incidents(request: web.Request) -> web.Response:
    await require_agent(request)
    status = request.query.get("status", "open")
    return web.json_response({"incidents": await request.app[appkeys.INCIDENTS].list(status)})


async def incident_detail(request: web.Request) -> web.Response:
    await require_agent(request)
    return web.json_response(await request.app[appkeys.INCIDENTS].detail(request.match_info["id"]))


async def declare(request: web.Request) -> web.Response:
    lead = await require_agent(request, "lead")
    body = await json_body(request)
    validate(DECLARE, body)
    incident = await request.app[appkeys.INCIDENTS].declare(
        lead["name"], body["title"], category=str(body.get("category") or ""), product=str(body.get("product") or ""),
        error_code=str(body.get("error_code") or ""), article=str(body.get("article") or ""))
    return web.json_response(incident.to_json(), status=201)


async def confirm(request: web.Request) -> web.Response:
    lead = await require_agent(request, "lead")
    incident = await request.app[appkeys.INCIDENTS].confirm(request.match_info["id"], lead["name"])
    return web.json_response(incident.to_json())


async def rename(request: web.Request) -> web.Response:
    lead = await require_agent(request, "lead")
    body = await json_body(request)
    validate(RENAME, body)
    incident = await request.app[appkeys.INCIDENTS].rename(request.match_info["id"], body["title"], lead["name"])
    return web.json_response(incident.to_json())


async def merge(request: web.Request) -> web.Response:
    lead = await require_agent(request, "lead")
    body = await json_body(request)
    validate(MERGE, body)
    incident = await request.app[appkeys.INCIDENTS].merge(request.match_info["id"], body["into"], lead["name"])
    return web.json_response(incident.to_json())


async def resolve(request: web.Request) -> web.Response:
    lead = await require_agent(request, "lead")
    body = await json_body(request, optional=True)
    resolve_tickets = body.get("resolve_tickets", True)
    if not isinstance(resolve_tickets, bool):
        raise InvalidRequest("'resolve_tickets' must be true or false")
    result = await request.app[appkeys.INCIDENTS].resolve(request.match_info["id"], lead["name"], _message(body),
                                                          resolve_tickets)
    return web.json_response(result)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/api/v1/bot/incidents", bot_open_incidents),
    ("GET", "/api/v1/bot/incidents/{id}", bot_incident),
    ("POST", "/api/v1/bot/incidents/{id}/conversations", bot_link),
    ("DELETE", "/api/v1/bot/incidents/{id}/conversations/{conversation_id}", bot_unlink),
    ("GET", "/api/v1/agent/incidents", list_incidents),
    ("GET", "/api/v1/agent/incidents/{id}", incident_detail),
    ("POST", "/api/v1/lead/incidents", declare),
    ("POST", "/api/v1/lead/incidents/{id}/confirm", confirm),
    ("POST", "/api/v1/lead/incidents/{id}/rename", rename),
    ("POST", "/api/v1/lead/incidents/{id}/merge", merge),
    ("POST", "/api/v1/lead/incidents/{id}/resolve", resolve),
]
