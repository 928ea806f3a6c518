"""Generate tests/stories/test_<lang>.yml: the same conversation flows in German, English and Danish.

The flows are written once (steps with placeholders); each language supplies what its customers type.
Run: .venv/bin/python scripts/gen_test_stories.py  (the generated files are committed; `make test` runs
`rasa test core` on them).
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

SAY = {
    "de": {
        "greet": "Hallo zusammen", "problem": "Mir wurde mein Abo diesen Monat zweimal abgebucht",
        "unknown_problem": "Mein Nachbar klaut mein WLAN und ich finde das Passwort vom Router nicht",
        "human": "Ich möchte bitte mit einem Mitarbeiter sprechen", "angry": "Das ist eine Frechheit, ich schreibe jetzt zum dritten Mal!",
        "status": "Wie ist der Stand meines Tickets?", "oos": "Wie wird das Wetter morgen in Hamburg?",
        "chitchat": "Wie geht es dir?", "bot": "Bist du ein Roboter?", "thanks": "Vielen Dank", "bye": "Tschüss",
        "yes": "ja gerne", "no": "nein danke", "cancel": "abbrechen",
    },
    "en": {
        "greet": "Hello there", "problem": "I was charged twice for my subscription this month",
        "unknown_problem": "my neighbour is stealing my wifi and I can't find the router password",
        "human": "I'd like to talk to a real person please", "angry": "This is ridiculous, it's the third time I'm writing!",
        "status": "What's the status of my ticket?", "oos": "What's the weather going to be like tomorrow?",
        "chitchat": "how are you doing?", "bot": "are you a bot?", "thanks": "thanks a lot", "bye": "bye",
        "yes": "yes please", "no": "no thanks", "cancel": "cancel",
    },
    "da": {
        "greet": "Hej med dig", "problem": "Jeg er blevet trukket to gange for mit abonnement denne måned",
        "unknown_problem": "min nabo stjæler mit wifi og jeg kan ikke finde routerens adgangskode",
        "human": "Jeg vil gerne tale med en medarbejder", "angry": "Det er helt uacceptabelt, jeg skriver nu for tredje gang!",
        "status": "Hvad er status på min sag?", "oos": "Hvordan bliver vejret i morgen?",
        "chitchat": "hvordan har du det?", "bot": "er du en robot?", "thanks": "mange tak", "bye": "farvel",
        "yes": "ja tak", "no": "nej tak", "cancel": "annuller",
    },
}


def user(text: str, intent: str) -> dict[str, str]:
    return {"user": text, "intent": intent}


def slot(**values: object) -> dict[str, list[dict[str, object]]]:
    return {"slot_was_set": [{k: v} for k, v in values.items()]}


def form_done() -> list[dict[str, object]]:
    return [{"action": "problem_form"}, {"active_loop": "problem_form"}, {"active_loop": None},
            slot(requested_slot=None)]


def stories(lang: str) -> list[dict[str, object]]:
    s = SAY[lang]
    greet = [user(s["greet"], "greet"), {"action": "action_greet"}]
    kb_answered = [user(s["problem"], "describe_problem"), {"action": "action_answer_from_kb"},
                   slot(kb_result="answered")]
    confirm_and_create = [{"action": "action_review_ticket"}, slot(review="confirm"),
                          user("/affirm", "affirm"), {"action": "action_create_ticket"}]
    return [
        {"story": f"{lang}: the KB answer helped (flow 1)",
         "steps": greet + kb_answered + [user("/feedback_helped", "feedback_helped"), {"action": "action_kb_feedback"},
                                         slot(kb_result="answered"), user(s["thanks"], "thanks"),
                                         {"action": "utter_welcome"}, user(s["bye"], "goodbye"),
                                         {"action": "utter_goodbye"}]},
        {"story": f"{lang}: two close articles, the customer picks one (flow 1)",
         "steps": [user(s["problem"], "describe_problem"), {"action": "action_answer_from_kb"},
                   slot(kb_result="ambiguous"),
                   user('/choose_article{"kb_article":"billing-double-charge"}', "choose_article"),
                   {"action": "action_answer_from_kb"}, slot(kb_result="answered")]},
        {"story": f"{lang}: did not help, pre-qualification, confirmed ticket (flow 2)",
         "steps": greet + kb_answered + [user("/feedback_not_helped", "feedback_not_helped"),
                                         {"action": "action_kb_feedback"}, slot(kb_result="none")]
         + form_done() + confirm_and_create},
        {"story": f"{lang}: no article, pre-qualification, a correction, ticket (flow 2)",
         "steps": [user(s["unknown_problem"], "describe_problem"), {"action": "action_answer_from_kb"},
                   slot(kb_result="none")] + form_done()
         + [{"action": "action_review_ticket"}, slot(review="confirm"), user("/deny", "deny"),
            {"action": "action_choose_field"}, user('/correct_field{"field":"urgency"}', "correct_field"),
            {"action": "action_reset_field"}] + form_done() + confirm_and_create},
        {"story": f"{lang}: a human, please: short form, ticket (flow 3)",
         "steps": greet + [user(s["human"], "request_human"), {"action": "action_start_handoff"}] + form_done()
         + [{"action": "action_review_ticket"}, slot(review="direct"), {"action": "action_create_ticket"}]},
        {"story": f"{lang}: frustration, the customer accepts a human (flow 4)",
         "steps": [user(s["angry"], "complaint"), {"action": "action_flag_frustration"},
                   {"action": "action_answer_from_kb"}, slot(kb_result="offer_human"), {"action": "utter_offer_human"},
                   user(s["yes"], "affirm"), {"action": "action_start_handoff"}] + form_done()
         + [{"action": "action_review_ticket"}, slot(review="direct"), {"action": "action_create_ticket"}]},
        {"story": f"{lang}: two failed answers in a row, a human is offered and declined (flow 4)",
         "steps": kb_answered + [user("/feedback_not_helped", "feedback_not_helped"), {"action": "action_kb_feedback"},
                                 slot(kb_result="offer_human"), {"action": "utter_offer_human"},
                                 user(s["no"], "deny"), {"action": "utter_ok_rephrase"}]},
        {"story": f"{lang}: the customer stops the form (flow 2)",
         "steps": [user(s["unknown_problem"], "describe_problem"), {"action": "action_answer_from_kb"},
                   slot(kb_result="none"), {"action": "problem_form"}, {"active_loop": "problem_form"},
                   user(s["cancel"], "cancel"), {"action": "action_handle_form_cancel"}, slot(form_cancel="stop"),
                   {"action": "action_deactivate_loop"}, {"active_loop": None},
                   {"action": "utter_form_cancelled"}]},
        {"story": f"{lang}: ticket status (flow 5)",
         "steps": [user(s["status"], "ticket_status"), {"action": "action_ticket_status"}]},
        {"story": f"{lang}: out of scope and chitchat (flow 6)",
         "steps": [user(s["oos"], "out_of_scope"), {"action": "utter_out_of_scope"}, {"action": "utter_what_i_can_do"},
                   user(s["chitchat"], "chitchat"), {"action": "utter_chitchat"}, {"action": "utter_what_i_can_do"},
                   user(s["bot"], "bot_challenge"), {"action": "utter_iamabot"}]},
        {"story": f"{lang}: the handoff service was down, the reminder retries (flow 7)",
         "steps": [user(s["human"], "request_human"), {"action": "action_start_handoff"}] + form_done()
         + [{"action": "action_review_ticket"}, slot(review="direct"), {"action": "action_create_ticket"},
            slot(ticket_pending=True), user("/EXTERNAL_retry_ticket", "EXTERNAL_retry_ticket"),
            {"action": "action_create_ticket"}]},
        {"story": f"{lang}: an agent takes over, resolves, the customer rates",
         "steps": [user("/agent_message", "agent_message"), {"action": "action_relay_agent_message"},
                   user("/ticket_resolved", "ticket_resolved"), {"action": "action_ticket_resolved"},
                   user('/rate{"rating":"5"}', "rate"), {"action": "action_rate"}]},
    ]


def main() -> None:
    out = ROOT / "tests" / "stories"
    out.mkdir(parents=True, exist_ok=True)
    for lang in SAY:
        document = {"version": "3.1", "stories": stories(lang)}
        header = f"# generated by scripts/gen_test_stories.py; edit the script, not this file ({lang})\n"
        (out / f"test_{lang}.yml").write_text(header + yaml.safe_dump(document, allow_unicode=True, sort_keys=False,
                                                                      width=120))


if __name__ == "__main__":
    main()
