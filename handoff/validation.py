"""Hand-written validation of the create payload against ``bot.contract.CreateTicketRequest``."""

from __future__ import annotations

import json
import math

import re
from typing import Any, cast

from bot.contract import (
    CUSTOMER_TIERS, FEEDBACK_VALUES, IMPACTS, LANGUAGES, SCHEMA_VERSION, URGENCIES, CreateTicketRequest,
)
from handoff.errors import InvalidTicket

MAX_SHORT = 200
MAX_TEXT = 5000
MAX_TURNS = 500
MAX_ITEMS = 50
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FEEDBACK = FEEDBACK_VALUES
_SENDERS = ("customer", "bot", "agent")


def _str(body: dict[str, Any], key: str, *, required: bool = False, max_len: int = MAX_SHORT,
         where: str = "") -> None:
    name = f"{where}{key}"
    if key not in body:
        if required:
            raise InvalidTicket(f"'{name}' is required")
        return
    value = body[key]
    if not isinstance(value, str):
        raise InvalidTicket(f"'{name}' must be a string")
    if required and not value.strip():
        raise InvalidTicket(f"'{name}' must not be empty")
    if len(value) > max_len:
        raise InvalidTicket(f"'{name}' is longer than {max_len} characters")


def _enum(body: dict[str, Any], key: str, allowed: tuple[str, ...], *, required: bool = False,
          where: str = "") -> None:
    _str(body, key, required=required, where=where)
    if key in body and body[key] not in allowed:
        raise InvalidTicket(f"'{where}{key}' must be one of {', '.join(allowed)}, got {body[key]!r}")


def _bool(body: dict[str, Any], key: str, where: str = "") -> None:
    if key in body and not isinstance(body[key], bool):
        raise InvalidTicket(f"'{where}{key}' must be true or false")


def _list(body: dict[str, Any], key: str, max_items: int = MAX_ITEMS) -> list[Any]:
    value = body.get(key, [])
    if not isinstance(value, list):
        raise InvalidTicket(f"'{key}' must be a list")
    if len(value) > max_items:
        raise InvalidTicket(f"'{key}' has more than {max_items} items")
    return value


def validate_create(body: Any) -> CreateTicketRequest:
    if not isinstance(body, dict):
        raise InvalidTicket("the body must be a JSON object")
    version = body.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version != SCHEMA_VERSION:
        raise InvalidTicket(f"'schema_version' must be {SCHEMA_VERSION}")
    _str(body, "conversation_id", required=True)
    _str(body, "channel", required=True, max_len=50)
    _enum(body, "language", LANGUAGES, required=True)
    _str(body, "description", required=True, max_len=MAX_TEXT)
    for key in ("category", "product", "error_code", "order_number", "invoice_number", "escalate_to"):
        _str(body, key)
    _str(body, "client", max_len=64)
    _enum(body, "impact", IMPACTS)
    _enum(body, "urgency", URGENCIES)
    _bool(body, "frustrated")
    _bool(body, "requested_human")
    customer = body.get("customer", {})
    if not isinstance(customer, dict):
        raise InvalidTicket("'customer' must be an object")
    for key in ("id", "name"):
        _str(customer, key, where="customer.")
    _str(customer, "email", where="customer.", max_len=254)
    if customer.get("email") and not _EMAIL_RE.match(customer["email"]):
        raise InvalidTicket("'customer.email' is not an e-mail address")
    _bool(customer, "verified", where="customer.")
    _enum(customer, "tier", CUSTOMER_TIERS, where="customer.")
    for i, tag in enumerate(_list(body, "tags")):
        if not isinstance(tag, str) or len(tag) > MAX_SHORT:
            raise InvalidTicket(f"'tags[{i}]' must be a string of at most {MAX_SHORT} characters")
    for i, step in enumerate(_list(body, "steps_tried")):
        if not isinstance(step, str) or len(step) > MAX_TEXT:
            raise InvalidTicket(f"'steps_tried[{i}]' must be a string of at most {MAX_TEXT} characters")
    for i, article in enumerate(_list(body, "articles_shown")):
        where = f"articles_shown[{i}]."
        if not isinstance(article, dict):
            raise InvalidTicket(f"'articles_shown[{i}]' must be an object")
        _str(article, "id", required=True, where=where)
        _str(article, "lang", required=True, where=where, max_len=10)
        _str(article, "title", required=True, where=where)
        _enum(article, "feedback", _FEEDBACK, required=True, where=where)
    for i, turn in enumerate(_list(body, "transcript", MAX_TURNS)):
        where = f"transcript[{i}]."
        if not isinstance(turn, dict):
            raise InvalidTicket(f"'transcript[{i}]' must be an object")
        _enum(turn, "sender", _SENDERS, required=True, where=where)
        _str(turn, "text", required=False, where=where, max_len=MAX_TEXT)
        if not isinstance(turn.get("text", ""), str):
            raise InvalidTicket(f"'{where}text' must be a string")
        if not is_timestamp(turn.get("timestamp")):
            raise InvalidTicket(f"'{where}timestamp' must be a number (unix seconds)")
    return cast(CreateTicketRequest, body)


def is_timestamp(value: Any) -> bool:
    """A finite number of unix seconds; an integer too large for a float (400 digits) is not one."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def validate_text(body: Any, key: str, *, required: bool = True, max_len: int = MAX_TEXT) -> str:
    if not isinstance(body, dict):
        raise InvalidTicket("the body must be a JSON object")
    _str(body, key, required=required, max_len=max_len)
    value = body.get(key, "")
    return str(value)


def strict_json_loads(raw: str | bytes) -> Any:
    """JSON as the service accepts it: NaN, Infinity and numbers too large for a float (1e999, which would be
    read as Infinity and written back so) are refused with ValueError, like any invalid JSON."""
    return json.loads(raw, parse_constant=_no_constant, parse_float=_finite)


def _no_constant(name: str) -> Any:
    raise ValueError(f"NaN and Infinity are not JSON numbers ({name})")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        _no_constant(text)
    return value
