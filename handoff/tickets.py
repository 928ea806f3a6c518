"""The ticket: one typed, frozen model, its only storage codec and its views (agents, customer, console).

A ticket is stored as one Redis hash (``handoff.store``) of two parts:

- the **hash fields** (``HASH_FIELDS``): the few values the store's scripts and cheap reads touch
  (status, agent, the claim's stamps, the queue time and deadline, what the create script decides);
- ``view``: every other field as one JSON object, written at each change, which is the agents' view
  without the hash fields. The claim script returns this text with the hash fields and the lists, and
  ``agent_json`` joins them without decoding the ticket (the claim's hot path writes no JSON in Lua).

The lists of a ticket (history, replies, notes, ratings) are Redis lists of their own (``TicketLists``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypedDict

from ujson import dumps as fast_dumps  # the create and claim hot paths: same JSON, less CPU
from ujson import loads as fast_loads

from bot.contract import SCHEMA_VERSION, ArticleShown, CreateTicketRequest, Customer, TicketStatusView, TranscriptTurn
from handoff.masking import mask_text
from handoff.routing import Facts

LANGUAGE_NAMES = {"de": "German", "en": "English", "da": "Danish"}


class Channel(TypedDict):
    channel: str
    conversation_id: str
    attached_at: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Ticket:
    # identity: the reference is numbered by the create script, the secret is given to the customer only
    reference: str = ""
    secret_reference: str = ""
    # what the customer told (free text masked), fixed at creation but for channels and transcript
    schema_version: int = SCHEMA_VERSION
    customer: Customer
    channels: tuple[Channel, ...]
    language: str
    category: str
    tags: tuple[str, ...] = ()
    product: str = ""
    description: str = ""
    error_code: str = ""
    order_number: str = ""
    invoice_number: str = ""
    impact: str = "only_me"
    urgency: str = "normal"
    steps_tried: tuple[str, ...] = ()
    articles_shown: tuple[ArticleShown, ...] = ()
    escalate_to: str = ""
    frustrated: bool = False
    requested_human: bool = False
    transcript: tuple[TranscriptTurn, ...] = ()
    summary: str = ""
    created_at: float
    # routing and state
    status: str = "queued"
    queue: str
    tier: int
    priority: str
    priority_reasons: tuple[str, ...] = ()
    routing_rule: str = ""
    agent: str = ""
    version: int = 1
    updated_at: float
    enqueued_at: float
    tier_entered_at: float
    first_response_due: float
    resolution_due: float
    warn_at: float
    tier_due: float | None = None
    claimed_at: float | None = None
    first_response_at: float | None = None
    resolved_at: float | None = None
    warned: bool = False
    breached: bool = False
    reopened: int = 0
    rating: int | None = None
    resolution: str = ""
    contacts_7d: int = 1  # conversations of this customer in the last 7 days (the create script counts)
    customer_verified: bool = False
    possible_duplicate_of: str = ""  # another open ticket of the same (unverified) contact and category
    incident: str = ""  # the incident this ticket is a report of (parent link, handoff.incidents)
    # early warning (handoff.risk)
    negative_ratings: int = 0  # the customer's earlier ratings of 1-2 (the create script counts them)
    messages_since_reply: int = 0  # customer messages since the last agent reply
    risk_raised: bool = False  # the SLA watcher raised the priority for high escalation risk (once)
    helpdesk_id: str = ""  # the ticket mirroring it in the helpdesk (RT's ticket id; connector/), "" = none

    @property
    def conversation_id(self) -> str:
        """The conversation agent replies go to: the one the customer wrote from last."""
        return self.channels[-1]["conversation_id"]


@dataclass(frozen=True, slots=True)
class TicketLists:
    history: tuple[dict[str, Any], ...] = ()
    replies: tuple[dict[str, Any], ...] = ()
    notes: tuple[dict[str, Any], ...] = ()


LIST_NAMES = ("history", "replies", "notes")  # the lists agents see (ratings are the leads')
HIDDEN_FROM_AGENTS = ("secret_reference",)

# -- the storage codec --------------------------------------------------------------------------------

# kind: s text, i integer, f time, o time or unset, b flag
HASH_FIELDS: dict[str, str] = {
    "reference": "s", "secret_reference": "s", "status": "s", "agent": "s", "version": "i", "updated_at": "f",
    "claimed_at": "o", "enqueued_at": "f", "first_response_due": "f", "contacts_7d": "i", "customer_verified": "b",
    "possible_duplicate_of": "s", "negative_ratings": "i",
}
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Ticket))
VIEW_FIELDS: tuple[str, ...] = tuple(n for n in FIELD_NAMES if n not in HASH_FIELDS)
AGENT_HASH_FIELDS: tuple[str, ...] = tuple(n for n in HASH_FIELDS if n not in HIDDEN_FROM_AGENTS)
TUPLE_FIELDS = ("channels", "tags", "steps_tried", "articles_shown", "transcript", "priority_reasons")


def _encode(kind: str, value: Any) -> str:
    if kind == "s":
        return str(value)
    if kind == "b":
        return "1" if value else "0"
    if kind == "o" and value is None:
        return ""
    return repr(value) if kind in "fo" else str(int(value))


def _decode(kind: str, text: str) -> Any:
    if kind == "s":
        return text
    if kind == "b":
        return text not in ("", "0")
    if kind == "i":
        return int(text)
    return None if text == "" else float(text)


def encode_fields(ticket: Ticket, names: Sequence[str] = tuple(HASH_FIELDS)) -> dict[str, str]:
    """The hash fields ``names`` of ``ticket`` as stored."""
    return {name: _encode(HASH_FIELDS[name], getattr(ticket, name)) for name in names}


def encode_view(ticket: Ticket) -> str:
    """The ``view`` field: the agents' view minus the hash fields, as JSON."""
    return fast_dumps({name: getattr(ticket, name) for name in VIEW_FIELDS}, ensure_ascii=False)


