"""Benchmark of the knowledge-base search engine (bot/kb).

Runs, with the same code the bot uses (the sentence encoder included, unless --lexical-only):
1. CLINC150 with 10 training examples per intent (threshold chosen on val), several seeds;
2. CLINC150 with all training data (threshold chosen on val);
3. the project's own regression cases (tests/kb_cases/*.jsonl) against kb_articles/;
4. xSID across languages: articles from the English file, queries from the German and Danish ones;
5. the real KB: index build with an empty embedding cache (cold) and from the cache, query latency
   including the encoding of the query;
6. a synthetic 1,000-article knowledge base on disk: cold and warm index build, reload after one
   edit, end-to-end hot reload through the watcher, query latency p50/p99.

Usage:  .venv/bin/python scripts/bench_kb.py [--only clinc10,clinc_full,own,xsid,realkb,synthetic]
            [--lexical-only] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dataclasses import replace  # noqa: E402

from bot.kb.encoder import E5Encoder, cache_folder  # noqa: E402
from research.evaluate import (  # noqa: E402
    evaluate_cases,
    evaluate_cases_split,
    evaluate_dataset,
    latency,
    read_jsonl,
    cases_from_rows,
    run_cases,
)
from bot.kb.search import KnowledgeBase  # noqa: E402

# the shared evaluation datasets: $FRONTDOOR_EVAL_DATA, else ../shared/eval beside the checkout
EVAL = Path(os.environ.get("FRONTDOOR_EVAL_DATA") or ROOT.parent / "shared" / "eval")
CLINC = EVAL / "clinc150"
XSID = EVAL / "xsid"
DENSE: dict[str, Any] = {}  # the encoder keywords for KnowledgeBase; empty with --lexical-only

WORDS = ("account app billing card charge code device download email error film invoice language "
         "login order password payment plan profile refund region remote screen series stick "
         "subscription subtitle television voucher wifi quality sound update browser history "
         "address delivery parcel return warranty family kids pin limit stream offline").split()
VERBS = "reset cancel change update fix find delete export pause renew connect install restore".split()
FRAMES = ["how do i {v} my {a} {b}", "i want to {v} the {a} for my {b}", "{a} {b} not working after {v}",
          "can you help me {v} {a}", "where can i {v} my {b} {a}", "problem with {a} and {b} when i {v}",
          "{v} {a} {b}", "why can't i {v} the {b} {a}"]


def synthetic_kb(root: Path, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Write n English articles (8 questions, ~150-word body); return (query, expected id) pairs."""
    rng = random.Random(seed)
    (root / "en").mkdir(parents=True)
    queries: list[tuple[str, str]] = []
    for i in range(n):
        v, a, b = rng.choice(VERBS), rng.choice(WORDS), rng.choice(WORDS)
        extra = f"{rng.choice(WORDS)}{i}"  # a unique term per article, like a product or error code
        qs = [rng.choice(FRAMES).format(v=v, a=a, b=b) + f" {extra}" * (j % 2) for j in range(8)]
        body = " ".join(rng.choice(WORDS + VERBS) for _ in range(150))
        qlines = "\n".join(f"  - {q}" for q in qs)
        (root / "en" / f"art-{i:04d}.md").write_text(
            f"---\nid: art-{i:04d}\ntitle: {v.title()} {a} {b} {extra}\nlang: en\ncategory: general\n"
            f"tags: [{a}, {b}]\nquestions:\n{qlines}\n---\n{body}.\n", encoding="utf-8")
        queries.append((f"{rng.choice(FRAMES).format(v=v, a=a, b=b)} {extra}", f"art-{i:04d}"))
    return queries


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def bench_synthetic(n: int = 1000) -> dict[str, Any]:
    out: dict[str, Any] = {"articles": n}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "kb_articles"
        queries = synthetic_kb(root, n)
        matrix = ROOT / "handoff" / "escalation_matrix.yml"
        t0 = time.perf_counter()
        kb = KnowledgeBase.load(root, matrix, **DENSE)
        out["load_cold_s"] = round(time.perf_counter() - t0, 3)  # incl. spaCy pipeline + parsing
        assert len(kb.articles()) == n, kb.issues[:3]
        t0 = time.perf_counter()
        KnowledgeBase.load(root, matrix, **DENSE)
        out["load_warm_s"] = round(time.perf_counter() - t0, 3)  # new process state, pipeline loaded
        t0 = time.perf_counter()
        kb.reload()
        out["reload_unchanged_s"] = round(time.perf_counter() - t0, 3)
        edited = root / "en" / "art-0007.md"
        edited.write_text(edited.read_text(encoding="utf-8").replace("questions:", "questions:\n  - zebra "
                                                                           "crossing firmware"), encoding="utf-8")
        t0 = time.perf_counter()
        kb.reload()
        out["reload_one_edit_s"] = round(time.perf_counter() - t0, 3)
        # end-to-end: save a new article, poll until it answers (watcher interval 0.5 s)
        with kb.watch(interval=0.5):
            time.sleep(0.6)
            new = root / "en" / "new-article.md"
            qs = "\n".join(f"  - quokka {w} question" for w in ("one", "two", "three", "four", "five", "six"))
            t0 = time.perf_counter()
            new.write_text(f"---\nid: new-article\ntitle: Quokka\nlang: en\ncategory: general\nquestions:\n"
                           f"{qs}\n---\nQuokka body.\n", encoding="utf-8")
            while time.perf_counter() - t0 < 10:
                res = kb.search("quokka question", "en")
                if res.hits and res.hits[0].article.id == "new-article":
                    break
                time.sleep(0.02)
            out["hot_reload_visible_s"] = round(time.perf_counter() - t0, 3)
        lat: list[float] = []
        correct = 0
        oos = ["what is the capital of peru", "play some jazz music", "tell me a joke about cats"] * 50
        for q, exp in queries + [(q, "") for q in oos]:
            t0 = time.perf_counter()
            res = kb.search(q, "en", k=3)
            lat.append((time.perf_counter() - t0) * 1000)
            correct += bool(exp) and res.hits[0].article.id == exp
        # second pass: analysis caches are warm (repeated queries); report the first pass only
        out["queries"] = len(lat)
        out["query_p50_ms"] = round(pct(lat, 50), 3)
        out["query_p99_ms"] = round(pct(lat, 99), 3)
        out["query_max_ms"] = round(max(lat), 3)
        out["top1_on_synthetic"] = round(correct / len(queries), 4)
    return out


