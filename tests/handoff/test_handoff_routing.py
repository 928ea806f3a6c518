"""Routing table (pure) and matrix loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from handoff_helpers import ROOT

from handoff.errors import MatrixError
from handoff.matrix_source import MatrixSource, load_matrix
from handoff.routing import Facts, escalation_target, route

MATRIX = load_matrix(ROOT / "handoff" / "escalation_matrix.yml")


@pytest.mark.parametrize(
    ("facts", "queue", "tier", "priority", "rule"),
    [
        (Facts(), "tier1-general", 1, "P3", "default"),
        (Facts(category="outage"), "engineering", 3, "P1", "outage"),
        (Facts(category="billing", impact="everyone"), "engineering", 3, "P1", "service-wide-impact"),
        (Facts(category="account", text="My account was hacked!"), "account-security", 2, "P2", "account-takeover"),
        (Facts(category="account", text="Mein Konto wurde gehackt"), "account-security", 2, "P2",
         "account-takeover"),
        (Facts(category="account", text="min konto er blevet hacket"), "account-security", 2, "P2",
         "account-takeover"),
        (Facts(text="I want a refund"), "billing", 2, "P3", "refund"),
        (Facts(text="Ich möchte eine Erstattung"), "billing", 2, "P3", "refund"),
        (Facts(text="jeg vil have refusion"), "billing", 2, "P3", "refund"),
        (Facts(category="billing"), "billing", 2, "P3", "billing"),
        (Facts(category="general", customer_tier="vip"), "key-accounts", 2, "P3", "key-accounts"),
        (Facts(category="billing", customer_tier="b2b", text="refund please"), "key-accounts", 2, "P3",
         "key-accounts"),
        (Facts(category="account", customer_tier="vip", text="hacked"), "account-security", 2, "P2",
         "account-takeover"),
        (Facts(category="outage", customer_tier="b2b"), "engineering", 3, "P1", "outage"),
        (Facts(category="privacy", customer_tier="vip"), "privacy", 2, "P3", "privacy-request"),
        (Facts(text="please delete my data under GDPR"), "privacy", 2, "P3", "privacy-keywords"),
        (Facts(category="shipping", escalate_to="billing"), "billing", 2, "P3", "article-escalate-to"),
        (Facts(category="account", escalate_to="account-security", customer_tier="vip"), "account-security", 2,
         "P3", "security-article"),
        (Facts(category="technical", escalate_to="nonexistent-queue"), "tier1-general", 1, "P3", "default"),
        (Facts(category="technical", error_code="E42"), "tech-support", 2, "P3", "technical-with-error-code"),
        (Facts(category="technical"), "tier1-general", 1, "P3", "default"),
        (Facts(category="shipping"), "shipping-returns", 1, "P3", "shipping"),
        (Facts(text="the chef was thrashed"), "tier1-general", 1, "P3", "default"),  # 'hacked' is a word prefix
    ],
)
def test_routing_table(facts: Facts, queue: str, tier: int, priority: str, rule: str) -> None:
    decision = route(MATRIX, facts)
    assert (decision.queue, decision.tier, decision.priority, decision.rule) == (queue, tier, priority, rule)


@pytest.mark.parametrize(
    ("category", "current", "target"),
    [("billing", "tier1-general", "billing"), ("technical", "tier1-general", "tech-support"),
     ("account", "tier1-general", "account-security"), ("general", "shipping-returns", "tech-support"),
     ("technical", "tech-support", "engineering"), ("billing", "billing", "engineering")],
)
def test_escalation_target(category: str, current: str, target: str) -> None:
    assert escalation_target(MATRIX, category, current).name == target


def test_matrix_keeps_taxonomy_for_kb_checker() -> None:
    assert set(MATRIX.categories) >= {"account", "billing", "technical", "privacy", "outage", "general"}
    assert set(MATRIX.queues) == {"tier1-general", "billing", "tech-support", "engineering", "account-security",
                                  "shipping-returns", "key-accounts", "privacy"}


BASE = (ROOT / "handoff" / "escalation_matrix.yml").read_text()


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (("queue: engineering, priority: P1}", "queue: nowhere, priority: P1}"), "unknown queue 'nowhere'"),
        (("priority: P1}", "priority: P9}"), "priority must be one of"),
        (("when: {impact: everyone}", "when: {impakt: everyone}"), "unknown condition(s) impakt"),
        (("when: {category: outage}", "when: {category: weather}"), "unknown category 'weather'"),
        (("\nrules:\n", "\nrules: oops\nold_rules:\n"), "'rules' must be a list"),
        (("version: 1\n", "version: 1\n  bad: [\n"), "invalid YAML"),
    ],
)
def test_bad_matrix_fails_with_file_and_reason(tmp_path: Path, replace: tuple[str, str], message: str) -> None:
    assert replace[0] in BASE
    path = tmp_path / "matrix.yml"
    path.write_text(BASE.replace(replace[0], replace[1], 1))
    with pytest.raises(MatrixError) as info:
        load_matrix(path)
    assert str(path) in info.value.detail and message in info.value.detail


def test_source_keeps_last_good_matrix(tmp_path: Path) -> None:
    path = tmp_path / "matrix.yml"
    path.write_text(BASE)
    source = MatrixSource(path)
    path.write_text(BASE.replace("\nrules:\n", "\nrules: 3\nold_rules:\n"))
    import os  # noqa: PLC0415
    os.utime(path, (1, 1))
    assert source.reload_if_changed() is False
    assert route(source.matrix, Facts(category="outage")).queue == "engineering"
    path.write_text(BASE.replace("when: {category: outage}\n    then: {queue: engineering, priority: P1}",
                                 "when: {category: outage}\n    then: {queue: tier1-general, priority: P2}"))
    os.utime(path, (2, 2))
    assert source.reload_if_changed() is True
    assert route(source.matrix, Facts(category="outage")).queue == "tier1-general"
