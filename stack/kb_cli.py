"""``frontdoor kb check | search | eval``: the knowledge-base commands for content editors."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from bot.contract import LANGUAGES

# kb_articles/ of the folder the command runs in, else the project's own (the command works from anywhere)
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = Path("kb_articles") if Path("kb_articles").is_dir() else PROJECT_ROOT / "kb_articles"
DEFAULT_CASES = Path("tests/kb_cases")


def register(subparsers: Any) -> None:
    """Add the ``kb`` command and its subcommands to the ``frontdoor`` parser."""
    kb = subparsers.add_parser("kb", help="knowledge base: check, search, eval, feedback, gaps")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)

    check = kb_sub.add_parser("check", help="validate every article; exit code 1 on errors")
    _common(check)
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.set_defaults(func=lambda args: cmd_check(args))

    search = kb_sub.add_parser("search", help="ask the knowledge base like the bot does")
    _common(search)
    search.add_argument("query")
    search.add_argument("--lang", default="en", choices=LANGUAGES)
    search.add_argument("-k", type=int, default=3, help="number of articles to show")
    search.add_argument("--threshold", type=float, default=None, help="override the abstention threshold")
    _dense(search)
    search.set_defaults(func=lambda args: cmd_search(args))

    ev = kb_sub.add_parser("eval", help="measure the search engine (own cases or an intent dataset)")
    _common(ev)
    ev.add_argument("--cases", type=Path, default=DEFAULT_CASES, help="folder of *.jsonl regression cases")
    ev.add_argument("--train", type=Path, help="intent dataset: training JSONL (one article per label)")
    ev.add_argument("--test", type=Path, help="intent dataset: test JSONL")
    ev.add_argument("--val", type=Path, help="intent dataset: validation JSONL (threshold chosen on it)")
    ev.add_argument("--shots", type=int, default=0, help="training rows per label (0 = all)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--min-oos-recall", type=float, default=0.8,
                    help="with --val: highest accuracy among thresholds reaching this OOS recall on val "
                         "(negative = maximise the mean of accuracy and OOS recall instead)")
    ev.add_argument("--oos-confidence", type=float, default=None,
                    help="with --val: ask of val the OOS recall that proves --min-oos-recall with this confidence "
                         "(one-sided Wilson bound; e.g. 0.95 turns 0.80 into 0.87 on 100 out-of-scope queries)")
    ev.add_argument("--oos-examples", action="store_true",
                    help="intent dataset: the training file's out-of-scope rows become the KB's out-of-scope "
                         "examples (like out_of_scope.yml); by default they are left out")
    ev.add_argument("--failures", action="store_true", help="list the failing own cases")
    _dense(ev)
    ev.set_defaults(func=lambda args: cmd_eval(args))

    fb = kb_sub.add_parser("feedback", help="what customers voted on each article (decayed, one vote per "
                                            "conversation); the articles most often 'did not help' first")
    fb.add_argument("--lang", choices=["de", "en", "da"], action="append", help="only this language")
    fb.add_argument("--redis-url", default=None, help="default: REDIS_URL, else the embedded server's")
    fb.add_argument("--prefix", default=None, help="key prefix (default: ACTIONS_KEY_PREFIX or fd-actions:)")
    fb.set_defaults(func=lambda args: cmd_feedback(args))

    gp = kb_sub.add_parser("gaps", help="what customers asked that the knowledge base could not answer (or whose "
                                        "answer did not help), grouped by meaning, largest groups first")
    gp.add_argument("--since", default="30d", help="period: 24h, 7d, 30d ... (default 30d)")
    gp.add_argument("--top", type=int, default=15, help="groups to print (default 15)")
    gp.add_argument("--json", action="store_true", help="print everything as JSON")
    gp.add_argument("--redis-url", default=None, help="default: REDIS_URL, else the embedded server's")
    gp.add_argument("--prefix", default=None, help="the handoff service's key prefix (default: HANDOFF_KEY_PREFIX)")
    gp.set_defaults(func=lambda args: cmd_gaps(args))


def _quiet_spacy() -> None:
    """spaCy logs every pipeline initialisation at INFO; editors only need our own messages."""
    logging.getLogger("spacy").setLevel(logging.WARNING)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="articles folder (default kb_articles)")
    p.add_argument("--matrix", type=Path, default=None,
                   help="escalation matrix with categories and queues (default handoff/escalation_matrix.yml)")


def _dense(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lexical-only", action="store_true",
                   help="without the sentence encoder (word and character n-grams only)")


def encoder_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``encoder`` and ``embedding_cache`` keywords for KnowledgeBase (none with --lexical-only)."""
    if getattr(args, "lexical_only", False):
        return {}
    from bot.kb.encoder import E5Encoder, cache_folder

    return {"encoder": E5Encoder(), "embedding_cache": cache_folder(os.environ)}


