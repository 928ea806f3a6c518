"""Per-key rate limits for the public chat channels (framework-free).

A token bucket per key: ``burst`` messages at once, then ``per_minute`` on average. The keys are a
client's address and a conversation; the bucket table is bounded (the least recently used keys are
forgotten first), so a flood of new addresses costs memory only up to ``max_keys``.

The limits are per process: with several Rasa instances behind a load balancer a client gets up to
that many times the limit, which still stops a script from flooding the bot. Creating tickets has its
own limit in the handoff service (shared by every instance, in Redis).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    per_minute: float  # 0 switches the limit off
    burst: int


class RateLimiter:
    def __init__(self, limit: Limit, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def allow(self, key: str, now: float) -> bool:
        """Take one token from ``key``'s bucket; False when it is empty (the message is refused)."""
        if self.limit.per_minute <= 0:
            return True
        tokens, at = self._buckets.pop(key, (float(self.limit.burst), now))
        tokens = min(float(self.limit.burst), tokens + max(0.0, now - at) * self.limit.per_minute / 60.0)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return allowed

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may send again (at least 1)."""
        tokens, _at = self._buckets.get(key, (0.0, 0.0))
        if self.limit.per_minute <= 0:
            return 0
        return max(1, round((1.0 - tokens) * 60.0 / self.limit.per_minute))


def _networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def _in(address: str, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


LOOPBACK = "127.0.0.0/8,::1/128"


def client_address(peer: str, forwarded_for: str | None, trusted_proxies: str = LOOPBACK) -> str | None:
    """The customer's address: the peer, or, when the peer is a trusted proxy, the nearest address in
    X-Forwarded-For that is not a trusted proxy (the ones before it could be made up by the client).
    None for a request from this machine with no X-Forwarded-For (tests, benchmarks, the website's
    own calls): it has no customer address to limit; a reverse proxy must set X-Forwarded-For."""
    trusted = _networks(trusted_proxies)
    if not _in(peer, trusted):
        return peer
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            return hop
    return None


def client_key(address: str, secret: str) -> str:
    """A stable pseudonym of an address (keyed, so the stored value does not give the address back)."""
    return hmac.new(secret.encode(), address.encode(), hashlib.sha256).hexdigest()[:24]
