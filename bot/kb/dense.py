"""The dense (semantic) half of a language index: sentence embeddings of the articles' questions.

Per article it gives three signals, each about 0..1:
- ``near``: the cosine of the nearest question (rescaled from the encoder's narrow cosine range),
- ``cent``: the cosine of the article's centroid (the normalised mean of its question embeddings),
- ``prob``: a multinomial logistic regression over the question embeddings (the out-of-scope examples,
  when the index has them, are one more class, so probability mass goes to them for messages like them).
``DenseConfig`` weights them; the language index blends the result with its lexical score. Everything
has a held-out version for the index's own questions (leave-one-out cosines, cross-fitted regression),
which the confidence calibration needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class DenseConfig:
    """Weights of the dense signals (chosen on the own cases' random halves and the CLINC150 validation
    set, docs/benchmarks.md)."""

    near_weight: float = 0.30
    centroid_weight: float = 0.30
    prob_weight: float = 0.30
    # e5 cosines of unrelated sentences sit around 0.75-0.8: cosines are mapped (floor..1) -> (0..1)
    cosine_floor: float = 0.8
    logistic_c: float = 300.0
    logistic_max_iter: int = 3000

    @property
    def total(self) -> float:
        return self.near_weight + self.centroid_weight + self.prob_weight


def _rescale(cosines: FloatArray, floor: float) -> FloatArray:
    out: FloatArray = np.clip((cosines - floor) / (1.0 - floor), 0.0, 1.0)
    return out


_Model = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], IntArray]  # coef (classes x dim), intercept, classes


class DenseIndex:
    """Question embeddings (rows L2-normalised), their owners (article positions, sorted) and the models
    over them. Immutable once built."""

    def __init__(self, embeddings: npt.NDArray[np.float32], owner: IntArray, n_articles: int,
                 config: DenseConfig | None = None) -> None:
        self.config = cfg = config or DenseConfig()
        self.q = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.owner = owner
        self.n_articles = n_articles
        self.starts: IntArray = np.searchsorted(owner, np.arange(n_articles)).astype(np.int64)
        self.sums = np.zeros((n_articles, self.q.shape[1]), dtype=np.float64)
        np.add.at(self.sums, owner, self.q.astype(np.float64))
        self.counts = np.bincount(owner, minlength=n_articles).astype(np.float64)
        norms = np.linalg.norm(self.sums, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        self.centroids = (self.sums / norms).astype(np.float32)
        self.model = _fit_logistic(self.q, owner, n_articles, cfg) if cfg.prob_weight else None
        self._held_out: tuple[bytes, FloatArray] | None = None  # the last rows asked (calibration asks twice)

    def scores(self, vectors: npt.NDArray[np.float32]) -> FloatArray:
        """Dense raw score (about 0..1) per article for each query vector (m x dim -> m x articles)."""
        sims = vectors @ self.q.T
        near = np.maximum.reduceat(sims, self.starts, axis=1).astype(np.float64)
        cent = (vectors @ self.centroids.T).astype(np.float64)
        prob = _predict(self.model, vectors, self.n_articles) if self.model is not None else None
        return self._combine(near, cent, prob)

    def _combine(self, near: FloatArray, cent: FloatArray, prob: FloatArray | None) -> FloatArray:
        cfg = self.config
        out = cfg.near_weight * _rescale(near, cfg.cosine_floor) + cfg.centroid_weight * _rescale(
            cent, cfg.cosine_floor)
        if prob is not None:
            out = out + cfg.prob_weight * prob
            return out / cfg.total
        return out / max(cfg.near_weight + cfg.centroid_weight, 1e-9)

    def held_out_scores(self, rows: IntArray) -> FloatArray:
        """Scores of the index's own questions ``rows`` as if each had not been in the index: its own
        cosine left out of ``near`` and out of its article's centroid, the regression cross-fitted."""
        key = rows.tobytes()
        if self._held_out is not None and self._held_out[0] == key:
            return self._held_out[1].copy()
        q = self.q[rows]
        sims = (q @ self.q.T).astype(np.float64)
        sims[np.arange(len(rows)), rows] = -1.0
        near = np.maximum.reduceat(sims, self.starts, axis=1)
        cent = (q @ self.centroids.T).astype(np.float64)
        own = self.owner[rows]
        rest = self.sums[own] - q.astype(np.float64)  # the own article's centroid without this question
        norms = np.linalg.norm(rest, axis=1)
        has_rest = (self.counts[own] > 1) & (norms > 0)
        loo = np.where(has_rest, np.einsum("ij,ij->i", rest, q) / np.where(norms > 0, norms, 1.0), -1.0)
        cent[np.arange(len(rows)), own] = loo
        prob = self._held_out_prob(rows) if self.model is not None else None
        out = self._combine(near, cent, prob)
        self._held_out = (key, out)
        return out.copy()

    def _held_out_prob(self, rows: IntArray) -> FloatArray:
        """Probabilities of ``rows`` from regressions trained without them (one fold when they are at most
        a third of the questions, else two: each half left out in turn)."""
        n_q = len(self.owner)
        folds = [rows] if 3 * len(rows) <= n_q else [rows[0::2], rows[1::2]]
        out = np.zeros((len(rows), self.n_articles))
        where = {int(r): i for i, r in enumerate(rows)}
        for part in folds:
            keep = np.ones(n_q, dtype=bool)
            keep[part] = False
            model = _fit_logistic(self.q[keep], self.owner[keep], self.n_articles, self.config, start=self.model)
            pos = [where[int(r)] for r in part]
            out[pos] = _predict(model, self.q[part], self.n_articles) if model is not None else 0.0
        return out


def _fit_logistic(x: npt.NDArray[np.float32], y: IntArray, n_articles: int, cfg: DenseConfig,
                  start: _Model | None = None) -> _Model | None:
    """Multinomial logistic regression; ``start``: a model of the same classes to start from (the
    held-out fits start from the full model and converge in a fraction of the iterations)."""
    from sklearn.linear_model import LogisticRegression  # imported on first use

    classes = np.unique(y)
    if len(classes) < 2:
        return None
    model = LogisticRegression(C=cfg.logistic_c, max_iter=cfg.logistic_max_iter, warm_start=start is not None)
    if start is not None and len(classes) > 2 and np.array_equal(start[2], classes):
        model.coef_, model.intercept_ = start[0].copy(), start[1].copy()
    model.fit(x, y)
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64)
    if len(classes) == 2:  # sklearn keeps one hyperplane for two classes: make it a softmax pair
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return coef, intercept, np.asarray(model.classes_, dtype=np.int64)


def _predict(model: _Model | None, vectors: npt.NDArray[np.float32], n_articles: int) -> FloatArray:
    """Class probabilities per article (0 for articles the model has no class for)."""
    out = np.zeros((vectors.shape[0], n_articles))
    if model is None:
        return out
    coef, intercept, classes = model
    logits = vectors.astype(np.float64) @ coef.T + intercept
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    out[:, classes] = p
    return out

