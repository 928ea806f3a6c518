"""The conversation flows end to end, through Rasa's REST channel with the real action server, knowledge
base, handoff service and Redis, in German, English and Danish."""

from __future__ import annotations

import time

import pytest

from bot.identity import CustomerIdentity, sign
from stack.supervisor import Stack
from tests.e2e.conftest import Chat, agent_token, handoff_get

pytestmark = pytest.mark.e2e


def reference_in(texts: list[str]) -> str:
    joined = " ".join(texts)
    marker = next((m for m in ("Ticket T-", "Sag T-") if m in joined), None)
    assert marker, texts
    return "T-" + joined.split(marker)[1][:6]


def ticket_of(stack: Stack, reference: str) -> dict:
    status, ticket = handoff_get(stack, f"/api/v1/agent/tickets/{reference}", token=agent_token(stack))
    assert status == 200, ticket
    return ticket.get("ticket", ticket)


def test_a_question_is_answered_from_the_kb_with_feedback_buttons(stack: Stack) -> None:
    chat = Chat(stack)
    replies = chat.say("Hallo, mir wurde mein Abo diesen Monat zweimal abgebucht")
    texts = " ".join(r.get("text", "") for r in replies)
    assert "doppelt belastet" in texts, texts
    assert "/help/de/billing-double-charge" in texts  # the "read more" link
    assert chat.buttons(replies) == ["/feedback_helped", "/feedback_not_helped"]
    assert "Freut mich" in " ".join(chat.texts("/feedback_helped"))


def test_did_not_help_leads_to_a_prequalified_ticket_the_customer_confirmed(stack: Stack) -> None:
    chat = Chat(stack)
    chat.texts("Hallo, mir wurde mein Abo diesen Monat zweimal abgebucht")
    form = chat.texts("/feedback_not_helped")
    assert any("Rechnungsnummer" in t for t in form), form  # category known from the article: not asked
    assert not any("Worum geht es" in t for t in form)
    assert any("E-Mail" in t for t in chat.texts("Die Rechnung ist INV-2024-00123"))
    assert any("Wen betrifft" in t for t in chat.texts("anna.becker@example.com"))
    assert any("dringend" in t for t in chat.texts("nur mich"))
    summary = chat.say("dringend")
    text = " ".join(r.get("text", "") for r in summary)
    assert "INV-2024-00123" in text and "Abrechnung" in text and "Ich wurde doppelt belastet" in text, text
    assert chat.buttons(summary) == ["/affirm", "/deny"]
    created = chat.texts("/affirm")
    reference = reference_in(created)
    assert "Abrechnungsteam" in " ".join(created)
    ticket = ticket_of(stack, reference)
    assert ticket["queue"] == "billing"
    assert ticket["invoice_number"] == "INV-2024-00123"
    assert ticket["language"] == "de" and ticket["impact"] == "only_me" and ticket["urgency"] == "high"
    assert any(a["id"] == "billing-double-charge" and a["feedback"] == "did_not_help"
               for a in ticket["articles_shown"])


def test_a_correction_reopens_only_that_field(stack: Stack) -> None:
    chat = Chat(stack)
    chat.texts("Hello, my Streamly Stick order SO-123456 arrived damaged, the case is cracked")
    chat.texts("/feedback_not_helped")
    chat.texts("jonas@example.com")
    chat.texts("only me")
    summary = " ".join(chat.texts("it can wait"))  # looks like "stop" to the classifier; it is an answer
    assert "SO-123456" in summary and "**Urgency:** can wait" in summary, summary
    choices = chat.say("/deny")
    assert '/correct_field{"field":"urgency"}' in chat.buttons(choices)
    assert any("How urgent" in t for t in chat.texts('/correct_field{"field":"urgency"}'))
    assert "**Urgency:** urgent" in " ".join(chat.texts("high"))  # the new summary shows the corrected value
    reference = reference_in(chat.texts("/affirm"))
    assert ticket_of(stack, reference)["urgency"] == "high"


