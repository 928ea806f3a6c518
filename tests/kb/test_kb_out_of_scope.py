"""Out-of-scope examples (``<lang>/out_of_scope.yml``): parsing with file and line, abstention when a
query is closer to them than to any article, hot reload, ``kb check``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.kb.article import OUT_OF_SCOPE_ID, load_out_of_scope, parse_out_of_scope
from research.evaluate import articles_from_dataset
from bot.kb.search import KnowledgeBase
from test_kb_cli import run

EXAMPLES = [
    "how do I cancel my gym membership", "cancel my newspaper subscription", "end my phone contract",
    "reset the password of my wifi router", "my router password does not work", "where is my amazon parcel",
    "track my zalando order", "delete my facebook account", "how do I delete my instagram profile",
    "what is the weather tomorrow", "tell me a joke", "who won the football match yesterday",
]


def write_oos(root: Path, lang: str, examples: list[str]) -> Path:
    path = root / lang / "out_of_scope.yml"
    path.write_text("# not answered\nexamples:\n" + "".join(f"  - {e}\n" for e in examples), encoding="utf-8")
    return path


def test_parse_reports_bad_entries_with_line_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "out_of_scope.yml"
    path.write_text("examples:\n  - tell me a joke\n  - [not, a, text]\n  - ''\n  - Tell me  a joke\n"
                    "  - what is the weather\ncolour: red\n", encoding="utf-8")
    examples, issues = parse_out_of_scope(path)
    assert examples == ("tell me a joke", "what is the weather")
    found = {(i.line, i.severity, i.message.split(" (")[0]) for i in issues}
    assert found == {(3, "error", "an example must be a non-empty text"),
                     (4, "error", "an example must be a non-empty text"),
                     (5, "warning", "duplicate example"),
                     (7, "warning", "unknown field 'colour'")}


@pytest.mark.parametrize(("text", "line", "message"), [
    ("examples:\n  - fine\n  - [unclosed\n", 4, "invalid YAML"),
    ("examples: just a text\n", 1, "expected 'examples:'"),
    ("- a list without the key\n", 1, "expected 'examples:'"),
])
def test_a_broken_file_is_one_error_with_its_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "out_of_scope.yml"
    path.write_text(text, encoding="utf-8")
    examples, issues = parse_out_of_scope(path)
    assert examples == ()
    assert [(i.line, i.message.startswith(message)) for i in issues if i.severity == "error"] == [(line, True)]


def test_queries_like_the_examples_abstain_and_articles_still_answer(kb_root: Path, matrix_path: Path) -> None:
    without = KnowledgeBase.load(kb_root, matrix_path)
    write_oos(kb_root, "en", EXAMPLES)
    kb = KnowledgeBase.load(kb_root, matrix_path)
    assert not kb.issues
    # answered by an article without the examples, recognised as someone else's business with them
    assert without.search("how do i cancel my gym membership", "en").best is not None
    res = kb.search("how do i cancel my gym membership", "en")
    assert res.abstained and res.out_of_scope
    assert all(h.article.id != OUT_OF_SCOPE_ID for h in res.hits)  # never shown as a hit
    for query, expected in [("how do I cancel my subscription?", "subscription-cancel"),
                            ("the tv app shows E-2002", "tech-tv-error-2002"),
                            ("I forgot my password", "account-password-reset")]:
        best = kb.search(query, "en").best
        assert best is not None and best.article.id == expected, query
    # other languages have no examples: unchanged
    assert not kb.search("Ich habe mein Passwort vergessen", "de").out_of_scope
    assert [a for a in kb.articles() if a.id == OUT_OF_SCOPE_ID] == []


def test_examples_are_reloaded_and_checked(kb_root: Path, matrix_path: Path) -> None:
    kb = KnowledgeBase.load(kb_root, matrix_path)
    with kb.watch(interval=0.1):
        path = write_oos(kb_root, "en", EXAMPLES)
        deadline = time.monotonic() + 2.0
        while not kb.search("how do i cancel my gym membership", "en").out_of_scope:
            assert time.monotonic() < deadline, "out-of-scope examples not picked up within 2 s"
            time.sleep(0.05)
        path.write_text("examples: [unclosed\n", encoding="utf-8")
        deadline = time.monotonic() + 2.0
        while kb.search("how do i cancel my gym membership", "en").out_of_scope:
            assert time.monotonic() < deadline, "a broken examples file must drop them, not keep serving them"
            time.sleep(0.05)
        assert any(i.path == path and i.message.startswith("invalid YAML") for i in kb.issues)
        assert kb.search("I forgot my password", "en").best is not None  # the articles keep serving


def test_kb_check_reports_the_examples(kb_root: Path, matrix_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_oos(kb_root, "en", EXAMPLES)
    args = ["kb", "check", "--root", str(kb_root), "--matrix", str(matrix_path)]
    assert run(args) == 0
    assert f"out-of-scope examples: {len(EXAMPLES)} en" in capsys.readouterr().out
    (kb_root / "de" / "out_of_scope.yml").write_text("examples:\n  - ok text\n  - {a: b}\n", encoding="utf-8")
    assert run(args) == 1
    assert "out_of_scope.yml:3: an example must be a non-empty text" in capsys.readouterr().out
    assert load_out_of_scope(kb_root)[0]["de"] == ("ok text",)


def test_evaluation_counts_out_of_scope_abstentions(kb_root: Path, matrix_path: Path, tmp_path: Path) -> None:
    from research.evaluate import evaluate_cases

    write_oos(kb_root, "en", EXAMPLES)
    kb = KnowledgeBase.load(kb_root, matrix_path)
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "en.jsonl").write_text(
        '{"text": "how do i cancel my gym membership", "lang": "en", "expected": null}\n'
        '{"text": "cancel my plan please", "lang": "en", "expected": "subscription-cancel"}\n', encoding="utf-8")
    report = evaluate_cases(kb, cases)["languages"]["en"]
    assert (report["oos_recall"], report["in_scope_accuracy"]) == (1.0, 1.0)


def test_a_word_only_the_examples_use_lowers_the_articles(kb_root: Path, matrix_path: Path) -> None:
    from dataclasses import replace

    write_oos(kb_root, "en", EXAMPLES)
    kb = KnowledgeBase.load(kb_root, matrix_path)
    assert kb.config.oos_word_penalty < 1.0
    query = "please cancel my zalando plan"  # "zalando": only in "track my zalando order"
    penalised = kb.search(query, "en").hits[0]
    kb.config = replace(kb.config, oos_word_penalty=1.0)
    plain = kb.search(query, "en").hits[0]
    assert penalised.article.id == plain.article.id == "subscription-cancel"
    assert penalised.score == pytest.approx(plain.score * 0.7, abs=1e-3)
    # a query without such a word is not touched
    kb.config = replace(kb.config, oos_word_penalty=0.7)
    untouched = kb.search("please cancel my plan", "en").hits[0].score
    kb.config = replace(kb.config, oos_word_penalty=1.0)
    assert kb.search("please cancel my plan", "en").hits[0].score == untouched


def test_examples_given_to_the_constructor_decline_similar_queries() -> None:
    """A knowledge base built in code (``kb eval`` on a dataset) takes its out-of-scope examples as an
    argument: a query like them is declined, one like an article is still answered."""
    rows = [{"text": f"{verb} my {thing}", "label": f"{verb}_{thing}", "lang": "en"}
            for verb in ("reset", "cancel", "pay") for thing in ("password", "order", "bill")]
    articles = articles_from_dataset(rows, 0, 0)
    examples = ["pay my gym membership", "cancel my gym membership", "reset my gym locker code",
                "pay the gym membership fee"]
    plain = KnowledgeBase(articles)
    assert not plain.search("cancel my gym membership now", "en").out_of_scope
    kb = KnowledgeBase(articles, out_of_scope={"en": examples})
    declined = kb.search("cancel my gym membership now", "en")
    assert declined.out_of_scope and declined.abstained
    assert all(h.article.id != OUT_OF_SCOPE_ID for h in declined.hits)
    answered = kb.search("cancel my order", "en")
    assert not answered.abstained and answered.hits[0].article.id == "cancel-order"


def write_companies(root: Path, lang: str, names: list[str]) -> Path:
    path = root / lang / "out_of_scope.yml"
    path.write_text("examples:\n  - tell me a joke\ncompanies:\n" + "".join(f'  - "{n}"\n' for n in names),
                    encoding="utf-8")
    return path


def test_another_companys_name_makes_a_question_out_of_scope(kb_root: Path, matrix_path: Path) -> None:
    write_companies(kb_root, "en", ["Disney+", "Danske Bank", "TP-Link"])
    kb = KnowledgeBase.load(kb_root, matrix_path)
    assert kb.search("how do I cancel my subscription?", "en").best is not None
    for query, name in [("how do I cancel my Disney+ subscription?", "Disney+"),
                        ("danske  bank charged me a fee, why", "danske  bank"),
                        ("my tp-link router password does not work", "tp-link")]:
        res = kb.search(query, "en")
        assert res.abstained and res.out_of_scope and res.other_company == name, query
    # names are not bound to a language; our own brand or a comparison keeps the question ours
    assert kb.search("Wie kündige ich mein Disney+ Abo?", "de").other_company == "Disney+"
    assert kb.search("my Danske Bank statement shows two Streamly payments", "en").other_company is None
    assert kb.search("Disney+ works fine, how do I cancel my subscription", "en").best is not None
    # a prefix of a name, or a name inside a word, is not the name
    assert kb.search("how do I cancel my Disney subscription?", "en").other_company is None
    # the customer insists: searched like any question
    insisted = kb.search("how do I cancel my Disney+ subscription?", "en", other_companies=False)
    assert insisted.other_company is None and insisted.best is not None


def test_a_bad_company_entry_is_reported_with_its_line(tmp_path: Path) -> None:
    from bot.kb.article import parse_out_of_scope_file

    path = tmp_path / "out_of_scope.yml"
    path.write_text("examples:\n  - tell me a joke\ncompanies:\n  - Netflix\n  - [a, b]\n  - netflix\n",
                    encoding="utf-8")
    found, issues = parse_out_of_scope_file(path)
    assert found == {"examples": ("tell me a joke",), "companies": ("Netflix",)}
    assert {(i.line, i.severity, i.message.split(" (")[0]) for i in issues} == {
        (5, "error", "a company name must be a non-empty text"), (6, "warning", "duplicate company name")}
    path.write_text("examples:\n  - tell me a joke\ncompanies: Netflix\n", encoding="utf-8")
    found, issues = parse_out_of_scope_file(path)
    assert found == {"examples": ("tell me a joke",)} and [i.line for i in issues] == [3]
