"""NLU quality: 5-fold cross-validation of the real pipeline (config.yml) per language.

Runs `rasa test nlu --cross-validation --folds 5` on data/nlu/<lang>.yml and prints intent macro-F1,
weighted F1 and accuracy per language as JSON (Rasa's own reports land in var/results/nlu_<lang>/).
Usage: .venv/bin/python scripts/bench_nlu.py [--langs de en da] [--folds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def macro_f1(report: dict[str, dict[str, float]]) -> float:
    return float(report["macro avg"]["f1-score"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--langs", nargs="+", default=["de", "en", "da"])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    results = {}
    for lang in args.langs:
        out = ROOT / "var" / "results" / f"nlu_{lang}"
        started = time.perf_counter()
        command = [sys.executable, "-m", "rasa", "test", "nlu", "--nlu", str(ROOT / "data" / "nlu" / f"{lang}.yml"),
                   "--config", str(ROOT / "config.yml"), "--cross-validation", "--folds", str(args.folds),
                   "--out", str(out)]
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        report = json.loads((out / "intent_report.json").read_text())
        results[lang] = {"intent_macro_f1": round(macro_f1(report), 4),
                         "intent_weighted_f1": round(float(report["weighted avg"]["f1-score"]), 4),
                         "accuracy": round(float(report.get("accuracy", 0.0)), 4),
                         "examples": int(report["macro avg"]["support"]) if "support" in report["macro avg"] else None,
                         "seconds": round(time.perf_counter() - started, 1)}
        print(json.dumps({lang: results[lang]}), flush=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
