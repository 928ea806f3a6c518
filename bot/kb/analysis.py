"""Per-language text analysis: spaCy tokenizer, lookup lemmas (`bot.lemmas`), stop words, lowercasing,
umlaut/ß/æøå folding, and word-boundary character n-grams (for typos and German/Danish compounds).

Pipelines are built once per language, lazily, and shared by every index (thread-safe).
Features are strings with a one-letter kind prefix: ``w:`` lemma, ``b:`` lemma bigram, ``c:`` char n-gram.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from bot.lemmas import lemma_table

if TYPE_CHECKING:
    from spacy.language import Language

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe", "å": "aa",
                       "é": "e", "è": "e", "á": "a", "à": "a"})

GROUPS = ("w", "b", "c")
GROUP_INDEX = {g: i for i, g in enumerate(GROUPS)}

_PIPELINES: dict[str, Language] = {}
_LOCK = threading.Lock()


def fold(text: str) -> str:
    """Lowercase and fold umlauts, ß and æøå to ASCII (``Rückerstattung`` -> ``rueckerstattung``)."""
    return text.lower().translate(_FOLD)


def pipeline(lang: str) -> Language:
    """The blank spaCy pipeline (tokenizer) for ``lang``, built on first use; lemmas come from
    `bot.lemmas`, which gives what spaCy's lookup lemmatizer would in a fraction of its memory."""
    nlp = _PIPELINES.get(lang)
    if nlp is not None:
        return nlp
    with _LOCK:
        nlp = _PIPELINES.get(lang)
        if nlp is not None:
            return nlp
        spacy = _import_spacy()
        built: Language = spacy.blank(lang)
        _PIPELINES[lang] = built
    return built


def _import_spacy() -> ModuleType:
    """spaCy, without thinc's probe for TensorFlow: thinc imports TensorFlow when it is installed (it
    is, with Rasa), which costs about 3.5 s and hundreds of MB in every process that only searches
    the knowledge base (action server, ``frontdoor kb``). A process that already imported TensorFlow
    (the Rasa server) is left alone; a later ``import tensorflow`` still works."""
    if "thinc.compat" in sys.modules or "tensorflow" in sys.modules:
        import spacy

        return spacy
    sys.modules["tensorflow"] = None  # type: ignore[assignment]  # makes the probe's import fail
    try:
        import spacy
    finally:
        del sys.modules["tensorflow"]
    return spacy


@dataclass(frozen=True)
class AnalyzerConfig:
    char_min: int = 3
    char_max: int = 5
    bigrams: bool = True
    char_ngrams: bool = True
    drop_stop_words: bool = False  # idf handles them; short queries need "what", "how", "my"


@dataclass(frozen=True)
class Analysis:
    """The features of one text, and its content terms (folded lemmas of non-stop words)."""

    features: tuple[str, ...]
    terms: tuple[str, ...]


