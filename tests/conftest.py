"""Shared fixtures: a real Redis server for the whole session (embedded, or REDIS_URL) and a key prefix
per test so tests never see each other's data."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from stack.embedded_redis import EmbeddedRedis, free_port

if TYPE_CHECKING:
    from tests.rt.rt_server import RTServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis | None]:
    """The session's embedded redis-server (None when REDIS_URL points at an external one)."""
    if os.environ.get("REDIS_URL"):
        yield None
        return
    data_dir = tmp_path_factory.mktemp("redis")
    server = EmbeddedRedis(data_dir=data_dir, port=free_port(), log_file=data_dir / "redis.log")
    with server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: EmbeddedRedis | None) -> str:
    """URL of a real Redis server: REDIS_URL when set, else an embedded redis-server for this session."""
    return redis_server.url if redis_server is not None else os.environ["REDIS_URL"]


@pytest.fixture
def key_prefix(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh key prefix per test (`test:<hex>:`); a test that used Redis leaves no key under it (on an
    external REDIS_URL they would pile up: the embedded server goes with the session)."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    if "redis_url" in request.fixturenames:
        delete_keys(request.getfixturevalue("redis_url"), prefix)


def delete_keys(url: str, prefix: str) -> int:
    """Deletes every key that starts with ``prefix``; returns how many."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        deleted = 0
        batch: list[bytes] = []
        for key in client.scan_iter(match=prefix.replace("[", "\\[") + "*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(client.unlink(*batch))
                batch = []
        if batch:
            deleted += int(client.unlink(*batch))
        return deleted
    finally:
        client.close()


@pytest.fixture(scope="session")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RTServer]:
    """A real Request Tracker 5 for the session (RT's first start is the slow part): Debian's request-tracker5
    (scripts/ensure-rt.sh, run by `make test`) on a fresh SQLite database with the queues of
    connector/rt_queues.yml, on a free loopback port. Without the packages the tests that need it are skipped
    with the reason, except in CI, where they fail."""
    from tests.rt.rt_server import RTServer, installed  # noqa: PLC0415

    if not installed():
        message = "Request Tracker 5 is not installed (scripts/ensure-rt.sh installs Debian's request-tracker5)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = RTServer.for_mapping(tmp_path_factory.mktemp("rt"), free_port(), ROOT / "connector" / "rt_queues.yml")
    started = time.monotonic()
    server.setup()
    server.start()
    print(f"RT 5 ready in {time.monotonic() - started:.1f} s on {server.url}")
    yield server
    server.remove()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--holdout", action="store_true",
                     help="also run the held-out customer scenarios (a measurement: scripts/bench_scenarios.py "
                          "--set holdout)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--holdout"):
        return
    held_out = [item for item in items if item.get_closest_marker("holdout")]
    if held_out:
        config.hook.pytest_deselected(items=held_out)
        items[:] = [item for item in items if not item.get_closest_marker("holdout")]
