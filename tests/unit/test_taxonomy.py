"""One vocabulary: the escalation matrix's categories and queues, with their labels, are read by one
loader (bot/taxonomy.py); the action server and the console use them and keep no copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.texts import CATEGORY_WORDS, category_label, queue_label
from bot.contract import LANGUAGES
from bot.taxonomy import DEFAULT_MATRIX, TaxonomyError, load_taxonomy
from handoff.errors import MatrixError
from handoff.matrix_source import load_matrix

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_matrix_labels_every_category_and_queue_in_every_language() -> None:
    taxonomy = load_taxonomy(DEFAULT_MATRIX, labels_required=True)
    assert taxonomy.categories and taxonomy.queues
    for term in [*taxonomy.categories.values(), *taxonomy.queues.values()]:
        assert set(term.labels) == set(LANGUAGES), term.name


def test_the_action_server_tells_customers_the_matrix_labels() -> None:
    taxonomy = load_taxonomy(DEFAULT_MATRIX)
    for lang in LANGUAGES:
        for name, term in taxonomy.queues.items():
            assert queue_label(name, lang) == term.labels[lang]
        for name, term in taxonomy.categories.items():
            assert category_label(name, lang) == term.labels[lang]
    assert queue_label("no-such-queue", "de") == "no-such-queue"


def test_the_words_for_form_choices_name_exactly_the_matrix_categories() -> None:
    assert set(CATEGORY_WORDS) == set(load_taxonomy(DEFAULT_MATRIX).categories)


def test_the_console_keeps_no_list_of_categories_or_queues() -> None:
    console = (ROOT / "handoff" / "console" / "console.js").read_text(encoding="utf-8")
    taxonomy = load_taxonomy(DEFAULT_MATRIX)
    named = [name for name in [*taxonomy.categories, *taxonomy.queues] if f'"{name}"' in console]
    assert named in ([], ["general"]), named  # "general": the preselected category when a ticket has none
    assert "/api/v1/agent/taxonomy" in console


def test_a_deployment_matrix_without_a_label_fails_at_start_naming_the_file_and_queue(tmp_path: Path) -> None:
    text = DEFAULT_MATRIX.read_text(encoding="utf-8")
    broken = tmp_path / "matrix.yml"
    broken.write_text(text.replace('label: {de: "Abrechnungsteam", en: "Billing team", da: "Betalingsteam"}',
                                   'label: {de: "Abrechnungsteam", en: "Billing team"}'), encoding="utf-8")
    with pytest.raises(MatrixError) as info:
        load_matrix(broken)
    assert str(broken) in info.value.detail and "queues.billing.label" in info.value.detail
    assert "da" in info.value.detail
    with pytest.raises(TaxonomyError):
        load_taxonomy(broken, labels_required=True)
    assert load_taxonomy(broken).queue_label("billing", "da") == "Billing team"  # lenient readers fall back


def test_a_label_in_an_unknown_language_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.yml"
    path.write_text("categories: {a: {label: {fr: Compte}}}\nqueues: {q: {tier: 1}}\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="unknown language fr"):
        load_taxonomy(path)
