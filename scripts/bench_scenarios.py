#!/usr/bin/env python
"""Customer-scenario benchmark: runs the scenario suite (tests/e2e/test_scenarios.py) with pytest in this
process -- one real stack, started by the e2e ``stack`` fixture on free ports -- and prints a JSON report:
pass rates per language and per class, and every failing scenario with its first failing check.

    .venv/bin/python scripts/bench_scenarios.py                 # every scenario
    .venv/bin/python scripts/bench_scenarios.py --lang de       # one language (repeatable)
    .venv/bin/python scripts/bench_scenarios.py --class privacy --out var/scenarios.json
    .venv/bin/python scripts/bench_scenarios.py --set holdout   # the held-out scenarios (measure only)
    .venv/bin/python scripts/bench_scenarios.py --set fresh     # the third author's set (measure only)

A known gap (tests/e2e/scenarios/known_gaps.yml, a strict xfail in the test run) counts here as what it
is: failed while it fails, passed once it passes.

Needs a trained model for the current inputs (`make test` or `.venv/bin/frontdoor train`). pytest's own
output goes to stderr, the JSON report to stdout (and to --out). Exit code 0 when every selected scenario
ran (passed or failed), 2 when the suite could not run (no model, stack did not start, bad scenario file).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "tests" / "e2e" / "test_scenarios.py"
sys.path.insert(0, str(ROOT))


class Collector:
    """pytest plugin: the outcome and first failing check of every scenario test."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []

    def pytest_runtest_logreport(self, report: Any) -> None:
        if "[" not in report.nodeid:
            return
        scenario_id = report.nodeid.split("[", 1)[1].rstrip("]")
        props = dict(report.user_properties)
        if report.when == "call":
            first = props.get("first_failing_check")
            if report.failed and "XPASS(strict)" in report.longreprtext:  # a known gap that now passes
                self.results[scenario_id] = {"passed": True, "first_failing_check": None,
                                             "seconds": props.get("seconds")}
                return
            if report.failed and not first:
                first = "error: " + _first_line(report.longreprtext)
            self.results[scenario_id] = {
                "passed": report.passed,
                "first_failing_check": first,
                "seconds": props.get("seconds"),
            }
        elif report.failed:  # setup (the stack) or teardown
            self.results.setdefault(
                scenario_id,
                {
                    "passed": False,
                    "seconds": None,
                    "first_failing_check": f"{report.when} error: " + _first_line(report.longreprtext),
                },
            )
            self.errors.append(f"{scenario_id}: {report.when}: {_first_line(report.longreprtext)}")

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.errors.append(f"collection: {_first_line(report.longreprtext)}")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("FAILED "):
            return line[len("FAILED ") :]
        if line.startswith("E "):
            return line[2:].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "unknown"


def _rate(passed: int, total: int) -> dict[str, Any]:
    return {"passed": passed, "total": total, "pass_rate": round(passed / total, 3) if total else None}


def report(scenarios: list[dict[str, Any]], collector: Collector, seconds: float) -> dict[str, Any]:
    by_lang: dict[str, list[bool]] = defaultdict(list)
    by_class: dict[str, list[bool]] = defaultdict(list)
    by_lang_class: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    failing = []
    not_run = []
    for scenario in scenarios:
        result = collector.results.get(scenario["id"])
        if result is None:
            not_run.append(scenario["id"])
            continue
        ok = bool(result["passed"])
        by_lang[scenario["language"]].append(ok)
        by_class[scenario["class"]].append(ok)
        by_lang_class[scenario["language"]][scenario["class"]].append(ok)
        if not ok:
            failing.append(
                {
                    "id": scenario["id"],
                    "language": scenario["language"],
                    "class": scenario["class"],
                    "first_failing_check": result["first_failing_check"],
                }
            )
    ran = [ok for oks in by_lang.values() for ok in oks]
    return {
        "scenarios": len(ran),
        **_rate(sum(ran), len(ran)),
        "per_language": {lang: _rate(sum(oks), len(oks)) for lang, oks in sorted(by_lang.items())},
        "per_class": {cls: _rate(sum(oks), len(oks)) for cls, oks in sorted(by_class.items())},
        "per_language_and_class": {
            lang: {cls: f"{sum(oks)}/{len(oks)}" for cls, oks in sorted(classes.items())}
            for lang, classes in sorted(by_lang_class.items())
        },
        "failing": failing,
        "not_run": not_run,
        "errors": collector.errors,
        "seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", dest="set_name", choices=["suite", "holdout", "fresh"], default="suite",
                        help="suite: tests/e2e/scenarios/<lang>.yml; holdout: holdout_<lang>.yml; fresh: fresh_<lang>.yml")
    parser.add_argument("--lang", action="append", choices=["de", "en", "da"], help="only this language")
    parser.add_argument("--class", dest="classes", action="append", help="only this scenario class")
    parser.add_argument("--id", dest="ids", action="append", help="only scenario ids containing this text")
    parser.add_argument("--out", type=Path, help="also write the JSON report to this file")
    parser.add_argument("--verbose", action="store_true", help="pytest's full failure reports on stderr")
    args = parser.parse_args(argv)

    import pytest

    try:
        from tests.e2e.test_scenarios import load_scenarios

        scenarios = load_scenarios(set_name=args.set_name)
    except (ValueError, OSError) as exc:
        print(f"cannot load the scenarios: {exc}", file=sys.stderr)
        return 2
    selected = [
        s
        for s in scenarios
        if (not args.lang or s["language"] in args.lang)
        and (not args.classes or s["class"] in args.classes)
        and (not args.ids or any(part in s["id"] for part in args.ids))
    ]
    if not selected:
        print("no scenario matches the selection", file=sys.stderr)
        return 2
    test = {"suite": "test_scenario", "holdout": "test_holdout_scenario", "fresh": "test_fresh_scenario"}[args.set_name]
    node_ids = [f"{RUNNER}::{test}[{s['id']}]" for s in selected]
    pytest_args = [
        *node_ids,
        "-p",
        "no:cacheprovider",
        "-m",
        "e2e",
        "--rootdir",
        str(ROOT),
        "-o",
        "addopts=",
        "--tb=short" if args.verbose else "--tb=no",
        "-q",
        *(["--holdout"] if args.set_name != "suite" else []),
    ]
    collector = Collector()
    started = time.monotonic()
    with contextlib.redirect_stdout(sys.stderr):
        code = pytest.main(pytest_args, plugins=[collector])
    result = report(selected, collector, time.monotonic() - started)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    if (
        result["not_run"]
        or result["errors"]
        or code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    ):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
