"""The versioned JSON contract between the bot (action server) and the handoff service.

Only types and constants live here: both sides import it, neither side's framework is imported.
Version 1. Additive changes keep the version; a breaking change bumps ``SCHEMA_VERSION`` and the
handoff service keeps accepting the previous one.
"""

from __future__ import annotations

from typing import Literal, TypedDict, get_args

SCHEMA_VERSION = 1

LANGUAGES: tuple[str, ...] = ("de", "en", "da")

Impact = Literal["only_me", "several", "everyone"]
Urgency = Literal["low", "normal", "high", "critical"]
CustomerTier = Literal["standard", "vip", "b2b"]
Status = Literal["queued", "claimed", "waiting_customer", "escalated", "resolved", "closed"]
Priority = Literal["P1", "P2", "P3", "P4"]
Feedback = Literal["helped", "did_not_help", "none"]

# each enumeration is written once, as its Literal; the tuples are read off it
IMPACTS: tuple[str, ...] = get_args(Impact)
URGENCIES: tuple[str, ...] = get_args(Urgency)
CUSTOMER_TIERS: tuple[str, ...] = get_args(CustomerTier)
STATUSES: tuple[str, ...] = get_args(Status)
PRIORITIES: tuple[str, ...] = get_args(Priority)
FEEDBACK_VALUES: tuple[str, ...] = get_args(Feedback)
OPEN_STATUSES: tuple[str, ...] = ("queued", "claimed", "waiting_customer", "escalated")
WAITING_STATUSES: tuple[str, ...] = ("queued", "escalated")  # in a queue, claimable
TIERS: tuple[int, ...] = (1, 2, 3)  # front line, specialists, engineers


class Customer(TypedDict, total=False):
    id: str  # stable id of a verified (logged-in) customer; absent for anonymous visitors
    name: str
    email: str
    verified: bool  # True only when the identity came from a signed website token
    tier: CustomerTier


class ArticleShown(TypedDict):
    id: str  # KB article id
    lang: str
    title: str
    feedback: Feedback


class TranscriptTurn(TypedDict):
    sender: Literal["customer", "bot", "agent"]
    text: str
    timestamp: float  # unix seconds


class CreateTicketRequest(TypedDict, total=False):
    """POST /api/v1/tickets (bot token). ``conversation_id`` + ``channel`` make the call idempotent."""

    schema_version: int
    conversation_id: str  # required: Rasa sender id
    channel: str  # required: "socketio", "rest", ...
    language: str  # required: de, en or da
    customer: Customer
    category: str
    tags: list[str]
    product: str
    description: str  # required
    error_code: str
    order_number: str
    invoice_number: str
    impact: Impact
    urgency: Urgency
    steps_tried: list[str]
    articles_shown: list[ArticleShown]
    escalate_to: str  # a KB article's escalate_to queue, when the failed article names one
    frustrated: bool
    requested_human: bool
    transcript: list[TranscriptTurn]
    client: str  # the chat channel's pseudonym of the client's address (limits tickets per client)


class TicketCreated(TypedDict):
    """Answer to a create call (201 when new, 200 when an existing ticket was reused or attached)."""

    reference: str  # human readable, e.g. T-000123
    secret_reference: str  # given to the customer; lets them see the status without logging in
    queue: str
    tier: int
    priority: Priority
    status: Status
    first_response_due: float  # unix seconds
    # the first answer the customer is promised (sla.expected_first_response), minutes from now and unix
    # seconds; the status view states the same time
    expected_first_response_minutes: int
    expected_first_response_at: float
    queue_position: int | None
    created: bool  # False when an existing ticket was returned or attached


class TicketStatusView(TypedDict):
    """What a customer may see of their ticket."""

    reference: str
    status: Status
    queue: str
    priority: Priority
    queue_position: int | None  # 1-based among waiting tickets of the queue, None when not waiting
    # minutes until the promised first response (the time given at creation, or later if the queue is
    # longer than the SLA allows); None once an agent has answered or the ticket is not waiting
    expected_wait_minutes: int | None
    expected_first_response_at: float | None
    agent_replies: list[TranscriptTurn]
    updated_at: float

# Secret customer references start with this, so the bot can recognise one in a message.
SECRET_PREFIX = "S-"


class Estimate(TypedDict):
    """What a ticket would get if it were created now (a customer asks "how long will this take?")."""

    queue: str
    tier: int
    priority: Priority
    expected_first_response_minutes: int
    expected_first_response_at: float
