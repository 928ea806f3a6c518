"""`frontdoor kb check | search | eval`: output and exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from stack import kb_cli


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="frontdoor")
    kb_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_check_ok(kb_root: Path, matrix_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["kb", "check", "--root", str(kb_root), "--matrix", str(matrix_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["10 articles OK (3 de, 5 en, 2 da); out-of-scope examples: none; 0 errors, 0 warnings"]


def test_check_reports_path_line_message_and_fails(kb_root: Path, matrix_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    bad = kb_root / "de" / "billing-double-charge.md"
    bad.write_text(bad.read_text(encoding="utf-8").replace("category: billing", "category: money"),
                   encoding="utf-8")
    assert run(["kb", "check", "--root", str(kb_root), "--matrix", str(matrix_path)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith(f"{bad}:5: unknown category 'money'")
    assert lines[-1] == "9 articles OK (2 de, 5 en, 2 da); out-of-scope examples: none; 1 errors, 0 warnings"


def test_check_warnings_fail_only_when_strict(kb_root: Path, matrix_path: Path) -> None:
    path = kb_root / "en" / "subscription-pause.md"
    path.write_text(path.read_text(encoding="utf-8").replace("tags:", "colour: red\ntags:"), encoding="utf-8")
    args = ["kb", "check", "--root", str(kb_root), "--matrix", str(matrix_path)]
    assert run(args) == 0
    assert run([*args, "--strict"]) == 1


def test_check_missing_matrix_is_an_error(kb_root: Path, tmp_path: Path) -> None:
    assert run(["kb", "check", "--root", str(kb_root), "--matrix", str(tmp_path / "none.yml")]) == 2


def test_search_prints_ranked_articles_fallback_and_abstention(
    kb_root: Path, matrix_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["kb", "search", "--root", str(kb_root), "--matrix", str(matrix_path)]
    assert run([*base, "doppelte Abbuchung", "--lang", "de", "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[2] == "billing-double-charge"
    assert "=> answers with billing-double-charge" in out
    assert run([*base, "E-2002", "--lang", "da"]) == 0
    assert "[fallback: en article, no da translation]" in capsys.readouterr().out
    assert run([*base, "what's the weather in Paris tomorrow"]) == 0
    assert "=> abstains" in capsys.readouterr().out


def test_eval_own_cases_and_dataset(kb_root: Path, matrix_path: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "en.jsonl").write_text(
        '{"text": "charged twice", "lang": "en", "expected": "billing-double-charge"}\n'
        '{"text": "what is the weather tomorrow", "lang": "en", "expected": null}\n', encoding="utf-8")
    assert run(["kb", "eval", "--root", str(kb_root), "--matrix", str(matrix_path), "--cases", str(cases)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["languages"]["en"]["in_scope_accuracy"] == 1.0
    assert report["languages"]["en"]["oos_recall"] == 1.0

    rows = [{"text": f"{verb} my {thing}", "label": f"{verb}_{thing}", "lang": "en"}
            for verb in ("reset", "cancel", "pay") for thing in ("password", "order", "bill")]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows * 2), encoding="utf-8")
    test = tmp_path / "test.jsonl"
    test.write_text(json.dumps({"text": "please cancel my order", "label": "cancel_order", "lang": "en"}) + "\n"
                    + json.dumps({"text": "sing me a song", "label": None, "lang": "en"}) + "\n", encoding="utf-8")
    assert run(["kb", "eval", "--train", str(train), "--test", str(test), "--shots", "1", "--seed", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["articles"] == 9 and report["questions"] == 9
    assert report["in_scope_accuracy"] == 1.0 and report["oos_recall"] == 1.0
    assert report["threshold_chosen_on"] == "engine default"
    assert set(report["latency"]) == {"p50_ms", "p99_ms"}
    assert run(["kb", "eval", "--train", str(train)]) == 2


def test_eval_dataset_out_of_scope_rows_become_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"text": f"{verb} my {thing}", "label": f"{verb}_{thing}", "lang": "en"}
            for verb in ("reset", "cancel", "pay") for thing in ("password", "order", "bill")]
    oos = [{"text": f"what is the weather in {city}", "label": None, "lang": "en"}
           for city in ("paris", "rome", "oslo", "berlin", "madrid")]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows + oos), encoding="utf-8")
    test = tmp_path / "test.jsonl"
    test.write_text(json.dumps({"text": "what is the weather in london", "label": None, "lang": "en"}) + "\n"
                    + json.dumps({"text": "cancel my order please", "label": "cancel_order", "lang": "en"}) + "\n",
                    encoding="utf-8")
    base = ["kb", "eval", "--train", str(train), "--test", str(test)]
    assert run(base) == 0
    without = json.loads(capsys.readouterr().out)
    assert without["articles"] == 9 and without["oos_examples"] == 0
    assert run([*base, "--oos-examples"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["articles"] == 9 and report["oos_examples"] == 5  # examples, never articles
    assert report["oos_recall"] == 1.0 and report["in_scope_accuracy"] == 1.0
