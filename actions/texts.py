"""Localised labels the actions put into responses, and the words customers use for form choices.

Whole sentences live in domain.yml (conditional response variations); only short labels that actions
insert into those sentences, and the synonym tables used to validate free-text form answers, live here.
The labels of categories and queues come from the escalation matrix (``taxonomy()``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from bot.taxonomy import Taxonomy, deployed_taxonomy

Labels = dict[str, dict[str, str]]  # value -> lang -> label


def taxonomy() -> Taxonomy:
    """The escalation matrix's categories and queues with their labels (read once, bot/taxonomy.py): the
    action server tells customers the labels the matrix gives, never a copy of its own."""
    from actions.settings import action_settings

    return deployed_taxonomy(action_settings().matrix_path)


def queue_label(queue: str, lang: str) -> str:
    return taxonomy().queue_label(queue, lang)


def category_label(category: str, lang: str) -> str:
    return taxonomy().category_label(category, lang)

STATUSES: Labels = {
    "queued": {"de": "wartet auf Bearbeitung", "en": "waiting to be picked up", "da": "venter på behandling"},
    "claimed": {"de": "in Bearbeitung", "en": "being worked on", "da": "under behandling"},
    "waiting_customer": {"de": "wartet auf Ihre Antwort", "en": "waiting for your reply", "da": "venter på dit svar"},
    "escalated": {"de": "an Spezialisten weitergegeben", "en": "passed to specialists", "da": "givet videre til specialister"},
    "resolved": {"de": "gelöst", "en": "resolved", "da": "løst"},
    "closed": {"de": "abgeschlossen", "en": "closed", "da": "afsluttet"},
}

IMPACTS: Labels = {
    "only_me": {"de": "nur mich", "en": "only me", "da": "kun mig"},
    "several": {"de": "mehrere Personen", "en": "several people", "da": "flere personer"},
    "everyone": {"de": "alle", "en": "everyone", "da": "alle"},
}

URGENCIES: Labels = {
    "low": {"de": "kann warten", "en": "can wait", "da": "kan vente"},
    "normal": {"de": "normal", "en": "normal", "da": "normal"},
    "high": {"de": "dringend", "en": "urgent", "da": "haster"},
    "critical": {"de": "sehr dringend", "en": "critical", "da": "kritisk"},
}

FIELDS: Labels = {
    "description": {"de": "Beschreibung", "en": "Description", "da": "Beskrivelse"},
    "category": {"de": "Thema", "en": "Topic", "da": "Emne"},
    "product": {"de": "Gerät/App", "en": "Device/app", "da": "Enhed/app"},
    "error_code": {"de": "Fehlercode", "en": "Error code", "da": "Fejlkode"},
    "order_number": {"de": "Bestellnummer", "en": "Order number", "da": "Ordrenummer"},
    "invoice_number": {"de": "Rechnungsnummer", "en": "Invoice number", "da": "Fakturanummer"},
    "contact_email": {"de": "E-Mail", "en": "E-mail", "da": "E-mail"},
    "steps_tried": {"de": "Schon versucht", "en": "Already tried", "da": "Allerede prøvet"},
    "impact": {"de": "Betroffen", "en": "Affected", "da": "Berørt"},
    "urgency": {"de": "Dringlichkeit", "en": "Urgency", "da": "Hastegrad"},
}

LANGUAGE_NAMES: Labels = {
    "de": {"de": "deutsche", "en": "German", "da": "tyske"},
    "en": {"de": "englische", "en": "English", "da": "engelske"},
    "da": {"de": "dänische", "en": "Danish", "da": "danske"},
}

NEXT_STEPS: dict[int, dict[str, str]] = {
    1: {"de": "Eine Person aus unserem Kundenservice übernimmt Ihr Ticket und meldet sich hier im Chat oder per E-Mail.",
        "en": "Someone from our customer service takes your ticket and replies here in the chat or by e-mail.",
        "da": "En person fra vores kundeservice overtager din sag og svarer her i chatten eller på e-mail."},
    2: {"de": "Ein Spezialisten-Team übernimmt Ihr Ticket direkt – ohne Umweg über den allgemeinen Support.",
        "en": "A specialist team takes your ticket directly – no detour through general support.",
        "da": "Et specialistteam overtager din sag direkte – uden omvej via den generelle support."},
    3: {"de": "Unser Technik-Team ist informiert und arbeitet mit höchster Priorität daran.",
        "en": "Our engineering team has been alerted and is working on it with top priority.",
        "da": "Vores udviklingsteam er informeret og arbejder på det med højeste prioritet."},
}

ETA: dict[str, str] = {
    "de": "innerhalb von {n} Minuten", "en": "within {n} minutes", "da": "inden for {n} minutter",
}
ETA_HOURS: dict[str, str] = {
    "de": "innerhalb von etwa {n} Stunden", "en": "within about {n} hours", "da": "inden for ca. {n} timer",
}
QUEUE_POSITION: dict[str, str] = {
    "de": " Sie sind Nummer {position} in der Warteschlange.",
    "en": " You are number {position} in the queue.",
    "da": " Du er nummer {position} i køen.",
}
# the one promise (handoff: sla.expected_first_response), in the words used at creation too
FIRST_RESPONSE: dict[str, str] = {
    "de": " Erste Antwort voraussichtlich {eta}.",
    "en": " Expected first response {eta}.",
    "da": " Forventet første svar {eta}.",
}
PRIORITY_NOTE: dict[str, dict[str, str]] = {
    "P1": {"de": " Ihr Anliegen hat höchste Priorität.", "en": " Your request has top priority.",
           "da": " Din henvendelse har højeste prioritet."},
    "P2": {"de": " Ihr Anliegen hat hohe Priorität.", "en": " Your request has high priority.",
           "da": " Din henvendelse har høj prioritet."},
}
# how an article shown earlier did, in the customer's summary
FEEDBACK: Labels = {
    "helped": {"de": "hat geholfen", "en": "helped", "da": "hjalp"},
    "did_not_help": {"de": "hat nicht geholfen", "en": "did not help", "da": "hjalp ikke"},
    "none": {"de": "ohne Rückmeldung", "en": "no feedback", "da": "uden tilbagemelding"},
}
HELP_ARTICLE: dict[str, str] = {"de": "Hilfeartikel", "en": "Help article", "da": "Hjælpeartikel"}
NOTHING_TRIED: dict[str, str] = {"de": "noch nichts", "en": "nothing yet", "da": "ingenting endnu"}

# -- words customers type for form choices (normalised: lower case, no accents folded away) ---------

CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "account": ("account", "konto", "login", "log in", "anmeld", "passwort", "password", "adgangskode", "2fa",
                "zugang", "profil", "profile", "log ind"),
    "billing": ("billing", "abrechnung", "rechnung", "invoice", "faktura", "betaling", "zahlung", "payment",
                "refund", "erstattung", "geld", "money", "penge", "charge", "abbuchung", "belast", "trukket"),
    "subscription": ("subscription", "abo", "abonnement", "plan", "tarif", "kündig", "cancel", "opsig", "upgrade",
                     "downgrade"),
    "technical": ("technical", "technik", "teknik", "app", "device", "gerät", "enhed", "tv", "stick", "fehler",
                  "error", "fejl", "playback", "wiedergabe", "afspilning", "stream", "ton", "sound", "lyd"),
    "shipping": ("shipping", "versand", "levering", "bestellung", "order", "ordre", "lieferung", "delivery",
                 "paket", "package", "pakke", "return", "retour", "returnering"),
    "privacy": ("privacy", "datenschutz", "databeskyttelse", "gdpr", "dsgvo", "daten", "data", "löschen",
                "delete", "slet"),
    "outage": ("outage", "störung", "ausfall", "down", "nede", "driftsforstyrrelse"),
    "general": ("general", "allgemein", "generelt", "other", "anderes", "andet", "something else", "etwas anderes",
                "noget andet"),
}

IMPACT_WORDS: dict[str, tuple[str, ...]] = {
    "only_me": ("only_me", "only me", "just me", "me", "nur mich", "nur ich", "mich", "ich", "kun mig", "mig",
                "myself", "allein"),
    "several": ("several", "mehrere", "flere", "family", "familie", "some", "einige", "nogle", "few"),
    "everyone": ("everyone", "everybody", "all", "alle", "jeder", "down", "nobody", "niemand", "ingen kan"),
}

URGENCY_WORDS: dict[str, tuple[str, ...]] = {
    "low": ("low", "can wait", "kann warten", "kan vente", "niedrig", "lav", "nicht eilig", "no rush"),
    "normal": ("normal", "medium", "mittel", "middel"),
    "high": ("high", "urgent", "dringend", "haster", "hoch", "høj", "eilig", "asap"),
    "critical": ("critical", "kritisch", "kritisk", "sehr dringend", "nothing works", "nichts geht", "intet virker",
                 "emergency", "notfall"),
}

SKIP_WORDS = ("skip", "pass", "dunno", "no clue", "next question", "nächste frage", "næste spørgsmål",
              "überspringen", "ueberspringen", "überspring", "spring over", "spring det over", "weiß nicht", "weiss nicht", "don't know",
              "dont know", "ved ikke", "don't have", "habe ich nicht", "har det ikke", "keine", "nicht zur hand",
              "-", "n/a", "no idea", "keine ahnung", "aner det ikke")
NONE_WORDS = ("none", "no", "nein", "nej", "kein", "keiner", "keine", "ingen", "no code", "no error", "nope",
              "kein fehlercode", "ingen fejlkode", "no error code")
NOTHING_TRIED_WORDS = ("nothing", "nichts", "ingenting", "nothing yet", "noch nichts", "ingenting endnu")

SKIPPED = "-"


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).lower().strip()
    return re.sub(r"[!?.,;:\"'„“”«»()]+", " ", folded).strip()


def match_choice(text: str, table: dict[str, tuple[str, ...]]) -> str | None:
    """The value whose words the text mentions best (exact value first, then longest matching word)."""
    norm = normalise(text)
    if norm in table:
        return norm
    best: tuple[int, str] | None = None
    padded = f" {norm} "
    for value, words in table.items():
        for word in words:
            hit = (f" {word} " in padded) if len(word) <= 3 else (word in norm)
            if hit and (best is None or len(word) > best[0]):
                best = (len(word), value)
    return best[1] if best else None


def is_one_of(text: str, words: tuple[str, ...]) -> bool:
    norm = normalise(text)
    return norm in words or any(len(w) > 4 and w in norm for w in words)


def label(table: Labels, value: Any, lang: str) -> str:
    entry = table.get(str(value))
    return entry.get(lang, entry.get("en", str(value))) if entry else str(value)
