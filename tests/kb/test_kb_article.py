"""Parsing and validation: every kind of problem is reported with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.kb.article import Issue, load_articles, parse_article
from bot.taxonomy import load_taxonomy

from kb_fixtures import MATRIX, article_text

SIX = [f"question number {i}" for i in range(6)]


def _write(root: Path, lang: str, name: str, text: str) -> Path:
    folder = root / lang
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def taxonomy(tmp_path: Path):  # type: ignore[no-untyped-def]
    p = tmp_path / "m.yml"
    p.write_text(MATRIX, encoding="utf-8")
    return load_taxonomy(p)


def _errors(issues: tuple[Issue, ...] | list[Issue]) -> list[tuple[int, str]]:
    return [(i.line, i.message) for i in issues if i.severity == "error"]


def test_valid_article_parses_with_all_fields(tmp_path: Path, taxonomy) -> None:  # type: ignore[no-untyped-def]
    text = article_text("billing-x", "de", "Titel", SIX, "Erster Absatz.\n\nZweiter.", "billing",
                        "escalate_to: billing\nproducts: [Stick]\nerror_codes: [E-1]\n")
    path = _write(tmp_path, "de", "billing-x.md", text)
    result = parse_article(path, None, taxonomy, "de")
    assert result.issues == ()
    art = result.article
    assert art is not None
    assert (art.id, art.lang, art.category, art.escalate_to) == ("billing-x", "de", "billing", "billing")
    assert art.questions == tuple(SIX) and art.products == ("Stick",) and art.error_codes == ("E-1",)
    assert art.summary == "Erster Absatz." and art.line == 2


# (front matter lines after the opening ---, expected line, expected message fragment)
CASES = [
    ("id: a\ntitle: T\nlang: de\ncategory: billing\ntags: [x\nquestions: []\n", 6, "invalid YAML"),
    ("id: a\ntitle: T\nlang: de\ncategory: billing\nquestions: Q6\nsummary: a: b\n", 13, "invalid YAML"),
    ("id: a\ntitle: T\nlang: de\ncategory: nope\nquestions: Q6\n", 5, "unknown category 'nope'"),
    ("id: a\ntitle: T\nlang: de\ncategory: billing\nescalate_to: nowhere\nquestions: Q6\n", 6,
     "unknown queue 'nowhere'"),
    ("id: a\ntitle: T\nlang: fr\ncategory: billing\nquestions: Q6\n", 4, "unknown lang 'fr'"),
    ("id: a\ntitle: T\nlang: en\ncategory: billing\nquestions: Q6\n", 4, "does not match the folder 'de'"),
    ("id: a\ntitle: T\nlang: de\ncategory: billing\nquestions:\n  - one\n  - two\n", 6, "only 2 questions"),
    ("id: a\nlang: de\ncategory: billing\nquestions: Q6\n", 1, "missing required field 'title'"),
    ("id: Bad Id\ntitle: T\nlang: de\ncategory: billing\nquestions: Q6\n", 2, "invalid id 'Bad Id'"),
    ("id: a\ntitle: T\nlang: de\ncategory: billing\ntags: notalist\nquestions: Q6\n", 6,
     "field 'tags' must be a list"),
    ("id: a\ntitle: T\nlang: de\ncategory: billing\nquestions:\n  - one\n  - [nested]\n  - 3\n  - 4\n"
     "  - 5\n  - 6\n", 8, "item 2 of 'questions'"),
    ("id: a\ntitle: T\ntitle: U\nlang: de\ncategory: billing\nquestions: Q6\n", 4, "duplicate field 'title'"),
    ("- just\n- a list\n", 2, "must be a YAML mapping"),
]


@pytest.mark.parametrize(("front", "line", "fragment"), CASES)
def test_each_error_kind_has_its_line(tmp_path: Path, taxonomy, front: str, line: int, fragment: str  # type: ignore[no-untyped-def]
                                      ) -> None:
    q6 = "\n" + "".join(f"  - q{i}\n" for i in range(6))
    text = "---\n" + front.replace(" Q6\n", q6) + "---\nBody.\n"
    path = _write(tmp_path, "de", "a.md", text)
    result = parse_article(path, None, taxonomy, "de")
    assert result.article is None
    errors = _errors(result.issues)
    assert any(ln == line and fragment in msg for ln, msg in errors), errors
    assert all(i.path == path for i in result.issues)
    assert str([i for i in result.issues if fragment in i.message][0]).startswith(f"{path}:{line}: ")


def test_missing_front_matter_and_empty_body(tmp_path: Path, taxonomy) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, "de", "a.md", "# Just markdown\n")
    assert _errors(parse_article(path, None, taxonomy, "de").issues)[0][0] == 1
    text = article_text("a", "de", "T", SIX, "", "billing")
    path = _write(tmp_path, "de", "b.md", text)
    body_line = text.count("\n", 0, text.index("---\n", 4)) + 2
    assert _errors(parse_article(path, None, taxonomy, "de").issues) == [
        (body_line, "empty body: the article needs an answer below the front matter")]


def test_unknown_field_is_only_a_warning(tmp_path: Path, taxonomy) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, "de", "a.md", article_text("a", "de", "T", SIX, "B", extra="colour: red\n"))
    result = parse_article(path, None, taxonomy, "de")
    assert result.article is not None
    assert [(i.severity, i.message) for i in result.issues] == [("warning", "unknown field 'colour'")]


def test_duplicate_ids_per_language_and_drafts_and_unknown_folders(tmp_path: Path, taxonomy  # type: ignore[no-untyped-def]
                                                                   ) -> None:
    root = tmp_path / "kb"
    first = _write(root, "de", "a.md", article_text("same", "de", "T", SIX, "B"))
    second = _write(root, "de", "b.md", article_text("same", "de", "T2", SIX, "B"))
    _write(root, "en", "a.md", article_text("same", "en", "T", SIX, "B"))  # a translation, fine
    _write(root, "drafts", "c.md", "not even front matter")  # drafts are not served nor checked
    stray = _write(root, "fr", "d.md", article_text("x", "de", "T", SIX, "B"))
    articles, issues = load_articles(root, taxonomy)
    assert sorted((a.lang, a.path.name) for a in articles) == [("de", "a.md"), ("en", "a.md")]
    dup = [i for i in issues if "duplicate id" in i.message]
    assert len(dup) == 1 and dup[0].path == second and dup[0].line == 2 and f"{first}:2" in dup[0].message
    assert any(i.path == stray and "unknown language folder 'fr'" in i.message for i in issues)


def test_knowledge_base_skips_and_logs_a_bad_article_and_serves_the_rest(
    kb_root: Path, matrix_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.kb.search import KnowledgeBase

    bad = _write(kb_root, "en", "broken.md", "---\nid: broken\ntitle: [oops\n---\nBody\n")
    with caplog.at_level("WARNING", logger="bot.kb"):
        kb = KnowledgeBase.load(kb_root, matrix_path)
    assert len(kb.issues) == 1
    assert str(kb.issues[0]).startswith(f"{bad}:3: invalid YAML in front matter: while parsing a flow sequence")
    assert f"{bad}:3:" in caplog.text
    assert len(kb.articles()) == 10
    assert kb.search("charged twice", "en").hits[0].article.id == "billing-double-charge"


def test_missing_taxonomy_is_an_issue_but_articles_are_served(kb_root: Path, tmp_path: Path) -> None:
    from bot.kb.search import KnowledgeBase

    kb = KnowledgeBase.load(kb_root, tmp_path / "missing.yml")
    assert len(kb.articles()) == 10
    assert [i.path for i in kb.issues] == [tmp_path / "missing.yml"]
