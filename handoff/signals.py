"""The bot's conversation signals (``POST /api/v1/bot/signals``): what the bot did with each customer
problem, so deflection can be measured and unanswered questions found. Pure: the validated payload
becomes ``Signal`` values (the question masked and shortened here), and ``encode``/``decode`` are the only
codec of a signal as an entry of the ``{prefix}signals`` stream (``handoff.store`` writes and reads it).

Stored shape of one entry (field -> value, all text):
  type  kb_answered | kb_ambiguous | kb_no_answer | kb_feedback | declined
  conv  the conversation id
  at    the signal's own time, unix seconds (``repr`` of a float; the bot's, or the arrival time)
  data  JSON object of the rest, only the keys that were sent: language (always), text (masked with
        handoff.masking.mask_text, at most 500 characters), article_id, article_lang, category, product,
        error_code, helped (kb_feedback only, bool), embedding (base64 of 384 float16 values, as sent)
The entry's stream id is the arrival time by the service's clock (ms); see ``Store.append_signals``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ujson import loads as fast_loads

from handoff.errors import InvalidRequest
from handoff.masking import mask_text
from handoff.schema import EMBEDDING_VALUES, SIGNALS_REQUEST, validate

TEXT_KEPT = 500  # characters of the (masked) question that are stored
FUTURE_TOLERANCE = 3600.0  # a signal's ``at`` may be this far ahead of the service's clock, not more
OPTIONAL_TEXT = ("article_id", "article_lang", "category", "product", "error_code", "embedding")
_FLOAT16 = struct.Struct(f"<{EMBEDDING_VALUES}e")


@dataclass(frozen=True)
class Signal:
    type: str
    conversation_id: str
    at: float
    data: Mapping[str, Any] = field(default_factory=dict)  # language and the optional fields that were sent


def parse_signals(body: Any, now: float) -> list[Signal]:
    """The signals of a request body, validated against ``schema.SIGNALS_REQUEST`` and the rules the schema
    cannot say (``helped`` exactly for kb_feedback, ``at`` at most an hour ahead, the embedding's length);
    raises InvalidRequest naming the signal's index and field."""
    validate(SIGNALS_REQUEST, body)
    return [_signal(item, f"signals[{i}]", now) for i, item in enumerate(body["signals"])]


def _signal(item: Mapping[str, Any], where: str, now: float) -> Signal:
    kind = item["type"]
    if kind == "kb_feedback" and "helped" not in item:
        raise InvalidRequest(f"'{where}.helped' is required for kb_feedback (true or false)")
    if kind != "kb_feedback" and "helped" in item:
        raise InvalidRequest(f"'{where}.helped' is only for kb_feedback signals")
    at = float(item.get("at", now))
    if at < 0:
        raise InvalidRequest(f"'{where}.at' must not be before 1970")
    if at > now + FUTURE_TOLERANCE:
        raise InvalidRequest(f"'{where}.at' is more than {FUTURE_TOLERANCE / 3600:.0f} h in the future")
    if "embedding" in item:
        _check_embedding(item["embedding"], f"{where}.embedding")
    data: dict[str, Any] = {"language": item["language"]}
    if "text" in item:
        data["text"] = mask_text(item["text"])[:TEXT_KEPT]
    for name in OPTIONAL_TEXT:
        if name in item:
            data[name] = item[name]
    if kind == "kb_feedback":
        data["helped"] = item["helped"]
    return Signal(kind, item["conversation_id"], at, data)


def _check_embedding(text: str, name: str) -> None:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"'{name}' is not base64") from None
    if len(raw) != 2 * EMBEDDING_VALUES:
        raise InvalidRequest(f"'{name}' must hold {EMBEDDING_VALUES} float16 values ({2 * EMBEDDING_VALUES} bytes), "
                            f"got {len(raw)} bytes")
    if not all(math.isfinite(v) for v in _FLOAT16.unpack(raw)):
        raise InvalidRequest(f"'{name}' holds a value that is not a finite number")


# -- the stream codec ------------------------------------------------------------------------------------

def encode(signal: Signal) -> dict[str, str]:
    """The stream entry's fields (see the module docstring)."""
    return {"type": signal.type, "conv": signal.conversation_id, "at": repr(signal.at),
            "data": json.dumps(dict(signal.data), ensure_ascii=False, separators=(",", ":"))}


def decode(kind: str, conversation_id: str, at: str, data: str) -> Signal:
    """A signal from its stream entry's fields (a broken ``at`` or ``data`` reads as 0 or empty)."""
    try:
        parsed = fast_loads(data)
    except ValueError:
        parsed = {}
    try:
        when = float(at)
    except ValueError:
        when = 0.0
    return Signal(kind, conversation_id, when, parsed if isinstance(parsed, dict) else {})
