"""The create contract, defined once: ``CREATE_REQUEST`` describes every field of
``bot.contract.CreateTicketRequest`` (type, whether required, bounds, allowed values); the service
validates a payload with it (``validate``) and serves it in its OpenAPI document (``openapi``). A test ties
its field names to the TypedDict the bot writes. ``SIGNALS_REQUEST`` is the bot's conversation signals
(``POST /api/v1/bot/signals``), defined the same way."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from bot.contract import CUSTOMER_TIERS, FEEDBACK_VALUES, IMPACTS, LANGUAGES, SCHEMA_VERSION, URGENCIES
from handoff.errors import InvalidTicket

MAX_SHORT = 200
MAX_TEXT = 5000
MAX_TURNS = 500
MAX_ITEMS = 50
SENDERS: tuple[str, ...] = ("customer", "bot", "agent")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Str:
    required: bool = False
    max_len: int = MAX_SHORT
    values: tuple[str, ...] = ()  # an enumeration when given
    email: bool = False
    description: str = ""


@dataclass(frozen=True)
class Bool:
    required: bool = False


@dataclass(frozen=True)
class Timestamp:
    """A finite number of unix seconds."""

    required: bool = False


@dataclass(frozen=True)
class Version:
    """``schema_version``: may be left out (the current one), else exactly it."""

    required: bool = False


@dataclass(frozen=True)
class Arr:
    items: Spec
    max_items: int = MAX_ITEMS
    required: bool = False
    min_items: int = 0


@dataclass(frozen=True)
class Obj:
    fields: Mapping[str, Spec] = field(default_factory=dict)
    required: bool = False
    description: str = ""


Spec = Union[Str, Bool, Timestamp, Version, Arr, Obj]

CUSTOMER = Obj({
    "id": Str(), "name": Str(), "email": Str(max_len=254, email=True), "verified": Bool(),
    "tier": Str(values=CUSTOMER_TIERS),
})
ARTICLE_SHOWN = Obj({
    "id": Str(required=True), "lang": Str(required=True, max_len=10), "title": Str(required=True),
    "feedback": Str(required=True, values=FEEDBACK_VALUES),
})
TRANSCRIPT_TURN = Obj({"sender": Str(required=True, values=SENDERS), "text": Str(max_len=MAX_TEXT),
                       "timestamp": Timestamp(required=True)})
CREATE_REQUEST = Obj({
    "schema_version": Version(),
    "conversation_id": Str(required=True),
    "channel": Str(required=True, max_len=50),
    "language": Str(required=True, values=LANGUAGES),
    "customer": CUSTOMER,
    "category": Str(),
    "tags": Arr(Str()),
    "product": Str(),
    "description": Str(required=True, max_len=MAX_TEXT),
    "error_code": Str(),
    "order_number": Str(),
    "invoice_number": Str(),
    "impact": Str(values=IMPACTS),
    "urgency": Str(values=URGENCIES),
    "steps_tried": Arr(Str(max_len=MAX_TEXT)),
    "articles_shown": Arr(ARTICLE_SHOWN),
    "escalate_to": Str(),
    "frustrated": Bool(),
    "requested_human": Bool(),
    "transcript": Arr(TRANSCRIPT_TURN, max_items=MAX_TURNS),
    "client": Str(max_len=64, description="the chat channel's pseudonym of the client's address: a client that "
                  "is not a verified customer opens at most HANDOFF_TICKETS_PER_CLIENT_HOUR tickets an hour "
                  "(429 beyond)"),
})


# The bot's conversation signals: what it did with each customer problem (deflection, unanswered questions)
SIGNAL_TYPES: tuple[str, ...] = ("kb_answered", "kb_ambiguous", "kb_no_answer", "kb_feedback", "declined")
MAX_SIGNALS = 100  # per call
MAX_SIGNAL_TEXT = 2000  # the question as sent; masked and kept to SIGNAL_TEXT_KEPT characters
EMBEDDING_VALUES = 384  # the question's sentence embedding: base64 of this many float16 values
SIGNAL = Obj({
    "type": Str(required=True, values=SIGNAL_TYPES),
    "conversation_id": Str(required=True),
    "language": Str(required=True, values=LANGUAGES),
    "at": Timestamp(),
    "text": Str(max_len=MAX_SIGNAL_TEXT, description="the customer's question (masked and kept to 500 "
                                                      "characters by the service)"),
    "article_id": Str(),
    "article_lang": Str(),
    "category": Str(),
    "product": Str(),
    "error_code": Str(),
    "helped": Bool(),
    "embedding": Str(max_len=4 * ((EMBEDDING_VALUES * 2 + 2) // 3),
                     description=f"base64 of {EMBEDDING_VALUES} float16 values (the question's sentence embedding)"),
})
SIGNALS_REQUEST = Obj({"signals": Arr(SIGNAL, max_items=MAX_SIGNALS, required=True, min_items=1)})


def is_timestamp(value: Any) -> bool:
    """A finite number of unix seconds; an integer too large for a float (400 digits) is not one."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def validate(spec: Obj, body: Any, where: str = "") -> None:
    """Raise InvalidTicket naming the first field that does not fit ``spec`` (by its path)."""
    if not isinstance(body, dict):
        raise InvalidTicket(f"'{where.rstrip('.')}' must be an object" if where else "the body must be a JSON object")
    for key, sub in spec.fields.items():
        name = f"{where}{key}"
        if key not in body:
            if isinstance(sub, Timestamp) and sub.required:
                raise InvalidTicket(f"'{name}' must be a number (unix seconds)")
            if sub.required:
                raise InvalidTicket(f"'{name}' is required")
            continue
        check(sub, body[key], name)


