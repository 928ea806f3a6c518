"""Concurrent claims leave in one pipeline (ScriptBatcher): every caller still gets its own answer, its own
error, and a cancelled caller does not disturb the others."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp.test_utils import TestClient
from handoff_helpers import AGENT, AGENT2, agent_headers, bot_headers, payload
from redis.asyncio import Redis  # type: ignore[import-untyped, unused-ignore]
from redis.exceptions import ConnectionError as RedisConnectionError  # type: ignore[import-untyped, unused-ignore]
from redis.exceptions import ResponseError  # type: ignore[import-untyped, unused-ignore]

from stack.embedded_redis import free_port
from handoff import keys as appkeys
from handoff.store import ScriptBatcher
from handoff.tickets import agent_view

# a script Redis has not seen yet (the first pipeline gets NOSCRIPT and has to load it)
ECHO = """-- {marker}
if ARGV[1] == 'bad' then return redis.error_reply('bad argument') end
return ARGV[1] .. ':' .. redis.call('INCR', KEYS[1] or '{marker}n')
"""


async def test_concurrent_claims_each_get_their_own_ticket(client: TestClient) -> None:
    refs = []
    for i in range(12):
        resp = await client.post("/api/v1/tickets", json=payload(f"batch-{i}", customer={}), headers=bot_headers())
        assert resp.status == 201
        refs.append((await resp.json())["reference"])

    async def claim(token: str) -> tuple[str, Any]:
        resp = await client.post("/api/v1/agent/claim", json={}, headers=agent_headers(token))
        assert resp.status == 200
        return token, json.loads(await resp.read())["ticket"]

    results = await asyncio.gather(*(claim(AGENT if i % 2 else AGENT2) for i in range(15)))
    tickets = [(token, t) for token, t in results if t is not None]
    assert sorted(t["reference"] for _, t in tickets) == sorted(refs)
    assert all(t["agent"] == ("alice" if token == AGENT else "bob") for token, t in tickets)
    store = client.app[appkeys.STORE]
    for _, ticket in tickets:
        expected = agent_view(*await store.ticket_with_lists(ticket["reference"]))
        assert json.dumps(ticket, sort_keys=True) == json.dumps(expected, sort_keys=True)


async def test_batcher_answers_each_caller(redis_url: str, key_prefix: str) -> None:
    async with Redis.from_url(redis_url, decode_responses=True) as redis:
        batcher = ScriptBatcher(redis, ECHO.format(marker=key_prefix))
        first = await asyncio.gather(*(batcher([x]) for x in ("a", "bad", "c")), return_exceptions=True)
        assert first[0] == "a:1" and first[2] == "c:2"
        assert isinstance(first[1], ResponseError) and "bad argument" in str(first[1])
        # a cancelled caller: its script may still run, the others get their own answers
        tasks = [asyncio.ensure_future(batcher([x])) for x in ("x", "y", "z")]
        await asyncio.sleep(0)
        tasks[1].cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert done[0] == "x:3" and isinstance(done[1], asyncio.CancelledError) and done[2].startswith("z:")
        count = int(done[2].split(":")[1])
        assert await batcher(["alone"]) == f"alone:{count + 1}"


async def test_batcher_passes_connection_errors_to_every_caller() -> None:
    async with Redis.from_url(f"redis://127.0.0.1:{free_port()}", socket_connect_timeout=1.0) as redis:
        batcher = ScriptBatcher(redis, ECHO.format(marker="down"))
        results = await asyncio.gather(*(batcher([x]) for x in ("a", "b", "c")), return_exceptions=True)
        assert all(isinstance(r, RedisConnectionError) for r in results), results
