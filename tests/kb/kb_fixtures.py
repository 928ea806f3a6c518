"""Test data for the knowledge-base tests: a taxonomy and a small three-language KB written to disk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

MATRIX = """\
version: 1
categories:
  account: Account
  billing: Billing
  subscription: Plans
  technical: Apps
  shipping: Orders
queues:
  tier1-general: {tier: 1}
  billing: {tier: 2}
  tech-support: {tier: 2}
rules: []
"""

def article_text(
    id: str, lang: str, title: str, questions: Sequence[str], body: str, category: str = "billing",
    extra: str = "",
) -> str:
    qs = "\n".join(f"  - {q}" for q in questions)
    return (f"---\nid: {id}\ntitle: {title}\nlang: {lang}\ncategory: {category}\ntags: [test]\n"
            f"questions:\n{qs}\n{extra}---\n{body}\n")


# (id, lang, category, title, questions, body, extra front matter)
ARTICLES: list[tuple[str, str, str, str, list[str], str, str]] = [
    ("account-password-reset", "en", "account", "Reset your password", [
        "I forgot my password", "How do I reset my password?", "password reset link does not arrive",
        "can't log in, forgot password", "change my password", "the reset email never came",
    ], "Open the login page and choose **Forgot password**. We send a reset link by email.", ""),
    ("account-password-reset", "de", "account", "Passwort zurücksetzen", [
        "Ich habe mein Passwort vergessen", "Wie setze ich mein Passwort zurück?",
        "Der Link zum Zurücksetzen des Passworts kommt nicht an", "Ich kann mich nicht anmelden",
        "Passwort ändern", "Die E-Mail zum Zurücksetzen ist nie gekommen",
    ], "Öffnen Sie die Anmeldeseite und wählen Sie **Passwort vergessen**. Wir senden einen Link.", ""),
    ("account-password-reset", "da", "account", "Nulstil din adgangskode", [
        "Jeg har glemt min adgangskode", "Hvordan nulstiller jeg min adgangskode?",
        "Linket til nulstilling kommer ikke", "Jeg kan ikke logge ind", "Skift min adgangskode",
        "Mailen om nulstilling kom aldrig",
    ], "Åbn login-siden og vælg **Glemt adgangskode**. Vi sender et link på mail.", ""),
    ("billing-double-charge", "en", "billing", "I was charged twice", [
        "Why was I charged twice this month?", "double charge on my card", "two identical payments",
        "you billed me two times", "duplicate payment for my subscription", "refund the second charge",
    ], "Two charges are often a payment plus a temporary authorisation. Check Account > Payments.",
     "escalate_to: billing\n"),
    ("billing-double-charge", "de", "billing", "Ich wurde doppelt belastet", [
        "Warum wurde mein Abo zweimal abgebucht?", "Doppelte Abbuchung auf meiner Kreditkarte",
        "Zwei gleiche Zahlungen auf dem Kontoauszug", "Ihr habt mir zweimal Geld abgezogen",
        "Doppelt bezahlt für ein Abo", "Bitte die zweite Abbuchung erstatten",
    ], "Zwei Buchungen sind oft eine Zahlung plus eine vorläufige Autorisierung.", "escalate_to: billing\n"),
    ("billing-double-charge", "da", "billing", "Jeg er blevet trukket to gange", [
        "Hvorfor er jeg blevet trukket to gange?", "dobbelt betaling på mit kort",
        "to ens betalinger på kontoudtoget", "I har trukket penge to gange",
        "dobbelt træk for abonnementet", "refunder det andet træk",
    ], "To træk er ofte en betaling plus en midlertidig reservation.", "escalate_to: billing\n"),
    ("subscription-cancel", "en", "subscription", "Cancel your subscription", [
        "How do I cancel my subscription?", "I want to stop my subscription for good",
        "end my membership", "cancel my plan", "terminate the contract", "close my subscription",
    ], "Go to Account > Subscription and choose **Cancel subscription**.", ""),
    ("subscription-pause", "en", "subscription", "Pause your subscription", [
        "Can I pause my subscription?", "I want to stop my subscription for a while",
        "put my membership on hold", "take a break from my plan", "suspend my subscription for a month",
        "freeze my account while travelling",
    ], "You can pause for up to 3 months in Account > Subscription > **Pause**.", ""),
    ("tech-tv-error-2002", "en", "technical", "Error E-2002 on the TV app", [
        "error E-2002 on my smart tv", "the tv app shows E-2002", "code E-2002 when starting a film",
        "my television says error 2002", "tv app stuck with E-2002", "what does E-2002 mean",
    ], "E-2002 means the TV app cannot reach the server. Restart the TV and update the app.",
     "escalate_to: tech-support\nproducts: [Smart TV app, Streamly Stick]\nerror_codes: [E-2002]\n"),
    ("shipping-return", "de", "shipping", "Rücksendung eines Artikels", [
        "Wie schicke ich eine Bestellung zurück?", "Ich möchte den Stick zurückgeben",
        "Rücksendeetikett anfordern", "Kann ich die Fernbedienung retournieren?",
        "Ware zurückschicken", "Rückgabe innerhalb von 30 Tagen",
    ], "Fordern Sie im Konto unter **Bestellungen** ein Rücksendeetikett an.", "products: [Streamly Stick]\n"),
]


def write_kb(root: Path, articles: Sequence[tuple[str, str, str, str, list[str], str, str]] = ARTICLES) -> Path:
    for art_id, lang, cat, title, questions, body, extra in articles:
        folder = root / lang
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{art_id}.md").write_text(article_text(art_id, lang, title, questions, body, cat, extra),
                                             encoding="utf-8")
    return root
