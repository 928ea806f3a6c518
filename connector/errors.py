"""The connector's exception family. Raised, never returned."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every expected failure of the connector."""


class ConfigError(ConnectorError):
    """A setting, the queue mapping file or RT's configuration does not fit; the message names what."""


class Transient(ConnectorError):
    """RT or the handoff service is unreachable or answered 5xx (or 429): retried with backoff."""


class Busy(Transient):
    """Another worker is creating the same reference's RT ticket: retried soon, RT is not down."""


class Rejected(ConnectorError):
    """RT or the handoff service refused a request for good (4xx): the entry is set aside with the reason."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
