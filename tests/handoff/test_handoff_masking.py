"""Masking of card numbers, IBANs and passwords; the agent summary."""

from __future__ import annotations

import pytest
from handoff_helpers import payload

from handoff.masking import iban_ok, luhn_ok, mask_text
from handoff.tickets import told
from handoff.validation import validate_create


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1111 please", "card [card ****1111] please"),
        ("card 4111-1111-1111-1111", "card [card ****1111]"),
        ("5500000000000004", "[card ****0004]"),
        ("order 1234567890123", "order 1234567890123"),  # fails Luhn: an order number stays
        ("call +45 12 34 56 78", "call +45 12 34 56 78"),
        ("IBAN DE89 3704 0044 0532 0130 00 thanks", "IBAN [IBAN masked] thanks"),
        ("DK5000400440116243", "[IBAN masked]"),
        ("DE89370400440532013001", "DE89370400440532013001"),  # bad checksum
        ("password: hunter2", "password: [password masked]"),
        ("my password is hunter2", "my password is [password masked]"),
        ("Mein Passwort ist Geheim123!", "Mein Passwort ist [password masked]"),
        ("Kennwort: abc", "Kennwort: [password masked]"),
        ("min adgangskode er hemmelig", "min adgangskode er [password masked]"),
        ("adgangskoden er hemmelig", "adgangskoden er [password masked]"),
        ("I forgot my password", "I forgot my password"),
    ],
)
def test_mask_text(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")


def test_summary_mentions_the_essentials() -> None:
    request = validate_create(payload(language="de", frustrated=True))
    doc = told(request, 1.0)
    summary = doc["summary"]
    for part in ("Ada Lovelace", "verified", "German", "technical / Streamly app", "error code E42",
                 "tech-playback-errors (did not help)", "restarted the app", "frustrated", "Reply in German"):
        assert part in summary
    assert "4111" not in summary.replace("****1111", "")
    assert doc["transcript"][0]["text"] == "my password: [password masked] does not matter"
