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


class RecordingNotifier:
    """Stands in for Rasa's trigger_intent endpoint: refuses the first ``down`` calls (Rasa restarting)."""

    def __init__(self, down: int = 0) -> None:
        self.down, self.calls = down, []  # type: list[tuple[str, str]]

    async def trigger(self, conversation_id: str, intent: str, entities: dict[str, object]) -> bool:
        self.calls.append((conversation_id, intent))
        if self.down > 0:
            self.down -= 1
            return False
        return True


async def test_the_customer_is_told_the_reference_even_when_rasa_is_down_at_first(
        client: TestClient, redis_url: str, key_prefix: str) -> None:
    service = client.app[appkeys.SERVICE]
    key = outbox_key(key_prefix)
    notifier = RecordingNotifier(down=2)
    async with Redis.from_url(redis_url, decode_responses=True) as redis:
        await redis.hset(key, "conv-n", parked("conv-n"))
        assert await drain_once(redis, service, key_prefix, notifier) == 1  # type: ignore[arg-type]
        assert notifier.calls == [("conv-n", "EXTERNAL_retry_ticket")]
        pending = json.loads(await redis.hget(key + ":notify", "conv-n"))
        assert pending["reference"] == (await service.status_by_conversation("conv-n"))["reference"]
        await drain_once(redis, service, key_prefix, notifier)  # type: ignore[arg-type]  # still down
        assert await redis.hexists(key + ":notify", "conv-n")
        await drain_once(redis, service, key_prefix, notifier)  # type: ignore[arg-type]  # back: told once
        assert not await redis.hexists(key + ":notify", "conv-n")
        await drain_once(redis, service, key_prefix, notifier)  # type: ignore[arg-type]
        assert len(notifier.calls) == 3


async def test_a_parked_number_too_large_for_a_float_is_set_aside_not_stored_as_infinity(
        client: TestClient, redis_url: str, key_prefix: str) -> None:
    key = outbox_key(key_prefix)
    async with Redis.from_url(redis_url, decode_responses=True) as redis:
        await redis.hset(key, "conv-inf", parked("conv-inf").replace('"channel"', '"x": 1e999, "channel"'))
        assert await drain_once(redis, client.app[appkeys.SERVICE], key_prefix) == 0
        assert "conv-inf" in await redis.hgetall(key + ":rejected")
