"""Fixtures of the handoff suite: settings on the session Redis with a per-test prefix, app clients."""

from __future__ import annotations

import asyncio
import faulthandler
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from handoff.app import create_app
from handoff.settings import BootstrapToken, Settings
from handoff_helpers import AGENT, AGENT2, BOT, LEAD, ROOT, FakeClock

TEST_TIMEOUT = int(os.environ.get("HANDOFF_TEST_TIMEOUT", "150"))  # seconds; a stuck test fails (with every thread's traceback) instead of hanging CI


@pytest.fixture(autouse=True)
def _fail_instead_of_hanging(request: pytest.FixtureRequest) -> Iterator[None]:
    def on_alarm(signum: int, frame: object) -> None:
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        loop = asyncio.events._get_running_loop()
        for task in asyncio.all_tasks(loop) if loop is not None else ():
            task.print_stack(file=sys.stderr)
        raise TimeoutError(f"{request.node.nodeid} took more than {TEST_TIMEOUT} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(redis_url: str, key_prefix: str, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=redis_url,
        bot_token=BOT,
        key_prefix=key_prefix,
        matrix_path=ROOT / "handoff" / "escalation_matrix.yml",
        kb_drafts_dir=tmp_path / "drafts",
        rasa_url="http://127.0.0.1:9",
        bootstrap_tokens=(
            BootstrapToken("alice", "agent", AGENT),
            BootstrapToken("bob", "agent", AGENT2),
            BootstrapToken("lena", "lead", LEAD),
        ),
        sla_interval=0,
        matrix_poll_interval=0,
        http_timeout=1.0,
        # tests that create similar tickets must not see them grouped into an incident behind their back;
        # tests/handoff/test_incidents.py turns the detector on
        incident_detection=False,
        incident_notify_interval=0,
    )


MakeClient = Callable[..., "TestClient"]


@pytest.fixture
async def make_client(settings: Settings, clock: FakeClock) -> AsyncIterator[Callable[..., object]]:
    clients: list[TestClient] = []

    async def make(s: Settings | None = None) -> TestClient:
        client = TestClient(TestServer(create_app(s or settings, clock=clock)))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def client(make_client: Callable[..., object]) -> TestClient:
    result = await make_client()  # type: ignore[misc]
    assert isinstance(result, TestClient)
    return result



class FakeRasa:
    """A real HTTP server standing in for Rasa's trigger_intent endpoint; records what it receives."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []
        self.fail = False

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append({"conversation_id": request.match_info["cid"], "query": dict(request.query),
                           "body": await request.json()})
        return web.json_response({}, status=500 if self.fail else 200)


@pytest.fixture
async def fake_rasa() -> AsyncIterator[tuple[FakeRasa, str]]:
    rasa = FakeRasa()
    app = web.Application()
    app.router.add_post("/conversations/{cid}/trigger_intent", rasa.handle)
    server = TestServer(app)
    await server.start_server()
    yield rasa, str(server.make_url("")).rstrip("/")
    await server.close()
