"""The single server's lock store: one message of a conversation at a time, in order, without Redis."""

from __future__ import annotations

import asyncio
from typing import Any, List

import pytest
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig

from rasa_ext.lock_store import LocalLockStore


def test_rasa_creates_it_from_the_endpoints_file_settings() -> None:
    config = EndpointConfig(url="127.0.0.1", type="rasa_ext.lock_store.LocalLockStore", port=6379,
                            db=0, password="secret", key_prefix="x")
    assert isinstance(LockStore.create(config), LocalLockStore)


def test_messages_of_one_conversation_run_one_at_a_time_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalLockStore()
    waits: List[float] = []
    original = LocalLockStore._acquire_lock

    async def spy(self: Any, conversation_id: str, ticket: int, wait: float) -> Any:
        waits.append(wait)
        return await original(self, conversation_id, ticket, wait)

    monkeypatch.setattr(LocalLockStore, "_acquire_lock", spy)
    log: List[str] = []

    async def message(name: str, conversation: str, work: float) -> None:
        async with store.lock(conversation):
            log.append(f"{name} in")
            await asyncio.sleep(work)
            log.append(f"{name} out")

    async def main() -> None:
        first = asyncio.create_task(message("a1", "a", 0.2))
        await asyncio.sleep(0)
        await asyncio.gather(first, message("a2", "a", 0), message("b1", "b", 0))

    asyncio.run(main())
    assert log.index("a1 out") < log.index("a2 in")  # the second message of "a" waited for the first
    assert log.index("b1 out") < log.index("a1 out")  # another conversation did not wait
    assert waits and all(w == LocalLockStore.POLL_SECONDS for w in waits)  # Rasa's default is 1 s
    assert store.conversation_locks == {}  # nothing left behind
