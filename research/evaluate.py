"""Measuring the real search engine: the project's own regression cases (``tests/kb_cases/*.jsonl``)
and the intent-dataset protocol of ``shared/eval/README.md`` (one article per label, K questions each).
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bot.kb.article import Article
from bot.kb.encoder import Encoder
from bot.kb.search import KnowledgeBase, SearchConfig, SearchResult


@dataclass(frozen=True)
class Case:
    text: str
    lang: str
    expected: str | None  # article id (or dataset label); None = out of scope


@dataclass(frozen=True)
class Outcome:
    case: Case
    ranked: tuple[str, ...]  # article ids, best first
    top_score: float
    second_score: float
    latency_ms: float
    out_of_scope: bool = False  # closer to the out-of-scope examples: abstained whatever the threshold

    def abstained(self, threshold: float) -> bool:
        return self.out_of_scope or self.top_score < threshold


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def cases_from_rows(rows: Iterable[dict[str, Any]], key: str = "expected", lang: str = "en") -> list[Case]:
    """Cases from JSONL rows; with ``key="label"`` (datasets) labels become article ids via :func:`slug`."""
    out: list[Case] = []
    for r in rows:
        exp = r.get(key)
        if exp is not None and key == "label":
            exp = slug(str(exp))
        out.append(Case(str(r["text"]), str(r.get("lang") or lang), None if exp is None else str(exp)))
    return out


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "x"


def articles_from_dataset(rows: Sequence[dict[str, Any]], shots: int, seed: int, lang: str = "en"
                          ) -> list[Article]:
    """One article per label; its questions are ``shots`` training rows (all when 0) sampled by seed."""
    by_label: dict[str, list[str]] = defaultdict(list)
    row_lang: dict[str, str] = {}
    for r in rows:
        if r.get("label") is None:
            continue
        by_label[str(r["label"])].append(str(r["text"]))
        row_lang.setdefault(str(r["label"]), str(r.get("lang") or lang))
    rng = random.Random(seed)
    articles: list[Article] = []
    for label in sorted(by_label):
        texts = by_label[label]
        picked = texts if shots <= 0 or shots >= len(texts) else rng.sample(texts, shots)
        title = label.replace("_", " ")
        articles.append(Article(
            id=slug(label), lang=row_lang[label], title=title, category="general", questions=tuple(picked),
            body=title, path=Path(f"{label}.md"),
        ))
    return articles


def run_cases(kb: KnowledgeBase, cases: Sequence[Case], k: int = 3) -> list[Outcome]:
    out: list[Outcome] = []
    for case in cases:
        t0 = time.perf_counter()
        res: SearchResult = kb.search(case.text, case.lang, k=k)
        ms = (time.perf_counter() - t0) * 1000.0
        scores = [h.score for h in res.hits]
        out.append(Outcome(case, tuple(h.article.id for h in res.hits), scores[0] if scores else 0.0,
                           scores[1] if len(scores) > 1 else 0.0, ms, res.out_of_scope))
    return out


@dataclass(frozen=True)
class Metrics:
    n_in: int
    n_oos: int
    top1: float  # in-scope: right article first and not abstained
    top3: float  # in-scope: right article among the first 3 and not abstained
    oos_recall: float
    oos_precision: float

    def as_dict(self) -> dict[str, float | int]:
        return {"n_in_scope": self.n_in, "n_oos": self.n_oos, "in_scope_accuracy": round(self.top1, 4),
                "top3_accuracy": round(self.top3, 4), "oos_recall": round(self.oos_recall, 4),
                "oos_precision": round(self.oos_precision, 4)}


def metrics(outcomes: Sequence[Outcome], threshold: float) -> Metrics:
    n_in = n_oos = top1 = top3 = oos_abst = abst = 0
    for o in outcomes:
        abstained = o.abstained(threshold)
        abst += abstained
        if o.case.expected is None:
            n_oos += 1
            oos_abst += abstained
            continue
        n_in += 1
        exp = o.case.expected
        if not abstained:
            top1 += bool(o.ranked) and o.ranked[0] == exp
            top3 += exp in o.ranked[:3]
    return Metrics(n_in, n_oos, top1 / max(n_in, 1), top3 / max(n_in, 1), oos_abst / max(n_oos, 1),
                   oos_abst / abst if abst else 1.0)


def required_recall(target: float, n: int, confidence: float | None) -> float:
    """The OOS recall to ask of ``n`` validation queries so that the true recall is at least ``target``
    with ``confidence`` (one-sided Wilson lower bound; None: the target itself). With 100 out-of-scope
    queries, 80 % at 95 % confidence needs 87 of them."""
    if confidence is None or n == 0:
        return target
    from statistics import NormalDist

    z = NormalDist().inv_cdf(confidence)
    for k in range(n + 1):
        p = k / n
        bound = (p + z * z / (2 * n) - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)
        if bound >= target:
            return k / n
    return 1.0


def choose_threshold(outcomes: Sequence[Outcome], min_oos_recall: float | None = 0.8,
                     per_language: bool = False, confidence: float | None = None) -> float:
    """Threshold chosen on validation data: the highest in-scope accuracy among thresholds whose OOS
    recall is at least ``min_oos_recall`` (the issue's operating point; with ``per_language`` in every
    language of the outcomes; with ``confidence``, the recall that proves the target on this many
    out-of-scope queries, see :func:`required_recall`); when no threshold reaches it, or with ``None``,
    the one maximising the mean of in-scope accuracy and OOS recall."""
    scores = sorted({round(o.top_score, 4) for o in outcomes})
    candidates = [0.0, *[s + 1e-4 for s in scores]]  # "abstain below t": just above a seen score
    groups: list[Sequence[Outcome]] = [outcomes]
    if per_language:
        groups = [g for g in by_language(outcomes).values() if any(o.case.expected is None for o in g)]
    best_t, best_v = 0.5, -1.0
    best_c, best_cv = None, -1.0
    for t in candidates:
        m = metrics(outcomes, t)
        value = (m.top1 + m.oos_recall) / 2 if m.n_oos else m.top1
        if value > best_v:
            best_t, best_v = t, value
        if min_oos_recall is None or not m.n_oos or m.top1 <= best_cv:
            continue
        if all(metrics(g, t).oos_recall >= required_recall(min_oos_recall, metrics(g, t).n_oos, confidence)
               for g in groups):
            best_c, best_cv = t, m.top1
    return best_c if best_c is not None else best_t


def latency(outcomes: Sequence[Outcome]) -> dict[str, float]:
    ms = np.array([o.latency_ms for o in outcomes]) if outcomes else np.zeros(1)
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3)}


def evaluate_dataset(
    train: Path, test: Path, val: Path | None = None, shots: int = 0, seed: int = 0,
    config: SearchConfig | None = None, min_oos_recall: float | None = 0.8, oos_examples: bool = False,
    encoder: Encoder | None = None, embedding_cache: Path | None = None, oos_confidence: float | None = None,
) -> dict[str, Any]:
    """The intent-dataset protocol: returns the JSON-able report. With ``oos_examples`` the training
    file's out-of-scope rows become the knowledge base's out-of-scope examples (what a content editor
    writes into ``out_of_scope.yml``); they are never articles. ``encoder``: sentence embeddings for the
    dense half of the index (the articles' questions through ``embedding_cache`` when given). Queries
    are asked in their row's language: train on one language's file and test on another's to measure
    cross-lingual answers."""
    train_rows = read_jsonl(train)
    articles = articles_from_dataset(train_rows, shots, seed)
    oos: dict[str, list[str]] = defaultdict(list)
    if oos_examples:
        for r in train_rows:
            if r.get("label") is None:
                oos[str(r.get("lang") or "en")].append(str(r["text"]))
    config = config or SearchConfig()
    t0 = time.perf_counter()
    kb = KnowledgeBase(articles, config=config, out_of_scope=oos, encoder=encoder, embedding_cache=embedding_cache)
    kb.wait_trained()  # large KBs train their linear model in the background: measure the full model
    build_s = time.perf_counter() - t0
    threshold = config.threshold
    chosen_on = "engine default"
    if val is not None:
        val_out = run_cases(kb, cases_from_rows(read_jsonl(val), key="label"))
        threshold = choose_threshold(val_out, min_oos_recall, confidence=oos_confidence)
        rule = (f"max in-scope accuracy with OOS recall >= {min_oos_recall}" if min_oos_recall is not None
                else "max mean of in-scope accuracy and OOS recall")
        if oos_confidence is not None and min_oos_recall is not None:
            rule += f" at {oos_confidence:.0%} confidence (val OOS recall >= " \
                    f"{required_recall(min_oos_recall, metrics(val_out, 0).n_oos, oos_confidence):.2f})"
        chosen_on = f"{val} ({rule})"
        kb.config = replace(config, threshold=threshold)
    test_out = run_cases(kb, cases_from_rows(read_jsonl(test), key="label"))
    m = metrics(test_out, threshold)
    return {
        "train": str(train), "test": str(test), "shots": shots, "seed": seed,
        "encoder": encoder.model_id if encoder is not None else None,
        "articles": len(articles), "questions": sum(len(a.questions) for a in articles),
        "oos_examples": sum(len(v) for v in oos.values()),
        **m.as_dict(), "threshold": round(threshold, 4), "threshold_chosen_on": chosen_on,
        "index_build_s": round(build_s, 3), "latency": latency(test_out),
    }


def by_language(outcomes: Iterable[Outcome]) -> dict[str, list[Outcome]]:
    """Outcomes grouped by the case's language, languages sorted."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.case.lang].append(o)
    return dict(sorted(groups.items()))


def _own_outcomes(kb: KnowledgeBase, cases_dir: Path) -> list[Outcome]:
    """Every own case (``cases_dir/*.jsonl``) asked of ``kb`` with its full model."""
    kb.wait_trained()  # measure the full model (a large KB trains its linear model in the background)
    cases: list[Case] = []
    for path in sorted(cases_dir.glob("*.jsonl")):
        cases.extend(cases_from_rows(read_jsonl(path)))
    return run_cases(kb, cases)


def evaluate_cases(kb: KnowledgeBase, cases_dir: Path) -> dict[str, Any]:
    """Own regression cases, per language: top-1, top-3, OOS recall."""
    outcomes = _own_outcomes(kb, cases_dir)
    report: dict[str, Any] = {"cases": len(outcomes), "threshold": kb.config.threshold, "languages": {
        lang: metrics(sub, kb.config.threshold).as_dict() for lang, sub in by_language(outcomes).items()}}
    report["all"] = metrics(outcomes, kb.config.threshold).as_dict()
    report["latency"] = latency(outcomes)
    report["failures"] = [
        {"text": o.case.text, "lang": o.case.lang, "expected": o.case.expected, "got": list(o.ranked[:3]),
         "score": round(o.top_score, 3)}
        for o in outcomes
        if (o.case.expected is None) != o.abstained(kb.config.threshold)
        or (o.case.expected is not None and o.ranked[:1] != (o.case.expected,))
    ]
    return report


def evaluate_cases_split(kb: KnowledgeBase, cases_dir: Path, min_oos_recall: float | None = 0.85,
                         per_language: bool = False, random_splits: int = 0) -> dict[str, Any]:
    """An honest threshold for the own cases: split each language's cases in two halves, choose the
    threshold on one half (:func:`choose_threshold`; the OOS-recall rule pooled over the languages, or
    in each language with ``per_language``), report on the other, and the other way round.

    ``folds``: the halves are alternate lines. ``random_halves`` (with ``random_splits`` > 0): as many
    random halves (stratified by language and in/out of scope, seeds 0..n-1), both ways round; per
    language the mean held-out figures and the share of held-out halves meeting the issue's targets."""
    outcomes = _own_outcomes(kb, cases_dir)
    position: dict[str, int] = defaultdict(int)
    halves: tuple[list[Outcome], list[Outcome]] = ([], [])
    for o in outcomes:
        halves[position[o.case.lang] % 2].append(o)
        position[o.case.lang] += 1
    report: dict[str, Any] = {"min_oos_recall": min_oos_recall, "per_language": per_language, "folds": []}
    for tune, held in ((0, 1), (1, 0)):
        threshold = choose_threshold(halves[tune], min_oos_recall, per_language)
        fold: dict[str, Any] = {"tuned_on": f"half {tune}", "threshold": round(threshold, 4),
                                "tuning_half": metrics(halves[tune], threshold).as_dict(), "held_out": {}}
        for lang, sub in by_language(halves[held]).items():
            fold["held_out"][lang] = metrics(sub, threshold).as_dict()
        fold["held_out"]["all"] = metrics(halves[held], threshold).as_dict()
        report["folds"].append(fold)
    if random_splits > 0:
        report["random_halves"] = _random_halves(outcomes, min_oos_recall, per_language, random_splits)
    return report


def _random_halves(outcomes: Sequence[Outcome], min_oos_recall: float | None, per_language: bool, n: int
                   ) -> dict[str, Any]:
    per_lang = by_language(outcomes)
    held: dict[str, list[Metrics]] = {lang: [] for lang in (*per_lang, "all")}
    thresholds: list[float] = []
    for seed in range(n):
        rng = random.Random(seed)
        a: list[Outcome] = []
        b: list[Outcome] = []
        for sub in per_lang.values():
            for in_scope in (True, False):
                group = [o for o in sub if (o.case.expected is not None) == in_scope]
                rng.shuffle(group)
                a.extend(group[0::2])
                b.extend(group[1::2])
        for tune, test in ((a, b), (b, a)):
            t = choose_threshold(tune, min_oos_recall, per_language)
            thresholds.append(t)
            for lang, sub in by_language(test).items():
                held[lang].append(metrics(sub, t))
            held["all"].append(metrics(test, t))
    out: dict[str, Any] = {"splits": n, "held_out_halves": 2 * n,
                           "threshold_median": round(float(np.median(thresholds)), 4),
                           "threshold_range": [round(min(thresholds), 4), round(max(thresholds), 4)]}
    for key, ms in held.items():
        out[key] = {
            "mean_in_scope_accuracy": round(float(np.mean([m.top1 for m in ms])), 4),
            "mean_top3_accuracy": round(float(np.mean([m.top3 for m in ms])), 4),
            "mean_oos_recall": round(float(np.mean([m.oos_recall for m in ms])), 4),
            "share_meeting_targets": round(float(np.mean(
                [m.top1 >= 0.95 and m.top3 >= 0.99 and m.oos_recall >= 0.90 for m in ms])), 4),
        }
    return out
