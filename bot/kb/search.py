"""The knowledge base the bot asks: load articles, search them per language, learn from feedback,
reload on change.

``KnowledgeBase.search`` returns calibrated confidences (0..1); below ``threshold`` the result is
``abstained`` (the bot hands off instead of guessing); when the two best articles are both above the
threshold and close, it is ``ambiguous`` (the bot asks which one is meant). A query in a language whose
translation of an article is missing may be answered by the article in another language
(``Hit.fallback_lang``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.contract import LANGUAGES
from bot.kb.article import (
    OUT_OF_SCOPE_FILE,
    OUT_OF_SCOPE_ID,
    Article,
    ArticleCache,
    Issue,
    KbError,
    load_articles,
    load_out_of_scope_lists,
    log_issues,
)
from bot.kb.encoder import CachedEncoder, Encoder, Matrix
from bot.taxonomy import Taxonomy, TaxonomyError, load_taxonomy
from bot.kb.feedback import FeedbackStore, adjusted_score, net_votes
from bot.kb.index import FloatArray, IndexConfig, LanguageIndex, fit_logistic

if TYPE_CHECKING:
    from bot.kb.watch import KnowledgeBaseWatcher

logger = logging.getLogger(__name__)

DEFAULT_MATRIX = Path("handoff/escalation_matrix.yml")


class UnsupportedLanguage(KbError):
    """A search in a language the knowledge base does not support."""


@dataclass(frozen=True)
class SearchConfig:
    """Calibration (raw score -> confidence) and decision rules."""

    # abstain when the best confidence is below; with the out-of-scope examples most abstentions come
    # from them, so the threshold only catches the weakest matches. Chosen on tests/kb_cases with
    # choose_threshold(min_oos_recall=0.90, per_language=True) (0.300, with the sentence encoder); its
    # held-out figures (random halves) are in docs/benchmarks.md "Knowledge base"
    threshold: float = 0.30
    # abstain when the out-of-scope examples beat the best article's confidence by at least this much
    out_of_scope_margin: float = 0.10
    # confidence factor per query word that only the out-of-scope examples use ("tiktok", "zalando")
    oos_word_penalty: float = 0.7  # (chosen on tests/kb_cases and 30 probe messages, docs/benchmarks.md)
    ambiguity_margin: float = 0.06  # ambiguous when the runner-up is this close (and above threshold)
    # raw score -> confidence: sigmoid(slope * (raw - center)). None = fitted per language on the
    # knowledge base itself (leave-one-out scores of its own questions), else these defaults
    center: float | None = None
    slope: float | None = None
    default_center: float = 0.30
    default_slope: float = 14.0
    calibration_samples: int = 400
    fallback_penalty: float = 0.9  # confidence factor for an article in another language
    # confidence factor per content word of the query the index has never seen: "facebook", "router",
    # "netflix" make a query about something else likely (the bot should hand off, not guess)
    unknown_word_penalty: float = 1.0
    snippet_chars: int = 180
    # each language's index also holds the articles that have no translation in it (under the
    # questions and titles of all their translations): a Danish query is ranked against them together
    # with the Danish articles (shared char n-grams, the same linear model) instead of being searched
    # in the other languages' indexes with their calibration. Off by default: on the own cases it
    # ranks better (Danish top-3 without threshold 82.8 -> 89.1 %) but lowers the Danish confidences,
    # so at the shared threshold Danish top-1 falls (docs/benchmarks.md, "Knowledge base")
    cross_lingual_index: bool = False
    index: IndexConfig = IndexConfig()



@dataclass(frozen=True)
class Calibration:
    center: float
    slope: float

    def __call__(self, raw: FloatArray) -> FloatArray:
        out: FloatArray = 1.0 / (1.0 + np.exp(-self.slope * (raw - self.center)))
        return out


@dataclass(frozen=True)
class Hit:
    article: Article
    score: float  # calibrated confidence 0..1
    snippet: str
    fallback_lang: bool = False  # the article is in another language: no translation exists


@dataclass(frozen=True)
class SearchResult:
    query: str
    lang: str
    hits: list[Hit]  # best first; present even when abstained (for display), the bot should not use them
    abstained: bool
    ambiguous: bool
    threshold: float
    # abstained because the query is closer to the language's out-of-scope examples than to any article,
    # or because it is about another company's service (``other_company``: the name as the customer wrote it)
    out_of_scope: bool = False
    other_company: str | None = None

    @property
    def best(self) -> Hit | None:
        return None if self.abstained or not self.hits else self.hits[0]


# (confidence, article, fallback, query terms, index, position in the index)
_Candidate = tuple[float, Article, bool, tuple[str, ...], LanguageIndex, int]


@dataclass(frozen=True)
class _Snapshot:
    """Everything a search needs, swapped atomically on reload."""

    articles: dict[tuple[str, str], Article]
    indexes: dict[str, LanguageIndex]
    issues: tuple[Issue, ...]
    ids: dict[str, frozenset[str]] = field(default_factory=dict)
    calibration: dict[str, Calibration] = field(default_factory=dict)
    # the dense score alone, for queries in another language than the index's (cross-lingual answers)
    cross_calibration: dict[str, Calibration] = field(default_factory=dict)
    # other companies' names (every language's list: names are not language-bound) and our own brand
    other_companies: re.Pattern[str] | None = None
    own_brand: re.Pattern[str] | None = None


def names_pattern(names: Sequence[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern for whole names ("Disney+", "Danske Bank", "tp-link"); longest first,
    so a longer name wins over its prefix. Linear in the text's length (one alternation, no nesting)."""
    unique = sorted({" ".join(n.casefold().split()) for n in names if n.strip()}, key=lambda n: (-len(n), n))
    if not unique:
        return None
    body = "|".join(re.escape(n).replace(r"\ ", r"[\s-]+") for n in unique)
    return re.compile(rf"(?<![\w+])(?:{body})(?![\w+])", re.IGNORECASE)


