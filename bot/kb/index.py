"""The per-language search index: sparse TF-IDF vectors over questions, titles, tags and bodies, and
(with an encoder) sentence embeddings of the questions.

An article's lexical score for a query combines
- its nearest question (max cosine over the article's questions, the strongest signal),
- its centroid (mean of its question vectors plus title, tags and summary), and
- its body (lemmas only, a weak signal for queries the questions do not cover),
then a kernel ridge and a linear SVM over the same features. Feature groups (lemmas, lemma bigrams, char
n-grams) are normalised separately and weighted, so the many char n-grams do not drown the words. With
sentence embeddings (``bot.kb.dense``) the raw score blends the lexical score with the dense one, which
carries meaning that shares no words with the questions (paraphrases, other languages).
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

from bot.kb.analysis import GROUP_INDEX, GROUPS, Analyzer, AnalyzerConfig, analyzer_for, fold
from bot.kb.article import OUT_OF_SCOPE_ID, Article, strip_markdown
from bot.kb.dense import DenseConfig, DenseIndex
from bot.kb.encoder import Encoder, Matrix

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]



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
    # kernel ridge regression over the questions (kernel = cosine ** power), a light discriminative
    # model: raw = (1 - ridge_weight) * similarity score + ridge_weight * ridge score.
    # Trained in closed form at build time, only up to ridge_max_questions (O(n^3)).
    ridge_weight: float = 0.5
    ridge_power: int = 1
    ridge_lambda: float = 1.0
    ridge_max_questions: int = 2500
    # one-vs-rest linear SVM over the same features (a discriminative model that scales to many
    # questions per article): raw = (1 - linear_weight) * raw + linear_weight * sigmoid(scale * decision).
    # (ridge_weight, linear_weight, linear_scale chosen on the CLINC150 *validation* set, 10-shot seeds
    # 0 and 2 and the full data: in-scope accuracy at 80 % OOS recall; docs/benchmarks.md)
    # Trained at build time only when questions x articles <= linear_max_cells (build time: the
    # full CLINC150 training set, 15,000 x 150, takes about 8 s; a 1,000-article KB would take longer)
    linear_weight: float = 0.85
    linear_scale: float = 2.0
    linear_c: float = 1.0
    linear_max_cells: int = 3_000_000
    linear_min_questions: int = 100  # fewer: too little data, it overfits (similarity + ridge only)
    # synthetic negatives for the linear model: "word salads" (shuffled words of random questions of
    # different articles) as an extra class, so that words shared by many articles score lower
    # (2 per question, at most this many; fixed seed, so reloads re-use the cached analyses)
    linear_salads: int = 3000
    # above this much work ((questions + salads) x articles) a reload does not wait for the linear
    # model: the index serves without it at once and KnowledgeBase trains it in a background thread
    # (a 200-article KB would otherwise take about 2.5 s to reload, the full CLINC150 set 18 s)
    linear_sync_cells: int = 150_000
    # with sentence embeddings: raw = (1 - dense_weight) * lexical + dense_weight * dense (chosen with the
    # dense weights on the own cases' random halves, docs/benchmarks.md "Knowledge base")
    dense_weight: float = 0.3
    # a word counts as an out-of-scope word when no title, tag or body uses it and at most this many
    # article questions do (and the out-of-scope examples three times as often)
    oos_word_max_questions: int = 1
    dense: DenseConfig = DenseConfig()
    analyzer: AnalyzerConfig = AnalyzerConfig()


@dataclass(frozen=True)
class QueryVector:
    indices: IntArray
    values: FloatArray
    terms: tuple[str, ...]
    unknown_terms: int = 0  # content words this index has never seen (brands, other products...)
    oos_only_terms: int = 0  # words only the out-of-scope examples use

    @property
    def empty(self) -> bool:
        return len(self.indices) == 0


def _article_text(art: Article) -> str:
    parts = [art.title, " ".join(art.tags), art.summary, " ".join(art.products), " ".join(art.error_codes)]
    return " . ".join(p for p in parts if p)


class LanguageIndex:
    """All served articles of one language. Immutable once built; rebuilt on reload."""

    def __init__(self, lang: str, articles: Sequence[Article], config: IndexConfig | None = None,
                 *, train_linear: bool = True, encoder: Encoder | None = None) -> None:
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
            for j, q in enumerate(dict.fromkeys((art.title, *art.questions) if art.title else art.questions)):
                q_texts.append(q)
                q_owner.append(i)
                q_is_title.append(j == 0 and bool(art.title))
        # the out-of-scope examples, when given, are one more "article" (last): never an answer, but
        # the search abstains when it ranks first, and calibration uses them as negatives
        self.oos_position: int | None = self.position.get(OUT_OF_SCOPE_ID)
        self.q_is_title = np.asarray(q_is_title, dtype=bool)
        meta_texts = [_article_text(a) for a in self.articles]
        body_texts = [strip_markdown(a.body)[: cfg.body_max_chars] for a in self.articles]
        an = self.analyzer
        q_ids = an.feature_ids(q_texts)
        meta_ids = an.feature_ids(meta_texts)
        body_ids = an.feature_ids(body_texts, words_only=True)
        self.vocab = an.vocab  # shared and growing: only ids < n_feat belong to this index
        self.n_feat = n_feat = max(len(an.groups), 1)
        self.group_of: IntArray = np.asarray(an.groups[:n_feat] or [0], dtype=np.int64)
        self.group_weight: FloatArray = np.sqrt(
            np.array([cfg.word_weight, cfg.bigram_weight, cfg.char_weight], dtype=np.float64)
        )

        q_counts = self._count_matrix(q_ids, n_feat)
        meta_counts = self._count_matrix(meta_ids, n_feat)
        body_counts = self._count_matrix(body_ids, n_feat)
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
        self.df: IntArray = np.asarray(df, dtype=np.int64)
        # words of the out-of-scope examples that the articles do not use, or barely: another company,
        # another product ("netflix" may appear in one article question as a comparison, it is still
        # another company's name when the out-of-scope examples use it three times as often)
        self.oos_only: frozenset[int] = frozenset()
        oos_pos = self.oos_position
        if oos_pos is not None:
            owner_arr = np.asarray(q_owner)
            in_oos = np.asarray((q_counts[owner_arr == oos_pos] > 0).sum(axis=0)).ravel()
            in_questions = np.asarray((q_counts[owner_arr != oos_pos] > 0).sum(axis=0)).ravel()
            in_articles = (np.asarray((meta_counts > 0).sum(axis=0)).ravel()
                           + np.asarray((body_counts > 0).sum(axis=0)).ravel())
            rare = (in_articles == 0) & ((in_questions == 0) | ((in_questions <= cfg.oos_word_max_questions)
                                                                & (in_oos >= 3 * in_questions)))
            words = np.asarray(self.group_of == GROUP_INDEX["w"])
            self.oos_only = frozenset(np.flatnonzero((in_oos > 0) & rare & words).tolist())
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
        centroid = sp.csr_matrix(owner @ self.q_matrix + meta)
        self.centroid_t = _l2_rows(centroid).T.tocsr()
        self.body_t = self._weight(body_counts).T.tocsr()
        # the three side by side, so that a query needs one sparse product instead of three
        self._all_t = sp.hstack([self.q_matrix_t, self.centroid_t, self.body_t], format="csr")
        self.q_starts: IntArray = np.searchsorted(self.q_owner, np.arange(n_art)).astype(np.int64)
        self.has_questions = n_art > 0 and len(q_owner) > 0
        self.ridge: FloatArray | None = None
        self._ridge_loo: FloatArray | None = None
        if cfg.ridge_weight > 0 and n_art >= 2 and 0 < len(q_owner) <= cfg.ridge_max_questions:
            self._fit_ridge()
        self.linear: tuple[FloatArray, FloatArray] | None = None  # (features x articles, intercepts)
        self._salads: sp.csr_matrix | None = None
        self.linear_pending = False  # a linear model is wanted but was left to a background rebuild
        if (cfg.linear_weight > 0 and n_art >= 2 and len(q_owner) >= cfg.linear_min_questions
                and len(q_owner) * n_art <= cfg.linear_max_cells):
            n_salads = min(cfg.linear_salads, 2 * len(q_owner))
            if train_linear or (len(q_owner) + n_salads) * n_art <= cfg.linear_sync_cells:
                self._salads = self._salad_matrix(q_texts, n_salads)
                self.linear = _fit_linear(self.q_matrix, self.q_owner, n_art, cfg.linear_c, self._salads)
            else:
                self.linear_pending = True
        self._sentences: list[tuple[tuple[str, frozenset[str]], ...] | None] = [None] * n_art
        # the dense half: built with the linear model (it trains a regression), from cached embeddings
        self.dense: DenseIndex | None = None
        self.dense_pending = False
        self._q_texts = q_texts
        if encoder is not None and cfg.dense_weight > 0 and self.has_questions:
            if train_linear or not self.linear_pending:
                self.dense = DenseIndex(encoder.encode(q_texts), self.q_owner, n_art, cfg.dense)
            else:
                self.dense_pending = True

    def _fit_ridge(self) -> None:
        cfg = self.config
        n = len(self.q_owner)
        kernel = (self.q_matrix @ self.q_matrix_t).toarray() ** cfg.ridge_power
        kernel[np.diag_indices(n)] += cfg.ridge_lambda
        try:
            g_inv = np.linalg.inv(kernel)
        except np.linalg.LinAlgError:
            return
        y = np.zeros((n, len(self.articles)))
        y[np.arange(n), self.q_owner] = 1.0
        self.ridge = g_inv @ y
        # closed-form leave-one-out predictions for the training questions (for calibration)
        self._ridge_loo = y - self.ridge / np.diag(g_inv)[:, np.newaxis]

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

    @staticmethod
    def _count_matrix(id_lists: Sequence[IntArray], n_feat: int) -> sp.csr_matrix:
        lens = np.fromiter((len(x) for x in id_lists), dtype=np.int64, count=len(id_lists))
        indptr = np.concatenate(([0], np.cumsum(lens))).astype(np.int64)
        indices = np.concatenate(id_lists) if id_lists else np.zeros(0, np.int64)
        m = sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(id_lists), n_feat))
        m.has_sorted_indices = True  # feature_ids are sorted per text: only merge the repeats
        m.sum_duplicates()
        return m

    def _weight(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Sublinear TF x IDF, each feature group L2-normalised and weighted, rows L2-normalised."""
        x = counts.tocsr(copy=True).astype(np.float64)
        x.data = (1.0 + np.log(x.data)) * self.idf[x.indices]
        n_groups = len(GROUPS)
        rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        groups = self.group_of[x.indices]
        cell = rows * n_groups + groups
        sq = np.bincount(cell, weights=x.data**2, minlength=x.shape[0] * n_groups)
        norms = np.sqrt(sq)
        norms[norms == 0] = 1.0
        x.data = x.data / norms[cell] * self.group_weight[groups]
        # rows: sqrt of the sum of the squared group weights present in the row
        present = (sq > 0).reshape(x.shape[0], n_groups)
        row_norm = np.sqrt(present @ (self.group_weight**2))
        row_norm[row_norm == 0] = 1.0
        x.data = x.data / row_norm[rows]
        return x

    def vectorize(self, text: str) -> QueryVector:
        analysis = self.analyzer.analyze(text)
        counts = Counter(analysis.features)
        vocab, n_feat = self.vocab, self.n_feat
        known = [(j, c) for f, c in counts.items() if (j := vocab.get(f, n_feat)) < n_feat]
        if not known:
            return QueryVector(np.zeros(0, np.int64), np.zeros(0), analysis.terms, len(analysis.terms))
        idx = np.fromiter((j for j, _ in known), dtype=np.int64, count=len(known))
        tf = 1.0 + np.log(np.fromiter((c for _, c in known), dtype=np.float64, count=len(known)))
        vals = tf * self.idf[idx]
        groups = self.group_of[idx]
        # per-group norm of the *whole* query: unknown features count with the maximum idf, so a
        # query made mostly of unknown words cannot look like a perfect match
        sq = np.zeros(len(GROUPS))
        np.add.at(sq, groups, vals**2)
        for f, c in counts.items():
            # unknown numbers (order, invoice, phone numbers) say nothing about the topic: only unknown
            # features without digits count against the match
            if vocab.get(f, n_feat) >= n_feat and not _DIGIT.search(f):
                sq[GROUP_INDEX[f[0]]] += ((1.0 + math.log(c)) * self.max_idf) ** 2
        present = sq > 0
        norms = np.sqrt(sq)
        norms[~present] = 1.0
        vals = vals / norms[groups] * self.group_weight[groups]
        total = float(np.sqrt(np.sum(self.group_weight[present] ** 2)))
        unknown = sum(1 for t in analysis.terms if not self.known_word(t))
        oos_only = sum(1 for j in idx.tolist() if j in self.oos_only) if self.oos_only else 0
        return QueryVector(idx, vals / (total or 1.0), analysis.terms, unknown, oos_only)

    def known_word(self, lemma: str) -> bool:
        j = self.vocab.get("w:" + lemma, self.n_feat)
        return j < self.n_feat and bool(self.df[j] > 0)

    def raw_scores(self, qv: QueryVector, vector: Matrix | None = None, *, dense_only: bool = False
                   ) -> FloatArray:
        """One raw similarity (about 0..1) per article, in ``self.articles`` order. ``vector``: the query's
        sentence embedding (needed when the index has a dense half); ``dense_only``: the dense score alone,
        for a query in another language than the index's."""
        n_art = len(self.articles)
        dense = None
        if self.dense is not None:
            if vector is None:
                raise ValueError("this index needs the query's sentence embedding")
            dense = self.dense.scores(np.asarray(vector, dtype=np.float32).reshape(1, -1))
            if dense_only:
                out: FloatArray = dense[0]
                return out
        if qv.empty or not self.has_questions:
            return np.zeros(n_art) if dense is None else self.config.dense_weight * dense[0]
        cfg = self.config
        n_q = len(self.q_owner)
        sims = _gather(self._all_t, qv.indices, qv.values, n_q + 2 * n_art)
        q_sims = sims[np.newaxis, :n_q]
        cent = sims[n_q : n_q + n_art] if cfg.centroid_weight else None
        body = sims[n_q + n_art :] if cfg.body_weight else None
        linear = None
        if self.linear is not None:
            coef_t, intercept = self.linear
            linear = (qv.values @ coef_t[qv.indices] + intercept)[np.newaxis, :]
        result: FloatArray = self._combine(q_sims, cent, body, linear=linear, dense=dense)[0]
        return result

    def _combine(self, q_sims: FloatArray, cent: FloatArray | None, body: FloatArray | None,
                 ridge: FloatArray | None = None, linear: FloatArray | None = None,
                 dense: FloatArray | None = None) -> FloatArray:
        """Rows of question similarities (m x questions) + centroid/body similarities -> m x articles."""
        cfg = self.config
        if self.ridge is not None and ridge is None:
            ridge = (q_sims ** cfg.ridge_power) @ self.ridge
        best = np.maximum.reduceat(q_sims, self.q_starts, axis=1)
        score = cfg.question_weight * best
        if cfg.second_weight:
            # second-best question per article (ties with the best count as the best)
            masked = np.where(q_sims >= best[:, self.q_owner], -1.0, q_sims)
            score += cfg.second_weight * np.maximum(np.maximum.reduceat(masked, self.q_starts, axis=1), 0.0)
        if cent is not None:
            score += cfg.centroid_weight * cent
        if body is not None:
            score += cfg.body_weight * body
        total = cfg.question_weight + cfg.second_weight + cfg.centroid_weight + cfg.body_weight
        out: FloatArray = score / total
        if ridge is not None:
            out = (1.0 - cfg.ridge_weight) * out + cfg.ridge_weight * ridge
        if linear is not None:
            squashed = 1.0 / (1.0 + np.exp(-cfg.linear_scale * linear))
            out = (1.0 - cfg.linear_weight) * out + cfg.linear_weight * squashed
        if dense is not None:
            out = (1.0 - cfg.dense_weight) * out + cfg.dense_weight * dense
        return out

    def calibration_samples(self, max_samples: int = 400, seed: int = 0, *, dense_only: bool = False
                            ) -> tuple[FloatArray, FloatArray]:
        """Held-out raw scores over the articles' own questions: (score of the right article, score of the
        best wrong article). Used to fit the raw-score -> confidence mapping; ``dense_only`` for the
        mapping of the dense score alone (queries in another language)."""
        rows = np.flatnonzero(~self.q_is_title)
        if len(self.articles) < 2 or len(rows) == 0 or (dense_only and self.dense is None):
            return np.zeros(0), np.zeros(0)
        if len(rows) > max_samples:
            rows = np.sort(np.random.default_rng(seed).choice(rows, max_samples, replace=False))
        dense = self.dense.held_out_scores(rows) if self.dense is not None else None
        if dense_only and dense is not None:
            scores = dense
        else:
            m = self.q_matrix[rows]
            q_sims = (m @ self.q_matrix_t).toarray()
            q_sims[np.arange(len(rows)), rows] = 0.0  # leave the question itself out
            cfg = self.config
            cent = (m @ self.centroid_t).toarray() if cfg.centroid_weight else None
            body = (m @ self.body_t).toarray() if cfg.body_weight else None
            ridge = self._ridge_loo[rows] if self._ridge_loo is not None else None
            linear = self._held_out_linear(rows) if self.linear is not None else None
            scores = self._combine(q_sims, cent, body, ridge, linear, dense)
        own = self.q_owner[rows]
        pos = scores[np.arange(len(rows)), own].copy()
        scores[np.arange(len(rows)), own] = -1.0
        real = np.ones(len(rows), dtype=bool)
        if self.oos_position is not None:  # an out-of-scope example: its best article is a negative
            scores[:, self.oos_position] = -1.0
            real = own != self.oos_position
        neg = scores.max(axis=1)
        return pos[real], neg

    def cross_samples(self, other: LanguageIndex, max_samples: int = 400, seed: int = 0
                      ) -> tuple[FloatArray, FloatArray]:
        """Dense scores of ``other``'s questions (another language) against this index, for the articles
        both have: (score of the same article here, score of the best other article). The translations of
        an article are the positives a cross-lingual query should find."""
        if self.dense is None or other.dense is None or len(self.articles) < 2:
            return np.zeros(0), np.zeros(0)
        ids = np.array([self.position.get(a.id, -1) if a.id != OUT_OF_SCOPE_ID else -1 for a in other.articles])
        rows = np.flatnonzero((ids[other.q_owner] >= 0) & ~other.q_is_title)
        if len(rows) == 0:
            return np.zeros(0), np.zeros(0)
        if len(rows) > max_samples:
            rows = np.sort(np.random.default_rng(seed).choice(rows, max_samples, replace=False))
        scores = self.dense.scores(other.dense.q[rows])
        own = ids[other.q_owner[rows]]
        pos = scores[np.arange(len(rows)), own].copy()
        scores[np.arange(len(rows)), own] = -1.0
        if self.oos_position is not None:
            scores[:, self.oos_position] = -1.0
        return pos, scores.max(axis=1)

    def _salad_matrix(self, texts: Sequence[str], n: int) -> sp.csr_matrix | None:
        if n <= 0 or len(texts) < 2:
            return None
        rng = np.random.default_rng(0)
        words = [t.split() for t in texts]
        salads = []
        for _ in range(n):
            pool = [w for j in rng.choice(len(words), 3, replace=False) for w in words[j]]
            rng.shuffle(pool)
            salads.append(" ".join(pool[: int(rng.integers(3, 10))]))
        ids = self.analyzer.feature_ids(salads)
        n_feat = self.n_feat
        # only features of this index's own texts (a salad's new bigrams, or features another index
        # interned in the shared vocabulary, would make the model depend on the build history)
        df = self.df
        ids = [y[df[y] > 0] for y in (x[x < n_feat] for x in ids)]
        return self._weight(self._count_matrix(ids, n_feat))

    def _held_out_linear(self, rows: IntArray) -> FloatArray:
        """Decision values of the sampled questions from linear models trained without them: one fold
        (all other questions, at least two thirds) when they are few, else two folds (each half left
        out in turn)."""
        n_q, n_art = len(self.q_owner), len(self.articles)
        folds = [rows] if 3 * len(rows) <= n_q else [rows[0::2], rows[1::2]]
        out = np.zeros((len(rows), n_art))
        where = {int(r): i for i, r in enumerate(rows)}
        for part in folds:
            keep = np.ones(n_q, dtype=bool)
            keep[part] = False
            model = _fit_linear(self.q_matrix[keep], self.q_owner[keep], n_art, self.config.linear_c,
                                self._salads)
            pos = [where[int(r)] for r in part]
            if model is None:
                out[pos] = -1.0
                continue
            coef_t, intercept = model
            out[pos] = np.asarray(self.q_matrix[part] @ coef_t) + intercept
        return out


