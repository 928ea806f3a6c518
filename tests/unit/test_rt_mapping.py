"""The RT connector's pure mapping (connector/mapping.py): the mapping file against the matrix, a ticket ->
RT's create request, RT transactions -> our actions; and `frontdoor up` starting the connector only with RT_URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.taxonomy import load_taxonomy
from connector.errors import ConfigError
from connector.mapping import (
    QueueMap, Txn, check_rt_queue, content, create_request, inbound, load_queue_map, parse_queue_map, parse_txn,
    reference_query, rt_change, subject,
)
from connector.settings import Settings as ConnectorSettings
from stack.settings import Settings
from stack.supervisor import Stack

ROOT = Path(__file__).resolve().parents[2]
MATRIX_QUEUES = load_taxonomy(ROOT / "handoff" / "escalation_matrix.yml").queues
SHIPPED = ROOT / "connector" / "rt_queues.yml"


def qmap() -> QueueMap:
    return load_queue_map(SHIPPED, MATRIX_QUEUES)


def ticket(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "reference": "T-000123", "queue": "tech-support", "tier": 2, "priority": "P2",
        "priority_reasons": ["vip customer"], "category": "technical", "product": "Streamly app",
        "error_code": "E42", "language": "de", "summary": "Ada (verified, vip customer) writes in German ...",
        "description": "The app shows error E42. It worked yesterday.",
        "customer": {"name": "Ada", "email": "ada@example.com", "tier": "vip", "verified": True},
        "transcript": [{"sender": "customer", "text": "E42 again", "timestamp": 0.0},
                       {"sender": "bot", "text": "Try a restart", "timestamp": 60.0}],
    }
    base.update(overrides)
    return base


def test_the_shipped_mapping_fits_the_matrix() -> None:
    m = qmap()
    assert set(m.queues) == set(MATRIX_QUEUES)
    assert m.custom_fields["reference"] == "Frontdoor reference" and m.priorities["P1"] == 90


@pytest.mark.parametrize("data, reason", [
    ({"queues": {"tier1-general": "Support"}}, "queue 'billing' of the escalation matrix has no RT queue"),
    ({"queues": {**{q: "X" for q in MATRIX_QUEUES}, "nowhere": "Y"}}, "queue 'nowhere' is not a queue of the escalation"),
    ({"queues": {**{q: "X" for q in MATRIX_QUEUES}, "billing": ""}}, "queue 'billing' must map to the name"),
    ({"queues": []}, "expected a mapping with 'queues:"),
    ({"queues": {q: "X" for q in MATRIX_QUEUES}, "custom_fields": {"colour": "C"}}, "custom field 'colour'"),
    ({"queues": {q: "X" for q in MATRIX_QUEUES}, "priorities": {"P1": 500}}, "priority 'P1'"),
])
def test_a_mapping_that_does_not_fit_names_the_file_and_the_queue(data: Any, reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_queue_map(data, Path("my/rt.yml"), MATRIX_QUEUES)
    assert str(err.value).startswith("my/rt.yml: ") and reason in str(err.value)


def test_rt_is_checked_against_the_file() -> None:
    m = qmap()
    with pytest.raises(ConfigError, match="RT has no queue 'Billing' \\(mapped from billing\\)"):
        check_rt_queue(m, "Billing", None)
    found = {"TicketCustomFields": [{"name": n} for n in ("Category", "Product", "Tier", "Frontdoor reference")]}
    with pytest.raises(ConfigError, match="'Error code' do not apply to RT queue 'Billing'"):
        check_rt_queue(m, "Billing", found)
    check_rt_queue(m, "Billing", {"TicketCustomFields": [{"name": n} for n in m.custom_fields.values()]})


def test_create_request_puts_the_summary_first() -> None:
    body = create_request(ticket(), qmap())
    assert body["Queue"] == "Tech support" and body["Priority"] == 70 and body["Requestor"] == "ada@example.com"
    assert body["Subject"] == "[T-000123] technical / Streamly app: The app shows error E42"
    assert body["Content"].startswith("Ada (verified, vip customer) writes in German ...\n\nReference: T-000123")
    assert "[1970-01-01 00:01 UTC] Bot: Try a restart" in body["Content"]
    assert body["CustomFields"] == {"Category": "technical", "Product": "Streamly app", "Error code": "E42",
                                    "Tier": "2", "Frontdoor reference": "T-000123"}
    anonymous = create_request(ticket(customer={"name": ""}, product="", error_code=""), qmap())
    assert "Requestor" not in anonymous and set(anonymous["CustomFields"]) == {"Category", "Tier", "Frontdoor reference"}


def test_long_subjects_and_transcripts_are_bounded() -> None:
    assert len(subject(ticket(description="x" * 500))) == 120
    turns = [{"sender": "customer", "text": f"turn {i}", "timestamp": float(i)} for i in range(100)]
    text = content(ticket(transcript=turns))
    assert "last 60 turns" in text and "turn 39" not in text and "turn 99" in text


def test_reference_query_is_ticket_sql_on_the_custom_field() -> None:
    assert reference_query(qmap(), "T-000001") == "'CF.{Frontdoor reference}' = 'T-000001'"


NAMES = {"3": "Support", "4": "Billing", "7": "Engineering"}


def decide(txn: Txn, our_queue: str = "tier1-general") -> Any:
    return inbound(txn, own_user="frontdoor", requestor_email="ada@example.com", our_queue=our_queue,
                   rt_queue_names=NAMES, qmap=qmap())


@pytest.mark.parametrize("txn, expected", [
    (Txn(10, 1, "Correspond", "", "", "alice"), ("reply", "alice", "")),
    (Txn(10, 1, "Correspond", "", "", "frontdoor"), None),  # the connector's own
    (Txn(10, 1, "Correspond", "", "", "Ada@Example.com"), None),  # the customer by e-mail
    (Txn(10, 1, "Status", "Status", "resolved", "alice"), ("resolve", "alice", "")),
    (Txn(10, 1, "Status", "Status", "open", "RT_System"), None),
    (Txn(10, 1, "Status", "Status", "stalled", "alice"), None),
    (Txn(10, 1, "Set", "Queue", "4", "alice"), ("escalate", "alice", "billing")),
    (Txn(10, 1, "Set", "Queue", "7", "alice"), ("escalate", "alice", "engineering")),
    (Txn(10, 1, "Set", "Queue", "3", "alice"), None),  # Support: tier1-general is there already
    (Txn(10, 1, "Set", "Queue", "99", "alice"), None),  # an RT queue the file does not name
    (Txn(10, 1, "Set", "Queue", "4", "frontdoor"), None),  # our escalation, mirrored by the connector
])
def test_rt_transactions_become_our_actions(txn: Txn, expected: tuple[str, str, str] | None) -> None:
    action = decide(txn)
    assert (None if action is None else (action.action, action.agent, action.to_queue)) == expected
    if action is not None:
        assert action.key == "rt-txn-10"


def test_a_shared_rt_queue_keeps_the_ticket_where_it_is() -> None:
    # Support stands for tier1-general and shipping-returns: a ticket of shipping-returns moved there stays
    assert decide(Txn(11, 1, "Set", "Queue", "3", "alice"), our_queue="shipping-returns") is None
    assert decide(Txn(11, 1, "Set", "Queue", "3", "alice"), our_queue="billing").to_queue == "tier1-general"


def test_parse_txn_reads_rest2_items() -> None:
    item = {"id": "52", "ObjectId": "1", "Type": "Correspond", "Field": "", "NewValue": "",
            "Creator": {"id": "alice", "type": "user"}}
    assert parse_txn(item) == Txn(52, 1, "Correspond", "", "", "alice")


def test_connector_settings_need_rt_and_the_handoff_token() -> None:
    with pytest.raises(ConfigError, match="RT_TOKEN, .*HANDOFF_HELPDESK_TOKEN"):
        ConnectorSettings.from_env({"RT_URL": "http://rt", "REDIS_URL": "redis://x", "HANDOFF_URL": "http://h"})
    s = ConnectorSettings.from_env({"RT_URL": "http://rt/", "RT_TOKEN": "1-2-x", "REDIS_URL": "redis://x",
                                    "HANDOFF_URL": "http://h", "HANDOFF_HELPDESK_TOKEN": "t",
                                    "HANDOFF_KEY_PREFIX": "p:"})
    assert s.rt_url == "http://rt" and s.events_key == "p:events" and s.key_prefix == "fd-rt:"


def test_frontdoor_up_starts_the_connector_only_with_rt_url(tmp_path: Path) -> None:
    env = {"FRONTDOOR_VAR": str(tmp_path)}
    plain = Stack(Settings.from_env(env).with_secrets(), model=tmp_path)
    assert "rt-connector" not in [c.name for c in plain.build_children()]
    with_rt = Stack(Settings.from_env({**env, "RT_URL": "http://127.0.0.1:9", "RT_TOKEN": "1-2-x"}).with_secrets(),
                    model=tmp_path)
    child = next(c for c in with_rt.build_children() if c.name == "rt-connector")
    assert child.command[-2:] == ["-m", "connector"] and child.env["RT_URL"] == "http://127.0.0.1:9"
    assert child.env["HANDOFF_HELPDESK_TOKEN"] == with_rt.settings.secrets["HANDOFF_HELPDESK_TOKEN"]


def test_our_changes_that_reach_rt() -> None:
    m = qmap()
    assert rt_change("resolved", {}, m) == {"Status": "resolved"}
    assert rt_change("reopened", {}, m) == {"Status": "open"}
    assert rt_change("escalated", {"to_queue": "billing"}, m) == {"Queue": m.queues["billing"]}
    # the SLA watcher's raises: RT's number of the new priority
    assert rt_change("sla_warning", {"priority": "P2"}, m) == {"Priority": m.priorities["P2"]}
    assert rt_change("risk_raised", {"priority": "P1", "score": 80}, m) == {"Priority": m.priorities["P1"]}
    assert rt_change("risk_raised", {}, m) is None  # no priority named: nothing to set
    for kind in ("claimed", "note", "rated", "sla_breached", "linked_to_incident"):
        assert rt_change(kind, {"priority": "P1"}, m) is None
    with pytest.raises(ConfigError, match="queue 'nowhere' has no RT queue"):
        rt_change("escalated", {"to_queue": "nowhere"}, m)
