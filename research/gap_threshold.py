"""Chooses how KB-gap questions are grouped (``handoff/gaps.py``): the reference each language's vectors are
centred on, and the similarity at which groups are cut.

Sentence embeddings of multilingual-e5-small are all alike (cosine 0.8-0.9 between unrelated questions)
and carry their language: grouping raw vectors mixes topics and splits one topic by language. Subtracting
the average vector of the language's customer questions (the knowledge base's own questions) removes both.

Two labelled sets, neither used by anything else here:
- the knowledge base's questions: every article's questions in de/en/da ask the same thing (one group per
  article id, across languages); articles of one category are close, so this is the hard case;
- CLINC150's validation split (``../shared/eval/clinc150/val.jsonl``, English), 40 intents drawn with
  ``--seed``: customer-style questions about things the knowledge base does not cover, like gaps.
For each cut the questions are grouped exactly as the gaps page groups customer questions (average linkage)
and scored with the adjusted Rand index against the labels, with impurity (the share of questions not of
their group's main label) and fragmentation (groups per label).

    .venv/bin/python -m research.gap_threshold [--write]   # --write: handoff/gap_reference.json

Prints JSON, one row per cut and set; docs/benchmarks.md has the run that chose the shipped values.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "handoff" / "gap_reference.json"
EVAL = Path(os.environ.get("FRONTDOOR_EVAL_DATA") or ROOT.parent / "shared" / "eval")


def score(labels: list[str], found: list[int]) -> dict[str, Any]:
    from sklearn.metrics import adjusted_rand_score

    by_group: dict[int, list[str]] = defaultdict(list)
    by_label: dict[str, set[int]] = defaultdict(set)
    for group, label in zip(found, labels):
        by_group[group].append(label)
        by_label[label].add(group)
    impure = sum(len(members) - Counter(members).most_common(1)[0][1] for members in by_group.values())
    return {"groups": len(by_group), "adjusted_rand": round(float(adjusted_rand_score(labels, found)), 4),
            "impurity": round(impure / len(labels), 4),
            "fragmentation": round(sum(len(g) for g in by_label.values()) / len(by_label), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kb", type=Path, default=ROOT / "kb_articles")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=12, help="KB questions per article and language at most")
    parser.add_argument("--intents", type=int, default=40, help="CLINC150 intents drawn")
    parser.add_argument("--cuts", default="0.86,0.88,0.30,0.35,0.40,0.45,0.50,0.55")
    parser.add_argument("--write", action="store_true", help="write the per-language reference vectors")
    args = parser.parse_args(argv)

    import numpy as np

    from bot.kb.article import load_articles
    from bot.kb.encoder import CachedEncoder, E5Encoder, cache_folder, encode_vector
    from handoff.gaps import centred, cluster_labels, decode

    articles, _issues = load_articles(args.kb, None)
    encoder = CachedEncoder(E5Encoder(), cache_folder(os.environ))
    reference = {}
    for lang in ("de", "en", "da"):
        vectors = encoder.encode([q for a in articles if a.lang == lang for q in a.questions])
        reference[lang] = [round(float(x), 6) for x in np.asarray(vectors, dtype=np.float64).mean(axis=0)]
    if args.write:
        REFERENCE.write_text(json.dumps({"model": E5Encoder.model_id, "source": "kb_articles questions",
                                         "mean": reference}) + "\n", encoding="utf-8")

    rng = random.Random(args.seed)
    kb_rows: list[tuple[str, str, str]] = []  # text, label, language
    for article in articles:
        questions = list(article.questions)
        rng.shuffle(questions)
        kb_rows += [(q, article.id, article.lang) for q in questions[:args.sample]]
    clinc = [json.loads(line) for line in (EVAL / "clinc150" / "val.jsonl").read_text().splitlines() if line]
    intents = set(rng.sample(sorted({r["label"] for r in clinc if r["label"]}), args.intents))
    clinc_rows = [(r["text"], r["label"], "en") for r in clinc if r["label"] in intents]

    out: dict[str, Any] = {"seed": args.seed, "kb_questions": len(kb_rows), "clinc_questions": len(clinc_rows),
                           "rows": []}
    for name, rows in (("kb_articles", kb_rows), ("clinc150_val", clinc_rows)):
        raw = encoder.encode([t for t, _l, _g in rows]) if name == "kb_articles" else E5Encoder().encode(
            [t for t, _l, _g in rows])
        plain = [decode(encode_vector(v)) for v in raw]  # through the float16 text the signals carry
        shifted = [centred(v, lang, {k: np.asarray(m) for k, m in reference.items()})
                   for v, (_t, _l, lang) in zip(plain, rows)]
        labels = [label for _t, label, _g in rows]
        for cut in [float(c) for c in args.cuts.split(",")]:
            chosen = plain if cut >= 0.8 else shifted  # cuts of 0.8 and above are for raw vectors
            out["rows"].append({"set": name, "centred": cut < 0.8, "similarity": cut,
                                **score(labels, cluster_labels(chosen, cut))})
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
