"""The Rasa process's in-memory cache of short messages' embeddings: what it keeps, that a hit is the same
vector as a fresh encoding, and that it stays bounded."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rasa_ext.encoder import ShortMessageCache


class Counting:
    model_id = "counting"
    dim = 3

    def __init__(self) -> None:
        self.asked: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.asked.extend(texts)
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_short_messages_are_encoded_once_and_long_or_identifying_ones_every_time() -> None:
    cache, encoder = ShortMessageCache(max_entries=2), Counting()
    first = cache.encode_all(["hallo", "mein abo wurde zweimal abgebucht diesen monat"], encoder)
    again = cache.encode_all(["hallo", "mein abo wurde zweimal abgebucht diesen monat"], encoder)
    assert [list(v) for v in first] == [list(v) for v in again]
    assert encoder.asked == ["hallo", "mein abo wurde zweimal abgebucht diesen monat",
                             "mein abo wurde zweimal abgebucht diesen monat"]
    for text in ("SO-123456", "anna@example.com", "order 48213"):  # never kept: codes and addresses
        cache.encode_all([text], encoder)
        cache.encode_all([text], encoder)
        assert encoder.asked.count(text) == 2, text


def test_the_cache_keeps_the_most_recently_used_and_no_more() -> None:
    cache, encoder = ShortMessageCache(max_entries=2), Counting()
    cache.encode_all(["ja"], encoder)
    cache.encode_all(["nein"], encoder)
    cache.encode_all(["ja"], encoder)       # "ja" is now the most recent
    cache.encode_all(["danke"], encoder)    # evicts "nein"
    cache.encode_all(["ja", "nein"], encoder)
    assert encoder.asked == ["ja", "nein", "danke", "nein"]
