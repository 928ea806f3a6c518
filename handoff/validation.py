"""Validation of request bodies: the create payload against its one definition (handoff/schema.py), single
text fields, and the strict JSON the service accepts."""

from __future__ import annotations

import json
import math
from typing import Any, cast

from bot.contract import CreateTicketRequest
from handoff.schema import CREATE_REQUEST, MAX_TEXT, Obj, Str, is_timestamp, validate

__all__ = ["is_timestamp", "strict_json_loads", "validate_create", "validate_text"]


def validate_create(body: Any) -> CreateTicketRequest:
    """The create payload against its one definition (handoff/schema.py)."""
    validate(CREATE_REQUEST, body)
    return cast(CreateTicketRequest, body)


def validate_text(body: Any, key: str, *, required: bool = True, max_len: int = MAX_TEXT) -> str:
    validate(Obj({key: Str(required=required, max_len=max_len)}), body)
    return str(body.get(key, ""))


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