# "Netflix works fine, only yours buffers": another service named as a comparison is not the question
_COMPARISON = re.compile(
    r"\b(?:(?:works?|working|runs?|plays?|is|are)\s+(?:fine|ok|okay|great|perfectly|normally)|no problems?"
    r"|(?:funktionier\w*|läuft|laufen|geht|gehen|klappt)\s+(?:einwandfrei|problemlos|gut|super|normal|prima)"
    r"|ohne probleme|(?:virker|fungerer|kører|spiller)\s+(?:fint|godt|perfekt|normalt)|uden problemer)\b",
    re.IGNORECASE)


def own_brand_words(articles: Sequence[Article]) -> tuple[str, ...]:
    """Our own brand, read from the articles' product names: the first word that at least a third of the
    distinct products start with ("Streamly Stick", "Streamly-App für Smart-TVs" -> "streamly")."""
    products = {p for a in articles for p in a.products}
    firsts = Counter(re.split(r"[\s\-]+", p.casefold(), maxsplit=1)[0] for p in products if p.strip())
    return tuple(w for w, n in firsts.items() if len(w) >= 3 and n * 3 >= len(products))


def _cross_lingual_entries(by_lang: dict[str, list[Article]]) -> dict[str, list[Article]]:
    """Per language: its articles, then every article id it lacks, as the article of the first other
    language that has it, with the titles and questions of all its translations."""
    by_id: dict[str, list[Article]] = {}
    for lang in sorted(by_lang, key=lambda x: LANGUAGES.index(x) if x in LANGUAGES else len(LANGUAGES)):
        for art in by_lang[lang]:
            by_id.setdefault(art.id, []).append(art)
    out: dict[str, list[Article]] = {}
    for lang, own in by_lang.items():
        own_ids = {a.id for a in own}
        entries = list(own)
        for art_id, versions in by_id.items():
            if art_id in own_ids:
                continue
            questions = dict.fromkeys(q for v in versions for q in (v.title, *v.questions))
            entries.append(replace(versions[0], questions=tuple(questions)))
        out[lang] = entries
    return out


def _out_of_scope_article(lang: str, examples: Sequence[str], root: Path | None) -> Article:
    """The out-of-scope examples of one language as a pseudo-article (only the index sees it)."""
    path = (root / lang / OUT_OF_SCOPE_FILE) if root is not None else Path(lang, OUT_OF_SCOPE_FILE)
    return Article(id=OUT_OF_SCOPE_ID, lang=lang, title="", category="", questions=tuple(examples), body="",
                   path=path)