def test_a_signed_in_customer_asking_for_a_human_is_not_asked_who_they_are(stack: Stack) -> None:
    token = sign(CustomerIdentity("cust-2002", "Lars Nielsen", "lars@example.com", "vip"),
                 stack.settings.secrets["FRONTDOOR_TOKEN_SECRET"])
    chat = Chat(stack, metadata={"auth_token": token, "language": "da"})
    assert any("Hej Lars" in t for t in chat.texts("Hej"))
    asked = chat.texts("Jeg vil gerne tale med et menneske")
    assert any("Beskriv" in t for t in asked), asked
    created = chat.texts("Min tv-app viser fejl E-1001 hver aften")
    assert not any("e-mail" in t.lower() for t in created[:-1]), created
    reference = reference_in(created)
    ticket = ticket_of(stack, reference)
    assert ticket["customer"]["id"] == "cust-2002" and ticket["customer"]["verified"] is True
    assert ticket["customer"]["tier"] == "vip" and ticket["error_code"] == "E-1001"
    assert ticket["queue"] == "key-accounts"


def test_frustration_offers_a_human_and_flags_the_ticket(stack: Stack) -> None:
    chat = Chat(stack)
    chat.texts("Hej")
    offer = chat.say("Det er helt uacceptabelt, jeg har skrevet tre gange nu og intet sker!")
    assert chat.buttons(offer) == ["/affirm", "/deny"]
    chat.texts("/affirm")
    chat.texts("Min betaling fejler hele tiden når jeg prøver at forny abonnementet")
    reference = reference_in(chat.texts("mette@example.dk"))
    assert ticket_of(stack, reference)["frustrated"] is True


def test_status_only_for_the_owner(stack: Stack) -> None:
    owner = Chat(stack)
    owner.texts("I want to talk to a human")
    owner.texts("The subtitles on my LG TV are out of sync since the update")
    created = owner.texts("kim@example.com")
    reference = reference_in(created)
    secret = "S-" + " ".join(created).split("`S-")[1].split("`")[0]
    status = " ".join(owner.texts("what is the status of my ticket?"))
    assert reference in status and "queue" in status, status
    stranger = Chat(stack)
    stranger.texts("Hello")
    refused = " ".join(stranger.texts(f"what's the status of the ticket of kim@example.com, {reference}?"))
    assert reference not in refused.replace(f"{reference}?", "")
    assert "sign in" in refused or "can't find" in refused, refused
    with_code = " ".join(Chat(stack).texts(f"status of my ticket please, my code is {secret}"))
    assert reference in with_code, with_code


def test_out_of_scope_gets_a_polite_answer_and_what_the_bot_can_do(stack: Stack) -> None:
    texts = " ".join(Chat(stack).texts("Can you recommend a good pizza recipe?"))
    assert "only here for Streamly" in texts and "I can help with" in texts, texts


def test_the_language_follows_the_customer(stack: Stack) -> None:
    chat = Chat(stack)
    assert any("Streamly assistant" in t for t in chat.texts("Hello there"))
    switched = " ".join(chat.texts("Wie kann ich mein Passwort zurücksetzen?"))
    assert "Hat das geholfen?" in switched, switched
    assert any("Freut mich" in t for t in chat.texts("/feedback_helped"))


def test_handoff_down_keeps_the_details_and_the_ticket_arrives_later(stack: Stack) -> None:
    handoff = next(child for child in stack.children if child.name == "handoff")
    chat = Chat(stack)
    chat.texts("I want to speak to an agent")
    chat.texts("My invoice INV-2024-00999 shows the wrong VAT number")
    handoff.stop(timeout=10)
    try:
        apology = " ".join(chat.texts("pat@example.com"))
        assert "not reachable" in apology and "won't be lost" in apology, apology
    finally:
        handoff.start(stack.settings.root)
        deadline = time.monotonic() + 60
        while not handoff.health() and time.monotonic() < deadline:
            time.sleep(0.3)
    deadline = time.monotonic() + 60
    status, ticket = 404, None
    while time.monotonic() < deadline:
        status, ticket = handoff_get(stack, f"/api/v1/tickets/by-conversation/{chat.sender}")
        if status == 200:
            break
        time.sleep(1)
    assert status == 200, ticket
    full = ticket_of(stack, ticket["reference"])
    assert full["invoice_number"] == "INV-2024-00999"
