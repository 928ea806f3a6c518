from __future__ import annotations

import pytest

from bot.identity import CustomerIdentity, InvalidIdentityToken, sign, verify

ANNA = CustomerIdentity("cust-1", "Anna Becker", "anna@example.com", "vip")


def test_a_signed_token_verifies_to_the_same_identity() -> None:
    token = sign(ANNA, "s3cret", now=1000.0, ttl=60)
    identity = verify(token, "s3cret", now=1030.0)
    assert (identity.id, identity.name, identity.email, identity.tier) == (ANNA.id, ANNA.name, ANNA.email, "vip")


@pytest.mark.parametrize(("mangle", "reason"), [
    (lambda t: t + "x", "bad signature"),
    (lambda t: t.split(".")[0], "malformed"),
    (lambda t: "eyJzdWIiOiJ4In0." + t.split(".")[1], "bad signature"),
    (lambda t: "", "malformed"),
])
def test_tampered_tokens_are_rejected(mangle, reason: str) -> None:
    token = sign(ANNA, "s3cret", now=1000.0)
    with pytest.raises(InvalidIdentityToken, match=reason):
        verify(mangle(token), "s3cret", now=1000.0)


def test_another_secret_or_an_expired_token_is_rejected() -> None:
    token = sign(ANNA, "s3cret", now=1000.0, ttl=60)
    with pytest.raises(InvalidIdentityToken, match="bad signature"):
        verify(token, "other", now=1000.0)
    with pytest.raises(InvalidIdentityToken, match="expired"):
        verify(token, "s3cret", now=1061.0)


def test_an_unknown_tier_is_rejected() -> None:
    token = sign(CustomerIdentity("c", "n", "e@x", "platinum"), "k", now=0, ttl=10)
    with pytest.raises(InvalidIdentityToken, match="tier"):
        verify(token, "k", now=1)
