"""Pure ticket domain helpers: the record built from a create request, the agent summary, customer keys."""

from __future__ import annotations

from typing import Any

from bot.contract import SCHEMA_VERSION, CreateTicketRequest
from handoff.masking import mask_text
from handoff.routing import Facts

LANGUAGE_NAMES = {"de": "German", "en": "English", "da": "Danish"}
HIDDEN_FROM_AGENTS = ("secret_reference",)  # what agents never see of a ticket


def reference_for(number: int) -> str:
    return f"T-{number:06d}"


def agent_view(ticket: dict[str, Any]) -> dict[str, Any]:
    """What agents see of a ticket: everything but the customer's secret reference."""
    return {k: v for k, v in ticket.items() if k not in HIDDEN_FROM_AGENTS}


def customer_keys(request: CreateTicketRequest) -> list[str]:
    """Identities under which a customer's tickets are found: verified id and/or e-mail."""
    customer = request.get("customer", {})
    keys = []
    if customer.get("id") and customer.get("verified"):
        keys.append(f"id:{customer['id']}")
    if customer.get("email"):
        keys.append(f"email:{customer['email'].strip().lower()}")
    return keys


def routing_facts(request: CreateTicketRequest) -> Facts:
    customer_text = " ".join(
        t.get("text", "") for t in request.get("transcript", []) if t.get("sender") == "customer"
    )
    return Facts(
        category=request.get("category") or "general",
        tags=tuple(request.get("tags", [])),
        text=f"{request.get('description', '')} {customer_text}",
        error_code=request.get("error_code", ""),
        escalate_to=request.get("escalate_to", ""),
        customer_tier=request.get("customer", {}).get("tier", "standard"),
        impact=request.get("impact", "only_me"),
    )


def build_doc(request: CreateTicketRequest, now: float) -> dict[str, Any]:
    """The (mostly static) part of the ticket record, with the transcript and free text masked."""
    customer = dict(request.get("customer", {}))
    customer.setdefault("verified", False)
    customer.setdefault("tier", "standard")
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "customer": customer,
        "channels": [
            {"channel": request["channel"], "conversation_id": request["conversation_id"], "attached_at": now}
        ],
        "language": request["language"],
        "category": request.get("category") or "general",
        "tags": list(request.get("tags", [])),
        "product": request.get("product", ""),
        "description": mask_text(request["description"]),
        "error_code": request.get("error_code", ""),
        "order_number": request.get("order_number", ""),
        "invoice_number": request.get("invoice_number", ""),
        "impact": request.get("impact", "only_me"),
        "urgency": request.get("urgency", "normal"),
        "steps_tried": [mask_text(s) for s in request.get("steps_tried", [])],
        "articles_shown": list(request.get("articles_shown", [])),
        "escalate_to": request.get("escalate_to", ""),
        "frustrated": bool(request.get("frustrated", False)),
        "requested_human": bool(request.get("requested_human", False)),
        "transcript": [
            {"sender": t["sender"], "text": mask_text(t.get("text", "")), "timestamp": t["timestamp"]}
            for t in request.get("transcript", [])
        ],
        "created_at": now,
    }
    doc["summary"] = summarize(doc)
    return doc


def summarize(doc: dict[str, Any]) -> str:
    """One paragraph for the agent, in English, from the fields (no free text copied beyond the
    description's first sentence)."""
    customer = doc.get("customer", {})
    who = customer.get("name") or "An anonymous customer"
    verified = "verified" if customer.get("verified") else "unverified"
    tier = customer.get("tier", "standard")
    language = LANGUAGE_NAMES.get(doc.get("language", ""), doc.get("language", "?"))
    parts = [f"{who} ({verified}, {tier} customer) writes in {language} via {doc['channels'][0]['channel']}"]
    topic = doc.get("category", "general")
    if doc.get("product"):
        topic += f" / {doc['product']}"
    parts.append(f"about {topic}")
    sentence = " ".join(parts) + "."
    desc = " ".join(str(doc.get("description", "")).split())
    if desc:
        first = desc.split(". ")[0]
        sentence += f' Problem: "{first[:200]}{"..." if len(first) > 200 else ""}".'
    refs = []
    if doc.get("error_code"):
        refs.append(f"error code {doc['error_code']}")
    if doc.get("order_number"):
        refs.append(f"order {doc['order_number']}")
    if doc.get("invoice_number"):
        refs.append(f"invoice {doc['invoice_number']}")
    if refs:
        sentence += " Reported " + ", ".join(refs) + "."
    impact = {"only_me": "only this customer", "several": "several customers", "everyone": "everyone"}
    sentence += f" Impact: {impact.get(doc.get('impact', 'only_me'), 'unknown')}; urgency {doc.get('urgency')}."
    articles = doc.get("articles_shown", [])
    if articles:
        shown = ", ".join(f"{a['id']} ({a['feedback'].replace('_', ' ')})" for a in articles)
        sentence += f" KB articles shown: {shown}."
    steps = doc.get("steps_tried", [])
    if steps:
        sentence += f" Already tried: {'; '.join(steps[:5])}."
    if doc.get("frustrated"):
        sentence += " The customer is frustrated."
    if doc.get("requested_human"):
        sentence += " The customer asked for a human."
    sentence += f" Reply in {language}."
    return sentence
