"""The agents' console is served by the handoff service: the page, its two static files, nothing else."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from handoff.console import CONSOLE_DIR
from handoff_helpers import agent_headers, bot_headers, payload


async def test_console_page_is_served_with_a_strict_policy(client: TestClient) -> None:
    response = await client.get("/agent")
    assert response.status == 200
    assert response.content_type == "text/html"
    body = await response.text()
    assert '<script src="/agent/static/console.js"></script>' in body
    assert 'href="/agent/static/console.css"' in body
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("name", "content_type"), [("console.js", "application/javascript"),
                                                     ("console.css", "text/css")])
async def test_static_files_are_served(client: TestClient, name: str, content_type: str) -> None:
    response = await client.get(f"/agent/static/{name}")
    assert response.status == 200
    assert response.content_type == content_type
    assert await response.read() == (CONSOLE_DIR / name).read_bytes()


@pytest.mark.parametrize("name", ["__init__.py", "index.html", "..%2F__init__.py", "missing.js"])
async def test_only_the_console_files_are_served(client: TestClient, name: str) -> None:
    response = await client.get(f"/agent/static/{name}")
    assert response.status == 404
    assert (await response.json())["error"] == "not_found"


async def test_trailing_slash_redirects_to_the_page(client: TestClient) -> None:
    response = await client.get("/agent/", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/agent"


async def test_the_api_still_needs_a_token(client: TestClient) -> None:
    response = await client.get("/api/v1/agent/me")
    assert response.status == 401


def test_nothing_is_loaded_from_the_network() -> None:
    """No CDN, no external fonts: every URL the page, script and stylesheet name is on this origin."""
    for name in ("index.html", "console.js", "console.css"):
        text = (CONSOLE_DIR / name).read_text(encoding="utf-8")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), name
        assert "@import" not in text and "@font-face" not in text, name


async def test_the_fields_the_console_reads_are_in_the_api_answers(client: TestClient) -> None:
    """The console renders these keys of the real JSON (guards against a renamed field on either side)."""
    script = (CONSOLE_DIR / "console.js").read_text(encoding="utf-8")
    created = await client.post("/api/v1/tickets", json=payload("conv-console"), headers=bot_headers())
    assert created.status == 201
    queues = (await (await client.get("/api/v1/agent/queues", headers=agent_headers())).json())["queues"]
    rows = (await (await client.get("/api/v1/agent/tickets", headers=agent_headers())).json())["tickets"]
    claimed = (await (await client.post("/api/v1/agent/claim", json={}, headers=agent_headers())).json())["ticket"]
    read = {
        "queue": ("queue", "description", "tier", "depth", "oldest_wait_seconds", "sla_breaches"),
        "row": ("reference", "priority", "status", "queue", "tier", "category", "language", "agent",
                "first_response_due"),
        "ticket": ("reference", "summary", "customer", "language", "category", "product", "error_code",
                   "order_number", "invoice_number", "impact", "urgency", "priority", "priority_reasons", "queue",
                   "tier", "status", "agent", "channels", "tags", "description", "created_at", "claimed_at",
                   "first_response_due", "resolution_due", "articles_shown", "steps_tried", "transcript",
                   "history", "replies", "notes"),
    }
    for kind, payload_ in (("queue", queues[0]), ("row", rows[0]), ("ticket", claimed)):
        for key in read[kind]:
            assert key in payload_, (kind, key)
            assert f".{key}" in script, key
    assert set(claimed["customer"]) >= {"name", "email", "tier", "verified"}
    assert set(claimed["articles_shown"][0]) >= {"id", "lang", "title", "feedback"}
    assert set(claimed["history"][0]) >= {"at", "by", "action", "reason"}
    assert "secret_reference" not in claimed


async def test_the_console_gets_categories_and_queues_with_labels_from_the_matrix(client: TestClient) -> None:
    from bot.taxonomy import DEFAULT_MATRIX, load_taxonomy

    assert (await client.get("/api/v1/agent/taxonomy")).status == 401
    got = await (await client.get("/api/v1/agent/taxonomy", headers=agent_headers())).json()
    taxonomy = load_taxonomy(DEFAULT_MATRIX)
    assert [c["name"] for c in got["categories"]] == list(taxonomy.categories)
    assert [q["name"] for q in got["queues"]] == list(taxonomy.queues)
    billing = next(q for q in got["queues"] if q["name"] == "billing")
    assert billing["tier"] == 2 and billing["labels"]["da"] == "Betalingsteam"
    script = (CONSOLE_DIR / "console.js").read_text(encoding="utf-8")
    for key in ("name", "labels"):  # what the console reads of each category
        assert f".{key}" in script, key


def test_the_consoles_status_lists_are_the_contracts() -> None:
    """The console's open-status filter and its idea of "open" are bot/contract.py's OPEN_STATUSES, and
    every status has a label in both console languages."""
    from bot.contract import OPEN_STATUSES, STATUSES

    page = (CONSOLE_DIR / "index.html").read_text(encoding="utf-8")
    script = (CONSOLE_DIR / "console.js").read_text(encoding="utf-8")
    block = page[page.index('<select id="filter-status">'):]
    block = block[:block.index("</select>")]
    assert set(re.findall(r'<option value="([a-z_]+)"', block)) == set(OPEN_STATUSES)
    is_open = re.search(r"function isOpen\(ticket\) \{ return \[([^\]]*)\]", script)
    assert is_open is not None
    assert set(re.findall(r'"([a-z_]+)"', is_open.group(1))) == set(OPEN_STATUSES)
    for status in OPEN_STATUSES:
        assert script.count(f"st_{status}:") == 2, status  # English and German labels
    assert set(OPEN_STATUSES) <= set(STATUSES)
