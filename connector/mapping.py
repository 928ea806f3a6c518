"""Pure mapping between our tickets and RT (no I/O): the queue mapping file, a ticket -> RT's create request,
an RT transaction -> what it means for our ticket. ``connector.sync`` does the I/O around these."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connector.errors import ConfigError

CUSTOM_FIELD_KEYS = ("category", "product", "error_code", "tier", "reference")
DEFAULT_CUSTOM_FIELDS: Mapping[str, str] = {
    "category": "Category", "product": "Product", "error_code": "Error code", "tier": "Tier",
    "reference": "Frontdoor reference",
}
DEFAULT_PRIORITIES: Mapping[str, int] = {"P1": 90, "P2": 70, "P3": 50, "P4": 20}
RESOLVED_STATUSES = ("resolved",)  # RT statuses that resolve our ticket
SUBJECT_LIMIT = 120
TRANSCRIPT_TURNS = 60  # the last turns of the (masked) conversation put into RT's first message
SENDER_NAMES = {"customer": "Customer", "bot": "Bot", "agent": "Agent"}


@dataclass(frozen=True)
class QueueMap:
    """The mapping file: each queue of the escalation matrix -> an RT queue, the names of RT's custom fields
    and RT's numeric priority of each of our priorities."""

    path: Path
    queues: Mapping[str, str]  # ours -> RT's (several of ours may share one RT queue)
    custom_fields: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CUSTOM_FIELDS))
    priorities: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PRIORITIES))

    def rt_queue(self, queue: str) -> str:
        try:
            return self.queues[queue]
        except KeyError:
            raise ConfigError(f"{self.path}: queue {queue!r} has no RT queue (matrix changed since the start?)") from None

    def our_queue(self, rt_queue: str, current: str = "") -> str | None:
        """The queue of ours an RT queue stands for: ``current`` when it maps there (nothing moved), else the
        first in the file; None for an RT queue the file does not name."""
        if current and self.queues.get(current) == rt_queue:
            return current
        return next((ours for ours, theirs in self.queues.items() if theirs == rt_queue), None)


def parse_queue_map(data: Any, path: Path, matrix_queues: Any) -> QueueMap:
    """The mapping file's content, checked against the matrix's queues: every one mapped, none unknown.
    Errors name the file and the queue."""
    if not isinstance(data, dict) or not isinstance(data.get("queues"), dict):
        raise ConfigError(f"{path}: expected a mapping with 'queues: {{our queue: RT queue, ...}}'")
    queues: dict[str, str] = {}
    for ours, theirs in data["queues"].items():
        if not isinstance(theirs, str) or not theirs.strip():
            raise ConfigError(f"{path}: queue {ours!r} must map to the name of an RT queue")
        if ours not in matrix_queues:
            raise ConfigError(f"{path}: queue {ours!r} is not a queue of the escalation matrix "
                              f"(its queues: {', '.join(sorted(matrix_queues))})")
        queues[str(ours)] = theirs.strip()
    missing = [q for q in matrix_queues if q not in queues]
    if missing:
        raise ConfigError(f"{path}: queue {missing[0]!r} of the escalation matrix has no RT queue"
                          + (f" (nor {', '.join(repr(q) for q in missing[1:])})" if missing[1:] else ""))
    custom = dict(DEFAULT_CUSTOM_FIELDS)
    raw_custom = data.get("custom_fields") or {}
    if not isinstance(raw_custom, dict):
        raise ConfigError(f"{path}: 'custom_fields' must map {', '.join(CUSTOM_FIELD_KEYS)} to RT custom field names")
    for key, name in raw_custom.items():
        if key not in CUSTOM_FIELD_KEYS or not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{path}: custom field {key!r} is not one of {', '.join(CUSTOM_FIELD_KEYS)} "
                              "or has no RT name")
        custom[key] = name.strip()
    priorities = dict(DEFAULT_PRIORITIES)
    raw_priorities = data.get("priorities") or {}
    if not isinstance(raw_priorities, dict):
        raise ConfigError(f"{path}: 'priorities' must map P1..P4 to RT's numeric priorities")
    for key, value in raw_priorities.items():
        if key not in DEFAULT_PRIORITIES or not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
            raise ConfigError(f"{path}: priority {key!r} must be one of P1..P4 with a number from 0 to 100")
        priorities[key] = value
    return QueueMap(path=path, queues=queues, custom_fields=custom, priorities=priorities)


