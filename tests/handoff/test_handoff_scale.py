"""Concurrency (2 instances, 20 claimers, 2,000 tickets), Redis restart, webhooks."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from handoff_helpers import AGENT, AGENT2, LEAD, agent_headers, bot_headers, payload

from stack.embedded_redis import EmbeddedRedis, free_port
from handoff import keys as appkeys
from handoff.settings import Settings

QUEUES = ["tier1-general", "tech-support", "billing", "key-accounts"]


def small(i: int) -> dict[str, Any]:
    kinds = [
        {"category": "general", "customer": {}},
        {"category": "technical", "error_code": "E1", "customer": {}},
        {"category": "billing", "customer": {}},
        {"category": "general", "customer": {"id": f"c{i}", "verified": True, "tier": "vip"}},
    ]
    return payload(f"conc-{i}", description=f"problem {i}", transcript=[], articles_shown=[], **kinds[i % 4])


async def test_concurrent_claims_two_instances(make_client: Any) -> None:
    one, two = await make_client(), await make_client()
    total = 2000
    sem = asyncio.Semaphore(50)

    async def create(i: int) -> str:
        async with sem:
            client = one if i % 2 else two
            resp = await client.post("/api/v1/tickets", json=small(i), headers=bot_headers())
            assert resp.status == 201
            return str((await resp.json())["reference"])

    refs = await asyncio.gather(*(create(i) for i in range(total)))
    assert len(set(refs)) == total
    tokens = [AGENT, AGENT2, LEAD]
    claimed: list[tuple[int, str]] = []

    async def claimer(n: int) -> None:
        client = one if n % 2 else two
        while True:
            resp = await client.post("/api/v1/agent/claim", json={"queues": QUEUES},
                                     headers=agent_headers(tokens[n % 3]))
            assert resp.status == 200
            ticket = (await resp.json())["ticket"]
            if ticket is None:
                return
            claimed.append((n, ticket["reference"]))

    await asyncio.gather(*(claimer(n) for n in range(20)))
    counts = Counter(ref for _, ref in claimed)
    assert len(claimed) == total and set(counts) == set(refs) and max(counts.values()) == 1
    assert len({n for n, _ in claimed}) == 20  # every claimer got work
    queues = await (await one.get("/api/v1/agent/queues", headers=agent_headers())).json()
    assert all(q["depth"] == 0 for q in queues["queues"])


async def test_redis_restart(make_client: Any, settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    server = EmbeddedRedis(data_dir=tmp_path / "redis", port=port, log_file=tmp_path / "redis.log")
    server.start()
    try:
        client = await make_client(dataclasses.replace(settings, redis_url=server.url))
        refs = []
        for i in range(20):
            resp = await client.post("/api/v1/tickets", json=payload(f"rs-{i}", customer={}), headers=bot_headers())
            assert resp.status == 201
            refs.append((await resp.json())["reference"])
        server.stop()
        assert (await client.get("/health")).status == 503
        resp = await client.post("/api/v1/tickets", json=payload("rs-down", customer={}), headers=bot_headers())
        assert resp.status == 503 and (await resp.json())["error"] == "unavailable"
        resp = await client.get(f"/api/v1/agent/tickets/{refs[0]}", headers=agent_headers())
        assert resp.status == 503
        server.start()
        for _ in range(50):
            if (await client.get("/health")).status == 200:
                break
            await asyncio.sleep(0.1)
        assert (await client.get("/health")).status == 200
        for ref in refs:
            resp = await client.get(f"/api/v1/agent/tickets/{ref}", headers=agent_headers())
            assert resp.status == 200 and (await resp.json())["reference"] == ref
        resp = await client.post("/api/v1/tickets", json=payload("rs-after", customer={}), headers=bot_headers())
        assert resp.status == 201 and (await resp.json())["reference"] == "T-000021"
    finally:
        server.stop()


class Receiver:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.failures_left = 0
        self.bad_signatures = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(b"whsecret", body, hashlib.sha256).hexdigest()
        if request.headers.get("X-Frontdoor-Signature") != expected:
            self.bad_signatures += 1
            return web.Response(status=400)
        if self.failures_left > 0:
            self.failures_left -= 1
            return web.Response(status=503)
        self.events.append(json.loads(body))
        return web.Response(status=204)


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_webhooks_signed_retried_and_resumed(make_client: Any, settings: Settings) -> None:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = TestServer(app)
    await server.start_server()
    try:
        hooked = dataclasses.replace(settings, webhooks=(str(server.make_url("/hook")),), webhook_secret="whsecret",
                                     webhook_backoff=0.01, webhook_retries=3)
        first = await make_client(hooked)
        store = first.app[appkeys.STORE]

        async def group_exists() -> bool:
            try:
                return bool(await store.redis.xinfo_groups(store.events_key))
            except Exception:  # the stream does not exist yet
                return False

        for _ in range(200):  # the dispatcher creates its consumer group (events before it are not sent)
            if await group_exists():
                break
            await asyncio.sleep(0.05)
        assert await group_exists()
        receiver.failures_left = 2
        await first.post("/api/v1/tickets", json=payload("wh-1"), headers=bot_headers())
        await wait_for(lambda: len(receiver.events) == 1)
        event = receiver.events[0]
        assert event["type"] == "created" and event["reference"] == "T-000001"
        assert event["data"]["queue"] == "tech-support"
        await first.close()
        # no dispatcher running: events wait in the stream for the consumer group
        plain = await make_client(settings)
        await plain.post("/api/v1/tickets", json=payload("wh-2", customer={}), headers=bot_headers())
        await plain.post("/api/v1/agent/claim", json={}, headers=agent_headers())
        await make_client(hooked)
        await wait_for(lambda: len(receiver.events) == 3)
        assert [e["type"] for e in receiver.events] == ["created", "created", "claimed"]
        assert receiver.bad_signatures == 0
    finally:
        await server.close()
