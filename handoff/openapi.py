"""The OpenAPI 3 document of the handoff service, written by hand (a test checks every route is in it)."""

from __future__ import annotations

from typing import Any

from handoff.schema import CREATE_REQUEST, SIGNALS_REQUEST, TRANSCRIPT_TURN
from handoff.schema import openapi as openapi_of

_ERROR = {"$ref": "#/components/schemas/Error"}


def _resp(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _op(summary: str, *, security: str | None, ok: dict[str, Any], body: dict[str, Any] | None = None,
        params: tuple[str, ...] = (), extra: dict[str, Any] | None = None, tags: tuple[str, ...] = (),
        ok_status: str = "200") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": list(tags), "responses": {ok_status: ok}}
    if security:
        op["security"] = [{security: []}]
        op["responses"]["401"] = _resp("missing or invalid token", _ERROR)
    if params:
        op["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params]
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        op["responses"]["400"] = _resp("invalid request (the detail says why)", _ERROR)
        op["responses"]["413"] = _resp("request body too large", _ERROR)
    if any("ref" in p or "secret" in p or "conversation" in p for p in params):
        op["responses"]["404"] = _resp("unknown ticket", _ERROR)
    op["responses"]["503"] = _resp("Redis unreachable", _ERROR)
    op["responses"].update(extra or {})
    return op


def _obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


_S = {"type": "string"}
_TICKET = {"$ref": "#/components/schemas/Ticket"}
_TEXT = _obj({"text": _S}, ("text",))
_REASON = _obj({"reason": _S}, ("reason",))


def _analytics_schema() -> dict[str, Any]:
    num, count = {"type": "number"}, {"type": "integer"}
    rate = {"type": "number", "nullable": True, "description": "numerator / denominator; null when it is 0"}
    ratio = _obj({"numerator": count, "denominator": count, "rate": rate}, ("numerator", "denominator", "rate"))
    ratios = {"type": "array", "items": ratio}
    dimension = _obj({"rows": {"type": "array", "items": {"allOf": [ratio, _obj({"key": _S}, ("key",))]}},
                      "series": {"type": "object", "additionalProperties": ratios}}, ("rows", "series"))
    counts = {"type": "object", "additionalProperties": count}
    deflection = {"allOf": [ratio, _obj({"answered": count, "ticketed": count, "pending": count})]}
    csat = {"allOf": [ratio, _obj({"average": {"type": "number", "nullable": True}})]}
    return _obj({
        "period": _obj({"since": _S, "unit": {"type": "string", "enum": ["day", "hour"]}, "start": num, "end": num,
                        "timezone": _S, "buckets": {"type": "array", "items": _obj({"key": _S, "start": num, "end": num})}}),
        "history_from": _obj({"events": {"type": "number", "nullable": True},
                              "signals": {"type": "number", "nullable": True}}),
        "definitions": {"type": "object", "additionalProperties": _S},
        "deflection": _obj({"total": deflection, "series": {"type": "array", "items": deflection}}),
        "helped_votes": _obj({"total": ratio, "series": ratios}),
        "signals": _obj({"total": counts, "series": {"type": "array", "items": counts}}),
        "escalation": _obj({"total": {"allOf": [ratio, _obj({"by_watcher": count, "by_agents": count})]},
                            "series": ratios, "by_category": dimension, "by_tag": dimension,
                            "by_article": dimension, "by_agent": dimension}),
        "sla_first_response": _obj({"total": ratio, "series": ratios, "by_queue": dimension}),
        "csat": _obj({"total": csat, "distribution": counts, "series": {"type": "array", "items": csat}}),
        "incidents": _obj({"total": counts, "series": {"type": "array", "items": counts}}),
    })


def openapi_document() -> dict[str, Any]:
    bot, agent, lead = "botToken", "agentToken", "agentToken"
    conflict = {"409": _resp("the ticket's state does not allow this", _ERROR)}
    forbidden = {"403": _resp("not allowed for this agent", _ERROR)}
    analytics = {"get": {**_op(
        "Analytics of a period (lead): deflection, helped votes, escalation rate by category, tag, article and "
        "agent, SLA first response met per queue, CSAT, incidents, each per bucket and in total with numerator "
        "and denominator; and the all-time counters (by_category, by_article, by_tag, agents_escalating_most, "
        "recurring_issues, ratings). /api/v1/agent/analytics is the same", security=lead,
        ok=_resp("analytics", {"$ref": "#/components/schemas/Analytics"}),
        extra={**forbidden, "400": _resp("invalid 'since'", _ERROR)}, tags=("lead",)),
        "parameters": [{"name": "since", "in": "query", "required": False,
                        "description": "the period: 24h (by hour), 7d or 30d (by day; today and the days before); "
                                       "any 1-72h, 1-90d or 1-12w; default 7d",
                        "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,2}[hdw]$"}}]}}
    paths: dict[str, dict[str, Any]] = {
        "/health": {"get": _op("Liveness and Redis reachability", security=None,
                               ok=_resp("ok", _obj({"status": _S})), tags=("ops",))},
        "/openapi.json": {"get": _op("This document", security=None, ok=_resp("OpenAPI 3 document"), tags=("ops",))},
        "/api/v1/tickets": {"post": _op(
            "Create a ticket (idempotent per conversation; attaches to the customer's open ticket)", security=bot,
            body={"$ref": "#/components/schemas/CreateTicketRequest"},
            ok=_resp("existing ticket returned or attached", {"$ref": "#/components/schemas/TicketCreated"}),
            extra={"201": _resp("created", {"$ref": "#/components/schemas/TicketCreated"}),
                   "429": _resp("this client has opened too many tickets in the last hour", _ERROR)},
            tags=("bot",))},
        "/api/v1/estimate": {"post": _op(
            "Queue, priority and promised first response of a ticket request if it were created now "
            "(nothing is stored)", security=bot, body={"$ref": "#/components/schemas/CreateTicketRequest"},
            ok=_resp("estimate", {"$ref": "#/components/schemas/Estimate"}), tags=("bot",))},
        "/api/v1/tickets/by-conversation/{conversation_id}": {"get": _op(
            "Ticket status for a conversation", security=bot, params=("conversation_id",),
            ok=_resp("status", {"$ref": "#/components/schemas/TicketStatusView"}), tags=("bot",))},
        "/api/v1/tickets/by-conversation/{conversation_id}/messages": {"post": _op(
            "Relay a customer message written while an agent owns the conversation (masked, added to the "
            "transcript; waiting_customer -> claimed)", security=bot, params=("conversation_id",),
            body=_obj({"text": _S, "timestamp": {"type": "number"}}, ("text",)),
            ok=_resp("stored", _obj({"reference": _S, "status": _S})), extra=conflict, tags=("bot",))},
        "/api/v1/tickets/{ref}/rating": {"post": _op(
            "Satisfaction rating 1-5 of a resolved ticket", security=bot, params=("ref",),
            body=_obj({"rating": {"type": "integer", "minimum": 1, "maximum": 5}, "comment": _S}, ("rating",)),
            ok=_resp("rated"), extra=conflict, tags=("bot",))},
        "/api/v1/status/{secret}": {"get": _op(
            "Customer status view (the secret reference is the credential)", security=None, params=("secret",),
            ok=_resp("status", {"$ref": "#/components/schemas/TicketStatusView"}), tags=("customer",))},
        "/api/v1/customers/{customer_id}/tickets": {"get": _op(
            "A verified customer's own tickets", security=bot, params=("customer_id",),
            ok=_resp("tickets", _obj({"tickets": {"type": "array",
                                                 "items": {"$ref": "#/components/schemas/TicketStatusView"}}})),
            tags=("bot",))},
        "/api/v1/bot/signals": {"post": _op(
            "The bot's conversation signals: what it did with each customer problem (KB answered, ambiguous, "
            "no answer, helped votes, declined), 1-100 per call; stored 90 days for analytics (the question "
            "masked and kept to 500 characters)", security=bot,
            body={"$ref": "#/components/schemas/SignalsRequest"}, ok_status="202",
            ok=_resp("accepted", _obj({"accepted": {"type": "integer"}}, ("accepted",))), tags=("bot",))},
        "/api/v1/agent/me": {"get": _op("Who am I (name, role)", security=agent,
                                        ok=_resp("agent", _obj({"name": _S, "role": _S})), tags=("agent",))},
        "/api/v1/agent/queues": {"get": _op(
            "Queues with depth, oldest wait and SLA breaches", security=agent, ok=_resp("queues"), tags=("agent",))},
        "/api/v1/agent/taxonomy": {"get": _op(
            "The escalation matrix's categories and queues with their labels in de, en and da",
            security=agent, ok=_resp("categories and queues", _obj({
                "categories": {"type": "array", "items": _obj({"name": _S, "description": _S,
                                                                 "labels": {"type": "object"}})},
                "queues": {"type": "array", "items": _obj({"name": _S, "description": _S, "tier": {"type": "integer"},
                                                            "labels": {"type": "object"}})}})),
            tags=("agent",))},
        "/api/v1/agent/claim": {"post": _op(
            "Claim the next ticket (highest priority, then earliest deadline) from the given queues (all when "
            "empty); atomic across instances", security=agent,
            body=_obj({"queues": {"type": "array", "items": _S}}),
            ok=_resp("the claimed ticket, or null when the queues are empty", _obj({"ticket": _TICKET})),
            tags=("agent",))},
        "/api/v1/agent/tickets": {"get": {**_op(
            "Open tickets with their escalation risk (score 0-100, level, reasons), most urgent first, or highest "
            "risk first with sort=risk (query: mine=1, queue, status, sort)", security=agent,
            ok=_resp("tickets", _obj({"tickets": {"type": "array", "items": {"type": "object"}}})), tags=("agent",)),
            "parameters": [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                           for n in ("mine", "queue", "status")]
            + [{"name": "sort", "in": "query", "required": False,
                "schema": {"type": "string", "enum": ["priority", "risk"]}}]}},
        "/api/v1/agent/tickets/{ref}": {"get": _op(
            "Full ticket with history, replies and notes, and its escalation risk while open (null once closed)",
            security=agent, params=("ref",), ok=_resp("ticket", _TICKET),
            tags=("agent",))},
        "/api/v1/agent/tickets/{ref}/notes": {"post": _op(
            "Add an internal note", security=agent, params=("ref",), body=_TEXT, ok=_resp("ticket", _TICKET),
            tags=("agent",))},
        "/api/v1/agent/tickets/{ref}/reply": {"post": _op(
            "Reply to the customer (delivered into the chat through Rasa; kept for the status view)",
            security=agent, params=("ref",), body=_TEXT,
            ok=_resp("reply stored", _obj({"reference": _S, "delivered": {"type": "boolean"}, "status": _S})),
            extra={**conflict, **forbidden}, tags=("agent",))},
        "/api/v1/agent/tickets/{ref}/escalate": {"post": _op(
            "Escalate to another queue or one tier up (lead or the claiming agent)", security=agent,
            params=("ref",), body=_obj({"reason": _S, "to_queue": _S}, ("reason",)), ok=_resp("ticket", _TICKET),
            extra={**conflict, **forbidden}, tags=("agent",))},
        "/api/v1/agent/tickets/{ref}/resolve": {"post": _op(
            "Resolve; optionally propose a KB article (written as a draft)", security=agent, params=("ref",),
            body=_obj({"resolution": _S, "propose_article": {"$ref": "#/components/schemas/ArticleProposal"}},
                      ("resolution",)),
            ok=_resp("resolved", _obj({"ticket": _TICKET, "draft_path": {"type": "string", "nullable": True},
                                        "bot_notified": {"type": "boolean"},
                                        "draft_issues": {"type": "array", "items": _S}})),
            extra={**conflict, **forbidden}, tags=("agent",))},
        "/api/v1/agent/tickets/{ref}/reopen": {"post": _op(
            "Reopen a resolved ticket", security=agent, params=("ref",), body=_REASON, ok=_resp("ticket", _TICKET),
            extra=conflict, tags=("agent",))},
        "/api/v1/agent/tickets/{ref}/release": {"post": _op(
            "Give a claimed ticket back to its queue", security=agent, params=("ref",), body=_obj({"reason": _S}),
            ok=_resp("ticket", _TICKET), extra={**conflict, **forbidden}, tags=("agent",))},
        "/api/v1/lead/agents": {"get": _op("Agents' statistics (lead)", security=lead, ok=_resp("agents"),
                                           extra=forbidden, tags=("lead",))},
        "/api/v1/lead/analytics": analytics,
        "/api/v1/agent/analytics": analytics,
        "/api/v1/lead/kb-gaps": {"get": {**_op(
            "KB gaps (lead): questions the bot could not answer or whose answer did not help, grouped by meaning, "
            "largest first, with the tickets they became and the drafts proposed (query: since=30d)",
            security=lead, ok=_resp("gaps", _obj({"since": {"type": "number"}, "until": {"type": "number"},
                                                   "questions": {"type": "integer"},
                                                   "gaps": {"type": "array", "items": {"type": "object"}}})),
            extra={**forbidden, "400": _resp("a bad period", _ERROR)}, tags=("lead",)),
            "parameters": [{"name": "since", "in": "query", "required": False, "schema": _S}]}},
        "/api/v1/lead/matrix/reload": {"post": _op(
            "Reload the escalation matrix (a bad file is refused, the last good one stays)", security=lead,
            ok=_resp("reloaded"), extra=forbidden, tags=("lead",))},
    }
    paths.update(_incident_paths(bot, agent, lead, conflict, forbidden))
    paths.update(_helpdesk_paths(conflict))
    # the agents' web console (handoff/console): static files; the page then uses the agent API above
    paths["/agent"] = {"get": {"summary": "Agents' web console (HTML page)", "tags": ["console"],
                               "responses": {"200": {"description": "the page",
                                                     "content": {"text/html": {"schema": _S}}}}}}
    paths["/agent/"] = {"get": {"summary": "Redirect to /agent", "tags": ["console"],
                                "responses": {"302": {"description": "to /agent"}}}}
    paths["/agent/static/{name}"] = {"get": {
        "summary": "Console scripts and stylesheets (console.js, console.css, analytics.js, analytics.css, and "
                   "chart.umd.js: Chart.js, vendored at install)", "tags": ["console"],
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "the file"},
                      "404": _resp("no such file", _ERROR)}}}
    turn = openapi_of(TRANSCRIPT_TURN)
    schemas = {
        "Error": _obj({"error": _S, "detail": _S}, ("error", "detail")),
        "CreateTicketRequest": openapi_of(CREATE_REQUEST),  # the definition the service validates with
        "SignalsRequest": openapi_of(SIGNALS_REQUEST),  # likewise
        "TicketCreated": _obj({
            "reference": _S, "secret_reference": _S, "queue": _S, "tier": {"type": "integer"}, "priority": _S,
            "status": _S, "first_response_due": {"type": "number"},
            "expected_first_response_minutes": {"type": "integer"}, "expected_first_response_at": {"type": "number"},
            "queue_position": {"type": "integer", "nullable": True}, "created": {"type": "boolean"}}),
        "Estimate": _obj({
            "queue": _S, "tier": {"type": "integer"}, "priority": _S,
            "expected_first_response_minutes": {"type": "integer"}, "expected_first_response_at": {"type": "number"}}),
        "TicketStatusView": _obj({
            "reference": _S, "status": _S, "queue": _S, "priority": _S,
            "queue_position": {"type": "integer", "nullable": True},
            "expected_wait_minutes": {"type": "integer", "nullable": True},
            "expected_first_response_at": {"type": "number", "nullable": True},
            "agent_replies": {"type": "array", "items": turn}, "updated_at": {"type": "number"}}),
        "Ticket": {"type": "object", "nullable": True, "description": "Full ticket record (versioned): the create "
                   "fields (masked), summary, channels, status, queue, tier, priority, agent, SLA deadlines, "
                   "history, replies, notes", "additionalProperties": True},
        "Analytics": _analytics_schema(),
        "ArticleProposal": _obj({"title": _S, "lang": _S, "category": _S, "tags": {"type": "array", "items": _S},
                                 "questions": {"type": "array", "items": _S}, "body": _S, "escalate_to": _S},
                                ("title", "lang", "category", "body")),
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "frontdoor handoff service", "version": "1.0.0",
                 "description": "Turns bot conversations into pre-qualified tickets and serves the agents."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "botToken": {"type": "http", "scheme": "bearer", "description": "HANDOFF_BOT_TOKEN"},
                "agentToken": {"type": "http", "scheme": "bearer",
                               "description": "agent or lead token (python -m handoff token create)"},
                "helpdeskToken": {"type": "http", "scheme": "bearer",
                                  "description": "HANDOFF_HELPDESK_TOKEN (the helpdesk connector, connector/)"},
            },
        },
    }


