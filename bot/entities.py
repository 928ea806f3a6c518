"""Structured details in customer messages, found by a spaCy entity ruler (no statistical model).

Order numbers (SO-123456, and as customers write them: "order 48213", "#48213", "Bestellung 48213",
"SO-48213", all normalised to SO-048213), invoice numbers (INV-2024-00123), error codes (E-1001), e-mail
addresses, ticket references (T-000123), secret ticket references (S-xxxx...) and the product/device
names that the knowledge-base articles list in their metadata. Built on ``spacy.blank("xx")`` so one
ruler serves all three languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spacy.language import Language

# canonical forms: what a matched text is normalised to
_NORMALISERS: dict[str, tuple[re.Pattern[str], str]] = {
    "invoice_number": (re.compile(r"(?i)^INV[- ]?(\d{4})[- ]?(\d{5})$"), "INV-{0}-{1}"),
    "error_code": (re.compile(r"(?i)^E[- ]?(\d{4})$"), "E-{0}"),
    "ticket_reference": (re.compile(r"(?i)^T[- ]?(\d{6})$"), "T-{0}"),
}

_TOKEN_PATTERNS: list[tuple[str, list[dict[str, Any]]]] = [
    ("order_number", [{"TEXT": {"REGEX": r"(?i)^SO-?\d{6}$"}}]),
    ("order_number", [{"LOWER": "so"}, {"TEXT": "-", "OP": "?"}, {"TEXT": {"REGEX": r"^\d{6}$"}}]),
    ("invoice_number", [{"TEXT": {"REGEX": r"(?i)^INV-?\d{4}-?\d{5}$"}}]),
    ("invoice_number", [{"TEXT": {"REGEX": r"(?i)^INV-?\d{4}$"}}, {"TEXT": "-"}, {"TEXT": {"REGEX": r"^\d{5}$"}}]),
    ("error_code", [{"TEXT": {"REGEX": r"(?i)^E-?\d{4}$"}}]),
    ("error_code", [{"LOWER": "e"}, {"TEXT": "-"}, {"TEXT": {"REGEX": r"^\d{4}$"}}]),
    ("ticket_reference", [{"TEXT": {"REGEX": r"(?i)^T-\d{6}$"}}]),
    ("email", [{"LIKE_EMAIL": True}]),
]


# secret ticket references contain "-" and "_", which the tokenizer splits: matched on the raw text
_SECRET = re.compile(r"(?<![\w-])S-[A-Za-z0-9_-]{20,}(?![\w-])")


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    start: int
    end: int
    text: str


_ORDER = re.compile(r"(?i)^(?:SO[- ]?|#)?(\d{4,6})$")
# an order number as customers write it: after "order"/"Bestellung"/"ordre" (and their "number" forms), or
# with a "#", or SO- with fewer than six digits; the SO-123456 form itself is a ruler pattern
_ORDER_IN_TEXT = re.compile(
    r"(?i)(?:\b(?:order|bestellung|bestellnummer|bestell-nr|ordre|ordrenummer|ordrenr)\.?"
    r"(?:\s*(?:no|nr|number|nummer|#)\.?)?\s*[:#]?\s*|(?<![\w#])#\s?|\bSO[- ]?)(\d{4,6})\b")


def normalise(entity: str, text: str) -> str:
    if entity == "order_number":
        match = _ORDER.match(re.sub(r"\s+", "", text))
        return f"SO-{int(match.group(1)):06d}" if match else text
    rule = _NORMALISERS.get(entity)
    compact = re.sub(r"\s+", "", text)
    if rule:
        match = rule[0].match(compact) or rule[0].match(text)
        if match:
            return rule[1].format(*match.groups()).upper()
    if entity == "email":
        return text.strip().lower()
    return text


class EntityFinder:
    """A blank multi-language spaCy pipeline with an entity ruler; products are phrase patterns."""

    def __init__(self, products: Iterable[str] = ()) -> None:
        self.products = sorted({p.strip() for p in products if p and p.strip()})
        from bot.kb.analysis import _import_spacy  # spaCy only when a finder is built, without TensorFlow

        self.nlp: Language = _import_spacy().blank("xx")
        ruler = self.nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True})
        patterns: list[dict[str, Any]] = [{"label": label, "pattern": pattern} for label, pattern in _TOKEN_PATTERNS]
        patterns += [{"label": "product", "pattern": product, "id": product} for product in self.products]
        ruler.add_patterns(patterns)  # type: ignore[attr-defined]

    def find(self, text: str) -> list[Entity]:
        doc = self.nlp(text)
        found = []
        for span in doc.ents:
            value = span.ent_id_ if span.label_ == "product" and span.ent_id_ else normalise(span.label_, span.text)
            found.append(Entity(span.label_, value, span.start_char, span.end_char, span.text))
        for match in _SECRET.finditer(text):
            found.append(Entity("ticket_secret", match.group(0), match.start(), match.end(), match.group(0)))
        if not any(e.entity == "order_number" for e in found):
            for match in _ORDER_IN_TEXT.finditer(text):
                if not any(e.start <= match.start(1) < e.end for e in found):
                    found.append(Entity("order_number", f"SO-{int(match.group(1)):06d}", match.start(), match.end(),
                                        match.group(0)))
        return found
