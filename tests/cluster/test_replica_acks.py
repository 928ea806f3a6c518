"""The handoff service confirms a new ticket only once a replica has it (HANDOFF_REPLICA_ACKS, Redis WAIT):
a real primary and replica (the cluster's node configuration), the real app, no cluster around them."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer

from stack import redis_node
from stack.embedded_redis import free_port, ping, redis_server_binary
from handoff.app import create_app
from handoff.settings import Settings
from tests.cluster.conftest import BOT_TOKEN, ticket_request

PASSWORD = "replica-test-pw"


@dataclass
class Pair:
    folder: Path
    primary: int
    replica: int
    processes: dict[int, subprocess.Popen[bytes]]

    def start(self, port: int) -> None:
        replica_of = None if port == self.primary else ("127.0.0.1", self.primary)
        data = self.folder / str(port)
        data.mkdir(exist_ok=True)
        config = redis_node.write_private(data / "redis.conf",
                                          redis_node.node_config(port, data, PASSWORD, replica_of))
        self.processes[port] = subprocess.Popen([redis_server_binary(), str(config)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not ping("127.0.0.1", port, password=PASSWORD):
            assert time.monotonic() < deadline, f"redis on {port} did not start"
            time.sleep(0.05)

    def kill(self, port: int) -> None:
        self.processes[port].kill()
        self.processes[port].wait()

    def synced(self) -> bool:
        info = redis.Redis(port=self.replica, password=PASSWORD).info("replication")
        return info.get("master_link_status") == "up"

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=PASSWORD, decode_responses=True)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    running = Pair(tmp_path, free_port(), free_port(), {})
    running.start(running.primary)
    running.start(running.replica)
    deadline = time.monotonic() + 15
    while not running.synced():
        assert time.monotonic() < deadline, "the replica did not sync"
        time.sleep(0.05)
    yield running
    for process in running.processes.values():
        process.kill()
        process.wait()


@pytest.fixture
async def client(pair: Pair, tmp_path: Path) -> AsyncIterator[TestClient]:
    settings = Settings(redis_url=f"redis://:{PASSWORD}@127.0.0.1:{pair.primary}/0", bot_token=BOT_TOKEN,
                        key_prefix=f"ra{uuid.uuid4().hex[:6]}:", kb_drafts_dir=tmp_path / "drafts",
                        rasa_url="http://127.0.0.1:9", sla_interval=0, matrix_poll_interval=0,
                        replica_acks=1, replica_ack_timeout_ms=300)
    test_client = TestClient(TestServer(create_app(settings)))
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def post(client: TestClient, conversation: str) -> tuple[int, dict[str, str]]:
    response = await client.post("/api/v1/tickets", json=ticket_request(conversation),
                                 headers={"Authorization": f"Bearer {BOT_TOKEN}"})
    return response.status, await response.json()


async def test_a_confirmed_ticket_is_on_the_replica_already(pair: Pair, client: TestClient) -> None:
    for n in range(20):
        status, body = await post(client, f"acks-{n}")
        assert status == 201, body
    replica = pair.client(pair.replica)
    keys = [key for key in replica.scan_iter("*conv:acks-*")]
    assert len(keys) == 20, keys  # read from the replica right after the 20th confirmation


async def test_without_a_replica_a_ticket_is_not_confirmed_and_the_retry_gets_the_same_one(
        pair: Pair, client: TestClient) -> None:
    pair.kill(pair.replica)
    status, body = await post(client, "acks-alone")
    assert status == 503 and body["error"] == "unavailable", body
    reference = pair.client(pair.primary).get(next(iter(pair.client(pair.primary).scan_iter("*conv:acks-alone"))))
    pair.start(pair.replica)
    deadline = time.monotonic() + 15
    while not pair.synced():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, body = await post(client, "acks-alone")  # the client's retry: the ticket the first attempt wrote
    assert status == 200 and body["reference"] == reference, body
