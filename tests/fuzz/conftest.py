"""The handoff service for the fuzz tests: the real app (``create_app``) on a free port, served from its own
event loop in a thread so that synchronous Hypothesis/schemathesis tests can call it over HTTP, on the
session Redis with a key prefix of its own, and a few tickets in every state for the path parameters."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from aiohttp import web

from stack.embedded_redis import free_port
from handoff.app import create_app
from handoff.settings import BootstrapToken, Settings

ROOT = Path(__file__).resolve().parents[2]
BOT = "fuzz-bot-token"
AGENT = "fuzz-agent-token"
LEAD = "fuzz-lead-token"
HELPDESK = "fuzz-helpdesk-token"


@dataclass(frozen=True)
class Known:
    """Identifiers that exist in the service, so that generated requests also reach the 2xx paths."""

    refs: tuple[str, ...]
    secrets: tuple[str, ...]
    conversations: tuple[str, ...]
    customers: tuple[str, ...]
    incidents: tuple[str, ...] = ()


@dataclass(frozen=True)
class LiveHandoff:
    url: str
    known: Known


class _Server:
    """An aiohttp app served by an event loop running in a daemon thread."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="handoff-fuzz", daemon=True)
        self.runner = web.AppRunner(app, handle_signals=False)

    def __enter__(self) -> str:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=30)
        return f"http://127.0.0.1:{self.port}"

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def _ticket(url: str, conversation: str, customer: str) -> dict[str, str]:
    body = {"conversation_id": conversation, "channel": "rest", "language": "en",
            "customer": {"id": customer, "name": "Fuzz", "verified": True},
            "description": "The app shows error E42.", "category": "technical"}
    resp = requests.post(f"{url}/api/v1/tickets", json=body, headers=_auth(BOT), timeout=10)
    assert resp.status_code == 201, resp.text
    created: dict[str, str] = resp.json()
    return created


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _seed(url: str) -> Known:
    """Four tickets: queued, claimed, waiting for the customer (an agent replied) and resolved."""
    tickets = {t["reference"]: t for t in (_ticket(url, f"fuzz-conv-{i}", f"fuzz-cust-{i}") for i in range(4))}
    claimed = []
    for _ in range(3):
        resp = requests.post(f"{url}/api/v1/agent/claim", json={}, headers=_auth(AGENT), timeout=10)
        assert resp.status_code == 200 and resp.json()["ticket"], resp.text
        claimed.append(resp.json()["ticket"]["reference"])
    for path, body in ((f"{claimed[1]}/reply", {"text": "Could you restart the app?"}),
                       (f"{claimed[2]}/resolve", {"resolution": "restarted"})):
        resp = requests.post(f"{url}/api/v1/agent/tickets/{path}", json=body, headers=_auth(AGENT), timeout=10)
        assert resp.status_code == 200, resp.text
    refs = list(tickets)
    return Known(refs=tuple(refs), secrets=tuple(t["secret_reference"] for t in tickets.values()),
                 conversations=tuple(f"fuzz-conv-{i}" for i in range(4)),
                 customers=tuple(f"fuzz-cust-{i}" for i in range(4)), incidents=_incident(url))


def _incident(url: str) -> tuple[str, ...]:
    """Five tickets naming the same error code: the service's detector opens an incident (in the background)."""
    for i in range(5):
        body = {"conversation_id": f"fuzz-burst-{i}", "channel": "rest", "language": "de",
                "customer": {"email": f"burst{i}@example.com"}, "description": "Fehler E-9999 beim Abspielen",
                "category": "technical", "error_code": "E-9999"}
        resp = requests.post(f"{url}/api/v1/tickets", json=body, headers=_auth(BOT), timeout=10)
        assert resp.status_code == 201, resp.text
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = requests.get(f"{url}/api/v1/agent/incidents", headers=_auth(AGENT), timeout=10).json()["incidents"]
        if found:
            return tuple(i["id"] for i in found)
        time.sleep(0.1)
    raise AssertionError("the detector opened no incident for five tickets with one error code")


@pytest.fixture(scope="module")
def live_handoff(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHandoff]:
    settings = Settings(
        redis_url=redis_url,
        bot_token=BOT,
        key_prefix=f"test:fuzz{uuid.uuid4().hex[:8]}:",
        matrix_path=ROOT / "handoff" / "escalation_matrix.yml",
        kb_drafts_dir=tmp_path_factory.mktemp("drafts"),
        rasa_url="http://127.0.0.1:9",  # nothing listens: agent replies are kept, not delivered
        bootstrap_tokens=(BootstrapToken("alice", "agent", AGENT), BootstrapToken("lena", "lead", LEAD)),
        sla_interval=0,
        matrix_poll_interval=0,
        http_timeout=1.0,
        helpdesk_token=HELPDESK,
    )
    with _Server(create_app(settings)) as url:
        yield LiveHandoff(url=url, known=_seed(url))
