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


class FailingFor:
    """The real service, except that creating one conversation's ticket raises (a bug, bad data)."""

    def __init__(self, service: object, conversation_id: str) -> None:
        self.service, self.conversation_id = service, conversation_id

    async def create(self, request: dict[str, object]) -> object:
        if request["conversation_id"] == self.conversation_id:
            raise TypeError("unexpected data")
        return await self.service.create(request)  # type: ignore[attr-defined]


async def test_one_entry_that_cannot_be_created_never_blocks_the_others(
        client: TestClient, redis_url: str, key_prefix: str) -> None:
    from handoff.outbox import MAX_CREATE_FAILURES

    service = FailingFor(client.app[appkeys.SERVICE], "conv-x")
    key = outbox_key(key_prefix)
    async with Redis.from_url(redis_url, decode_responses=True) as redis:
        await redis.hset(key, mapping={"conv-x": parked("conv-x"), "conv-y": parked("conv-y"),
                                       "conv-deep": '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"})
        assert await drain_once(redis, service, key_prefix) == 1  # conv-y, although conv-x fails
        assert await redis.hkeys(key) == ["conv-x"]  # kept for another try, not lost
        for _ in range(MAX_CREATE_FAILURES - 1):
            await drain_once(redis, service, key_prefix)
        assert await redis.hlen(key) == 0
        rejected = await redis.hgetall(key + ":rejected")
        assert set(rejected) == {"conv-x", "conv-deep"}
        assert "TypeError" in json.loads(rejected["conv-x"])["reason"]
