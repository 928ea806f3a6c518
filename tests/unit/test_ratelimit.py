"""Message limits of the public channels: token buckets per key, and whose address a request has."""

from __future__ import annotations

import pytest

from bot.ratelimit import Limit, RateLimiter, client_address, client_key


def test_a_burst_then_the_average_rate() -> None:
    limiter = RateLimiter(Limit(per_minute=30, burst=5))
    assert [limiter.allow("a", 0.0) for _ in range(6)] == [True] * 5 + [False]
    assert limiter.retry_after("a") == 2  # one token every 2 s
    assert limiter.allow("b", 0.0)  # keys are independent
    assert not limiter.allow("a", 1.0)
    assert limiter.allow("a", 2.1)  # refilled
    assert [limiter.allow("a", 1000.0) for _ in range(6)] == [True] * 5 + [False]  # capped at the burst


def test_refused_messages_do_not_dig_a_deeper_hole() -> None:
    limiter = RateLimiter(Limit(per_minute=60, burst=1))
    assert limiter.allow("a", 0.0)
    assert not any(limiter.allow("a", 0.1 * i) for i in range(1, 10))  # hammering within the first second
    assert limiter.allow("a", 1.05)  # one second after the last accepted message


def test_zero_switches_the_limit_off() -> None:
    limiter = RateLimiter(Limit(per_minute=0, burst=1))
    assert all(limiter.allow("a", 0.0) for _ in range(1000))


def test_the_table_of_keys_is_bounded() -> None:
    limiter = RateLimiter(Limit(per_minute=1, burst=1), max_keys=100)
    for i in range(10_000):
        limiter.allow(f"client-{i}", 0.0)
    assert len(limiter._buckets) == 100


@pytest.mark.parametrize(("peer", "forwarded", "expected"), [
    ("203.0.113.9", None, "203.0.113.9"),  # a direct client
    ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # an untrusted peer cannot choose its address
    ("127.0.0.1", "198.51.100.1", "198.51.100.1"),  # behind the local reverse proxy
    ("127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # a made-up first hop is ignored
    ("127.0.0.1", "198.51.100.1, 127.0.0.1", "198.51.100.1"),  # two local proxies
    ("127.0.0.1", None, None),  # this machine itself (tests, benchmarks)
    ("::1", "", None),
])
def test_whose_address_a_request_has(peer: str, forwarded: str | None, expected: str | None) -> None:
    assert client_address(peer, forwarded) == expected


def test_trusted_proxies_are_configurable() -> None:
    assert client_address("10.0.0.5", "198.51.100.1", "10.0.0.0/8") == "198.51.100.1"
    assert client_address("10.0.0.5", "198.51.100.1") == "10.0.0.5"


def test_the_pseudonym_is_stable_keyed_and_does_not_show_the_address() -> None:
    key = client_key("198.51.100.1", "secret")
    assert key == client_key("198.51.100.1", "secret") != client_key("198.51.100.1", "other")
    assert "198" not in key and len(key) == 24
