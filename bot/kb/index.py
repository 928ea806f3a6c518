"""The per-language search index: sparse TF-IDF vectors over questions, titles, tags and bodies.

An article's raw score for a query combines
- its nearest question (max cosine over the article's questions, the strongest signal),
- its centroid (mean of its question vectors plus title, tags and summary), and
- its body (lemmas only, a weak signal for queries the questions do not cover).
Feature groups (lemmas, lemma bigrams, char n-grams) are normalised separately and weighted, so the
many char n-grams do not drown the words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from bot.kb.analysis import Analyzer, AnalyzerConfig, analyzer_for, fold
from bot.kb.article import Article, strip_markdown

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

GROUPS = ("w", "b", "c")
_GROUP_INDEX = {g: i for i, g in enumerate(GROUPS)}


@dataclass(frozen=True)
class IndexConfig:
    """Weights of the scoring model (tuned with ``frontdoor kb eval``)."""

    word_weight: float = 1.0
    bigram_weight: float = 0.35
    char_weight: float = 1.0
    question_weight: float = 0.55  # nearest question
    second_weight: float = 0.15  # second-nearest question of the same article (consistency)
    centroid_weight: float = 0.25
    body_weight: float = 0.05
    body_max_chars: int = 1500
    class_idf: bool = True  # document frequency counted per article instead of per question
    analyzer: AnalyzerConfig = AnalyzerConfig()


@dataclass(frozen=True)
class QueryVector:
    indices: IntArray
    values: FloatArray
    terms: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return len(self.indices) == 0


def _article_text(art: Article) -> str:
    parts = [art.title, " ".join(art.tags), art.summary, " ".join(art.products), " ".join(art.error_codes)]
    return " . ".join(p for p in parts if p)


class LanguageIndex:
    """All served articles of one language. Immutable once built; rebuilt on reload."""

    def __init__(self, lang: str, articles: Sequence[Article], config: IndexConfig | None = None) -> None:
        self.lang = lang
        self.config = cfg = config or IndexConfig()
        self.articles: tuple[Article, ...] = tuple(articles)
        self.analyzer: Analyzer = analyzer_for(lang, cfg.analyzer)
        self.position = {a.id: i for i, a in enumerate(self.articles)}
        n_art = len(self.articles)

        q_texts: list[str] = []
        q_owner: list[int] = []
        q_is_title: list[bool] = []
        for i, art in enumerate(self.articles):
            for j, q in enumerate(dict.fromkeys((art.title, *art.questions))):
                q_texts.append(q)
                q_owner.append(i)
                q_is_title.append(j == 0)
        self.q_is_title = np.asarray(q_is_title, dtype=bool)
        meta_texts = [_article_text(a) for a in self.articles]
        body_texts = [strip_markdown(a.body)[: cfg.body_max_chars] for a in self.articles]
        an = self.analyzer
        q_feats = [a.features for a in an.analyze_many(q_texts)]
        meta_feats = [a.features for a in an.analyze_many(meta_texts)]
        body_feats = [tuple(f for f in a.features if f[0] == "w") for a in an.analyze_many(body_texts)]

        vocab: dict[str, int] = {}
        for feats in (*q_feats, *meta_feats, *body_feats):
            for f in feats:
                if f not in vocab:
                    vocab[f] = len(vocab)
        self.vocab = vocab
        n_feat = max(len(vocab), 1)
        self.group_of: IntArray = np.zeros(n_feat, dtype=np.int64)
        for f, j in vocab.items():
            self.group_of[j] = GROUPS.index(f[0])
        self.group_weight: FloatArray = np.sqrt(
            np.array([cfg.word_weight, cfg.bigram_weight, cfg.char_weight], dtype=np.float64)
        )

        q_counts = self._count_matrix(q_feats, n_feat)
        meta_counts = self._count_matrix(meta_feats, n_feat)
        body_counts = self._count_matrix(body_feats, n_feat)
        # document frequency over questions and article metadata (bodies only add unseen words)
        if cfg.class_idf:
            owner0 = sp.csr_matrix((np.ones(len(q_owner)), (q_owner, np.arange(len(q_owner)))),
                                   shape=(n_art, len(q_owner)))
            per_art = (owner0 @ (q_counts > 0).astype(np.float64)) + (meta_counts > 0)
            df = np.asarray((per_art > 0).sum(axis=0)).ravel()
            n_docs = n_art
        else:
            df = (np.asarray((q_counts > 0).sum(axis=0)).ravel()
                  + np.asarray((meta_counts > 0).sum(axis=0)).ravel())
            n_docs = q_counts.shape[0] + meta_counts.shape[0]
        body_df = np.asarray((body_counts > 0).sum(axis=0)).ravel()
        df = np.where(df > 0, df, body_df)
        self.idf: FloatArray = np.log((n_docs + 1.0) / (df + 1.0)) + 1.0
        self.max_idf = float(np.log(n_docs + 1.0) + 1.0)

        self.q_owner: IntArray = np.asarray(q_owner, dtype=np.int64)
        self.q_matrix = self._weight(q_counts)  # rows: questions
        self.q_matrix_t = self.q_matrix.T.tocsr()  # rows: features, for fast query slicing
        meta = self._weight(meta_counts)
        # centroid: mean of an article's question vectors + its metadata vector, re-normalised
        owner = sp.csr_matrix(
            (np.ones(len(q_owner)), (self.q_owner, np.arange(len(q_owner)))), shape=(n_art, len(q_owner))
        )
        centroid = (owner @ self.q_matrix + meta).tocsr()
        self.centroid_t = _l2_rows(centroid).T.tocsr()
        self.body_t = self._weight(body_counts).T.tocsr()
        self.q_starts: IntArray = np.searchsorted(self.q_owner, np.arange(n_art)).astype(np.int64)
        self.has_questions = n_art > 0 and len(q_owner) > 0
        self._sentences: list[tuple[tuple[str, frozenset[str]], ...] | None] = [None] * n_art

    def snippet(self, position: int, terms: Sequence[str], limit: int) -> str:
        """The body sentence sharing most query terms (compared on 5-character prefixes)."""
        sentences = self._sentences[position]
        if sentences is None:  # computed on first use, once per article and index
            art = self.articles[position]
            text = strip_markdown(art.body)
            sentences = tuple(
                (s, frozenset(fold(w)[:5] for w in _WORD.findall(s)))
                for s in (x.strip() for x in _SENTENCE.split(text)) if s
            )
            self._sentences[position] = sentences
        if not sentences:
            return _truncate(self.articles[position].summary, limit)
        stems = {t[:5] for t in terms if len(t) > 2}
        best, best_score = sentences[0][0], 0
        for sentence, words in sentences:
            score = len(stems & words)
            if score > best_score:
                best, best_score = sentence, score
        return _truncate(best, limit)

    def _count_matrix(self, feature_lists: Sequence[Sequence[str]], n_feat: int) -> sp.csr_matrix:
        return _counts(feature_lists, self.vocab, n_feat)

    def _weight(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Sublinear TF x IDF, each feature group L2-normalised and weighted, rows L2-normalised."""
        x = counts.tocsr(copy=True).astype(np.float64)
        x.data = 1.0 + np.log(x.data)
        x = x.multiply(self.idf[np.newaxis, :]).tocsr()
        x.sort_indices()
        rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        groups = self.group_of[x.indices]
        sq = np.zeros((x.shape[0], len(GROUPS)))
        np.add.at(sq, (rows, groups), x.data**2)
        norms = np.sqrt(sq)
        norms[norms == 0] = 1.0
        x.data = x.data / norms[rows, groups] * self.group_weight[groups]
        return _l2_rows(x)

    def vectorize(self, text: str) -> QueryVector:
        analysis = self.analyzer.analyze(text)
        counts = Counter(analysis.features)
        known = [(self.vocab[f], c) for f, c in counts.items() if f in self.vocab]
        if not known:
            return QueryVector(np.zeros(0, np.int64), np.zeros(0), analysis.terms)
        idx = np.fromiter((j for j, _ in known), dtype=np.int64, count=len(known))
        tf = 1.0 + np.log(np.fromiter((c for _, c in known), dtype=np.float64, count=len(known)))
        vals = tf * self.idf[idx]
        groups = self.group_of[idx]
        # per-group norm of the *whole* query: unknown features count with the maximum idf, so a
        # query made mostly of unknown words cannot look like a perfect match
        sq = np.zeros(len(GROUPS))
        np.add.at(sq, groups, vals**2)
        for f, c in counts.items():
            if f not in self.vocab:
                sq[_GROUP_INDEX[f[0]]] += ((1.0 + math.log(c)) * self.max_idf) ** 2
        present = sq > 0
        norms = np.sqrt(sq)
        norms[~present] = 1.0
        vals = vals / norms[groups] * self.group_weight[groups]
        total = float(np.sqrt(np.sum(self.group_weight[present] ** 2)))
        return QueryVector(idx, vals / (total or 1.0), analysis.terms)

    def raw_scores(self, qv: QueryVector, exclude_row: int | None = None) -> FloatArray:
        """One raw similarity (about 0..1) per article, in ``self.articles`` order.
        ``exclude_row`` leaves one question out (for self-calibration)."""
        n_art = len(self.articles)
        if qv.empty or not self.has_questions:
            return np.zeros(n_art)
        cfg = self.config
        q_sims = _gather(self.q_matrix_t, qv.indices, qv.values, len(self.q_owner))
        if exclude_row is not None:
            q_sims[exclude_row] = 0.0
        best = np.maximum.reduceat(q_sims, self.q_starts) if len(q_sims) else np.zeros(n_art)
        score = cfg.question_weight * best
        if cfg.second_weight:
            # second-best question per article (ties with the best count as the best)
            masked = np.where(q_sims >= best[self.q_owner], -1.0, q_sims)
            second = np.maximum(np.maximum.reduceat(masked, self.q_starts), 0.0)
            score += cfg.second_weight * second
        if cfg.centroid_weight:
            score += cfg.centroid_weight * _gather(self.centroid_t, qv.indices, qv.values, n_art)
        if cfg.body_weight:
            score += cfg.body_weight * _gather(self.body_t, qv.indices, qv.values, n_art)
        total = cfg.question_weight + cfg.second_weight + cfg.centroid_weight + cfg.body_weight
        result: FloatArray = score / total
        return result


    def calibration_samples(self, max_samples: int = 400, seed: int = 0) -> tuple[FloatArray, FloatArray]:
        """Leave-one-out raw scores over the articles' own questions: (score of the right article,
        score of the best wrong article). Used to fit the raw-score -> confidence mapping."""
        rows = np.flatnonzero(~self.q_is_title)
        if len(self.articles) < 2 or len(rows) == 0:
            return np.zeros(0), np.zeros(0)
        if len(rows) > max_samples:
            rows = np.sort(np.random.default_rng(seed).choice(rows, max_samples, replace=False))
        pos, neg = [], []
        m = self.q_matrix
        for r in rows:
            lo, hi = m.indptr[r], m.indptr[r + 1]
            qv = QueryVector(m.indices[lo:hi].astype(np.int64), m.data[lo:hi], ())
            scores = self.raw_scores(qv, exclude_row=int(r))
            own = int(self.q_owner[r])
            pos.append(scores[own])
            scores[own] = -1.0
            neg.append(scores.max())
        return np.asarray(pos), np.asarray(neg)