def _fit_linear(x: sp.csr_matrix, y: IntArray, n_art: int, c: float, negatives: sp.csr_matrix | None = None
                ) -> tuple[FloatArray, FloatArray] | None:
    """One-vs-rest linear SVM (``negatives``: an extra class, dropped afterwards); returns (features x
    articles weights, intercepts). Articles without a training question get a constant negative decision."""
    from sklearn.svm import LinearSVC  # imported on first use: only indexes that train one need it

    classes = np.unique(y)
    if len(classes) < 2:
        return None
    if negatives is not None and negatives.shape[0]:
        x = sp.vstack([x, negatives], format="csr")
        y = np.concatenate([y, np.full(negatives.shape[0], n_art, dtype=y.dtype)])
    model = LinearSVC(C=c, tol=1e-2, random_state=0).fit(x, y)  # liblinear shuffles: same model every build
    keep = model.classes_ < n_art  # drop the negative class
    coef_t = np.zeros((x.shape[1], n_art), dtype=np.float64)
    intercept = np.full(n_art, -1.0)
    classes = model.classes_
    if len(classes) == 2:  # sklearn keeps a single hyperplane for two classes
        coef_t[:, classes[1]] = model.coef_[0]
        coef_t[:, classes[0]] = -model.coef_[0]
        intercept[classes[1]] = model.intercept_[0]
        intercept[classes[0]] = -model.intercept_[0]
    else:
        coef_t[:, classes[keep]] = model.coef_[keep].T
        intercept[classes[keep]] = model.intercept_[keep]
    return np.ascontiguousarray(coef_t), intercept


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


_DIGIT = re.compile(r"\d")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"\w+")


def _truncate(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _gather(mt: sp.csr_matrix, idx: IntArray, vals: FloatArray, n: int) -> FloatArray:
    """``vals @ mt[idx]`` as a dense vector of length n (a 1 x F sparse product: only the touched
    entries are visited, without scipy's slow fancy indexing)."""
    if len(idx) == 0:
        return np.zeros(n)
    query = sp.csr_matrix((vals, idx, np.array([0, len(idx)])), shape=(1, mt.shape[0]))
    out: FloatArray = (query @ mt).toarray().ravel()
    return out


def _l2_rows(x: sp.csr_matrix) -> sp.csr_matrix:
    x = x.tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    out: sp.csr_matrix = sp.diags(1.0 / norms) @ x
    return out.tocsr()
