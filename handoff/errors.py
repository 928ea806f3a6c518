"""The handoff service's exception family. Raised, never returned; ``web.error_middleware`` maps them."""

from __future__ import annotations


class HandoffError(Exception):
    """Base of every expected failure of the handoff service."""

    status = 400
    code = "handoff_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidRequest(HandoffError):
    """The request does not match the contract (missing field, wrong type, bad enum value...)."""

    code = "invalid_request"


class InvalidTicket(InvalidRequest):
    """A ticket request that does not match the contract."""


class NotFound(HandoffError):
    status = 404
    code = "not_found"


class TicketNotFound(NotFound):
    pass


class IncidentNotFound(NotFound):
    pass


class Conflict(HandoffError):
    """The ticket is not in a state that allows the requested change (e.g. claiming a resolved ticket)."""

    status = 409
    code = "conflict"


class Unauthorized(HandoffError):
    status = 401
    code = "unauthorized"


class Forbidden(HandoffError):
    status = 403
    code = "forbidden"


class RateLimited(HandoffError):
    """Too many requests of one kind from one client (e.g. tickets from one address within an hour)."""

    status = 429
    code = "rate_limited"


class StoreUnavailable(HandoffError):
    status = 503
    code = "unavailable"


class MatrixError(HandoffError):
    """The escalation matrix file is invalid; the message names the file and what is wrong."""

    code = "invalid_matrix"


class SettingsError(HandoffError):
    """A required setting is missing or malformed."""

    code = "invalid_settings"
