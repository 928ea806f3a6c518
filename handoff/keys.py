"""``web.AppKey`` s for the application state (one place, typed)."""

from __future__ import annotations

from collections.abc import Callable


from aiohttp import ClientSession, web

from handoff.auth import AgentTokens
from handoff.incident_service import IncidentService
from handoff.matrix_source import MatrixSource
from handoff.service import TicketService
from handoff.settings import Settings
from handoff.store import Store

__all__ = ["AGENTS", "CLOCK", "HTTP", "INCIDENTS", "MATRIX", "SERVICE", "SETTINGS", "STORE", "Settings"]

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("clock")
STORE = web.AppKey("store", Store)
HTTP = web.AppKey("http", ClientSession)


MATRIX: web.AppKey[MatrixSource] = web.AppKey("matrix")
SERVICE: web.AppKey[TicketService] = web.AppKey("service")
AGENTS = web.AppKey("agents", AgentTokens)
INCIDENTS = web.AppKey("incidents", IncidentService)
