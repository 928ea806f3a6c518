"""KB gaps: unanswered and unhelped questions grouped by meaning (pure, with vectors built around each
language's reference), and the lead's API and CLI against the real Redis, with the tickets the questions
became and the drafts agents proposed when resolving them."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestClient
from handoff_helpers import LEAD, FakeClock, agent_headers, bot_headers, payload

from bot.kb.encoder import encode_vector
from handoff import gaps
from handoff.gaps import Question


def vector(language: str, topic: int, seed: int) -> str:
    """A question's embedding as the bot sends it: its language's average customer question plus what it
    is about (one of a few topic directions) and some noise."""
    rng = np.random.default_rng(seed)
    topics = np.random.default_rng(99).normal(size=(4, gaps.DIM))
    v = gaps.reference()[language] + 0.25 * topics[topic] / np.linalg.norm(topics[topic]) \
        + 0.03 * rng.normal(size=gaps.DIM) / np.sqrt(gaps.DIM)
    return encode_vector(v / np.linalg.norm(v))


def test_questions_group_by_what_they_ask_across_languages() -> None:
    questions = [Question(f"c{i}", float(i), lang, f"question {i}", "no_answer", embedding=vector(lang, topic, i))
                 for i, (lang, topic) in enumerate([("de", 0), ("en", 0), ("da", 0), ("de", 0), ("en", 1), ("da", 1),
                                                    ("de", 2)])]
    found = gaps.group(questions)
    assert [g.conversations for g in found] == [4, 2, 1]
    assert {q.language for q in found[0].questions} == {"de", "en", "da"}
    assert {q.conversation_id for q in found[1].questions} == {"c4", "c5"}


def test_questions_without_an_embedding_group_by_their_words() -> None:
    found = gaps.group([Question("a", 1.0, "en", "Karaoke mode?", "no_answer"),
                        Question("b", 2.0, "en", "karaoke  mode", "no_answer"),
                        Question("c", 3.0, "en", "bitcoin", "not_helped", article_id="billing-payment-failed")])
    assert [g.conversations for g in found] == [2, 1]
    assert found[1].to_json()["articles_not_helped"] == {"billing-payment-failed": 1}


def test_only_unanswered_and_unhelped_questions_count() -> None:
    assert gaps.question_of("kb_answered", "c", 1.0, {"text": "x"}) is None
    assert gaps.question_of("kb_feedback", "c", 1.0, {"text": "x", "helped": True}) is None
    assert gaps.question_of("kb_no_answer", "c", 1.0, {"text": " "}) is None
    found = gaps.question_of("kb_feedback", "c", 1.0, {"text": "x", "helped": False, "article_id": "a", "language": "da"})
    assert found is not None and found.kind == "not_helped" and found.language == "da"


async def add_signal(client: TestClient, kind: str, conversation: str, at: float, **data: Any) -> None:
    """The bot reports a signal (POST /api/v1/bot/signals, as the action server does)."""
    signal = {"type": kind, "conversation_id": conversation, "at": at, **data}
    resp = await client.post("/api/v1/bot/signals", json={"signals": [signal]}, headers=bot_headers())
    assert resp.status == 202, await resp.text()


@pytest.fixture
async def seeded(client: TestClient, clock: FakeClock) -> TestClient:
    now = clock()
    for i, lang in enumerate(["de", "en", "da", "de"]):  # one thing asked four times, in three languages
        await add_signal(client, "kb_no_answer", f"karaoke-{i}", now - 3600 * i, language=lang,
                         text=f"karaoke {lang} {i}", embedding=vector(lang, 0, i))
    for i, lang in enumerate(["en", "da"]):  # the article shown did not help, twice
        await add_signal(client, "kb_feedback", f"bitcoin-{i}", now - 60 * i, language=lang, helped=False,
                         article_id="billing-payment-failed", text=f"pay with bitcoin {i}", embedding=vector(lang, 1, 50 + i))
    await add_signal(client, "kb_answered", "fine-1", now, language="en", text="reset password")
    await add_signal(client, "kb_no_answer", "old-1", now - 40 * 86400, language="en", text="old", embedding=vector("en", 2, 7))
    # one of the karaoke conversations became a ticket, resolved with a proposed article
    resp = await client.post("/api/v1/tickets", json=payload("karaoke-1"), headers=bot_headers())
    ref = (await resp.json())["reference"]
    await client.post("/api/v1/agent/claim", json={}, headers=agent_headers())
    resp = await client.post(f"/api/v1/agent/tickets/{ref}/resolve", headers=agent_headers(), json={
        "resolution": "explained", "propose_article": {
            "title": "Karaoke and sing-along", "lang": "en", "category": "general", "body": "Not available yet.",
            "questions": ["Is there a karaoke mode?"]}})
    assert resp.status == 200, await resp.text()
    return client


async def test_the_leads_kb_gaps_api(seeded: TestClient) -> None:
    resp = await seeded.get("/api/v1/lead/kb-gaps?since=30d", headers=agent_headers(LEAD))
    body = await resp.json()
    assert resp.status == 200, body
    assert body["questions"] == 6 and body["conversations"] == 6  # the answered and the 40-day-old one are not
    first, second = body["gaps"][:2]
    assert first["conversations"] == 4 and first["languages"] == {"de": 2, "en": 1, "da": 1}
    assert first["not_answered"] == 4 and len(first["tickets"]) == 1
    assert [d["title"] for d in first["drafts"]] == ["Karaoke and sing-along"]
    assert second["articles_not_helped"] == {"billing-payment-failed": 2} and second["tickets"] == []
    assert body["other_drafts"] == []
    assert (await seeded.get("/api/v1/lead/kb-gaps", headers=agent_headers())).status == 403
    bad = await seeded.get("/api/v1/lead/kb-gaps?since=forever", headers=agent_headers(LEAD))
    assert bad.status == 400 and "since" in (await bad.json())["detail"]


async def test_the_kb_gaps_command_prints_the_same(seeded: TestClient, settings: Any, monkeypatch: Any,
                                                   clock: FakeClock) -> None:
    import argparse
    import asyncio

    from stack.kb_cli import cmd_gaps

    monkeypatch.setenv("FRONTDOOR_VAR", "/tmp/frontdoor-gaps-test")
    args = argparse.Namespace(since="30d", top=5, json=False, redis_url=settings.redis_url, prefix=settings.key_prefix)
    out = io.StringIO()
    # the command runs its own event loop: give it a thread (this test's loop is busy)
    assert await asyncio.to_thread(cmd_gaps, args, out, clock()) == 0
    text = out.getvalue()
    assert text.startswith("6 unanswered or unhelped questions from 6 conversations in the last 30d")
    assert "1. 4 conversations (de 2, da 1, en 1): 4 not answered, 0 not helped" in text
    assert "draft proposed" in text and "Karaoke and sing-along" in text
    assert "billing-payment-failed (2)" in text


def test_the_command_refuses_a_bad_period(capsys: Any) -> None:
    import argparse

    from stack.kb_cli import cmd_gaps

    args = argparse.Namespace(since="soon", top=5, json=False, redis_url="redis://127.0.0.1:1", prefix="x:")
    assert cmd_gaps(args) == 2 and "--since" in capsys.readouterr().err


