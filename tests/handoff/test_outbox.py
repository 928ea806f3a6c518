"""The action server's outbox (actions/outbox.py) against the real handoff service over HTTP: tickets
parked while the service was down are created exactly once, none is lost, and the customer is told."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from actions.handoff_client import HandoffClient
from stack.embedded_redis import free_port
from actions.outbox import MAX_CREATE_FAILURES, Outbox, OutboxKeys, drain_once
from handoff import keys as appkeys
from handoff.errors import TicketNotFound
from handoff_helpers import BOT


def parked(conversation_id: str, **extra: object) -> str:
    return json.dumps({"schema_version": 1, "conversation_id": conversation_id, "channel": "socketio",
                       "language": "de", "description": "Meine Rechnung INV-2024-00123 ist doppelt", **extra})


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    async with Redis.from_url(redis_url, decode_responses=True) as client:
        yield client


@pytest.fixture
def keys(key_prefix: str) -> OutboxKeys:
    return OutboxKeys(key_prefix + "actions:")


def handoff_client(client: TestClient) -> HandoffClient:
    return HandoffClient(str(client.make_url("")), BOT, timeout=5, retries=0)


async def test_parked_requests_become_tickets_once(client: TestClient, redis: Redis, keys: OutboxKeys,
                                                   redis_url: str) -> None:
    service = client.app[appkeys.SERVICE]
    outbox = Outbox(redis_url, keys.prefix)  # what the action parks, the drain sends
    assert await outbox.park(json.loads(parked("conv-a")))  # type: ignore[arg-type]
    await redis.hset(keys.entries, mapping={"conv-b": parked("conv-b"),
                                            "conv-bad": json.dumps({"conversation_id": "conv-bad"})})
    assert await drain_once(redis, handoff_client(client), keys) == 2
    assert await redis.hlen(keys.entries) == 0
    rejected = await redis.hgetall(keys.rejected)
    assert list(rejected) == ["conv-bad"] and "400" in json.loads(rejected["conv-bad"])["reason"]
    first = await service.status_by_conversation("conv-a")
    # the bot's own retry for the same conversation finds the same ticket
    await redis.hset(keys.entries, "conv-a", parked("conv-a"))
    await drain_once(redis, handoff_client(client), keys)
    assert (await service.status_by_conversation("conv-a"))["reference"] == first["reference"]
    assert await redis.hlen(keys.entries) == 0


async def test_while_the_service_cannot_be_reached_every_entry_waits(
        client: TestClient, redis: Redis, keys: OutboxKeys) -> None:
    await redis.hset(keys.entries, mapping={"conv-1": parked("conv-1"), "conv-2": parked("conv-2")})
    down = HandoffClient(f"http://127.0.0.1:{free_port()}", BOT, timeout=2, retries=0)  # nothing listens
    for _ in range(MAX_CREATE_FAILURES + 1):  # a long outage never turns into rejections
        assert await drain_once(redis, down, keys) == 0
    assert sorted(await redis.hkeys(keys.entries)) == ["conv-1", "conv-2"]
    assert not await redis.exists(keys.rejected, keys.failures)
    assert await drain_once(redis, handoff_client(client), keys) == 2  # back: both created


async def test_one_entry_that_cannot_be_created_never_blocks_the_others(
        client: TestClient, redis: Redis, keys: OutboxKeys, monkeypatch: pytest.MonkeyPatch) -> None:
    service = client.app[appkeys.SERVICE]
    create = service.create

    async def failing_for_x(request: dict[str, object], *args: object, **kwargs: object) -> object:
        if request["conversation_id"] == "conv-x":
            raise TypeError("unexpected data")  # a bug for this request only: the service answers 500
        return await create(request, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "create", failing_for_x)
    await redis.hset(keys.entries, mapping={"conv-x": parked("conv-x"), "conv-y": parked("conv-y"),
                                            "conv-deep": '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"})
    assert await drain_once(redis, handoff_client(client), keys) == 1  # conv-y, although conv-x fails
    assert await redis.hkeys(keys.entries) == ["conv-x"]  # kept for another try, not lost
    for _ in range(MAX_CREATE_FAILURES - 1):
        await drain_once(redis, handoff_client(client), keys)
    assert await redis.hlen(keys.entries) == 0
    rejected = await redis.hgetall(keys.rejected)
    assert set(rejected) == {"conv-x", "conv-deep"}
    assert "500" in json.loads(rejected["conv-x"])["reason"]
    assert json.loads(rejected["conv-x"])["request"] == parked("conv-x")  # the request itself is kept


async def test_a_request_parked_again_while_it_was_sent_is_not_removed(
        client: TestClient, redis: Redis, keys: OutboxKeys) -> None:
    class ParksWhileSending(HandoffClient):
        async def create_ticket(self, request):  # type: ignore[no-untyped-def]
            created = await super().create_ticket(request)
            await redis.hset(keys.entries, "conv-r", parked("conv-r", description="Jetzt auch die App"))
            return created

    await redis.hset(keys.entries, "conv-r", parked("conv-r"))
    sender = ParksWhileSending(str(client.make_url("")), BOT, retries=0)
    assert await drain_once(redis, sender, keys) == 1
    assert "Jetzt auch die App" in await redis.hget(keys.entries, "conv-r")  # sent in the next round


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
        client: TestClient, redis: Redis, keys: OutboxKeys) -> None:
    service = client.app[appkeys.SERVICE]
    notifier = RecordingNotifier(down=2)
    await redis.hset(keys.entries, "conv-n", parked("conv-n"))
    assert await drain_once(redis, handoff_client(client), keys, notifier) == 1  # type: ignore[arg-type]
    assert notifier.calls == [("conv-n", "EXTERNAL_retry_ticket")]
    pending = json.loads(await redis.hget(keys.notify, "conv-n"))
    assert pending["reference"] == (await service.status_by_conversation("conv-n"))["reference"]
    await drain_once(redis, handoff_client(client), keys, notifier)  # type: ignore[arg-type]  # still down
    assert await redis.hexists(keys.notify, "conv-n")
    await drain_once(redis, handoff_client(client), keys, notifier)  # type: ignore[arg-type]  # back: told once
    assert not await redis.hexists(keys.notify, "conv-n")
    await drain_once(redis, handoff_client(client), keys, notifier)  # type: ignore[arg-type]
    assert len(notifier.calls) == 3


async def test_a_parked_number_too_large_for_a_float_is_set_aside_not_stored_as_infinity(
        client: TestClient, redis: Redis, keys: OutboxKeys) -> None:
    await redis.hset(keys.entries, "conv-inf", parked("conv-inf").replace('"channel"', '"x": 1e999, "channel"'))
    assert await drain_once(redis, handoff_client(client), keys) == 0
    assert "conv-inf" in await redis.hgetall(keys.rejected)
    with pytest.raises(TicketNotFound):
        await client.app[appkeys.SERVICE].status_by_conversation("conv-inf")


def test_the_handoff_service_reads_no_key_of_the_outbox() -> None:
    """One owner: the handoff service's code names no outbox key (it creates parked tickets by its API)."""
    from pathlib import Path

    handoff = Path(__file__).resolve().parents[2] / "handoff"
    assert not [p.name for p in handoff.rglob("*.py") if "outbox" in p.read_text(encoding="utf-8")]

