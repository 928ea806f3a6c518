"""Signed customer identity: how a logged-in website user proves who they are to the bot.

A token is ``base64url(json payload) + "." + base64url(HMAC-SHA256(secret, payload part))``. The website
(which knows the logged-in user) signs it; the action server verifies it with the same secret from the
environment and takes id, name, e-mail and tier from it instead of asking.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from bot.contract import CUSTOMER_TIERS


class InvalidIdentityToken(ValueError):
    """The token is malformed, expired or not signed with our secret."""


@dataclass(frozen=True)
class CustomerIdentity:
    id: str
    name: str
    email: str
    tier: str = "standard"
    expires_at: float = 0.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(identity: CustomerIdentity, secret: str, ttl: float = 8 * 3600, now: float | None = None) -> str:
    if not secret:
        raise ValueError("an HMAC secret is required to sign identity tokens")
    issued = time.time() if now is None else now
    payload = {"sub": identity.id, "name": identity.name, "email": identity.email, "tier": identity.tier,
               "exp": int(issued + ttl)}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify(token: str, secret: str, now: float | None = None) -> CustomerIdentity:
    if not secret:
        raise InvalidIdentityToken("no secret configured")
    body, sep, mac = token.partition(".")
    if not sep or not body or not mac:
        raise InvalidIdentityToken("malformed token")
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    try:
        given = _unb64(mac)
        payload = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidIdentityToken("malformed token") from exc
    if not hmac.compare_digest(expected, given):
        raise InvalidIdentityToken("bad signature")
    if not isinstance(payload, dict):
        raise InvalidIdentityToken("malformed payload")
    exp = payload.get("exp")
    if not isinstance(exp, int) or exp < (time.time() if now is None else now):
        raise InvalidIdentityToken("token expired")
    fields = {key: payload.get(key) for key in ("sub", "name", "email", "tier")}
    if not all(isinstance(value, str) and value for value in fields.values()):
        raise InvalidIdentityToken("token lacks sub, name, email or tier")
    if fields["tier"] not in CUSTOMER_TIERS:
        raise InvalidIdentityToken(f"unknown customer tier {fields['tier']!r}")
    return CustomerIdentity(str(fields["sub"]), str(fields["name"]), str(fields["email"]), str(fields["tier"]),
                            float(exp))
