"""The one HTTP client of the handoff service (used by every action that needs a ticket)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import quote

import aiohttp

from bot.contract import SCHEMA_VERSION, CreateTicketRequest, Estimate, TicketCreated, TicketStatusView
from actions.settings import ActionSettings, action_settings

logger = logging.getLogger(__name__)


class HandoffUnavailable(Exception):
    """The handoff service did not answer (down, timeout, 5xx); the request can be retried later.
    ``status`` is the HTTP status of a 5xx answer, None when no answer came at all."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class HandoffRejected(Exception):
    """The handoff service refused the request (4xx); retrying the same request will not help."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail


class HandoffClient:
    def __init__(self, base_url: str, token: str, timeout: float = 5.0, retries: int = 2) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.retries = retries

    @classmethod
    def from_settings(cls, settings: ActionSettings) -> HandoffClient:
        return cls(settings.handoff_url, settings.handoff_bot_token)

    async def _request(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                       retries: int | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        last_error: Exception | None = None
        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                async with aiohttp.ClientSession(timeout=self.timeout) as session:
                    async with session.request(method, self.base_url + path, json=body, headers=headers) as resp:
                        text = await resp.text()
                        if resp.status >= 500:  # its body may be anything (a proxy's page)
                            raise HandoffUnavailable(f"{method} {path}: {resp.status}", resp.status)
                        if resp.status >= 400:
                            try:
                                payload = json.loads(text)
                            except ValueError:
                                payload = {"detail": text[:200]}
                            payload = payload if isinstance(payload, dict) else {}
                            raise HandoffRejected(resp.status, str(payload.get("error", "rejected")),
                                                  str(payload.get("detail", "")))
                        return resp.status, json.loads(text) if text else None
            except HandoffRejected:
                raise
            except (aiohttp.ClientError, asyncio.TimeoutError, json.JSONDecodeError, HandoffUnavailable) as exc:
                last_error = exc
                logger.warning("handoff %s %s failed (attempt %d): %s", method, path, attempt + 1,
                               type(exc).__name__)
                if attempt < retries:
                    await asyncio.sleep(0.2 * (attempt + 1))
        raise HandoffUnavailable(str(last_error), last_error.status if isinstance(last_error, HandoffUnavailable) else None)

    async def create_ticket(self, request: CreateTicketRequest) -> TicketCreated:
        body = dict(request)
        body.setdefault("schema_version", SCHEMA_VERSION)
        _status, payload = await self._request("POST", "/api/v1/tickets", body)
        return cast(TicketCreated, payload)

    async def estimate(self, request: CreateTicketRequest) -> Estimate:
        """Queue, priority and promised first response if ``request`` became a ticket now."""
        body = dict(request)
        body.setdefault("schema_version", SCHEMA_VERSION)
        _status, payload = await self._request("POST", "/api/v1/estimate", body)
        return cast(Estimate, payload)

    async def ticket_for_conversation(self, conversation_id: str) -> TicketStatusView | None:
        try:
            _status, payload = await self._request("GET", f"/api/v1/tickets/by-conversation/{conversation_id}")
        except HandoffRejected as exc:
            if exc.status == 404:
                return None
            raise
        return cast(TicketStatusView, payload)

    async def status_by_secret(self, secret_reference: str) -> TicketStatusView | None:
        try:
            _status, payload = await self._request("GET", f"/api/v1/status/{secret_reference}")
        except HandoffRejected as exc:
            if exc.status in (400, 404):
                return None
            raise
        return cast(TicketStatusView, payload)

    async def customer_tickets(self, customer_id: str) -> list[TicketStatusView]:
        _status, payload = await self._request("GET", f"/api/v1/customers/{customer_id}/tickets")
        tickets = payload.get("tickets", []) if isinstance(payload, dict) else payload
        return cast(list[TicketStatusView], tickets or [])

    async def rate(self, reference: str, rating: int) -> None:
        await self._request("POST", f"/api/v1/tickets/{reference}/rating", {"rating": rating})

    async def customer_message(self, conversation_id: str, text: str, timestamp: float | None = None) -> None:
        """A customer's message while an agent owns the ticket (appended to its transcript)."""
        body: dict[str, Any] = {"text": text}
        if timestamp is not None:
            body["timestamp"] = timestamp
        await self._request("POST", f"/api/v1/tickets/by-conversation/{conversation_id}/messages", body)


    # -- incidents: a known problem that many customers have right now -----------------------------------

    async def open_incidents(self) -> list[dict[str, Any]]:
        """The open incidents with their keys (handoff.incidents.report_keys)."""
        _status, payload = await self._request("GET", "/api/v1/bot/incidents")
        return list(payload.get("incidents", [])) if isinstance(payload, dict) else []

    async def link_incident(self, incident_id: str, conversation_id: str, language: str,
                            reference: str = "") -> dict[str, Any]:
        """This conversation has the known problem: it is told when the problem is fixed."""
        body = {"conversation_id": conversation_id, "language": language}
        if reference:
            body["reference"] = reference
        _status, payload = await self._request("POST", f"/api/v1/bot/incidents/{quote(incident_id, safe='')}"
                                                       "/conversations", body)
        return cast(dict[str, Any], payload)

    async def unlink_incident(self, incident_id: str, conversation_id: str) -> None:
        await self._request("DELETE", f"/api/v1/bot/incidents/{quote(incident_id, safe='')}/conversations/"
                                      f"{quote(conversation_id, safe='')}")

    async def incident(self, incident_id: str) -> dict[str, Any] | None:
        """Title and status of an incident (what a linked customer may be told); None when unknown."""
        try:
            _status, payload = await self._request("GET", f"/api/v1/bot/incidents/{quote(incident_id, safe='')}")
        except HandoffRejected as exc:
            if exc.status == 404:
                return None
            raise
        return cast(dict[str, Any], payload)

    async def signals(self, signals: list[dict[str, Any]]) -> None:
        """What the bot did with customers' problems (answered, not answered, votes): analytics, KB gaps and
        incident detection read them. Best effort: one try."""
        await self._request("POST", "/api/v1/bot/signals", {"signals": signals}, retries=0)


class UsesHandoff:
    """A class that talks to the handoff service: the client it was given (tests), or the configured one,
    made on first use (rasa_sdk makes every action at import, before the settings may be read)."""

    def __init__(self, client: HandoffClient | None = None) -> None:
        super().__init__()
        self._client = client

    @property
    def client(self) -> HandoffClient:
        if self._client is None:
            self._client = HandoffClient.from_settings(action_settings())
        return self._client