def bench_real_kb() -> dict[str, Any]:
    """The real KB: build with an empty embedding cache, then from the cache; queries with encoding."""
    out: dict[str, Any] = {}
    matrix = ROOT / "handoff" / "escalation_matrix.yml"
    with tempfile.TemporaryDirectory() as tmp:
        dense = {**DENSE, "embedding_cache": Path(tmp)} if DENSE else {}
        for name in ("build_cold_s", "build_from_cache_s"):
            t0 = time.perf_counter()
            kb = KnowledgeBase.load(ROOT / "kb_articles", matrix, **dense)
            out[name] = round(time.perf_counter() - t0, 3)
    cases = []
    for path in sorted((ROOT / "tests" / "kb_cases").glob("*.jsonl")):
        cases.extend(cases_from_rows(read_jsonl(path)))
    out["questions"] = sum(len(ix.q_owner) for ix in kb._state.indexes.values())
    out["query_latency_incl_encoding"] = latency(run_cases(kb, cases))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="clinc10,clinc_full,own,xsid,realkb,synthetic")
    parser.add_argument("--lexical-only", action="store_true", help="without the sentence encoder")
    parser.add_argument("--seeds", default="0,1,2", help="seeds for the 10-shot runs")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--min-oos-recall", type=float, default=0.8,
                        help="CLINC threshold rule: max in-scope accuracy with this OOS recall on val")
    parser.add_argument("--oos-confidence", type=float, default=None,
                        help="CLINC threshold rule: the val OOS recall that proves --min-oos-recall at this confidence")
    parser.add_argument("--oos-examples", action="store_true",
                        help="CLINC: the 100 out-of-scope training rows become the KB's out-of-scope examples")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    parts = set(args.only.split(","))
    if not args.lexical_only:
        DENSE.update(encoder=E5Encoder(), embedding_cache=cache_folder(os.environ))
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "loadavg_at_start": os.getloadavg()},
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "encoder": None if args.lexical_only else E5Encoder.model_id,
    }
    if "realkb" in parts:
        report["real_kb"] = bench_real_kb()
        print(json.dumps(report["real_kb"]), flush=True)
    if "xsid" in parts:
        report["xsid"] = {}
        for lang in ("de", "da"):
            r = evaluate_dataset(XSID / "en.valid.jsonl", XSID / f"{lang}.valid.jsonl", **DENSE)
            report["xsid"][f"en_articles_{lang}_queries"] = r
            print(json.dumps(r), flush=True)
    if "synthetic" in parts:
        report["synthetic_1000"] = bench_synthetic(1000)
        print(json.dumps(report["synthetic_1000"]), flush=True)
    if "own" in parts:
        kb = KnowledgeBase.load(ROOT / "kb_articles", ROOT / "handoff" / "escalation_matrix.yml", **DENSE)
        cases = ROOT / "tests" / "kb_cases"
        own = evaluate_cases(kb, cases)  # at the engine's default threshold (itself tuned on these cases)
        own.pop("failures", None)
        # honest thresholds: chosen on one half of the cases, reported on the other half (both ways),
        # with the target rule (OOS recall >= 0.85 on the tuning half in every language; the rule that
        # chose the default threshold on all the cases), the pooled rule, and the balanced rule
        own["split_half_oos090_per_language"] = evaluate_cases_split(kb, cases, 0.90, per_language=True,
                                                                     random_splits=50)
        own["split_half_oos085_per_language"] = evaluate_cases_split(kb, cases, 0.85, per_language=True,
                                                                     random_splits=50)
        own["split_half_oos085"] = evaluate_cases_split(kb, cases, 0.85, random_splits=50)
        own["split_half_balanced"] = evaluate_cases_split(kb, cases, None)
        default = kb.config
        kb.config = replace(default, threshold=0.0, out_of_scope_margin=float("inf"))  # ranking alone
        rank_only = evaluate_cases(kb, cases)
        kb.config = default
        own["rank_only"] = {lang: {k: m[k] for k in ("in_scope_accuracy", "top3_accuracy")}
                            for lang, m in rank_only["languages"].items()}
        report["own_cases"] = own
        print(json.dumps(own), flush=True)
    if "clinc10" in parts:
        runs = []
        for seed in (int(s) for s in args.seeds.split(",")):
            r = evaluate_dataset(CLINC / "train.jsonl", CLINC / "test.jsonl", CLINC / "val.jsonl", shots=10, seed=seed,
                                 min_oos_recall=args.min_oos_recall, oos_examples=args.oos_examples,
                                 oos_confidence=args.oos_confidence, **DENSE)
            runs.append(r)
            print(json.dumps(r), flush=True)
        report["clinc150_10shot"] = runs
    if "clinc_full" in parts:
        r = evaluate_dataset(CLINC / "train.jsonl", CLINC / "test.jsonl", CLINC / "val.jsonl", shots=0, seed=0,
                             min_oos_recall=args.min_oos_recall, oos_examples=args.oos_examples,
                                 oos_confidence=args.oos_confidence, **DENSE)
        report["clinc150_full"] = r
        print(json.dumps(r), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