class Analyzer:
    """Turns texts of one language into sparse features. Results are cached per text (bounded)."""

    def __init__(self, lang: str, config: AnalyzerConfig | None = None, cache_size: int = 200_000) -> None:
        self.lang = lang
        self.config = config or AnalyzerConfig()
        self._cache: dict[str, Analysis] = {}
        self._cache_size = cache_size
        self._stop: frozenset[str] | None = None
        self._ngram_cache: dict[str, tuple[str, ...]] = {}
        # feature -> column id, shared by every index built with this analyzer (it only grows), so that
        # a reload re-uses the ids of unchanged texts instead of re-counting millions of strings
        self.vocab: dict[str, int] = {}
        self.groups: list[int] = []
        self._ids: dict[tuple[str, bool], npt.NDArray[np.int64]] = {}
        self._vocab_lock = threading.Lock()
        self._nlp_lock = threading.Lock()

    @property
    def nlp(self) -> Language:
        return pipeline(self.lang)

    def _stop_words(self) -> frozenset[str]:
        if self._stop is None:
            words = self.nlp.Defaults.stop_words
            self._stop = frozenset(fold(w) for w in words) | frozenset(words)
        return self._stop

    def _char_ngrams(self, word: str) -> tuple[str, ...]:
        hit = self._ngram_cache.get(word)
        if hit is not None:
            return hit
        padded = f"<{word}>"
        cfg = self.config
        grams: list[str] = []
        n_len = len(padded)
        for n in range(cfg.char_min, cfg.char_max + 1):
            if n > n_len:
                break
            grams.extend("c:" + padded[i : i + n] for i in range(n_len - n + 1))
        if n_len < cfg.char_min:
            grams.append("c:" + padded)
        out = tuple(grams)
        if len(self._ngram_cache) < 500_000:
            self._ngram_cache[word] = out
        return out

    def _from_tokens(self, tokens: Sequence[tuple[str, str, bool]]) -> Analysis:
        """tokens: (folded text, folded lemma, is_stop)."""
        cfg = self.config
        feats: list[str] = []
        content = [(t, lem) for t, lem, stop in tokens if not (cfg.drop_stop_words and stop)]
        if not content:  # a query made only of stop words still needs something to match
            content = [(t, lem) for t, lem, _ in tokens]
        for text, lemma in content:
            feats.append("w:" + lemma)
            if cfg.char_ngrams:
                feats.extend(self._char_ngrams(text))
        if cfg.bigrams:
            lemmas = [lem for _, lem in content]
            feats.extend(f"b:{a}_{b}" for a, b in zip(lemmas, lemmas[1:]))
        # content terms (no stop words, no single characters): for feedback and unknown-word checks
        terms = [lem for _, lem, stop in tokens if not stop and len(lem) > 1]
        return Analysis(tuple(feats), tuple(dict.fromkeys(terms)))

    def _tokens(self, doc: Iterable[object]) -> list[tuple[str, str, bool]]:
        stop = self._stop_words()
        table = lemma_table(self.lang)
        out: list[tuple[str, str, bool]] = []
        for tok in doc:
            text: str = tok.text  # type: ignore[attr-defined]
            if not any(ch.isalnum() for ch in text):
                continue
            folded = fold(text)
            lemma = fold(table.get(text, text) if table is not None else text)
            out.append((folded, lemma, folded in stop or text.lower() in stop))
        return out

    def analyze(self, text: str) -> Analysis:
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        nlp = self.nlp
        with self._nlp_lock:  # a spaCy pipeline is not documented as thread-safe: one caller at a time
            result = self._from_tokens(self._tokens(nlp(text)))
        self._remember(text, result)
        return result

    def analyze_many(self, texts: Sequence[str], batch_size: int = 64) -> list[Analysis]:
        found: dict[str, Analysis] = {}
        todo: list[str] = []
        for t in dict.fromkeys(texts):
            hit = self._cache.get(t)
            if hit is None:
                todo.append(t)
            else:
                found[t] = hit
        nlp = self.nlp
        for start in range(0, len(todo), batch_size):  # short lock holds: queries interleave with a reload
            chunk = todo[start : start + batch_size]
            with self._nlp_lock:
                analyses = [self._from_tokens(self._tokens(doc)) for doc in nlp.pipe(chunk)]
            for text, an in zip(chunk, analyses):
                found[text] = an
                self._remember(text, an)
        return [found[t] for t in texts]

    def feature_ids(self, texts: Sequence[str], words_only: bool = False) -> list[npt.NDArray[np.int64]]:
        """Column ids of each text's features, sorted (repeated features repeat); new ones interned."""
        found: dict[str, npt.NDArray[np.int64]] = {}
        todo: list[str] = []
        for t in dict.fromkeys(texts):
            hit = self._ids.get((t, words_only))
            if hit is None:
                todo.append(t)
            else:
                found[t] = hit
        if todo:
            analyses = self.analyze_many(todo)
            with self._vocab_lock:
                vocab, groups = self.vocab, self.groups
                if len(self._ids) + len(todo) > self._cache_size:
                    self._ids.clear()
                for text, an in zip(todo, analyses):
                    feats = [f for f in an.features if f[0] == "w"] if words_only else an.features
                    ids = []
                    for f in feats:
                        j = vocab.get(f)
                        if j is None:
                            j = vocab[f] = len(groups)
                            groups.append(GROUP_INDEX[f[0]])
                        ids.append(j)
                    found[text] = self._ids[(text, words_only)] = np.sort(np.asarray(ids, dtype=np.int64))
        return [found[t] for t in texts]

    def _remember(self, text: str, result: Analysis) -> None:
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[text] = result


_ANALYZERS: dict[tuple[str, AnalyzerConfig], Analyzer] = {}


def analyzer_for(lang: str, config: AnalyzerConfig | None = None) -> Analyzer:
    """A shared analyzer per (language, config): its caches survive reloads."""
    key = (lang, config or AnalyzerConfig())
    with _LOCK:
        an = _ANALYZERS.get(key)
        if an is None:
            an = _ANALYZERS[key] = Analyzer(lang, key[1])
    return an
