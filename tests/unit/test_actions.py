"""Actions with fresh trackers and a fake handoff client that records calls (no mocks)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from tests.actions_support import DOMAIN, FakeHandoff, texts, tracker

from actions.handoff import ActionCreateTicket, ActionTicketStatus, ticket_request
from actions.prequal import ActionReviewTicket, ValidateProblemForm, needed_slots, ticket_summary
from bot.contract import CreateTicketRequest, TicketCreated

class FakeOutbox:
    def __init__(self) -> None:
        self.parked: list[CreateTicketRequest] = []

    async def park(self, request: CreateTicketRequest) -> bool:
        self.parked.append(request)
        return True

    async def clear(self, conversation_id: str) -> None:
        self.parked = [r for r in self.parked if r["conversation_id"] != conversation_id]


# -- what the form asks ------------------------------------------------------------------------------

@pytest.mark.parametrize(("slots", "expected"), [
    ({}, ["description", "category", "contact_email", "steps_tried", "impact", "urgency"]),
    ({"category": "technical"}, ["description", "category", "product", "error_code", "contact_email",
                                 "steps_tried", "impact", "urgency"]),
    ({"category": "shipping", "customer_email": "a@b.de"}, ["description", "category", "order_number",
                                                            "steps_tried", "impact", "urgency"]),
    ({"category": "billing", "kb_articles_shown": [{"id": "x"}]}, ["description", "category", "invoice_number",
                                                                    "contact_email", "impact", "urgency"]),
    ({"requested_human": True}, ["description", "contact_email"]),
    ({"frustrated": True, "customer_email": "a@b.de"}, ["description"]),
    # in a hurry: still the order or invoice the team cannot act without
    ({"requested_human": True, "category": "shipping"}, ["description", "order_number", "contact_email"]),
    ({"frustrated": True, "category": "billing", "customer_email": "a@b.de"}, ["description", "invoice_number"]),
    ({"requested_human": True, "category": "technical"}, ["description", "contact_email"]),
])
def test_the_form_asks_only_what_it_needs(slots: dict[str, Any], expected: list[str]) -> None:
    assert needed_slots(tracker(slots)) == expected


@pytest.mark.parametrize(("slots", "review"), [
    ({"contact_email": "ana@example.com"}, "confirm"),  # the full path: the summary to confirm
    ({"requested_human": True, "contact_email": "ana@example.com"}, "direct"),  # in a hurry: straight on
    ({"frustrated": True, "customer_email": "ana@example.com", "customer_verified": True}, "direct"),
])
async def test_the_summary_is_shown_on_the_full_path(slots: dict[str, Any], review: str) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionReviewTicket().run(dispatcher, tracker({"language": "en", **slots}), DOMAIN)
    assert {e["name"]: e["value"] for e in events if e.get("event") == "slot"}["review"] == review
    assert ("ana@example.com" in texts(dispatcher)) is (review == "confirm")


@pytest.mark.parametrize(("method", "text", "value"), [
    ("validate_category", "Abrechnung", "billing"),
    ("validate_category", "jeg har et problem med betaling", "billing"),
    ("validate_category", "my streamly stick", "technical"),
    ("validate_impact", "Nur mich", "only_me"),
    ("validate_impact", "flere personer", "several"),
    ("validate_impact", "everyone, it's down", "everyone"),
    ("validate_urgency", "it can wait", "low"),
    ("validate_urgency", "Haster", "high"),
    ("validate_error_code", "e1001", "E-1001"),
    ("validate_error_code", "kein Fehlercode", "none"),
    ("validate_order_number", "so 123456", "SO-123456"),
    ("validate_invoice_number", "inv2024-00123", "INV-2024-00123"),
    ("validate_invoice_number", "überspringen", "-"),
    ("validate_contact_email", "meine Mail: Anna.B@Example.com", "anna.b@example.com"),
])
def test_free_text_answers_are_understood_in_every_language(method: str, text: str, value: str) -> None:
    dispatcher = CollectingDispatcher()
    result = getattr(ValidateProblemForm(), method)(text, dispatcher, tracker(), DOMAIN)
    assert list(result.values())[0] == value
    assert dispatcher.messages == []


def test_an_invalid_answer_is_reprompted_then_skipped_after_two_attempts() -> None:
    form, dispatcher = ValidateProblemForm(), CollectingDispatcher()
    first = form.validate_contact_email("not an address", dispatcher, tracker({"language": "de"}), DOMAIN)
    assert first["contact_email"] is None and "E-Mail-Adresse" in texts(dispatcher)
    dispatcher = CollectingDispatcher()
    second = form.validate_contact_email("still not", dispatcher,
                                         tracker({"language": "de", "validation_failures": first["validation_failures"]}),
                                         DOMAIN)
    assert second["contact_email"] == "-" and "lassen wir weg" in texts(dispatcher)


# -- the ticket carries everything ------------------------------------------------------------------

def test_the_ticket_request_carries_everything_the_customer_said() -> None:
    slots = {"language": "da", "description": "Dobbelt trukket", "category": "billing",
             "invoice_number": "INV-2024-00123", "impact": "only_me", "urgency": "high", "contact_email": "m@x.dk",
             "frustrated": True, "steps_tried": "genstartet appen",
             "kb_articles_shown": [{"id": "billing-double-charge", "lang": "da", "title": "Dobbelt", "feedback":
                                    "did_not_help", "escalate_to": "billing"}]}
    events = [{"event": "user", "text": "Jeg er trukket to gange", "timestamp": 1.0},
              {"event": "bot", "text": "Her er en artikel", "timestamp": 2.0},
              {"event": "user", "text": "/feedback_not_helped", "timestamp": 3.0}]
    request = ticket_request(tracker(slots, events=events))
    assert request["language"] == "da" and request["invoice_number"] == "INV-2024-00123"
    assert request["escalate_to"] == "billing" and request["frustrated"] is True
    assert request["customer"] == {"verified": False, "email": "m@x.dk"}
    assert request["articles_shown"] == [{"id": "billing-double-charge", "lang": "da", "title": "Dobbelt",
                                          "feedback": "did_not_help"}]
    assert "genstartet appen" in request["steps_tried"] and any("Dobbelt" in s for s in request["steps_tried"])
    assert [t["text"] for t in request["transcript"]] == ["Jeg er trukket to gange", "Her er en artikel"]
    assert "product" not in request  # unknown fields are left out, not sent as placeholders


def test_the_summary_is_in_the_customers_language() -> None:
    summary = ticket_summary(tracker({"category": "billing", "impact": "everyone", "description": "x y z"}), "de")
    assert "**Thema:** Abrechnung" in summary and "**Betroffen:** alle" in summary


async def test_a_created_ticket_is_announced_with_reference_queue_and_time() -> None:
    client, dispatcher = FakeHandoff(), CollectingDispatcher()
    events = await ActionCreateTicket(client, FakeOutbox()).run(
        dispatcher, tracker({"language": "en", "description": "broken"}, intent="affirm"), DOMAIN)
    assert len(client.created) == 1
    said = texts(dispatcher)
    assert "T-000042" in said and "Billing team" in said and "within 45 minutes" in said and "S-secret" in said
    assert {"event": "slot", "timestamp": None, "name": "ticket_reference", "value": "T-000042"} in events


async def test_handoff_down_parks_the_request_and_schedules_a_retry() -> None:
    outbox, dispatcher = FakeOutbox(), CollectingDispatcher()
    events = await ActionCreateTicket(FakeHandoff(fail=True), outbox).run(
        dispatcher, tracker({"language": "de", "description": "kaputt"}), DOMAIN)
    assert [r["description"] for r in outbox.parked] == ["kaputt"]
    assert "nicht erreichbar" in texts(dispatcher)
    assert any(e.get("event") == "reminder" and e.get("intent") == "EXTERNAL_retry_ticket" for e in events)


async def test_status_is_never_given_for_an_email_alone() -> None:
    client, dispatcher = FakeHandoff(), CollectingDispatcher()
    await ActionTicketStatus(client).run(
        dispatcher, tracker({"language": "en"}, text="status for kim@example.com",
                            entities=[{"entity": "email", "value": "kim@example.com"}]), DOMAIN)
    assert client.asked_customer == [] and "sign in" in texts(dispatcher)


async def test_a_verified_customer_sees_their_tickets_with_queue_position() -> None:
    client, dispatcher = FakeHandoff(), CollectingDispatcher()
    await ActionTicketStatus(client).run(
        dispatcher, tracker({"language": "en", "customer_verified": True, "customer_id": "cust-1"}), DOMAIN)
    assert client.asked_customer == ["cust-1"]
    assert "number 2 in the queue" in texts(dispatcher)


async def test_a_verified_customer_asking_about_another_address_hears_only_the_privacy_answer() -> None:
    client, dispatcher = FakeHandoff(), CollectingDispatcher()
    signed_in = {"language": "en", "customer_verified": True, "customer_id": "cust-1", "customer_email": "lars@example.dk"}
    await ActionTicketStatus(client).run(
        dispatcher, tracker(signed_in, text="my wife's address is mette@example.dk, how far along are you?",
                            entities=[{"entity": "email", "value": "mette@example.dk"}]), DOMAIN)
    assert "sign in" in texts(dispatcher) and "T-000042" not in texts(dispatcher)
    dispatcher = CollectingDispatcher()  # their own address: their own tickets
    await ActionTicketStatus(client).run(
        dispatcher, tracker(signed_in, text="lars@example.dk any news?",
                            entities=[{"entity": "email", "value": "lars@example.dk"}]), DOMAIN)
    assert "T-000042" in texts(dispatcher)


# -- tier 0 --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("requested", "text", "expected"), [
    ("urgency", "it can wait", [("urgency", "low"), ("form_cancel", "answer")]),
    ("impact", "nur mich", [("impact", "only_me"), ("form_cancel", "answer")]),
    ("urgency", "stop, forget it", [("form_cancel", "stop")]),
    ("contact_email", "abbrechen", [("form_cancel", "stop")]),
])
async def test_a_stop_that_is_really_an_answer_continues_the_form(requested: str, text: str,
                                                                  expected: list[tuple[str, str]]) -> None:
    from actions.prequal import ActionHandleFormCancel

    events = await ActionHandleFormCancel().run(
        CollectingDispatcher(), tracker({"requested_slot": requested}, text=text, intent="cancel"), DOMAIN)
    assert [(e["name"], e["value"]) for e in events] == expected


class RejectingHandoff(FakeHandoff):
    async def create_ticket(self, request: CreateTicketRequest) -> TicketCreated:
        from actions.handoff_client import HandoffRejected

        raise HandoffRejected(400, "invalid_ticket", "'description' is too long")


async def test_a_rejected_request_is_kept_but_not_retried_in_a_loop() -> None:
    outbox, dispatcher = FakeOutbox(), CollectingDispatcher()
    events = await ActionCreateTicket(RejectingHandoff(), outbox).run(
        dispatcher, tracker({"language": "en", "description": "x" * 50}), DOMAIN)
    assert [r["description"] for r in outbox.parked] == ["x" * 50]  # nothing lost
    assert not any(e.get("event") == "reminder" for e in events)


class LimitingHandoff(FakeHandoff):
    async def create_ticket(self, request: CreateTicketRequest) -> TicketCreated:
        from actions.handoff_client import HandoffRejected

        self.created.append(request)
        raise HandoffRejected(429, "rate_limited", "this client has opened 10 tickets in the last hour")


async def test_a_client_over_its_ticket_limit_is_told_and_nothing_is_parked_or_retried() -> None:
    outbox, dispatcher, handoff = FakeOutbox(), CollectingDispatcher(), LimitingHandoff()
    latest = tracker({"language": "en", "description": "broken"})
    latest.latest_message["metadata"] = {"frontdoor_client": "c0ffee"}
    events = await ActionCreateTicket(handoff, outbox).run(dispatcher, latest, DOMAIN)
    assert handoff.created[0]["client"] == "c0ffee"  # the channel's pseudonym travels with the request
    assert texts(dispatcher).startswith("A great many tickets have already been opened from your connection")
    assert outbox.parked == [] and not any(e.get("event") == "reminder" for e in events)


class CountingOutbox(FakeOutbox):
    def __init__(self) -> None:
        super().__init__()
        self.cleared: list[str] = []

    async def clear(self, conversation_id: str) -> None:
        self.cleared.append(conversation_id)


@pytest.mark.parametrize(("pending", "cleared"), [(False, []), (True, ["conv-1"])])
async def test_the_outbox_is_cleared_only_after_a_parked_request(pending: bool, cleared: list[str]) -> None:
    outbox = CountingOutbox()
    await ActionCreateTicket(FakeHandoff(), outbox).run(
        CollectingDispatcher(), tracker({"language": "en", "description": "broken", "ticket_pending": pending}),
        DOMAIN)
    assert outbox.cleared == cleared


def test_the_kb_search_reuses_the_embedding_of_the_latest_message() -> None:
    import numpy as np

    from actions.kb import message_vector
    from bot.kb.encoder import encode_vector

    class Kb:
        encoder = type("E", (), {"dim": 4})()

    vector = np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32)
    latest = {"text": "charged twice", "text_embedding": encode_vector(vector)}
    found = message_vector(Kb(), latest, "charged twice")  # type: ignore[arg-type]
    assert found is not None and np.allclose(found, vector)
    assert message_vector(Kb(), latest, "another text") is None  # the query is not that message
    assert message_vector(Kb(), {"text": "charged twice", "text_embedding": "garbage"}, "charged twice") is None


def test_a_question_typed_at_the_email_prompt_is_not_sent_as_the_address() -> None:
    question = tracker({"language": "de", "contact_email": "wie lange dauert das, bis sich jemand meldet?",
                        "description": "Gutschein wird nicht angenommen"})
    assert "email" not in ticket_request(question)["customer"]
    address = tracker({"language": "de", "contact_email": "anja@example.com", "description": "x"})
    assert ticket_request(address)["customer"]["email"] == "anja@example.com"


async def test_a_new_session_keeps_who_and_which_ticket_but_not_the_old_problem() -> None:
    from actions.session import CARRIED_OVER, ActionSessionStart

    slots = {"language": "da", "customer_id": "c-7", "customer_verified": True, "ticket_reference": "T-000042",
             "agent_active": True, "description": "the old problem", "kb_query": "old question",
             "kb_articles_shown": [{"id": "a"}], "requested_slot": "contact_email"}
    events = await ActionSessionStart().run(CollectingDispatcher(), tracker(slots), DOMAIN)
    carried = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert carried == {"language": "da", "customer_id": "c-7", "customer_verified": True,
                       "ticket_reference": "T-000042", "agent_active": True}
    assert set(CARRIED_OVER) <= set(DOMAIN["slots"])
