"""Tickets parked in the outbox while the service was down are created exactly once, none is lost."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from handoff import keys as appkeys
from handoff.outbox import drain_once, outbox_key


def parked(conversation_id: str, **extra: object) -> str:
    return json.dumps({"schema_version": 1, "conversation_id": conversation_id, "channel": "socketio",
                       "language": "de", "description": "Meine Rechnung INV-2024-00123 ist doppelt", **extra})


async def test_parked_requests_become_tickets_once(client: TestClient, redis_url: str, key_prefix: str) -> None:
    service = client.app[appkeys.SERVICE]
    async with Redis.from_url(redis_url, decode_responses=True) as redis:
        await redis.hset(outbox_key(key_prefix), mapping={"conv-a": parked("conv-a"), "conv-b": parked("conv-b"),
                                                          "conv-bad": json.dumps({"conversation_id": "conv-bad"})})
        assert await drain_once(redis, service, key_prefix) == 2
        assert await redis.hlen(outbox_key(key_prefix)) == 0
        rejected = await redis.hgetall(outbox_key(key_prefix) + ":rejected")
        assert list(rejected) == ["conv-bad"] and json.loads(rejected["conv-bad"])["reason"]
        first = await service.status_by_conversation("conv-a")
        # the bot's own retry for the same conversation finds the same ticket
        await redis.hset(outbox_key(key_prefix), "conv-a", parked("conv-a"))
        await drain_once(redis, service, key_prefix)
        assert (await service.status_by_conversation("conv-a"))["reference"] == first["reference"]