def load_queue_map(path: Path, matrix_queues: Any) -> QueueMap:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the RT queue mapping file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    return parse_queue_map(data, path, matrix_queues)


def check_rt_queue(qmap: QueueMap, rt_queue: str, found: Mapping[str, Any] | None) -> None:
    """RT's answer about one mapped queue (None: RT does not know it) against the file: the queue exists and
    the custom fields apply to it."""
    ours = ", ".join(q for q, theirs in qmap.queues.items() if theirs == rt_queue)
    if found is None:
        raise ConfigError(f"{qmap.path}: RT has no queue {rt_queue!r} (mapped from {ours}), or the connector's "
                          "RT user may not see it (SeeQueue)")
    applied = {str(cf.get("name")) for cf in found.get("TicketCustomFields", []) if isinstance(cf, dict)}
    missing = [name for name in qmap.custom_fields.values() if name not in applied]
    if missing:
        raise ConfigError(f"{qmap.path}: RT's custom field(s) {', '.join(repr(m) for m in missing)} do not apply to "
                          f"RT queue {rt_queue!r} (create them for tickets and apply them to the queue, or globally)")


# -- ours -> RT ---------------------------------------------------------------------------------------------


def subject(ticket: Mapping[str, Any]) -> str:
    """``[T-000123] technical / Streamly app: The app shows error E42`` (the description's first sentence)."""
    topic = str(ticket.get("category") or "general")
    if ticket.get("product"):
        topic += f" / {ticket['product']}"
    first = " ".join(str(ticket.get("description", "")).split()).split(". ")[0]
    text = f"[{ticket['reference']}] {topic}: {first}" if first else f"[{ticket['reference']}] {topic}"
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def content(ticket: Mapping[str, Any]) -> str:
    """RT's first message: the pre-qualified summary first, then the facts, then the masked conversation."""
    lines = [str(ticket.get("summary", "")).strip(), ""]
    customer = ticket.get("customer") or {}
    facts = [
        ("Reference", ticket.get("reference")), ("Queue", ticket.get("queue")), ("Tier", ticket.get("tier")),
        ("Priority", f"{ticket.get('priority')} ({', '.join(ticket.get('priority_reasons') or []) or 'rule'})"),
        ("Category", ticket.get("category")), ("Product", ticket.get("product")),
        ("Error code", ticket.get("error_code")), ("Order", ticket.get("order_number")),
        ("Invoice", ticket.get("invoice_number")), ("Language", ticket.get("language")),
        ("Customer", customer.get("name")), ("Customer tier", customer.get("tier")),
        ("Verified", "yes" if customer.get("verified") else "no"),
        ("Possible duplicate of", ticket.get("possible_duplicate_of")),
    ]
    lines += [f"{name}: {value}" for name, value in facts if value not in (None, "")]
    description = str(ticket.get("description", "")).strip()
    if description:
        lines += ["", "Description (masked):", description]
    transcript = list(ticket.get("transcript") or [])
    if transcript:
        lines += ["", "Conversation (masked)" + (f", last {TRANSCRIPT_TURNS} turns:" if len(transcript) > TRANSCRIPT_TURNS
                                                  else ":")]
        lines += [turn_line(turn) for turn in transcript[-TRANSCRIPT_TURNS:]]
    lines += ["", "Replies in RT reach the customer's chat; resolving here hands the chat back to the bot."]
    return "\n".join(lines)


def turn_line(turn: Mapping[str, Any]) -> str:
    at = time.strftime("%Y-%m-%d %H:%M", time.gmtime(float(turn.get("timestamp") or 0)))
    return f"[{at} UTC] {SENDER_NAMES.get(str(turn.get('sender')), str(turn.get('sender')))}: {turn.get('text', '')}"


def create_request(ticket: Mapping[str, Any], qmap: QueueMap) -> dict[str, Any]:
    """The body of RT's ``POST /ticket`` for our ticket (as the handoff service's helpdesk view has it)."""
    cf = qmap.custom_fields
    values = {"category": ticket.get("category") or "", "product": ticket.get("product") or "",
              "error_code": ticket.get("error_code") or "", "tier": str(ticket.get("tier") or ""),
              "reference": ticket["reference"]}
    body: dict[str, Any] = {
        "Queue": qmap.rt_queue(str(ticket["queue"])),
        "Subject": subject(ticket),
        "Content": content(ticket),
        "ContentType": "text/plain",
        "Priority": qmap.priorities.get(str(ticket.get("priority")), DEFAULT_PRIORITIES["P3"]),
        "CustomFields": {cf[key]: value for key, value in values.items() if value},
    }
    email = requestor(ticket)
    if email:
        body["Requestor"] = email
    return body


