from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.lang import LanguageIdentifier

ROOT = Path(__file__).resolve().parents[2]


def nlu_texts(lang: str) -> list[str]:
    document = yaml.safe_load((ROOT / "data" / "nlu" / f"{lang}.yml").read_text())
    texts = []
    for block in document["nlu"]:
        texts.extend(line[2:].strip() for line in block.get("examples", "").splitlines() if line.startswith("- "))
    return texts


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier.train({lang: nlu_texts(lang) for lang in ("de", "en", "da")})


@pytest.mark.parametrize(("text", "lang"), [
    ("Hallo zusammen", "de"), ("Guten Morgen", "de"), ("Mein Passwort funktioniert nicht mehr", "de"),
    ("Wo bleibt meine Bestellung?", "de"), ("Ich wurde doppelt belastet", "de"),
    ("Hello", "en"), ("my password doesn't work anymore", "en"), ("where is my order", "en"),
    ("I was charged twice", "en"),
    ("Hej", "da"), ("min adgangskode virker ikke", "da"), ("hvor er min pakke", "da"),
    ("jeg er blevet trukket to gange", "da"),
])
def test_customer_messages_are_recognised(identifier: LanguageIdentifier, text: str, lang: str) -> None:
    assert identifier.detect(text) == lang


@pytest.mark.parametrize("text", ["E-1001", "SO-123456", "ok", "", "1234", "S-_nEyheVfHZBcJpejjCL73luGx5AglsIW",
                                  "`S-Hp_lyiNyiXBcEmOhUt-EIYbIrcWboMSs`"])
def test_neutral_messages_keep_the_conversations_language(identifier: LanguageIdentifier, text: str) -> None:
    assert identifier.detect(text) is None


def test_the_model_round_trips(identifier: LanguageIdentifier) -> None:
    again = LanguageIdentifier.from_dict(identifier.to_dict())
    assert again.detect("Ich habe eine Frage zu meiner Rechnung") == "de"


@pytest.mark.parametrize("text", ["dringend", "Haster", "ja", "Sofort"])
def test_short_answers_without_clear_evidence_do_not_switch(identifier: LanguageIdentifier, text: str) -> None:
    # unseen words, or words several languages share ("ja" is German and Danish), keep the language
    assert identifier.detect(text) is None


@pytest.mark.parametrize(("text", "lang"), [("Hallo", "de"), ("Hi", "en"), ("Hej", "da")])
def test_a_first_message_gets_a_best_guess(identifier: LanguageIdentifier, text: str, lang: str) -> None:
    assert identifier.guess(text) == lang
