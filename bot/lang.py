"""Language identification for short customer messages (German, English, Danish).

A multinomial naive Bayes over words and character n-grams, trained on labelled text (the bot's NLU data
per language) plus spaCy's stop-word lists. Short or neutral messages ("ok", "E-1001", an order number)
return ``None`` so that the conversation keeps the language it has.
"""

from __future__ import annotations

import importlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# words customers of every language use alike: never a reason to switch the conversation's language
NEUTRAL = frozenset({"ok", "okay", "k", "kk", "super", "cool", "top", "hmm", "aha", "lol", "xd", "stream", "streamly",
                     "stick", "app", "tv", "smart", "premium", "standard", "basic", "pdf", "mail", "e", "t"})
_MARKERS = {"de": set("äöüß"), "da": set("æøå"), "en": set()}


# e-mails, URLs and codes (SO-123456, E-1001) say nothing about the language
# (a match starts at a word's first character only: "\S+@" tried at every position of a long word cost
# time growing with the square of its length)
# e-mail addresses, links, codes with digits ("SO-123456", "E42") and the status code of a ticket confirmation
# ("S-" and random letters): no evidence of a language
_NOISE = re.compile(r"(?<!\S)[^\s@]+@\S+|https?://\S+|www\.\S+|\b[A-Za-z]{1,3}-?\d[\w-]*|(?<![\w-])S-[\w-]{8,}")


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFC", _NOISE.sub(" ", text).lower()))


def features(text: str) -> list[str]:
    feats: list[str] = []
    for word in _words(text):
        feats.append("w:" + word)
        padded = f" {word} "
        for n in (2, 3, 4):
            feats.extend("c:" + padded[i:i + n] for i in range(len(padded) - n + 1))
    return feats


def stop_words(lang: str) -> set[str]:
    module = importlib.import_module(f"spacy.lang.{lang}.stop_words")
    words: set[str] = set(module.STOP_WORDS)
    return words


@dataclass
class LanguageIdentifier:
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    vocabulary: int = 1
    min_margin: float = 1.0  # log-odds the winner needs over the runner-up

    @classmethod
    def train(cls, corpora: Mapping[str, Iterable[str]], use_stop_words: bool = True) -> LanguageIdentifier:
        counts: dict[str, Counter[str]] = {}
        for lang, texts in corpora.items():
            counter: Counter[str] = Counter()
            for text in texts:
                counter.update(features(text))
            if use_stop_words:
                for word in stop_words(lang):
                    counter.update(features(word))
            counts[lang] = counter
        vocabulary = len(set().union(*counts.values())) if counts else 1
        return cls(counts, {lang: sum(c.values()) for lang, c in counts.items()}, max(vocabulary, 1))

    def scores(self, text: str) -> dict[str, float]:
        feats = features(text)
        result: dict[str, float] = {}
        for lang, counter in self.counts.items():
            denominator = math.log(self.totals[lang] + self.vocabulary)
            score = sum(math.log(counter.get(f, 0) + 1) - denominator for f in feats)
            chars = set(text.lower())
            for other, markers in _MARKERS.items():
                if other != lang and chars & markers:
                    score -= 6.0
            result[lang] = score
        return result

    def identify(self, text: str) -> tuple[str | None, str | None]:
        """(best guess, language with the evidence a switch needs) from one scoring pass."""
        words = [w for w in _words(text) if w not in NEUTRAL]
        if not words:
            return None, None
        ranked = sorted(self.scores(" ".join(words)).items(), key=lambda item: item[1], reverse=True)
        best, top = ranked[0]
        if len(ranked) > 1 and top - ranked[1][1] < self.min_margin:
            return None, None
        if sum(len(w) for w in words) < 2:
            return best, None
        # a one- or two-word answer ("dringend", "Haster") must not flip the conversation's language on
        # character n-grams alone: every word must be a known word of that language, one of them its own
        if len(words) <= 2:
            known = all(self.counts[best].get("w:" + word, 0) > 0 for word in words)
            exclusive = any(all(self.counts[other].get("w:" + word, 0) == 0 for other in self.counts if other != best)
                            for word in words)
            if not (known and exclusive):
                return best, None
        return best, best

    def guess(self, text: str) -> str | None:
        """The likeliest language, for a conversation that has none yet (no evidence rules)."""
        return self.identify(text)[0]

    def detect(self, text: str) -> str | None:
        """The message's language, or None when it is too short or too neutral to tell."""
        return self.identify(text)[1]

    def to_dict(self) -> dict[str, Any]:
        return {"counts": {lang: dict(c) for lang, c in self.counts.items()}, "vocabulary": self.vocabulary,
                "min_margin": self.min_margin}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LanguageIdentifier:
        counts = {lang: Counter({str(k): int(v) for k, v in c.items()}) for lang, c in data["counts"].items()}
        return cls(counts, {lang: sum(c.values()) for lang, c in counts.items()}, int(data["vocabulary"]),
                   float(data.get("min_margin", 1.0)))