def requestor(ticket: Mapping[str, Any]) -> str:
    """The customer's e-mail address (RT's requestor), "" when they gave none."""
    return str((ticket.get("customer") or {}).get("email") or "").strip()


def reference_query(qmap: QueueMap, reference: str) -> str:
    """TicketSQL for the RT tickets that carry our reference (the twin a crashed attempt may have created)."""
    return f"'CF.{{{qmap.custom_fields['reference']}}}' = '{reference}'"


def customer_comment(turns: list[Mapping[str, Any]]) -> str:
    """A comment in RT with what the customer wrote in the chat since the last one mirrored."""
    return "The customer wrote in the chat (masked):\n" + "\n".join(turn_line(t) for t in turns)


def rt_change(kind: str, data: Mapping[str, Any], qmap: QueueMap) -> dict[str, Any] | None:
    """The change to the RT ticket that an event of ours (other than ``created`` and ``customer_message``)
    asks for, or None: a resolve, an escalation to another queue, a reopen, and the SLA watcher's priority
    raises (the pre-breach warning and the escalation-risk step), so RT's agents see the same urgency."""
    if kind == "resolved":
        return {"Status": "resolved"}
    if kind == "reopened":
        return {"Status": "open"}
    if kind == "escalated":
        return {"Queue": qmap.rt_queue(str(data.get("to_queue", "")))}
    if kind in ("sla_warning", "risk_raised") and str(data.get("priority")) in qmap.priorities:
        return {"Priority": qmap.priorities[str(data["priority"])]}
    return None


# -- RT -> ours ---------------------------------------------------------------------------------------------

TRANSACTION_QUERY = ("ObjectType = 'RT::Ticket' AND (Type = 'Correspond' OR Type = 'Status' OR "
                     "(Type = 'Set' AND Field = 'Queue'))")
TRANSACTION_FIELDS = "Type,Field,OldValue,NewValue,ObjectId,ObjectType,Creator"


@dataclass(frozen=True)
class Txn:
    """One RT transaction as the connector reads it."""

    id: int
    ticket: int
    type: str
    field: str
    new_value: str
    creator: str


@dataclass(frozen=True)
class Inbound:
    """What an RT transaction asks of our ticket: ``reply`` (its text is read separately), ``resolve`` or
    ``escalate`` to ``to_queue``."""

    action: str
    txn: int
    agent: str
    to_queue: str = ""

    @property
    def key(self) -> str:
        return f"rt-txn-{self.txn}"


def parse_txn(item: Mapping[str, Any]) -> Txn:
    """An item of RT's transaction search (fields TRANSACTION_FIELDS); ValueError when it is not one."""
    creator = item.get("Creator")
    return Txn(id=int(item["id"]), ticket=int(item.get("ObjectId") or 0), type=str(item.get("Type") or ""),
               field=str(item.get("Field") or ""), new_value=str(item.get("NewValue") or ""),
               creator=str(creator.get("id") if isinstance(creator, dict) else creator or ""))


def inbound(txn: Txn, *, own_user: str, requestor_email: str, our_queue: str, rt_queue_names: Mapping[str, str],
            qmap: QueueMap) -> Inbound | None:
    """What ``txn`` of a mirrored ticket means for our ticket, or None (the connector's own change, the
    customer answering by e-mail, a status or queue change that means nothing here)."""
    if txn.creator == own_user or txn.creator in ("RT_System", ""):
        return None
    if txn.type == "Correspond":
        if requestor_email and txn.creator.lower() == requestor_email.lower():
            return None  # the customer wrote to RT by e-mail: not an agent's reply
        return Inbound("reply", txn.id, txn.creator)
    if txn.type == "Status" and txn.new_value in RESOLVED_STATUSES:
        return Inbound("resolve", txn.id, txn.creator)
    if txn.type == "Set" and txn.field == "Queue":
        name = rt_queue_names.get(txn.new_value, txn.new_value)
        target = qmap.our_queue(name, our_queue)
        if target is None or target == our_queue:
            return None
        return Inbound("escalate", txn.id, txn.creator, to_queue=target)
    return None