def check(spec: Spec, value: Any, name: str) -> None:
    if isinstance(spec, Str):
        if not isinstance(value, str):
            raise InvalidTicket(f"'{name}' must be a string")
        if spec.required and not value.strip():
            raise InvalidTicket(f"'{name}' must not be empty")
        if len(value) > spec.max_len:
            raise InvalidTicket(f"'{name}' is longer than {spec.max_len} characters")
        if spec.values and value not in spec.values:
            raise InvalidTicket(f"'{name}' must be one of {', '.join(spec.values)}, got {value!r}")
        if spec.email and value and not _EMAIL_RE.match(value):
            raise InvalidTicket(f"'{name}' is not an e-mail address")
    elif isinstance(spec, Bool):
        if not isinstance(value, bool):
            raise InvalidTicket(f"'{name}' must be true or false")
    elif isinstance(spec, Timestamp):
        if not is_timestamp(value):
            raise InvalidTicket(f"'{name}' must be a number (unix seconds)")
    elif isinstance(spec, Version):
        if not isinstance(value, int) or isinstance(value, bool) or value != SCHEMA_VERSION:
            raise InvalidTicket(f"'{name}' must be {SCHEMA_VERSION}")
    elif isinstance(spec, Arr):
        if not isinstance(value, list):
            raise InvalidTicket(f"'{name}' must be a list")
        if len(value) < spec.min_items:
            raise InvalidTicket(f"'{name}' needs at least {spec.min_items} item(s)")
        if len(value) > spec.max_items:
            raise InvalidTicket(f"'{name}' has more than {spec.max_items} items")
        for i, item in enumerate(value):
            if isinstance(spec.items, Str) and not spec.items.values:
                if not isinstance(item, str) or len(item) > spec.items.max_len:
                    raise InvalidTicket(f"'{name}[{i}]' must be a string of at most {spec.items.max_len} characters")
            elif isinstance(spec.items, Obj):
                validate(spec.items, item, f"{name}[{i}].")
            else:
                check(spec.items, item, f"{name}[{i}]")
    else:
        validate(spec, value, f"{name}.")


def openapi(spec: Spec) -> dict[str, Any]:
    """The JSON schema of ``spec`` for the OpenAPI document."""
    if isinstance(spec, Str):
        out: dict[str, Any] = {"type": "string", "maxLength": spec.max_len}
        if spec.values:
            out["enum"] = list(spec.values)
        if spec.email:
            out["format"] = "email"
        if spec.description:
            out["description"] = spec.description
        return out
    if isinstance(spec, Bool):
        return {"type": "boolean"}
    if isinstance(spec, Timestamp):
        return {"type": "number", "description": "unix seconds"}
    if isinstance(spec, Version):
        return {"type": "integer", "enum": [SCHEMA_VERSION]}
    if isinstance(spec, Arr):
        out = {"type": "array", "items": openapi(spec.items), "maxItems": spec.max_items}
        if spec.min_items:
            out["minItems"] = spec.min_items
        return out
    out = {"type": "object", "properties": {key: openapi(sub) for key, sub in spec.fields.items()}}
    required = [key for key, sub in spec.fields.items() if sub.required]
    if required:
        out["required"] = required
    return out
