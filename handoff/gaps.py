"""KB gaps: the customer questions the bot could not answer, or whose answer did not help, grouped by
meaning, largest groups first (pure but for ``report``, which reads the handoff service's store).

A question is a ``kb_no_answer`` signal (nothing fitted) or a ``kb_feedback`` signal with ``helped`` false
(the article shown did not help), with the question's sentence embedding (multilingual-e5-small, computed
by the bot). Every vector is centred on the average of its language's customer questions (the knowledge
base's questions, ``gap_reference.json``): raw e5 vectors are all alike and carry their language, so
centring lets the same question in de/en/da land together and different topics apart. Questions are then
grouped by average-linkage clustering on cosine distance, cut at ``GROUP_SIMILARITY`` (chosen on the
knowledge base's questions and CLINC150's validation split: research/gap_threshold.py, docs/benchmarks.md).
Questions without an embedding are grouped by their normalised text. Each group carries its size (distinct
conversations), example questions, languages, the articles that were shown and did not help, and the
tickets those conversations became (with the drafts agents proposed when resolving them).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

GROUP_SIMILARITY = 0.35  # average cosine similarity (of centred vectors) at which two groups are one
REFERENCE = Path(__file__).resolve().parent / "gap_reference.json"  # research/gap_threshold.py --write
MAX_QUESTIONS = 3000  # the most recent questions grouped (average linkage is quadratic in memory)
EXAMPLES = 5
MAX_GAPS = 100  # groups listed, largest first
DIM = 384


@dataclass(frozen=True)
class Question:
    conversation_id: str
    at: float
    language: str
    text: str
    kind: str  # no_answer | not_helped
    article_id: str = ""
    category: str = ""
    embedding: str = ""  # base64 float16 (bot.kb.encoder.encode_vector)


@dataclass
class Gap:
    questions: list[Question]
    tickets: list[str] = field(default_factory=list)
    drafts: list[dict[str, str]] = field(default_factory=list)

    @property
    def conversations(self) -> int:
        return len({q.conversation_id for q in self.questions})

    def to_json(self) -> dict[str, Any]:
        texts: list[str] = []
        for q in sorted(self.questions, key=lambda q: -q.at):
            if q.text and q.text.casefold() not in {t.casefold() for t in texts}:
                texts.append(q.text)
        return {
            "conversations": self.conversations,
            "questions": len(self.questions),
            "examples": texts[:EXAMPLES],
            "languages": _ranked(Counter(q.language for q in self.questions)),
            "not_answered": sum(q.kind == "no_answer" for q in self.questions),
            "not_helped": sum(q.kind == "not_helped" for q in self.questions),
            "articles_not_helped": _ranked(Counter(q.article_id for q in self.questions if q.article_id)),
            "categories": _ranked(Counter(q.category for q in self.questions if q.category)),
            "first_at": min(q.at for q in self.questions), "last_at": max(q.at for q in self.questions),
            "tickets": sorted(self.tickets), "drafts": self.drafts,
        }


def _ranked(counts: Counter[str]) -> dict[str, int]:
    """Most first, ties by name (the same order every time)."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def question_of(kind: str, conversation_id: str, at: float, data: Mapping[str, Any]) -> Question | None:
    """A gap question from one signal, or None for the signals that are not one."""
    if kind == "kb_no_answer":
        gap_kind = "no_answer"
    elif kind == "kb_feedback" and data.get("helped") is False:
        gap_kind = "not_helped"
    else:
        return None
    text = str(data.get("text") or "").strip()
    if not text:
        return None
    return Question(conversation_id=conversation_id, at=at, language=str(data.get("language") or ""), text=text,
                    kind=gap_kind, article_id=str(data.get("article_id") or ""),
                    category=str(data.get("category") or ""), embedding=str(data.get("embedding") or ""))


def decode(text: str) -> Any:
    """The unit vector of a signal's embedding (base64 float16, ``bot.kb.encoder.encode_vector``), or None."""
    import numpy as np  # noqa: PLC0415 (the service imports numpy only for this page)

    from bot.kb.encoder import decode_vector  # noqa: PLC0415

    vector = decode_vector(text, DIM)
    if vector is None:
        return None
    norm = float(np.linalg.norm(vector))
    return vector.astype(np.float64) / norm if norm > 0 else None


@lru_cache(maxsize=1)
def reference() -> dict[str, Any]:
    """Per language, the average vector of its customer questions (see the module docstring)."""
    import numpy as np  # noqa: PLC0415

    data = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return {lang: np.asarray(mean, dtype=np.float64) for lang, mean in data["mean"].items()}


