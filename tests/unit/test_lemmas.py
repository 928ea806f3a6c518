"""The compact lemma table gives spaCy's lookup lemmatizer's answers (issue 14: it replaced spaCy's
in-memory table, 300 MB per process for de+da)."""

from __future__ import annotations

import pytest

from bot.kb.analysis import _import_spacy, pipeline
from bot.lemmas import LemmaTable, lemma, lemma_table, read_lookup


@pytest.mark.parametrize("lang", ["de", "en", "da"])
def test_every_word_of_the_shipped_table_keeps_its_lemma(lang: str) -> None:
    data = read_lookup(lang)
    assert data, f"spacy-lookups-data has no {lang} table"
    table = lemma_table(lang)
    assert table is not None and table.size == len(data)
    wrong = [w for w, v in data.items() if table.get(w, w) != (v if isinstance(v, str) else v[0])]
    assert wrong == []
    assert table.nbytes() < 16 * 2**20  # spaCy's dict: 117-200 MB


@pytest.mark.parametrize(("lang", "text"), [
    ("de", "Mir wurde mein Abo diesen Monat zweimal abgebucht, die Rechnungen stimmen nicht"),
    ("en", "I was charged twice and my children's accounts were locked"),
    ("da", "Jeg er blevet trukket to gange for mine abonnementer, og fakturaerne passer ikke"),
])
def test_same_lemmas_as_spacys_lookup_lemmatizer(lang: str, text: str) -> None:
    spacy = _import_spacy()
    reference = spacy.blank(lang)
    reference.add_pipe("lemmatizer", config={"mode": "lookup"})
    reference.initialize()
    expected = [(t.text, t.lemma_) for t in reference(text)]
    got = [(t.text, lemma(lang, t.text)) for t in pipeline(lang)(text)]
    assert got == expected
    assert any(word != lem for word, lem in got)  # the sentence has inflected words


def test_unknown_words_case_and_list_values() -> None:
    table = LemmaTable({"Häuser": "Haus", "went": ["go", "wend"], "empty": []})
    assert table.get("Häuser", "x") == "Haus"
    assert table.get("häuser", "häuser") == "häuser"  # exact text, as spaCy's table
    assert table.get("went", "went") == "go"
    assert table.get("empty", "empty") == "empty"
    assert table.get("unknown", "default") == "default"
    assert lemma("xx", "word") == "word"  # a language without a table


def test_words_whose_hashes_collide_are_kept_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_hash = builtins.hash
    monkeypatch.setattr(builtins, "hash", lambda s: 7 if s in ("a", "b") else real_hash(s))
    table = LemmaTable({"a": "A", "b": "B", "c": "C"})
    assert (table.get("a", "?"), table.get("b", "?"), table.get("c", "?")) == ("A", "B", "C")
