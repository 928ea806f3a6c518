"""Lemmas from spaCy's lookup tables (``spacy-lookups-data``), held compactly.

spaCy's own lookup lemmatizer keeps its table as a Python dict of strings: 200 MB of resident memory
for German (355,354 words), 117 MB for Danish (553,116), measured in a bare process; the Rasa server and
the action server each held both. This module reads the same table once per language and keeps it as
two numpy arrays (a sorted 64-bit hash per word, the index of its lemma) and the distinct lemmas in one
string: a few MB per language. The answers are the lookup lemmatizer's own: ``get(word, word)`` is what
``spacy.pipeline.Lemmatizer`` in ``lookup`` mode writes into ``token.lemma_`` for a blank pipeline's
token (exact text, case-sensitive; a list value gives its first lemma).

Words of the table whose hashes collide (none in the shipped tables) are kept in a small exact dict. A
word that is not in the table could share a 64-bit hash with one that is; with SipHash and at most
553,116 words that chance is below 1e-13 per word, and it would only give that word another lemma.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

_TABLES: dict[str, LemmaTable | None] = {}
_LOCK = threading.Lock()


class LemmaTable:
    """word -> lemma for one language, immutable once built (safe to share between threads)."""

    def __init__(self, lookup: Mapping[str, object]) -> None:
        lemma_ids: dict[str, int] = {}
        words: list[str] = []
        ids: list[int] = []
        for word, value in lookup.items():
            lemma = value if isinstance(value, str) else (list(value)[0] if value else word)  # type: ignore[call-overload]
            words.append(word)
            ids.append(lemma_ids.setdefault(str(lemma), len(lemma_ids)))
        hashes = np.fromiter((hash(w) for w in words), dtype=np.int64, count=len(words))
        order = np.argsort(hashes, kind="stable")
        hashes, lemma_of = hashes[order], np.asarray(ids, dtype=np.int32)[order]
        clash = np.zeros(len(hashes), dtype=bool)
        if len(hashes) > 1:
            same = hashes[1:] == hashes[:-1]
            clash[1:] |= same
            clash[:-1] |= same
        lemmas = list(lemma_ids)
        self._exact: dict[str, str] = {words[i]: lemmas[ids[i]] for i in order[clash]}
        self._hashes: npt.NDArray[np.int64] = hashes[~clash]
        self._lemma_of: npt.NDArray[np.int32] = lemma_of[~clash]
        # the distinct lemmas as one string and their start offsets (one small object instead of 10^5)
        self._text = "".join(lemmas)
        self._starts: npt.NDArray[np.int64] = np.cumsum([0] + [len(s) for s in lemmas], dtype=np.int64)
        self.size = len(words)

    def get(self, word: str, default: str) -> str:
        """The lemma of ``word`` (exact text), else ``default``."""
        if self._exact:
            hit = self._exact.get(word)
            if hit is not None:
                return hit
        h = hash(word)
        i = int(np.searchsorted(self._hashes, h))
        if i == len(self._hashes) or int(self._hashes[i]) != h:
            return default
        k = int(self._lemma_of[i])
        return self._text[int(self._starts[k]) : int(self._starts[k + 1])]

    def nbytes(self) -> int:
        """Bytes held by the arrays and the lemma string (what replaces spaCy's dict)."""
        return int(self._hashes.nbytes + self._lemma_of.nbytes + self._starts.nbytes + len(self._text))


def read_lookup(lang: str) -> dict[str, object] | None:
    """The ``lemma_lookup`` table of ``spacy-lookups-data`` for ``lang`` as spaCy loads it, or None."""
    try:
        import spacy_lookups_data
        from spacy.util import load_language_data
    except ImportError:
        return None
    tables = getattr(spacy_lookups_data, lang, None)
    if not isinstance(tables, dict) or "lemma_lookup" not in tables:
        return None
    data = load_language_data(tables["lemma_lookup"])
    return data if isinstance(data, dict) else None


def lemma_table(lang: str) -> LemmaTable | None:
    """The language's table, built on first use and shared by the process (None: no table)."""
    if lang in _TABLES:
        return _TABLES[lang]
    with _LOCK:
        if lang not in _TABLES:
            data = read_lookup(lang)
            _TABLES[lang] = LemmaTable(data) if data else None
            del data
            _release_freed_memory()
        return _TABLES[lang]


def _release_freed_memory() -> None:
    """Gives the parsed table's freed memory back to the system (glibc keeps it otherwise: 43 MB after
    building the three tables, 22 MB after this; measured in a bare process)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def lemma(lang: str, word: str) -> str:
    """What spaCy's lookup lemmatizer gives ``word`` in ``lang`` (the word itself when unknown)."""
    table = lemma_table(lang)
    return word if table is None else table.get(word, word)