def centred(vector: Any, language: str, means: Mapping[str, Any] | None = None) -> Any:
    """``vector`` minus its language's average (the average of all languages for another), normalised."""
    import numpy as np  # noqa: PLC0415

    means = reference() if means is None else means
    mean = means.get(language)
    if mean is None:
        mean = np.mean(list(means.values()), axis=0)
    shifted = vector - mean
    norm = float(np.linalg.norm(shifted))
    return shifted / norm if norm > 0 else vector


def cluster_labels(vectors: Sequence[Any], similarity: float = GROUP_SIMILARITY) -> list[int]:
    """Average-linkage groups of unit vectors, cut where the average cosine similarity falls below
    ``similarity``; a label per vector."""
    if not vectors:
        return []
    if len(vectors) == 1:
        return [0]
    import numpy as np  # noqa: PLC0415
    from scipy.cluster.hierarchy import fcluster, linkage  # noqa: PLC0415

    matrix = np.vstack(vectors).astype(np.float64)
    tree = linkage(matrix, method="average", metric="cosine")
    return [int(label) for label in fcluster(tree, t=1.0 - similarity, criterion="distance")]


def _normalised(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text.casefold()).strip()


def group(questions: Sequence[Question], similarity: float = GROUP_SIMILARITY) -> list[Gap]:
    """The questions grouped by meaning, largest groups (by distinct conversations) first."""
    recent = sorted(questions, key=lambda q: q.at)[-MAX_QUESTIONS:]
    embedded: list[tuple[Question, Any]] = []
    plain: list[tuple[Question, Any]] = []
    for q in recent:
        vector = decode(q.embedding) if q.embedding else None
        (embedded if vector is not None else plain).append((q, None if vector is None else centred(vector, q.language)))
    groups: dict[str, list[Question]] = {}
    for (q, _v), label in zip(embedded, cluster_labels([v for _q, v in embedded], similarity)):
        groups.setdefault(f"e{label}", []).append(q)
    for q, _v in plain:
        groups.setdefault(f"t{_normalised(q.text)}", []).append(q)
    gaps = [Gap(items) for items in groups.values()]
    return sorted(gaps, key=lambda g: (-g.conversations, -max(q.at for q in g.questions)))


def attach_outcomes(gaps: Iterable[Gap], tickets: Mapping[str, str], drafts: Mapping[str, list[dict[str, str]]]) -> None:
    """Each gap gets the tickets its conversations became (``tickets``: conversation -> reference) and the
    drafts proposed when those tickets were resolved (``drafts``: reference -> drafts)."""
    for gap in gaps:
        refs = sorted({tickets[q.conversation_id] for q in gap.questions if q.conversation_id in tickets})
        gap.tickets = refs
        gap.drafts = [d for ref in refs for d in drafts.get(ref, [])]


async def report(store: Any, now: float, since: str, timezone: str = "UTC") -> dict[str, Any]:
    """The gaps of a period (``since``: 24h, 7d, 30d ... as the analytics read it) from the handoff service's
    store (``handoff.store.Store``): the questions grouped by meaning, with the tickets they became and the
    articles agents proposed when resolving those tickets (drafts of no gap's tickets are listed apart)."""
    import asyncio  # noqa: PLC0415

    from handoff.analytics import parse_period  # noqa: PLC0415

    start = parse_period(since, now, timezone).start
    # a signal's own time decides (it may be stored up to an hour after it happened)
    questions = [q for signal in await store.signals_between(start, now + 3600)
                 if (q := question_of(signal.type, signal.conversation_id, signal.at, signal.data)) is not None
                 and start <= q.at <= now]
    found = await asyncio.to_thread(group, questions)  # numeric work off the event loop
    tickets = await store.conversation_refs(sorted({q.conversation_id for q in questions}))
    drafts: dict[str, list[dict[str, str]]] = {}
    async for batch in store.event_batches(start):
        for event in batch:
            if event.type == "kb_draft_proposed" and event.ref and event.at >= start:
                drafts.setdefault(event.ref, []).append(
                    {"reference": event.ref, "path": str(event.data.get("path") or ""),
                     "title": str(event.data.get("title") or ""), "lang": str(event.data.get("lang") or ""),
                     "by": str(event.data.get("by") or "")})
    attach_outcomes(found, tickets, drafts)
    matched = {d["path"] for gap in found for d in gap.drafts}
    return {"since": start, "until": now, "questions": len(questions),
            "conversations": len({q.conversation_id for q in questions}),
            "gaps": [gap.to_json() for gap in found[:MAX_GAPS]],
            "other_drafts": [d for items in drafts.values() for d in items if d["path"] not in matched]}
