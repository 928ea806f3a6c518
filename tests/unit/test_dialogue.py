"""Reading messages in context: questions, severity, devices, steps tried, corrections; the context policy's
decisions; the form telling a reply from its own activation."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker

from actions.prequal import corrections, replies_to_form
from bot.dialogue import (
    asks_status,
    asks_to_do_it,
    device_named,
    assess_severity,
    devices_in,
    fields_named,
    is_question,
    says_not_helped,
    says_other_problem,
    steps_tried_in,
)
from bot.entities import EntityFinder
from rasa_ext.context_policy import decide


@pytest.mark.parametrize(("text", "question"), [
    ("how long will this take", True), ("is there an outage or something? the app was slow", True),
    ("wie lange dauert das", True), ("hvornår hører jeg fra jer", True), ("hvor finder jeg ordrenummeret", True),
    ("og kan jeg også sætte en pinkode på min profil", True), ("and how do I change it back", True),
    ("und wo finde ich das", True),
    ("the app crashes on my phone", False), ("nur mich", False), ("SO-123456", False), ("kan vente", False),
    ("and it still crashes", False), ("og den virker stadig ikke", False),
    ("hat nicht geholfen, ton ist immer noch weg", False), ("is not working", False),
    # a perfect tense without its subject says what the customer did
    ("har logget ud og ind og opdateret appen begge steder", False), ("har også geninstalleret den", False),
    ("habe schon alles gelöscht", False), ("hat neu installiert", False),
    ("har du prøvet at genstarte", True), ("hat jemand eine Idee", True), ("har det noget med routeren at gøre", True),
])
def test_questions(text: str, question: bool) -> None:
    assert is_question(text) is question


@pytest.mark.parametrize(("text", "not_helped"), [
    ("hat nicht geholfen, beide buchungen sind noch da", True), ("hilft nicht, da muss jemand drüberschauen", True),
    ("nee, klappt immer noch nicht", True), ("didnt help at all", True), ("tried that already", True),
    ("still the same error", True), ("det hjalp ikke", True), ("virker stadig ikke", True),
    ("og den er stadig låst", True), ("why does it still not work?", True),
    ("how do I download films?", False), ("the app crashes on my phone", False), ("danke, hat geklappt", False),
    ("is it still possible to pay by invoice?", False), ("tak, det virker nu", False),
])
def test_did_not_help_in_words(text: str, not_helped: bool) -> None:
    assert says_not_helped(text) is not_helped


@pytest.mark.parametrize(("text", "other"), [
    ("hmm no i dont think thats it, my problem is a different one, the remote is dead", True),
    ("no, it's something else", True), ("that's not my problem at all", True), ("Nein, das ist was anderes", True),
    ("Mein Problem ist ein anderes: die Fernbedienung", True), ("nicht mein Problem, ich will kündigen", True),
    ("nej, mit problem er et andet", True), ("det er noget helt andet", True),
    ("the stick still shows E-2002", False), ("is it fixed yet?", False), ("ist es behoben?", False),
    ("andere Frage: wie kündige ich?", False), ("er det løst nu?", False), ("my other tv works fine", False),
])
def test_another_problem_in_words(text: str, other: bool) -> None:
    assert says_other_problem(text) is other


def test_told_of_a_known_problem_another_one_typed_goes_to_the_search() -> None:
    slots = {"incident": "I-000001", "kb_result": "incident"}
    assert decide("deny", "no, my problem is a different one", [], slots, "action_listen", None,
                  "action_answer_from_kb") == "action_answer_from_kb"
    assert decide("ticket_status", "is it fixed?", [], slots, "action_listen", None, "action_answer_from_kb") is None
    assert decide("deny", "no, my problem is a different one", [], {}, "action_listen", None, "") is None


@pytest.mark.parametrize(("text", "do_it"), [
    ("kannst du das nicht einfach für mich umstellen?", True), ("can you just do it for me", True),
    ("macht ihr das bitte für mich", True), ("kan du ikke bare gøre det for mig", True),
    ("could you cancel it for me please", True),
    ("how do I change it", False), ("can you tell me how", False), ("kan jeg gøre det selv", False),
    # asking for a ticket, or for the team to start what the article describes
    ("yes please open a ticket for the shipping team", True), ("could someone sort the return for me", True),
    ("bitte ein Ticket aufmachen, damit Ersatz kommt", True), ("machen Sie bitte einen Fall dafür auf", True),
    ("Können Sie die Löschung für mich anstoßen?", True), ("vil I ikke oprette en sag til mig?", True),
    ("kan I ikke slette den for mig", True),
    ("both are real charges, I want my money back", True), ("ich will mein Geld zurück", True),
    ("ingen af dem er en reservation. Jeg vil have det ene tilbage", True), ("I want it to work", False),
    ("I want to open a new account", False), ("open the app and it crashes", False),
    ("wie lege ich ein Profil an", False), ("hvordan opretter jeg en profil", False),
    ("Können Sie mir erklären wie ich das löschen kann", False), ("how do I open a case with my bank", False),
    ("kan du fortælle mig hvordan jeg kan slette den", False),
])
def test_do_it_for_me(text: str, do_it: bool) -> None:
    assert asks_to_do_it(text) is do_it


@pytest.mark.parametrize(("text", "impact", "urgency", "tags"), [
    ("streamly is down for everyone in our bar, nothing loads on any screen", "everyone", "critical", ()),
    ("bei allen unseren Gästen geht gar nichts mehr", "everyone", "critical", ()),
    ("alle vores kunder kan ikke se noget", "everyone", "critical", ()),
    ("someone hacked my account and changed the password", None, "high", ("account-takeover",)),
    ("ich bin aus meinem Konto ausgesperrt und ihr bucht trotzdem jeden Monat ab", None, "high",
     ("locked-and-charged",)),
    ("min konto er låst men I trækker stadig penge", None, "high", ("locked-and-charged",)),
    ("our shop can't take payments, the checkout is broken for all customers", "everyone", "critical",
     ("payments-down",)),
    ("the picture is blurry on my tv", None, None, ()),
    ("my whole family can't watch, the kids too", "several", None, ()),
])
def test_severity_from_the_customers_words(text: str, impact: str | None, urgency: str | None,
                                           tags: tuple[str, ...]) -> None:
    found = assess_severity(text)
    assert (found.impact, found.urgency, found.tags) == (impact, urgency, tags)


@pytest.mark.parametrize(("text", "devices"), [
    ("no, it's the TV not the phone", ["Smart TV"]),
    ("the remote of my stick stopped pairing", ["Streamly Stick"]),
    ("die App auf meinem Handy stürzt ab", ["Phone app"]),
    ("det virker i browseren, ikke på fjernsynet", ["Web browser"]),
    ("my account was charged twice", []),
])
def test_devices_named_and_not_negated(text: str, devices: list[str]) -> None:
    assert devices_in(text) == devices


@pytest.mark.parametrize(("text", "tried"), [
    ("the remote is cracked. i already tried new batteries and re-pairing", "new batteries and re-pairing"),
    ("Ich habe schon den Router neu gestartet versucht", "den Router neu gestartet"),
    ("jeg har allerede prøvet at geninstallere appen", "at geninstallere appen"),
    ("sendung sagt zugestellt. die nachbarn hab ich schon alle gefragt", "die nachbarn gefragt"),
    ("hab schon die batterien gewechselt", "die batterien gewechselt"),
    ("i have already asked my neighbours", "asked my neighbours"),
    ("jeg har allerede spurgt naboerne", "spurgt naboerne"),
    ("the app crashes every time", None),
])
def test_steps_already_tried(text: str, tried: str | None) -> None:
    assert steps_tried_in(text) == tried


@pytest.mark.parametrize(("text", "changes"), [
    ("the e-mail is wrong, it is tom.harris@example.com", {"contact_email": "tom.harris@example.com"}),
    ("no, it's the TV not the phone", {"product": "Smart TV"}),
    ("die Bestellnummer ist falsch, richtig ist #48213", {"order_number": "SO-048213"}),
    ("hastegraden er forkert, det haster", {"urgency": "high"}),
    ("no, that's wrong", {}),
    # the value that is not negated, and the device as specific as typed
    ("oops typo - the order number is 48231 not 48213", {"order_number": "SO-048231"}),
    ("die Bestellnummer ist nicht SO-012345, sondern SO-054321", {"order_number": "SO-054321"}),
    ("det er min datters telefon, en Samsung Galaxy, ikke en iPhone", {"product": "Samsung Galaxy"}),
])
def test_corrections_at_the_summary(text: str, changes: dict[str, str]) -> None:
    finder = EntityFinder(["Streamly Stick"])
    entities = [{"entity": e.entity, "value": e.value, "start": e.start} for e in finder.find(text)]
    assert corrections(text, entities) == changes


def test_fields_are_found_by_their_names() -> None:
    assert fields_named("the order number is wrong")[0] == "order_number"
    assert fields_named("Die E-Mail stimmt nicht") == ["contact_email"]


def _decide(intent: str, text: str = "something", *, slots: dict[str, Any] | None = None,
            latest: str = "action_listen", previous: str = "", entities: list[dict[str, Any]] | None = None,
            loop: str | None = None) -> str | None:
    return decide(intent, text, entities or [], slots or {}, latest, loop, previous)


def test_the_context_policy_reads_messages_by_where_the_conversation_is() -> None:
    ticket = {"ticket_open": True, "ticket_reference": "T-000001"}
    # follow-ups right after a ticket
    assert _decide("ask_wait_time", slots=ticket) == "action_ticket_status"
    assert _decide("ticket_status", slots=ticket) == "action_ticket_status"
    assert _decide("describe_problem", slots=ticket) == "action_ticket_followup"
    assert _decide("request_human", slots=ticket) == "action_ticket_followup"
    assert _decide("thanks", slots=ticket) is None  # the rules answer that
    # the summary: typed text corrects it, the buttons and "yes" keep their rules
    summary = {"review": "confirm"}
    assert _decide("deny", "no, it's the TV", slots=summary, previous="action_review_ticket") == (
        "action_correct_summary")
    assert _decide("deny", "/deny", slots=summary, previous="action_review_ticket") is None
    assert _decide("affirm", "yes send it", slots=summary, previous="action_review_ticket") is None
    assert _decide("deny", "no", slots=summary, previous="utter_form_cancelled") is None  # summary left
    # typed feedback right after an article with its buttons
    article = {"kb_result": "answered"}
    assert _decide("deny", "no, that's useless", slots=article, previous="action_answer_from_kb") == (
        "action_kb_feedback")
    assert _decide("thanks", "thanks, that worked", slots=article, previous="action_answer_from_kb") == (
        "action_kb_feedback")
    assert _decide("deny", "no", slots=article, previous="utter_greet") is None
    # whatever the classifier made of it: "it did not help" and "do it for me" right after an article
    for text in ("hat nicht geholfen, ton ist immer noch weg", "tried that already, still crashes",
                 "det hjalp ikke, den er stadig låst"):
        assert _decide("describe_problem", text, slots=article, previous="action_answer_from_kb") == (
            "action_kb_feedback"), text
    assert _decide("nlu_fallback", "hat nichts gebracht", slots={"kb_result": "ambiguous"},
                   previous="action_answer_from_kb") == "action_kb_feedback"
    assert _decide("out_of_scope", "kannst du das nicht einfach für mich umstellen?", slots=article,
                   previous="action_answer_from_kb") == "action_start_handoff"
    assert _decide("describe_problem", "and how do I change it back?", slots=article,
                   previous="action_answer_from_kb") is None  # a new question is searched
    assert _decide("describe_problem", "hat nicht geholfen", slots=article, previous="utter_greet") is None
    assert _decide("describe_problem", latest="action_start_handoff") == "problem_form"
    # a pasted code, no ticket needed
    assert _decide("nlu_fallback", entities=[{"entity": "ticket_secret", "value": "S-x"}]) == "action_ticket_status"
    # no ticket yet
    assert _decide("ask_wait_time") == "action_ticket_status"
    # after the KB actions, kb_result decides; inside the form, the form does
    assert _decide("describe_problem", latest="action_answer_from_kb", slots={"kb_result": "none"}) == "problem_form"
    assert _decide("describe_problem", latest="action_answer_from_kb", slots={"kb_result": "declined"}) == (
        "action_listen")
    assert _decide("ask_wait_time", slots=ticket, loop="problem_form") is None
    # while an agent owns the conversation the handover policy decides
    assert _decide("ask_wait_time", slots={**ticket, "agent_active": True}) is None


def _tracker(events: list[dict[str, Any]]) -> Tracker:
    return Tracker("c", {"requested_slot": "order_number"}, {}, events, False, None, {}, "action_listen")


def test_the_form_tells_a_reply_from_its_own_activation() -> None:
    reply = [{"event": "action", "name": "action_listen"}, {"event": "user", "text": "how long?"},
             {"event": "slot", "name": "requested_slot", "value": "order_number"},
             {"event": "action", "name": "problem_form"}, {"event": "slot", "name": "order_number", "value": "x"}]
    activation = [{"event": "user", "text": "/feedback_not_helped"}, {"event": "action", "name": "action_kb_feedback"},
                  {"event": "slot", "name": "requested_slot", "value": None},
                  {"event": "action", "name": "problem_form"}]
    assert replies_to_form(_tracker(reply)) is True
    assert replies_to_form(_tracker(activation)) is False


@pytest.mark.parametrize(("text", "status"), [
    ("Hendes mail er mette@example.dk - hvor langt er I med det?", True), ("any news on my request?", True),
    ("wie weit sind Sie damit?", True), ("gibt es schon was Neues?", True), ("er der nyt i sagen?", True),
    ("is there any update for the app", False), ("how far is the nearest shop", False),
    ("hvor langt er der til butikken", False), ("wie weit ist es bis Berlin", False),
])
def test_asks_how_far_the_team_has_got(text: str, status: bool) -> None:
    assert asks_status(text) is status


@pytest.mark.parametrize(("text", "device"), [
    ("det er min datters telefon, en Samsung Galaxy, ikke en iPhone", "Samsung Galaxy"),
    ("no, it's the TV not the phone", "Smart TV"), ("on my iPhone", "iPhone"), ("nothing typed", None),
    ("auf dem Fernseher, nicht im Browser", "Smart TV"),
])
def test_the_device_named_as_specific_as_typed(text: str, device: str | None) -> None:
    assert device_named(text) == device
