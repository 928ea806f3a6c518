"""The agents' console is served by the handoff service: the page, its static files (and the vendored
Chart.js), nothing else."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from handoff.console import CONSOLE_DIR
from handoff_helpers import LEAD, agent_headers, bot_headers, payload


async def test_console_page_is_served_with_a_strict_policy(client: TestClient) -> None:
    response = await client.get("/agent")
    assert response.status == 200
    assert response.content_type == "text/html"
    body = await response.text()
    assert '<script src="/agent/static/console.js"></script>' in body
    assert '<script src="/agent/static/chart.umd.js"></script>' in body  # the vendored chart library, no CDN
    assert 'href="/agent/static/console.css"' in body
    assert re.findall(r"<script[^>]*>", body) == [f'<script src="/agent/static/{name}">' for name in
                                                  ("chart.umd.js", "analytics.js", "incidents.js", "console.js")]  # none inline
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "script-src 'self';" in policy and "unsafe" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("name", "path", "content_type"), [
    ("console.js", "console.js", "application/javascript"), ("console.css", "console.css", "text/css"),
    ("analytics.js", "analytics.js", "application/javascript"), ("analytics.css", "analytics.css", "text/css"),
    ("chart.umd.js", "vendor/chart.umd.js", "application/javascript"),
])
async def test_static_files_are_served(client: TestClient, name: str, path: str, content_type: str) -> None:
    response = await client.get(f"/agent/static/{name}")
    assert response.status == 200
    assert response.content_type == content_type
    assert await response.read() == (CONSOLE_DIR / path).read_bytes()


def test_the_chart_library_is_the_pinned_one_with_its_licence() -> None:
    """Chart.js comes from the npm registry at `make install` (the Makefile pins its version and hash)."""
    makefile = (CONSOLE_DIR.parents[1] / "Makefile").read_text(encoding="utf-8")
    version = re.search(r"^CHARTJS_VERSION := (\S+)$", makefile, re.M)
    assert version is not None and re.search(r"^CHARTJS_SHA512 := [0-9a-f]{128}$", makefile, re.M)
    script = (CONSOLE_DIR / "vendor" / "chart.umd.js").read_text(encoding="utf-8")
    assert script.startswith(f"/*!\n * Chart.js v{version.group(1)}\n")
    assert "sourceMappingURL" not in script
    assert "MIT License" in (CONSOLE_DIR / "vendor" / "chart.js-LICENSE.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["__init__.py", "index.html", "..%2F__init__.py", "missing.js", "vendor%2Fchart.umd.js",
                                  "chart.js-LICENSE.md", "..%2Fconsole%2Fconsole.js"])
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
    for name in ("index.html", "console.js", "console.css", "analytics.js", "analytics.css"):
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
                "first_response_due", "risk"),
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
    assert set(rows[0]["risk"]) == {"score", "level", "reasons"}
    for key in ("score", "level", "reasons", "code", "value"):  # the risk badge and its tooltip
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


def test_the_analytics_strings_exist_in_both_languages() -> None:
    for name in ("analytics.js", "console.js"):
        script = (CONSOLE_DIR / name).read_text(encoding="utf-8")
        blocks = re.split(r"\n    (?:en|de): \{\n", script[script.index("TEXT = {"):])[1:3]
        en, de = (set(re.findall(r"(?:^|[ ,{])([a-zA-Z_0-9]+): \"", b.split("\n    }")[0], re.M)) for b in blocks)
        assert en and en == de, (name, en ^ de)


async def test_the_fields_the_analytics_page_reads_are_in_the_api_answer(client: TestClient) -> None:
    """The renderer reads these keys of GET /api/v1/lead/analytics (guards against a renamed field)."""
    script = (CONSOLE_DIR / "analytics.js").read_text(encoding="utf-8")
    data = await (await client.get("/api/v1/lead/analytics?since=7d", headers=agent_headers(LEAD))).json()
    for key in ("period", "history_from", "deflection", "helped_votes", "signals", "escalation",
                "sla_first_response", "csat", "incidents"):
        assert key in data and f"data.{key}" in script, key
    for path in (("deflection", "total", "pending"), ("deflection", "total", "ticketed"),
                 ("escalation", "total", "by_watcher"), ("csat", "total", "average"), ("csat", "distribution"),
                 ("escalation", "by_agent", "rows"), ("sla_first_response", "by_queue", "series"),
                 ("period", "buckets"), ("period", "unit"), ("period", "timezone")):
        node = data
        for key in path:
            node = node[key]
        assert f".{path[-1]}" in script, path


def test_every_risk_label_and_reason_has_both_languages() -> None:
    """The risk column's and the sort choice's labels, each escalation-risk reason and level the API can
    send, and the watcher's risk step in the history have an English and a German text."""
    from handoff.risk import LEVELS, REASON_CODES

    page = (CONSOLE_DIR / "index.html").read_text(encoding="utf-8")
    script = (CONSOLE_DIR / "console.js").read_text(encoding="utf-8")
    english, german = script[script.index("en: {"):script.index("de: {")], script[script.index("de: {"):]
    labels = {"risk", "sortBy", "sort_priority", "sort_risk"}
    assert labels <= set(re.findall(r'data-i18n="([A-Za-z_]+)"', page))
    keys = labels | {f"risk_{code}" for code in REASON_CODES} | {f"riskLevel_{level}" for level in LEVELS}
    keys |= {"act_risk_raised", "riskTitle"}
    for key in sorted(keys):
        assert re.search(rf"\b{key}:", english), key
        assert re.search(rf"\b{key}:", german), key
