"""HTTP layer: routes and the one error middleware that maps the HandoffError family to status codes.

Auth: bot endpoints need ``Authorization: Bearer $HANDOFF_BOT_TOKEN``; agent endpoints an agent token
(stored hashed in Redis, role agent or lead); the customer status endpoint is authorised by its secret.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from ujson import dumps as fast_dumps  # the claim and create hot paths; same JSON, less CPU
from redis.exceptions import ConnectionError as RedisConnectionError  # type: ignore[import-untyped, unused-ignore]
from redis.exceptions import TimeoutError as RedisTimeoutError  # type: ignore[import-untyped, unused-ignore]

from handoff import keys as appkeys
from handoff import tickets
from handoff.errors import Forbidden, HandoffError, InvalidTicket, MatrixError, Unauthorized
from handoff.kbdraft import validate_proposal
from handoff.openapi import openapi_document
from handoff.signals import parse_signals
from handoff.schema import MAX_TEXT, Obj, Str, validate
from handoff.service import HelpdeskAction
from handoff.validation import is_timestamp, strict_json_loads, validate_create, validate_text

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, detail: str) -> web.Response:
    return web.json_response({"error": code, "detail": detail}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await _response_or_error(request, handler)
    if request.body_exists and not request.content.is_eof():
        response.force_close()  # answered before the whole body arrived: do not wait for the rest of it
    elif request.body_exists and request.content.exception() is None:
        # a body that arrived but was not read (a refusal before reading it) is dropped: aiohttp 3.9 keeps
        # reading the connection paused while more than 128 KiB of it are buffered, so the next request on
        # that keep-alive connection would never be answered
        request.content.read_nowait()
    return response


async def _response_or_error(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HandoffError as exc:
        return _error(exc.status, exc.code, exc.detail)
    except (RedisConnectionError, RedisTimeoutError, ConnectionError) as exc:
        logger.warning("redis unavailable on %s %s: %s", request.method, request.path, type(exc).__name__)
        return _error(503, "unavailable", "the ticket store is not reachable, try again shortly")
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[appkeys.SETTINGS].client_max_size
        return _error(413, "too_large", f"request body exceeds {limit} bytes")
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
        raise


# -- auth and body helpers ---------------------------------------------------------------------------


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token")
    return token.strip()


def require_bot(request: web.Request) -> None:
    token = _bearer(request)
    if not hmac.compare_digest(token.encode(), request.app[appkeys.SETTINGS].bot_token.encode()):
        raise Unauthorized("invalid bot token")


def require_helpdesk(request: web.Request) -> None:
    """The helpdesk connector (connector/) authenticates with HANDOFF_HELPDESK_TOKEN; without one set, the
    helpdesk routes refuse every call."""
    token = _bearer(request)
    expected = request.app[appkeys.SETTINGS].helpdesk_token
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("invalid helpdesk token")


async def require_agent(request: web.Request, role: str = "agent") -> dict[str, Any]:
    agent = await request.app[appkeys.AGENTS].lookup(_bearer(request))
    if agent is None:
        raise Unauthorized("invalid agent token")
    if role == "lead" and agent.get("role") != "lead":
        raise Forbidden("this endpoint is for leads only")
    return agent


async def json_body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if not raw and optional:
        return {}
    try:
        body = strict_json_loads(raw)
    except RecursionError:
        raise InvalidTicket("the body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        reason = str(exc) if str(exc).startswith("NaN") else "the body is not valid JSON"
        raise InvalidTicket(reason) from None
    if not isinstance(body, dict):
        raise InvalidTicket("the body must be a JSON object")
    try:  # lone UTF-16 surrogates ("\ud800") parse, but can be neither stored nor sent back
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidTicket("the body contains text that is not valid Unicode (a lone surrogate)") from None
    except RecursionError:
        raise InvalidTicket("the body is nested too deeply") from None
    return body



# -- public ------------------------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    try:
        ok = await request.app[appkeys.STORE].ping()
    except (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError):
        ok = False
    if not ok:
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


async def customer_status(request: web.Request) -> web.Response:
    secret = request.match_info["secret"]
    if len(secret) > 100:
        raise InvalidTicket("reference too long")
    return web.json_response(await request.app[appkeys.SERVICE].status_by_secret(secret))


# -- bot side ----------------------------------------------------------------------------------------


async def create_ticket(request: web.Request) -> web.Response:
    require_bot(request)
    payload = validate_create(await json_body(request))
    created, is_new = await request.app[appkeys.SERVICE].create(payload)
    return web.json_response(created, status=201 if is_new else 200, dumps=fast_dumps)


async def estimate(request: web.Request) -> web.Response:
    """Queue, priority and promised first response of a ticket request if it were created now."""
    require_bot(request)
    payload = validate_create(await json_body(request))
    return web.json_response(await request.app[appkeys.SERVICE].estimate(payload))


async def ticket_by_conversation(request: web.Request) -> web.Response:
    require_bot(request)
    service = request.app[appkeys.SERVICE]
    return web.json_response(await service.status_by_conversation(request.match_info["conversation_id"]))


async def customer_message(request: web.Request) -> web.Response:
    require_bot(request)
    body = await json_body(request)
    text = validate_text(body, "text")
    timestamp = body.get("timestamp")
    if timestamp is not None and not is_timestamp(timestamp):
        raise InvalidTicket("'timestamp' must be a number (unix seconds)")
    service = request.app[appkeys.SERVICE]
    return web.json_response(await service.customer_message(request.match_info["conversation_id"], text,
                                                            None if timestamp is None else float(timestamp)))


async def customer_tickets(request: web.Request) -> web.Response:
    require_bot(request)
    tickets = await request.app[appkeys.SERVICE].customer_tickets(request.match_info["customer_id"])
    return web.json_response({"tickets": tickets})


async def rate_ticket(request: web.Request) -> web.Response:
    require_bot(request)
    body = await json_body(request)
    rating = body.get("rating")
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise InvalidTicket("'rating' must be an integer from 1 to 5")
    comment = validate_text(body, "comment", required=False, max_len=2000)
    result = await request.app[appkeys.SERVICE].rate(request.match_info["ref"], rating, comment)
    return web.json_response(result)


async def bot_signals(request: web.Request) -> web.Response:
    """What the bot did with customer problems (KB answered, ambiguous, no answer, votes, declined)."""
    require_bot(request)
    signals = parse_signals(await json_body(request), request.app[appkeys.CLOCK]())
    accepted = await request.app[appkeys.SERVICE].record_signals(signals)
    return web.json_response({"accepted": accepted}, status=202)


# -- agent side --------------------------------------------------------------------------------------


async def me(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    return web.json_response({"name": agent["name"], "role": agent["role"]})


async def list_queues(request: web.Request) -> web.Response:
    await require_agent(request)
    return web.json_response({"queues": await request.app[appkeys.SERVICE].queues()})


async def taxonomy(request: web.Request) -> web.Response:
    """The matrix's categories and queues with their labels (the console's lists come from here)."""
    await require_agent(request)
    return web.json_response(request.app[appkeys.MATRIX].matrix.taxonomy.as_json())


async def claim(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    body = await json_body(request, optional=True)
    queues = body.get("queues", [])
    if not isinstance(queues, list) or not all(isinstance(q, str) for q in queues):
        raise InvalidTicket("'queues' must be a list of queue names")
    claimed = await request.app[appkeys.SERVICE].claim_next(agent["name"], queues)
    ticket = b"null" if claimed is None else claimed.agent_json.encode()  # agents' JSON, written by the store
    return web.Response(body=b'{"ticket":%s}' % ticket, content_type="application/json", charset="utf-8")


def agent_view(record: tuple[tickets.Ticket, tickets.TicketLists]) -> dict[str, Any]:
    """What agents see: everything but the customer's secret reference."""
    return tickets.agent_view(*record)


