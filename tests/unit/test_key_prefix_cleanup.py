"""Per-test key prefixes are cleaned up (issue 15: on an external Redis they piled up)."""

from __future__ import annotations

import redis

from tests.conftest import delete_keys


def test_delete_keys_removes_only_the_prefix(redis_url: str, key_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    other = key_prefix.rstrip(":") + "x:"
    client.mset({f"{key_prefix}a": 1, f"{key_prefix}b:c": 2, f"{other}keep": 3})
    client.rpush(f"{key_prefix}list", "x")
    assert delete_keys(redis_url, key_prefix) == 3
    assert client.keys(f"{key_prefix}*") == []
    assert client.get(f"{other}keep") == b"3"
    client.delete(f"{other}keep")
