"""The sentence encoder behind its interface: the on-disk embedding cache, the vector codec the Rasa
server uses to hand a message's embedding to the action server, and what the dense half of the index
adds (paraphrases without shared words, answers across languages)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.kb.encoder import CachedEncoder, EmbeddingCache, Matrix, decode_vector, encode_vector
from bot.kb.search import KnowledgeBase


class CountingEncoder:
    """A deterministic stand-in that records what it was asked to encode (hash -> unit vector)."""

    model_id = "counting-test"
    dim = 8

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> Matrix:
        self.calls.append(list(texts))
        rows = []
        for text in texts:
            raw = np.frombuffer(hashlib.sha256(text.encode()).digest()[: self.dim], dtype=np.uint8)
            v = raw.astype(np.float32) - 127.5
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)


def test_the_cache_encodes_only_new_texts_and_survives_a_restart(tmp_path: Path) -> None:
    inner = CountingEncoder()
    first = CachedEncoder(inner, tmp_path)
    a = first.encode(["one", "two", "one"])
    assert inner.calls == [["one", "two"]]  # duplicates encoded once
    np.testing.assert_array_equal(a[0], a[2])
    b = first.encode(["two", "three"])
    assert inner.calls[-1] == ["three"]
    restarted = CachedEncoder(inner, tmp_path)  # a new process reads what the first one wrote
    c = restarted.encode(["one", "two", "three"])
    assert len(inner.calls) == 2
    np.testing.assert_array_equal(c, np.vstack([a[0], b[0], b[1]]))


def test_cached_and_fresh_vectors_are_identical(tmp_path: Path) -> None:
    """Fresh vectors get the cache's float16 precision, so a cold build equals a build from the cache."""
    inner = CountingEncoder()
    fresh = CachedEncoder(inner, tmp_path).encode(["same text"])
    cached = CachedEncoder(inner, tmp_path).encode(["same text"])
    np.testing.assert_array_equal(fresh, cached)


def test_a_torn_record_is_ignored_and_overwritten(tmp_path: Path) -> None:
    inner = CountingEncoder()
    CachedEncoder(inner, tmp_path).encode(["kept"])
    cache_file = next(tmp_path.iterdir())
    with cache_file.open("ab") as fh:  # a writer killed in the middle of a record
        fh.write(b"\x01\x02\x03")
    again = CachedEncoder(inner, tmp_path)
    again.encode(["kept", "new"])
    assert inner.calls[-1] == ["new"]
    assert cache_file.stat().st_size % again.cache.record == 0
    third = CachedEncoder(inner, tmp_path)
    third.encode(["kept", "new"])
    assert len(inner.calls) == 2 and len(third.cache) == 2


def test_two_writers_share_one_file(tmp_path: Path) -> None:
    inner = CountingEncoder()
    one, two = CachedEncoder(inner, tmp_path), CachedEncoder(inner, tmp_path)
    one.encode(["from one"])
    two.encode(["from two"])
    assert [row is not None for row in one.cache.lookup([EmbeddingCache.key("from two")])] == [True]


def test_an_unwritable_cache_costs_speed_not_answers(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    inner = CountingEncoder()
    out = CachedEncoder(inner, blocker / "cache").encode(["still encoded"])
    assert out.shape == (1, inner.dim) and abs(float(np.linalg.norm(out[0])) - 1) < 1e-3


def test_the_vector_codec_round_trips_and_rejects_anything_else() -> None:
    v = np.linspace(-1, 1, 384).astype(np.float32)
    v /= np.linalg.norm(v)
    text = encode_vector(v)
    assert len(text) == 1024  # 384 float16, base64
    back = decode_vector(text, 384)
    assert back is not None and float(np.max(np.abs(back - v))) < 1e-3
    for bad in (None, 42, "", "abc", text[:-4], text + "AAAA", "!" * 1024, encode_vector(np.full(384, np.inf))):
        assert decode_vector(bad, 384) is None


def test_the_real_encoder_puts_translations_close_and_other_topics_far(dense: dict[str, Any]) -> None:
    m = dense["encoder"].encode(["Mein Fernseher hat keinen Ton", "my tv has no sound", "mit tv har ingen lyd",
                                 "how do I pay my invoice"])
    assert m.shape == (4, 384) and m.dtype == np.float32
    sims = m @ m.T
    assert min(sims[0, 1], sims[0, 2], sims[1, 2]) > max(sims[3, :3]) + 0.05


def test_a_paraphrase_without_the_articles_words_is_answered(
    shared_kb: KnowledgeBase, lexical_kb: KnowledgeBase) -> None:
    query = "the same amount was taken from my account on two days"
    res = shared_kb.search(query, "en")
    assert res.best is not None and res.best.article.id == "billing-double-charge", res.hits
    lexical = lexical_kb.search(query, "en")  # words alone pick the wrong article
    assert lexical.best is not None and lexical.best.article.id != "billing-double-charge"


@pytest.mark.parametrize(("query", "lang"), [
    ("Mein Fernseher zeigt den Fehler 2002 und die App startet nicht", "de"),
    ("tv-appen kan ikke få forbindelse til serveren, der står 2002", "da"),
])
def test_an_article_only_in_english_answers_in_another_language(
    shared_kb: KnowledgeBase, query: str, lang: str) -> None:
    res = shared_kb.search(query, lang)
    assert res.best is not None and res.best.article.id == "tech-tv-error-2002", res.hits
    assert res.best.fallback_lang and res.best.article.lang == "en"


def test_a_given_vector_is_used_instead_of_encoding_again(shared_kb: KnowledgeBase) -> None:
    encoder = shared_kb.encoder
    assert encoder is not None
    vector = encoder.encode(["charged twice"])[0]
    with_vector = shared_kb.search("charged twice", "en", vector=vector)
    assert [h.article.id for h in with_vector.hits] == [h.article.id for h in shared_kb.search("charged twice", "en").hits]
    # the vector decides the dense half: the embedding of another question moves the ranking
    other = encoder.encode(["pause my subscription for a month"])[0]
    assert shared_kb.search("charged twice", "en", vector=other).hits[0].score < with_vector.hits[0].score


async def test_the_bot_says_in_the_customers_language_that_the_article_is_in_another(
        shared_kb: KnowledgeBase) -> None:
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    import yaml

    from actions.kb import ActionAnswerFromKb, KnowledgeBaseProvider

    root = Path(__file__).resolve().parents[2]
    domain = yaml.safe_load((root / "domain.yml").read_text())
    text = "Mein Fernseher zeigt den Fehler 2002 und die App startet nicht"
    latest = {"text": text, "intent": {"name": "describe_problem", "confidence": 1.0}, "entities": []}
    dispatcher = CollectingDispatcher()
    from tests.actions_support import FakeHandoff

    await ActionAnswerFromKb(KnowledgeBaseProvider(shared_kb), FakeHandoff()).run(
        dispatcher, Tracker("conv-x", {"language": "de"}, latest, [], False, None, {}, "action_listen"), domain)
    said = [m.get("text") or "" for m in dispatcher.messages]
    assert said[0].startswith("(Diesen Artikel gibt es noch nicht auf Deutsch"), said
    assert "/help/en/tech-tv-error-2002" in said[1]
