from __future__ import annotations

import secrets

import pytest

from bot.entities import EntityFinder


@pytest.fixture(scope="module")
def finder() -> EntityFinder:
    return EntityFinder(["Samsung Smart TV", "Streamly Stick", "LG webOS"])


@pytest.mark.parametrize(("text", "expected"), [
    ("Meine Bestellung SO-123456 ist nicht da", [("order_number", "SO-123456")]),
    ("order so 654321 please", [("order_number", "SO-654321")]),
    ("Rechnung INV-2024-00123 falsch", [("invoice_number", "INV-2024-00123")]),
    ("faktura inv2024-00123", [("invoice_number", "INV-2024-00123")]),
    ("Fehler E1001 auf meinem samsung smart tv", [("error_code", "E-1001"), ("product", "Samsung Smart TV")]),
    ("mail: Anna.B@Example.com", [("email", "anna.b@example.com")]),
    ("status of T-000042?", [("ticket_reference", "T-000042")]),
    ("nothing structured here", []),
])
def test_structured_details_are_found_and_normalised(finder: EntityFinder, text: str,
                                                      expected: list[tuple[str, str]]) -> None:
    assert [(e.entity, e.value) for e in finder.find(text)] == expected


def test_every_secret_reference_the_service_issues_is_recognised(finder: EntityFinder) -> None:
    for _ in range(200):
        secret = "S-" + secrets.token_urlsafe(24)  # what handoff/service.py issues
        found = [(e.entity, e.value) for e in finder.find(f"my code is {secret}, what's the status?")]
        assert ("ticket_secret", secret) in found, secret