def cmd_check(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from bot.kb.article import count_by_severity, load_articles, load_out_of_scope
    from bot.taxonomy import TaxonomyError, load_taxonomy
    from bot.kb.search import DEFAULT_MATRIX

    out = out or sys.stdout
    matrix = args.matrix or next((m for m in (DEFAULT_MATRIX, PROJECT_ROOT / DEFAULT_MATRIX) if m.is_file()),
                                 DEFAULT_MATRIX)
    try:
        taxonomy = load_taxonomy(matrix)
    except TaxonomyError as exc:
        print(f"{matrix}:0: {exc}", file=out)
        return 2
    articles, issues = load_articles(args.root, taxonomy)
    out_of_scope, oos_issues = load_out_of_scope(args.root)
    issues.extend(oos_issues)
    for issue in sorted(issues, key=lambda i: (str(i.path), i.line)):
        print(issue, file=out)
    counts = count_by_severity(issues)
    langs = {lang: sum(a.lang == lang for a in articles) for lang in LANGUAGES}
    per_lang = ", ".join(f"{n} {lang}" for lang, n in langs.items())
    oos = ", ".join(f"{len(out_of_scope[lang])} {lang}" for lang in LANGUAGES if lang in out_of_scope) or "none"
    print(f"{len(articles)} articles OK ({per_lang}); out-of-scope examples: {oos}; "
          f"{counts['error']} errors, {counts['warning']} warnings", file=out)
    failed = counts["error"] > 0 or (getattr(args, "strict", False) and counts["warning"] > 0)
    return 1 if failed else 0


def cmd_search(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from bot.kb.search import KnowledgeBase

    out = out or sys.stdout
    _quiet_spacy()
    kb = KnowledgeBase.load(args.root, args.matrix, **encoder_options(args))
    if args.threshold is not None:
        kb.config = replace(kb.config, threshold=args.threshold)
    res = kb.search(args.query, args.lang, k=args.k)
    if not res.hits:
        print("no article matches", file=out)
    for rank, hit in enumerate(res.hits, 1):
        art = hit.article
        fb = f"  [fallback: {art.lang} article, no {args.lang} translation]" if hit.fallback_lang else ""
        print(f"{rank}. {hit.score:.3f}  {art.id}  ({art.lang}, {art.category})  {art.title}{fb}", file=out)
        print(f"   {hit.snippet}", file=out)
    if res.out_of_scope:
        print("=> abstains: closer to the out-of-scope examples than to any article; the bot hands off", file=out)
    elif res.abstained:
        print(f"=> abstains (best confidence below threshold {res.threshold:.2f}): the bot hands off", file=out)
    elif res.ambiguous:
        print("=> ambiguous: the bot asks which of the first two is meant", file=out)
    else:
        print(f"=> answers with {res.hits[0].article.id}", file=out)
    return 0


def cmd_eval(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from research.evaluate import evaluate_cases, evaluate_dataset
    from bot.kb.search import KnowledgeBase

    out = out or sys.stdout
    _quiet_spacy()
    report: dict[str, Any]
    if args.train or args.test:
        if not (args.train and args.test):
            print("--train and --test go together", file=sys.stderr)
            return 2
        min_oos = args.min_oos_recall if args.min_oos_recall >= 0 else None
        report = evaluate_dataset(args.train, args.test, args.val, args.shots, args.seed,
                                  min_oos_recall=min_oos, oos_examples=args.oos_examples,
                                  oos_confidence=args.oos_confidence, **encoder_options(args))
    else:
        kb = KnowledgeBase.load(args.root, args.matrix, **encoder_options(args))
        report = evaluate_cases(kb, args.cases)
        if not args.failures:
            report.pop("failures", None)
    print(json.dumps(report, indent=2, ensure_ascii=False), file=out)
    return 0


def cmd_feedback(args: argparse.Namespace, out: TextIO | None = None, store: Any = None) -> int:
    """Per language and article: helped / did not help (decayed votes) and the net, worst first."""
    import importlib

    out = out or sys.stdout
    if store is None:
        from actions.settings import ACTIONS_KEY_PREFIX
        from stack.settings import Settings

        url = args.redis_url or Settings.from_env(os.environ).with_secrets().effective_redis_url
        redis_store = importlib.import_module("actions.kb_feedback").RedisFeedbackStore  # the action server's
        store = redis_store.from_url(url, prefix=args.prefix or os.environ.get("ACTIONS_KEY_PREFIX") or ACTIONS_KEY_PREFIX)
    try:
        for lang in args.lang or ["de", "en", "da"]:
            tallies = store.summary(lang)
            print(f"{lang}: {len(tallies)} articles with votes", file=out)
            for article, tally in sorted(tallies.items(), key=lambda item: item[1].net):
                helped = (tally.count + tally.net) / 2
                print(f"  {article:<32} helped {helped:6.1f}   did not help {tally.count - helped:6.1f}   "
                      f"net {tally.net:+6.1f}", file=out)
    except Exception as exc:  # Redis down or unreachable: say so, with the reason
        print(f"cannot read the feedback: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_gaps(args: argparse.Namespace, out: TextIO | None = None, now: float | None = None) -> int:
    """The KB gaps of a period, read with the handoff service's own code (``handoff.gaps``) from Redis."""
    import asyncio
    import time

    from handoff.analytics import parse_period
    from handoff.errors import InvalidRequest
    from stack.settings import Settings

    out = out or sys.stdout
    timezone = os.environ.get("HANDOFF_TIMEZONE") or "UTC"
    try:
        parse_period(args.since, time.time(), timezone)
    except InvalidRequest as exc:
        print(f"--since: {exc.detail}", file=sys.stderr)
        return 2
    settings = Settings.from_env(os.environ).with_secrets()
    url = args.redis_url or settings.effective_redis_url
    prefix = args.prefix or settings.key_prefix

    async def read() -> dict[str, Any]:
        from redis.asyncio import Redis  # type: ignore[import-untyped, unused-ignore]

        from handoff.gaps import report
        from handoff.store import Store

        async with Redis.from_url(url, decode_responses=True, socket_timeout=10) as redis:
            return await report(Store(redis, prefix), time.time() if now is None else now, args.since, timezone)

    try:
        found = asyncio.run(read())
    except Exception as exc:  # Redis down or unreachable: say so, with the reason
        print(f"cannot read the questions: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        json.dump(found, out, ensure_ascii=False, indent=2)
        print(file=out)
        return 0
    print(f"{found['questions']} unanswered or unhelped questions from {found['conversations']} conversations "
          f"in the last {args.since}; {len(found['gaps'])} groups, largest first", file=out)
    for rank, gap in enumerate(found["gaps"][:args.top], 1):
        langs = ", ".join(f"{lang} {n}" for lang, n in gap["languages"].items())
        print(f"\n{rank}. {gap['conversations']} conversations ({langs}): {gap['not_answered']} not answered, "
              f"{gap['not_helped']} not helped", file=out)
        for example in gap["examples"]:
            print(f"     \u201c{example}\u201d", file=out)
        if gap["articles_not_helped"]:
            print("   articles shown that did not help: " + ", ".join(
                f"{a} ({n})" for a, n in gap["articles_not_helped"].items()), file=out)
        if gap["tickets"]:
            print(f"   became tickets: {', '.join(gap['tickets'][:10])}" + (" ..." if len(gap["tickets"]) > 10 else ""),
                  file=out)
        for draft in gap["drafts"]:
            print(f"   draft proposed ({draft['reference']}): {draft['title']} -> {draft['path']}", file=out)
    if found["other_drafts"]:
        print("\ndrafts proposed for tickets of no group above:", file=out)
        for draft in found["other_drafts"]:
            print(f"   {draft['reference']}: {draft['title']} -> {draft['path']}", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``kb`` commands alone (``python -m stack.kb_cli check``) without the rest of the CLI."""
    parser = argparse.ArgumentParser(prog="frontdoor")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["kb", *(argv if argv is not None else sys.argv[1:])])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