class KnowledgeBase:
    def __init__(
        self,
        articles: Sequence[Article],
        issues: Sequence[Issue] = (),
        *,
        config: SearchConfig | None = None,
        feedback: FeedbackStore | None = None,
        root: Path | None = None,
        matrix_path: Path | None = None,
        out_of_scope: Mapping[str, Sequence[str]] | None = None,
        encoder: Encoder | None = None,
        embedding_cache: Path | None = None,
    ) -> None:
        self.config = config or SearchConfig()
        # sentence embeddings: customer messages with ``encoder`` itself (never written to disk), the
        # articles' questions through the on-disk cache when one is given (a reload encodes new texts only)
        self.encoder = encoder
        self._article_encoder: Encoder | None = (
            CachedEncoder(encoder, embedding_cache) if encoder is not None and embedding_cache is not None
            else encoder)
        # per language: examples of questions the KB does not answer (a KB loaded from a folder reads
        # them from <root>/<lang>/out_of_scope.yml on every reload)
        self._out_of_scope: dict[str, tuple[str, ...]] = {
            lang: tuple(examples) for lang, examples in (out_of_scope or {}).items()}
        self._companies: dict[str, tuple[str, ...]] = {}
        self.feedback_store = feedback
        self.root = root
        self.matrix_path = matrix_path
        self._cache = ArticleCache()
        self._reload_lock = threading.Lock()
        self._trainer: threading.Thread | None = None
        self._state = self._build(articles, issues, None)
        self._train_in_background(self._state)

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        root: Path,
        matrix_path: Path | None = None,
        *,
        config: SearchConfig | None = None,
        feedback: FeedbackStore | None = None,
        wait_trained: bool = True,
        encoder: Encoder | None = None,
        embedding_cache: Path | None = None,
    ) -> KnowledgeBase:
        """Load every article under ``root`` (``<root>/<lang>/*.md``). Never raises for a bad article:
        it is skipped, recorded in ``issues`` and logged with file and line. The first load waits for
        the linear model (``wait_trained``), so a process answers with the full model from its first
        query; later reloads serve at once and swap it in when trained."""
        kb = cls((), config=config, feedback=feedback, root=Path(root), matrix_path=matrix_path, encoder=encoder,
                 embedding_cache=embedding_cache)
        kb.reload()
        if wait_trained:
            kb.wait_trained()
        return kb

    def _taxonomy(self) -> tuple[Taxonomy | None, list[Issue]]:
        path = self.matrix_path
        if path is None:
            candidates = [DEFAULT_MATRIX, Path(__file__).resolve().parents[2] / DEFAULT_MATRIX]
            if self.root is not None:
                candidates.insert(0, self.root.resolve().parent / DEFAULT_MATRIX)
            path = next((c for c in candidates if c.is_file()), candidates[0])
        try:
            return load_taxonomy(path), []
        except TaxonomyError as exc:
            return None, [Issue(path, 0, f"{exc}; categories and queues are not checked")]

    def reload(self) -> tuple[Issue, ...]:
        """Re-read the articles (only changed files are re-parsed), build new indexes, swap them in."""
        if self.root is None:
            raise KbError("this knowledge base was not loaded from a folder")
        with self._reload_lock:
            taxonomy, issues = self._taxonomy()
            articles, art_issues = load_articles(self.root, taxonomy, self._cache)
            issues.extend(art_issues)
            self._out_of_scope, self._companies, oos_issues = load_out_of_scope_lists(self.root)
            issues.extend(oos_issues)
            log_issues(issues)
            new_state = self._build(articles, issues, self._state)
            self._state = new_state  # atomic swap: searches in flight keep the old snapshot
            self._train_in_background(new_state)
        logger.info("kb loaded: %d articles, %d issues", len(articles), len(issues))
        return new_state.issues

    def _build(self, articles: Sequence[Article], issues: Sequence[Issue], previous: _Snapshot | None
               ) -> _Snapshot:
        by_lang: dict[str, list[Article]] = {}
        for art in articles:
            by_lang.setdefault(art.lang, []).append(art)
        entries = _cross_lingual_entries(by_lang) if self.config.cross_lingual_index else dict(by_lang)
        for lang, examples in self._out_of_scope.items():
            if lang in entries and examples:
                entries[lang] = [*entries[lang], _out_of_scope_article(lang, examples, self.root)]
        # a language whose articles did not change keeps its index, model and calibration: a reload
        # after one saved article rebuilds one language
        indexes: dict[str, LanguageIndex] = {}
        kept: dict[str, tuple[Calibration, Calibration | None]] = {}
        for lang, arts in entries.items():
            old = previous.indexes.get(lang) if previous is not None else None
            if (old is not None and previous is not None and lang in previous.calibration
                    and old.config == self.config.index and old.articles == tuple(arts)):
                indexes[lang] = old
                kept[lang] = (previous.calibration[lang], previous.cross_calibration.get(lang))
            else:
                indexes[lang] = LanguageIndex(lang, arts, self.config.index, train_linear=False,
                                              encoder=self._article_encoder)
        ids = {lang: frozenset(a.id for a in arts) for lang, arts in by_lang.items()}
        calibration, cross = self._calibrate(indexes, kept)
        companies = names_pattern([n for names in self._companies.values() for n in names])
        own = names_pattern(own_brand_words(articles)) if companies is not None else None
        return _Snapshot({a.key: a for a in articles}, indexes, tuple(issues), ids, calibration, cross,
                         companies, own)

    def _train_in_background(self, snapshot: _Snapshot) -> None:
        """Large indexes are served at once without their linear model; train it in a thread and swap
        in a snapshot with it (unless a newer reload replaced ``snapshot`` meanwhile)."""
        pending = [lang for lang, ix in snapshot.indexes.items() if ix.linear_pending]
        if not pending:
            return
        thread = threading.Thread(target=self._train, args=(snapshot, pending), name="kb-linear", daemon=True)
        self._trainer = thread
        thread.start()

    def _train(self, snapshot: _Snapshot, pending: list[str]) -> None:
        try:
            indexes = dict(snapshot.indexes)
            for lang in pending:
                old = snapshot.indexes[lang]
                indexes[lang] = LanguageIndex(lang, old.articles, self.config.index, train_linear=True,
                                              encoder=self._article_encoder)
            kept = {lang: (c, snapshot.cross_calibration.get(lang)) for lang, c in snapshot.calibration.items()
                    if lang not in pending}
            calibration, cross = self._calibrate(indexes, kept)
        except Exception:  # the KB keeps serving without the linear model
            logger.exception("kb: training the linear model failed")
            return
        with self._reload_lock:
            if self._state is snapshot:
                self._state = replace(snapshot, indexes=indexes, calibration=calibration, cross_calibration=cross)
                logger.info("kb: linear model trained for %s", ",".join(pending))

    def wait_trained(self, timeout: float | None = None) -> bool:
        """Wait for a background training (see ``IndexConfig.linear_sync_cells``); True when none runs."""
        thread = self._trainer
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _calibrate(self, indexes: dict[str, LanguageIndex],
                   kept: dict[str, tuple[Calibration, Calibration | None]] | None = None
                   ) -> tuple[dict[str, Calibration], dict[str, Calibration]]:
        """Per language, fitted on held-out scores of its own questions: the full score, and (indexes with
        sentence embeddings) the dense score alone that queries in other languages get. ``kept``:
        languages whose calibrations are still valid (their index did not change)."""
        cfg = self.config
        if cfg.center is not None and cfg.slope is not None:
            fixed = {lang: Calibration(cfg.center, cfg.slope) for lang in indexes}
            return fixed, dict(fixed)
        kept = {lang: c for lang, c in (kept or {}).items() if lang in indexes}
        full = {lang: c for lang, (c, _) in kept.items()}
        cross = {lang: x for lang, (_, x) in kept.items() if x is not None}
        todo = [lang for lang in indexes if lang not in kept]
        full.update(self._fit(indexes, todo, dense_only=False))
        cross.update(self._fit(indexes, [x for x in todo if indexes[x].dense is not None], dense_only=True))
        return full, cross

    def _fit(self, indexes: dict[str, LanguageIndex], langs: list[str], dense_only: bool) -> dict[str, Calibration]:
        cfg = self.config
        samples = {lang: self._samples(indexes, lang, dense_only) for lang in langs}
        out: dict[str, Calibration] = {}
        pooled: tuple[float, float] | None = None
        for lang, (pos, neg) in samples.items():
            fit = fit_logistic(pos, neg)
            if fit is None:  # too few questions: fit on every language's samples together
                if pooled is None:  # the other languages' samples are needed too (the sampled ones are reused)
                    every = [samples[x] if x in samples else self._samples(indexes, x, dense_only) for x in indexes]
                    pooled = fit_logistic(np.concatenate([p for p, _ in every] or [np.zeros(0)]),
                                          np.concatenate([n for _, n in every] or [np.zeros(0)])) or (
                        cfg.default_center, cfg.default_slope)
                fit = pooled
            out[lang] = Calibration(*fit)
            logger.debug("kb calibration %s%s: %s", lang, " (dense)" if dense_only else "", out[lang])
        return out

    def _samples(self, indexes: dict[str, LanguageIndex], lang: str, dense_only: bool) -> tuple[FloatArray, FloatArray]:
        """Calibration samples of one language's index. For the dense score alone (queries in another
        language): the other languages' questions of articles this index has too, when there are enough;
        else its own questions, held out."""
        n = self.config.calibration_samples
        index = indexes[lang]
        if dense_only:
            cross = [index.cross_samples(other, n // 2) for x, other in indexes.items() if x != lang]
            pos = np.concatenate([p for p, _ in cross] or [np.zeros(0)])
            if len(pos) >= 40:
                return pos, np.concatenate([q for _, q in cross])
        return index.calibration_samples(n, dense_only=dense_only)

    def watch(self, interval: float = 0.5) -> KnowledgeBaseWatcher:
        """Start a polling thread that reloads this knowledge base when an article changes."""
        from bot.kb.watch import KnowledgeBaseWatcher

        if self.root is None:
            raise KbError("this knowledge base was not loaded from a folder")
        watcher = KnowledgeBaseWatcher(self.root, None, interval, matrix_path=self.matrix_path, kb=self)
        watcher.start()
        return watcher

    # -- queries ---------------------------------------------------------------------------------
    @property
    def issues(self) -> tuple[Issue, ...]:
        return self._state.issues

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(lang for lang in LANGUAGES if lang in self._state.indexes)

    def get(self, article_id: str, lang: str) -> Article | None:
        return self._state.articles.get((lang, article_id))

    def articles(self, lang: str | None = None) -> list[Article]:
        return [a for a in self._state.articles.values() if lang is None or a.lang == lang]

    def products(self) -> list[str]:
        """Every product/device name named in article metadata, de-duplicated, sorted."""
        names: dict[str, str] = {}
        for art in self._state.articles.values():
            for p in art.products:
                names.setdefault(p.casefold(), p)
        return sorted(names.values(), key=str.casefold)

    def search(self, query: str, lang: str, k: int = 3, vector: Matrix | None = None, *,
               other_companies: bool = True) -> SearchResult:
        """The best articles for ``query`` in ``lang``. ``vector``: the query's sentence embedding when
        the caller has it already (the Rasa server computed it for the intent classifier); else the
        knowledge base encodes the query itself when its indexes have a dense half.

        A query that names another company (``companies:`` in the out-of-scope files), not our own brand
        and not as a comparison ("Netflix works fine") is out of scope whatever its words match;
        ``other_companies=False`` turns that rule off (the customer insists it is about us)."""
        if lang not in LANGUAGES:
            raise UnsupportedLanguage(f"unsupported language {lang!r} (expected one of {LANGUAGES})")
        state = self._state
        cfg = self.config
        candidates: list[_Candidate] = []
        own_ids = state.ids.get(lang, frozenset())
        terms: tuple[str, ...] = ()
        searched = (lang, *(x for x in LANGUAGES if x != lang))
        if cfg.cross_lingual_index and lang in state.indexes:
            searched = (lang,)  # the untranslated articles of the other languages are in it
        oos_conf = -1.0
        for idx_lang in searched:
            index = state.indexes.get(idx_lang)
            if index is None:
                continue
            fallback = idx_lang != lang
            if fallback and not (state.ids[idx_lang] - own_ids):
                continue  # every article of that language has a translation in ours
            qv = index.vectorize(query)
            if not fallback:
                terms = qv.terms
            if index.dense is not None:
                if vector is None:
                    vector = self._encode_query(query)
                conf = state.calibration[idx_lang](index.raw_scores(qv, vector))
                if fallback:  # another language: the meaning matches even where the words do not
                    cross = state.cross_calibration[idx_lang](index.raw_scores(qv, vector, dense_only=True))
                    conf = np.maximum(conf, cross)
            elif qv.empty:
                continue
            else:
                conf = state.calibration[idx_lang](index.raw_scores(qv))
            if fallback:
                conf = conf * cfg.fallback_penalty
            if qv.unknown_terms and cfg.unknown_word_penalty != 1.0:
                conf = conf * cfg.unknown_word_penalty ** qv.unknown_terms
            oos = index.oos_position
            if oos is not None:
                if not fallback:
                    oos_conf = float(conf[oos])
                conf[oos] = -1.0  # never an answer (conf is this query's own array)
            if qv.oos_only_terms and cfg.oos_word_penalty != 1.0:  # lowers the articles only
                conf = conf * cfg.oos_word_penalty ** qv.oos_only_terms
            want = min(len(conf), k + 2 if not fallback else k + len(own_ids) + 2)
            top = np.argpartition(-conf, want - 1)[:want] if want < len(conf) else np.arange(len(conf))
            for i in top:
                entry = index.articles[int(i)]
                if (fallback and entry.id in own_ids) or i == oos:
                    continue
                art = state.articles.get(entry.key, entry)  # the article as loaded (not the index entry)
                foreign = art.lang != lang
                score = float(conf[i]) * (cfg.fallback_penalty if foreign and not fallback else 1.0)
                candidates.append((score, art, foreign, qv.terms, index, int(i)))
        if self.feedback_store is not None and candidates:
            candidates = self._apply_feedback(lang, terms, candidates)
        candidates.sort(key=lambda c: -c[0])
        best_per_id: dict[str, _Candidate] = {}  # an untranslated id may come from two languages
        for c in candidates:
            best_per_id.setdefault(c[1].id, c)
        candidates = list(best_per_id.values())
        hits = [Hit(c[1], round(c[0], 4), c[4].snippet(c[5], c[3], cfg.snippet_chars), c[2])
                for c in candidates[:k]]
        out_of_scope = bool(hits) and oos_conf - hits[0].score >= cfg.out_of_scope_margin
        company = self.other_company(query) if other_companies else None
        if company is not None:
            out_of_scope = True  # about another company's service ("my Disney+ plan won't cancel")
        abstained = not hits or hits[0].score < cfg.threshold or out_of_scope
        ambiguous = (
            not abstained
            and len(candidates) > 1
            and candidates[1][0] >= cfg.threshold
            and candidates[0][0] - candidates[1][0] < cfg.ambiguity_margin
        )
        return SearchResult(query, lang, hits, abstained, ambiguous, cfg.threshold, out_of_scope, company)

    def other_company(self, text: str) -> str | None:
        """The other company ``text`` is about, as written there: a name from the out-of-scope files'
        ``companies``, when the text names neither our own brand nor the company as a comparison."""
        state = self._state
        found = state.other_companies.search(text) if state.other_companies is not None else None
        if found is None or (state.own_brand is not None and state.own_brand.search(text)) \
                or _COMPARISON.search(text):
            return None
        return found.group(0)

    def _encode_query(self, query: str) -> Matrix:
        assert self.encoder is not None  # an index has a dense half only when the KB has an encoder
        vector: Matrix = self.encoder.encode([query])[0]
        return vector

    def _apply_feedback(
        self, lang: str, terms: tuple[str, ...], candidates: list[_Candidate]
    ) -> list[_Candidate]:
        assert self.feedback_store is not None
        try:
            votes = self.feedback_store.votes(lang, terms)
        except Exception:  # a feedback outage must not break answering
            logger.warning("kb feedback store unavailable; searching without feedback", exc_info=True)
            return candidates
        means = net_votes(votes, terms)
        if not means:
            return candidates
        threshold = self.config.threshold
        return [(adjusted_score(c[0], means[c[1].id], threshold), *c[1:]) if c[1].id in means else c
                for c in candidates]

    def record_feedback(self, query: str, lang: str, article_id: str, helped: bool,
                        voter: str | None = None) -> bool:
        """Remember that ``article_id`` did (not) help for ``query``: similar queries move with it.
        ``voter`` (the conversation) votes once per article; False when this vote was not counted."""
        if self.feedback_store is None:
            raise KbError("no feedback store configured")
        index = self._state.indexes.get(lang)
        terms = index.analyzer.analyze(query).terms if index is not None else ()
        if not terms:
            from bot.kb.analysis import analyzer_for

            terms = analyzer_for(lang, self.config.index.analyzer).analyze(query).terms
        if not terms:
            return False
        return self.feedback_store.add(lang, terms, article_id, 1 if helped else -1, voter)

