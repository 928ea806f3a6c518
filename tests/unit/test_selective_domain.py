"""Rasa sends no domain with an action call (endpoints.yml: enable_selective_domain), and the action server
fills in its own copy of domain.yml (actions/domain.py): the actions see the same responses and forms."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from actions.domain import local_domain, with_domain
from actions.settings import DEFAULT_DOMAIN

ROOT = Path(__file__).resolve().parents[2]


def test_rasa_with_our_endpoints_sends_no_domain_with_an_action_call(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.utils import read_endpoints_from_path
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    for name in ("ACTION_ENDPOINT_URL", "ACTION_SERVER_TOKEN", "REDIS_HOST", "REDIS_PORT", "REDIS_DB",
                 "REDIS_PASSWORD", "RASA_KEY_PREFIX"):
        monkeypatch.setenv(name, "1")
    endpoints = read_endpoints_from_path(ROOT / "endpoints.yml")
    domain = Domain.load(str(ROOT / "domain.yml"))
    call = RemoteAction("action_answer_from_kb", endpoints.action)._action_call_format(
        DialogueStateTracker("conv-1", domain.slots), domain)
    assert "domain" not in call and call["next_action"] == "action_answer_from_kb"


def test_the_action_server_fills_in_its_copy_of_the_domain(tmp_path: Path) -> None:
    assert DEFAULT_DOMAIN == ROOT / "domain.yml"
    filled = with_domain({"next_action": "action_greet", "tracker": {}}, DEFAULT_DOMAIN)
    assert filled["domain"] == yaml.safe_load(DEFAULT_DOMAIN.read_text(encoding="utf-8"))
    assert {"responses", "forms", "slots"} <= set(filled["domain"])
    sent = {"next_action": "action_greet", "domain": {"responses": {"utter_x": []}}}
    assert with_domain(sent, DEFAULT_DOMAIN) is sent  # a domain Rasa did send is kept
    broken = tmp_path / "domain.yml"
    broken.write_text("version: '3.1'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a Rasa domain"):
        local_domain(broken)