LIST_SORTS = ("priority", "risk")


async def list_tickets(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    mine = request.query.get("mine") in ("1", "true", "yes")
    sort = request.query.get("sort") or "priority"
    if sort not in LIST_SORTS:
        raise InvalidTicket(f"'sort' must be one of {', '.join(LIST_SORTS)}")
    service = request.app[appkeys.SERVICE]
    tickets = await service.list_tickets(agent=agent["name"] if mine else None, queue=request.query.get("queue"),
                                         status=request.query.get("status"), sort=sort)
    return web.json_response({"tickets": tickets})


async def view_ticket(request: web.Request) -> web.Response:
    await require_agent(request)
    service = request.app[appkeys.SERVICE]
    record = await service.view(request.match_info["ref"])
    return web.json_response({**agent_view(record), "risk": service.risk_of(record[0])})


async def add_note(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    text = validate_text(await json_body(request), "text")
    ticket = await request.app[appkeys.SERVICE].note(request.match_info["ref"], agent["name"], text)
    return web.json_response(agent_view(ticket))


async def reply(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    text = validate_text(await json_body(request), "text")
    service = request.app[appkeys.SERVICE]
    return web.json_response(await service.reply(request.match_info["ref"], agent["name"], agent["role"], text))


async def escalate(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    body = await json_body(request)
    reason = validate_text(body, "reason", max_len=2000)
    to_queue = body.get("to_queue")
    if to_queue is not None and not isinstance(to_queue, str):
        raise InvalidTicket("'to_queue' must be a queue name")
    service = request.app[appkeys.SERVICE]
    ticket = await service.escalate(request.match_info["ref"], agent["name"], agent["role"], to_queue, reason)
    return web.json_response(agent_view(ticket))


async def resolve(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    body = await json_body(request)
    resolution = validate_text(body, "resolution")
    service = request.app[appkeys.SERVICE]
    proposal = None
    if body.get("propose_article") is not None:
        proposal = validate_proposal(body["propose_article"], list(service.matrix.matrix.categories))
    result = await service.resolve(request.match_info["ref"], agent["name"], agent["role"], resolution, proposal)
    return web.json_response({**result, "ticket": agent_view(result["ticket"])})


async def reopen(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    reason = validate_text(await json_body(request), "reason", max_len=2000)
    ticket = await request.app[appkeys.SERVICE].reopen(request.match_info["ref"], agent["name"], reason)
    return web.json_response(agent_view(ticket))


async def release(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    reason = validate_text(await json_body(request, optional=True), "reason", required=False, max_len=2000)
    service = request.app[appkeys.SERVICE]
    ticket = await service.release(request.match_info["ref"], agent["name"], agent["role"], reason)
    return web.json_response(agent_view(ticket))


# -- the helpdesk connector -------------------------------------------------------------------------

HELPDESK_LINK = Obj({"helpdesk_id": Str(required=True, max_len=64, description="the helpdesk's ticket id")})
HELPDESK_ACTION = Obj({
    "action": Str(required=True, values=("reply", "resolve", "escalate")),
    "key": Str(required=True, max_len=100, description="idempotency key (the helpdesk's transaction id): a "
               "retried action with the same key is not applied again"),
    "agent": Str(required=True, max_len=100, description="the helpdesk user who made the change"),
    "text": Str(max_len=MAX_TEXT, description="reply: the text for the customer (required); resolve: the "
                "resolution; escalate: the reason"),
    "to_queue": Str(description="escalate: the queue of the escalation matrix to move the ticket to"),
})


async def helpdesk_ticket(request: web.Request) -> web.Response:
    """What the connector mirrors into the helpdesk: the agents' view of the ticket."""
    require_helpdesk(request)
    return web.json_response(agent_view(await request.app[appkeys.SERVICE].view(request.match_info["ref"])))


async def helpdesk_link(request: web.Request) -> web.Response:
    require_helpdesk(request)
    body = await json_body(request)
    validate(HELPDESK_LINK, body)
    helpdesk_id = str(body["helpdesk_id"]).strip()
    ticket = await request.app[appkeys.SERVICE].link_helpdesk(request.match_info["ref"], helpdesk_id)
    return web.json_response({"reference": ticket.reference, "helpdesk_id": ticket.helpdesk_id})


async def helpdesk_action(request: web.Request) -> web.Response:
    require_helpdesk(request)
    body = await json_body(request)
    validate(HELPDESK_ACTION, body)
    action = HelpdeskAction(action=body["action"], key=body["key"], agent=body["agent"].strip(),
                            text=str(body.get("text", "")), to_queue=str(body.get("to_queue", "")))
    if action.action == "reply" and not action.text.strip():
        raise InvalidTicket("'text' is required for a reply")
    if action.action == "escalate" and not action.to_queue:
        raise InvalidTicket("'to_queue' is required for an escalation")
    if action.action != "reply" and not action.text.strip():
        action = HelpdeskAction(action.action, action.key, action.agent, f"{action.action}d in the helpdesk",
                                action.to_queue)
    return web.json_response(await request.app[appkeys.SERVICE].helpdesk_action(request.match_info["ref"], action))


# -- lead only ---------------------------------------------------------------------------------------


async def agent_stats(request: web.Request) -> web.Response:
    await require_agent(request, "lead")
    return web.json_response({"agents": await request.app[appkeys.SERVICE].agent_stats()})


async def analytics(request: web.Request) -> web.Response:
    """The period's figures (``?since=24h|7d|30d``, default 7d) and the all-time counters."""
    await require_agent(request, "lead")
    since = request.query.get("since", "7d")
    return web.json_response(await request.app[appkeys.SERVICE].analytics(since))


async def kb_gaps(request: web.Request) -> web.Response:
    await require_agent(request, "lead")
    return web.json_response(await request.app[appkeys.SERVICE].kb_gaps(request.query.get("since", "30d")))


async def reload_matrix(request: web.Request) -> web.Response:
    await require_agent(request, "lead")
    source = request.app[appkeys.MATRIX]
    try:
        matrix = source.reload()
    except MatrixError as exc:
        raise MatrixError(f"kept the last good matrix: {exc.detail}") from None
    return web.json_response({"reloaded": True, "rules": len(matrix.rules), "queues": sorted(matrix.queues)})


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/health", health),
    ("GET", "/openapi.json", openapi),
    ("POST", "/api/v1/tickets", create_ticket),
    ("POST", "/api/v1/estimate", estimate),
    ("GET", "/api/v1/tickets/by-conversation/{conversation_id}", ticket_by_conversation),
    ("POST", "/api/v1/tickets/by-conversation/{conversation_id}/messages", customer_message),
    ("POST", "/api/v1/tickets/{ref}/rating", rate_ticket),
    ("GET", "/api/v1/status/{secret}", customer_status),
    ("GET", "/api/v1/customers/{customer_id}/tickets", customer_tickets),
    ("POST", "/api/v1/bot/signals", bot_signals),
    ("GET", "/api/v1/agent/me", me),
    ("GET", "/api/v1/agent/queues", list_queues),
    ("GET", "/api/v1/agent/taxonomy", taxonomy),
    ("POST", "/api/v1/agent/claim", claim),
    ("GET", "/api/v1/agent/tickets", list_tickets),
    ("GET", "/api/v1/agent/tickets/{ref}", view_ticket),
    ("POST", "/api/v1/agent/tickets/{ref}/notes", add_note),
    ("POST", "/api/v1/agent/tickets/{ref}/reply", reply),
    ("POST", "/api/v1/agent/tickets/{ref}/escalate", escalate),
    ("POST", "/api/v1/agent/tickets/{ref}/resolve", resolve),
    ("POST", "/api/v1/agent/tickets/{ref}/reopen", reopen),
    ("POST", "/api/v1/agent/tickets/{ref}/release", release),
    ("GET", "/api/v1/helpdesk/tickets/{ref}", helpdesk_ticket),
    ("PUT", "/api/v1/helpdesk/tickets/{ref}/link", helpdesk_link),
    ("POST", "/api/v1/helpdesk/tickets/{ref}/actions", helpdesk_action),
    ("GET", "/api/v1/lead/agents", agent_stats),
    ("GET", "/api/v1/lead/analytics", analytics),
    ("GET", "/api/v1/lead/kb-gaps", kb_gaps),
    ("GET", "/api/v1/agent/analytics", analytics),  # the same, under the name the analytics issue gives it
    ("POST", "/api/v1/lead/matrix/reload", reload_matrix),
]


def setup_routes(app: web.Application) -> None:
    from handoff import incident_web  # noqa: PLC0415 (it imports this module's helpers)

    for method, path, handler in ROUTES + incident_web.ROUTES:
        app.router.add_route(method, path, handler)