def _incident_paths(bot: str, agent: str, lead: str, conflict: dict[str, Any],
                    forbidden: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Incidents (handoff/incident_web.py): the bodies are the definitions the routes validate with."""
    from handoff.incident_web import DECLARE, LINK, MERGE, RENAME  # noqa: PLC0415 (it imports handoff.web)

    incident = {"type": "object", "description": "An incident (handoff/incidents.py): id, title, status, keys, "
                "category, product, error_code, article, first_reports, reports, ...", "additionalProperties": True}
    missing = {"404": _resp("unknown incident", _ERROR)}
    message = {"oneOf": [_S, _obj({lang: _S for lang in ("de", "en", "da")})]}
    return {
        "/api/v1/bot/incidents": {"get": _op(
            "Open incidents with their keys (the bot matches a customer's problem against them)", security=bot,
            ok=_resp("open incidents", _obj({"incidents": {"type": "array", "items": _obj({
                "id": _S, "title": _S, "status": _S, "keys": {"type": "array", "items": _S}})}})), tags=("bot",))},
        "/api/v1/bot/incidents/{id}": {"get": _op(
            "What a linked customer may be told: title and status", security=bot, params=("id",),
            ok=_resp("incident", _obj({"id": _S, "title": _S, "status": _S,
                                       "resolved_at": {"type": "number", "nullable": True}})),
            extra=missing, tags=("bot",))},
        "/api/v1/bot/incidents/{id}/conversations": {"post": _op(
            "Link a customer's conversation to a known problem (told when it is fixed)", security=bot,
            params=("id",), body=openapi_of(LINK), ok=_resp("linked", _obj({"id": _S, "title": _S, "status": _S})),
            extra={**conflict, **missing}, tags=("bot",))},
        "/api/v1/bot/incidents/{id}/conversations/{conversation_id}": {"delete": _op(
            "The customer says it is another problem: unlink", security=bot, params=("id", "conversation_id"),
            ok=_resp("unlinked", _obj({"unlinked": {"type": "boolean"}})), extra=missing, tags=("bot",))},
        "/api/v1/agent/incidents": {"get": {**_op(
            "Incidents, newest first (query: status=open|all|confirmed|resolved|merged)", security=agent,
            ok=_resp("incidents", _obj({"incidents": {"type": "array", "items": incident}})), tags=("agent",)),
            "parameters": [{"name": "status", "in": "query", "required": False, "schema": _S}]}},
        "/api/v1/agent/incidents/{id}": {"get": _op(
            "One incident with its child tickets and linked conversations by language", security=agent,
            params=("id",), ok=_resp("incident", incident), extra=missing, tags=("agent",))},
        "/api/v1/lead/incidents": {"post": _op(
            "Declare an incident (lead): an outage known before the reports come in; confirmed at once. It needs "
            "an error code, a category with a product, or an article", security=lead, body=openapi_of(DECLARE),
            ok=_resp("not used: 201"), extra={"201": _resp("declared", incident), **conflict, **forbidden},
            tags=("lead",))},
        "/api/v1/lead/incidents/{id}/confirm": {"post": _op(
            "Confirm an incident (lead)", security=lead, params=("id",), ok=_resp("incident", incident),
            extra={**conflict, **forbidden, **missing}, tags=("lead",))},
        "/api/v1/lead/incidents/{id}/rename": {"post": _op(
            "Rename an incident (lead)", security=lead, params=("id",), body=openapi_of(RENAME),
            ok=_resp("incident", incident), extra={**conflict, **forbidden, **missing}, tags=("lead",))},
        "/api/v1/lead/incidents/{id}/merge": {"post": _op(
            "Merge this incident into another (lead)", security=lead, params=("id",), body=openapi_of(MERGE),
            ok=_resp("the incident merged into", incident), extra={**conflict, **forbidden, **missing},
            tags=("lead",))},
        "/api/v1/lead/incidents/{id}/resolve": {"post": _op(
            "Resolve (lead): every linked conversation is told in its language, the child tickets are resolved",
            security=lead, params=("id",),
            body=_obj({"message": message, "resolve_tickets": {"type": "boolean"}}),
            ok=_resp("resolved", _obj({"incident": incident, "conversations_to_tell": {"type": "integer"},
                                       "tickets_resolved": {"type": "array", "items": _S}})),
            extra={**conflict, **forbidden, **missing}, tags=("lead",))},
    }


def _helpdesk_paths(conflict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The helpdesk connector's routes (handoff/web.py): the bodies are the definitions they validate with."""
    from handoff.web import HELPDESK_ACTION, HELPDESK_LINK  # noqa: PLC0415 (it imports this module)

    helpdesk = "helpdeskToken"
    return {
        "/api/v1/helpdesk/tickets/{ref}": {"get": _op(
            "The ticket as the connector mirrors it into the helpdesk (the agents' view)", security=helpdesk,
            params=("ref",), ok=_resp("ticket", _TICKET), tags=("helpdesk",))},
        "/api/v1/helpdesk/tickets/{ref}/link": {"put": _op(
            "Store the helpdesk's id of the ticket's twin (idempotent; another id than the stored one is a "
            "conflict)", security=helpdesk, params=("ref",), body=openapi_of(HELPDESK_LINK),
            ok=_resp("linked", _obj({"reference": _S, "helpdesk_id": _S})), extra=conflict, tags=("helpdesk",))},
        "/api/v1/helpdesk/tickets/{ref}/actions": {"post": _op(
            "A change an agent made in the helpdesk, applied at most once per key: reply (reaches the customer's "
            "chat), resolve (hands the conversation back to the bot, which asks for a rating), escalate (to "
            "to_queue)", security=helpdesk, params=("ref",), body=openapi_of(HELPDESK_ACTION),
            ok=_resp("applied, or applied before (applied: false)", _obj({
                "reference": _S, "applied": {"type": "boolean"}, "status": _S, "delivered": {"type": "boolean"},
                "bot_notified": {"type": "boolean"}, "queue": _S}, ("reference", "applied", "status"))),
            extra=conflict, tags=("helpdesk",))},
    }