def decode(raw: Mapping[str, str]) -> Ticket:
    """The ticket from its stored hash (a hash written before the view existed, with a ``doc`` and every
    state field as text, is read too; the next change writes it in today's form)."""
    if "view" not in raw:
        return _decode_legacy(raw)
    data: dict[str, Any] = fast_loads(raw["view"])
    for name in TUPLE_FIELDS:
        data[name] = tuple(data[name])
    for name, kind in HASH_FIELDS.items():
        text = raw.get(name)
        if text is not None:
            data[name] = _decode(kind, text)
    return Ticket(**data)


_LEGACY_FLOATS = ("created_at", "tier_entered_at", "first_response_at", "resolution_due", "tier_due", "resolved_at", "warn_at")


def _decode_legacy(raw: Mapping[str, str]) -> Ticket:
    data: dict[str, Any] = fast_loads(raw.get("doc", "{}"))
    for name, text in raw.items():
        if name in HASH_FIELDS:
            data[name] = _decode(HASH_FIELDS[name], text)
        elif name in _LEGACY_FLOATS:
            data[name] = None if text == "" else float(text)
        elif name in ("tier", "reopened", "rating"):
            data[name] = int(float(text))
        elif name in ("warned", "breached"):
            data[name] = text not in ("", "0")
        elif name == "priority_reasons":
            data[name] = fast_loads(text)
        elif name in FIELD_NAMES:
            data[name] = text
    for name in TUPLE_FIELDS:
        data[name] = tuple(data.get(name, ()))
    return Ticket(**{k: v for k, v in data.items() if k in FIELD_NAMES})


def changed_fields(before: Ticket, after: Ticket) -> list[str]:
    """The fields whose value differs (unchanged lists are the same objects and compare at once)."""
    out = []
    for name in FIELD_NAMES:
        a, b = getattr(before, name), getattr(after, name)
        if a is not b and a != b:
            out.append(name)
    return out


# -- views --------------------------------------------------------------------------------------------

def agent_view(ticket: Ticket, lists: TicketLists) -> dict[str, Any]:
    """What agents see of a ticket: everything but the customer's secret reference, with its lists."""
    view = {name: getattr(ticket, name) for name in FIELD_NAMES if name not in HIDDEN_FROM_AGENTS}
    view.update(history=list(lists.history), replies=list(lists.replies), notes=list(lists.notes))
    return view