def fit_logistic(pos: FloatArray, neg: FloatArray, l2: float = 1e-3, iterations: int = 25,
                 min_samples: int = 40) -> tuple[float, float] | None:
    """1-D logistic regression p(correct | raw) = sigmoid(slope * (raw - center)) by Newton's method.
    Returns (center, slope), or None with too little data."""
    if len(pos) < min_samples or len(neg) < min_samples:
        return None
    x = np.concatenate([pos, neg])
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    w = np.zeros(2)  # intercept, slope
    X = np.column_stack([np.ones_like(x), x])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(X @ w)))
        grad = X.T @ (p - y) + l2 * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + l2 * np.eye(2)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return None
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    b, a = float(w[0]), float(w[1])
    if a <= 1e-6 or not np.isfinite(a) or not np.isfinite(b):
        return None
    return -b / a, a


def _counts(feature_lists: Sequence[Sequence[str]], vocab: dict[str, int], n_feat: int) -> sp.csr_matrix:
    indptr = [0]
    indices: list[int] = []
    for feats in feature_lists:
        indices.extend(vocab[f] for f in feats if f in vocab)
        indptr.append(len(indices))
    data = np.ones(len(indices))
    m = sp.csr_matrix((data, np.asarray(indices, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
                      shape=(len(feature_lists), n_feat))
    m.sum_duplicates()
    return m


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"\w+")


def _truncate(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _gather(mt: sp.csr_matrix, idx: IntArray, vals: FloatArray, n: int) -> FloatArray:
    """``vals @ mt[idx]`` as a dense vector of length n, without scipy's slow fancy indexing."""
    indptr = mt.indptr
    starts = indptr[idx]
    lens = indptr[idx + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(n)
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
    pos = offsets + np.arange(total)
    weights = mt.data[pos] * np.repeat(vals, lens)
    out: FloatArray = np.bincount(mt.indices[pos], weights=weights, minlength=n).astype(np.float64)
    return out


def _l2_rows(x: sp.csr_matrix) -> sp.csr_matrix:
    x = x.tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    out: sp.csr_matrix = sp.diags(1.0 / norms) @ x
    return out.tocsr()