def agent_json(view: str, hash_values: Sequence[str], history: Sequence[str], replies: Sequence[str],
               notes: Sequence[str]) -> str:
    """``agent_view`` as JSON text from the stored parts (the view, the ``AGENT_HASH_FIELDS`` values as
    stored, the list items' JSON), without decoding them: the claim's reply."""
    parts = [view[:-1]]
    for (key, kind), text in zip(_AGENT_KEYS, hash_values):
        parts.append(key)
        if kind == "s":
            parts.append(fast_dumps(text, ensure_ascii=False))
        elif kind == "b":
            parts.append("false" if text in ("", "0") else "true")
        elif kind == "i":
            parts.append(str(int(text)))
        else:
            parts.append("null" if text == "" else repr(float(text)))
    parts += (',"history":[', ",".join(history), '],"replies":[', ",".join(replies), '],"notes":[', ",".join(notes),
              "]}")
    return "".join(parts)


_AGENT_KEYS = tuple((f',"{name}":', HASH_FIELDS[name]) for name in AGENT_HASH_FIELDS)


def status_view(ticket: Ticket, lists: TicketLists, position: int | None, wait: int | None,
                at: float | None) -> TicketStatusView:
    """What a customer may see of their ticket (position and promised time come from the queue)."""
    return TicketStatusView(
        reference=ticket.reference, status=ticket.status, queue=ticket.queue,  # type: ignore[typeddict-item]
        priority=ticket.priority,  # type: ignore[typeddict-item]
        queue_position=position, expected_wait_minutes=wait, expected_first_response_at=at,
        agent_replies=[{"sender": "agent", "text": r["text"], "timestamp": r["timestamp"]} for r in lists.replies],
        updated_at=ticket.updated_at,
    )


CONSOLE_COLUMNS = ("reference", "status", "queue", "tier", "priority", "agent", "category", "language",
                   "first_response_due", "updated_at")


def console_row(ticket: Ticket) -> dict[str, Any]:
    """One line of the agents' ticket list."""
    return {name: getattr(ticket, name) for name in CONSOLE_COLUMNS}


# -- from a create request ----------------------------------------------------------------------------

def reference_for(number: int) -> str:
    return f"T-{number:06d}"


def verified_customer_key(customer_id: str) -> str:
    """The identity of a signed-in customer (the only one that may join or list their tickets)."""
    return f"id:{customer_id}"


def customer_keys(customer: Mapping[str, Any]) -> list[str]:
    """Identities under which a customer's tickets are found: verified id and/or e-mail."""
    keys = []
    if customer.get("id") and customer.get("verified"):
        keys.append(verified_customer_key(str(customer["id"])))
    if customer.get("email"):
        keys.append(f"email:{str(customer['email']).strip().lower()}")
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


def masked_transcript(request: CreateTicketRequest) -> tuple[TranscriptTurn, ...]:
    return tuple({"sender": t["sender"], "text": mask_text(t.get("text", "")), "timestamp": t["timestamp"]}
                 for t in request.get("transcript", []))


def told(request: CreateTicketRequest, now: float) -> dict[str, Any]:
    """The fields of a new ticket that come from what the customer told, free text masked."""
    customer = dict(request.get("customer", {}))
    customer.setdefault("verified", False)
    customer.setdefault("tier", "standard")
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "customer": customer,
        "channels": ({"channel": request["channel"], "conversation_id": request["conversation_id"],
                      "attached_at": now},),
        "language": request["language"],
        "category": request.get("category") or "general",
        "tags": tuple(request.get("tags", [])),
        "product": request.get("product", ""),
        "description": mask_text(request["description"]),
        "error_code": request.get("error_code", ""),
        "order_number": request.get("order_number", ""),
        "invoice_number": request.get("invoice_number", ""),
        "impact": request.get("impact", "only_me"),
        "urgency": request.get("urgency", "normal"),
        "steps_tried": tuple(mask_text(s) for s in request.get("steps_tried", [])),
        "articles_shown": tuple(request.get("articles_shown", [])),
        "escalate_to": request.get("escalate_to", ""),
        "frustrated": bool(request.get("frustrated", False)),
        "requested_human": bool(request.get("requested_human", False)),
        "transcript": masked_transcript(request),
        "created_at": now,
    }
    doc["summary"] = summarize(doc)
    return doc


def summarize(doc: Mapping[str, Any]) -> str:
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
