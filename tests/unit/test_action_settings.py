"""The action server reads its configuration in one place (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.settings import ActionSettings


def test_defaults_and_environment() -> None:
    assert ActionSettings.from_env({}) == ActionSettings()
    got = ActionSettings.from_env({"ACTION_SERVER_TOKEN": "t", "SANIC_HOST": "10.0.0.2", "REDIS_URL": "redis://r:1/0",
                                   "HANDOFF_URL": "http://h:1", "HANDOFF_BOT_TOKEN": "b", "ACTIONS_KEY_PREFIX": "x:",
                                   "RASA_KEY_PREFIX": "r", "RASA_URL": "http://rasa:5/", "RASA_TOKEN": "rt", "FRONTDOOR_TICKET_RETRY_SECONDS": "2.5",
                                   "KB_ROOT": "/kb", "PUBLIC_SITE_URL": "https://help.example/",
                                   "FRONTDOOR_VAR": "/v", "FRONTDOOR_TOKEN_SECRET": "s"})
    assert got == ActionSettings(token="t", host="10.0.0.2", token_secret="s", redis_url="redis://r:1/0",
                                 handoff_url="http://h:1", handoff_bot_token="b", key_prefix="x:",
                                 rasa_key_prefix="r", rasa_url="http://rasa:5", rasa_token="rt", ticket_retry_seconds=2.5, kb_root=Path("/kb"),
                                 public_site_url="https://help.example", embedding_cache=Path("/v/cache/embeddings"))


def test_a_malformed_number_names_its_variable() -> None:
    with pytest.raises(ValueError, match="FRONTDOOR_TICKET_RETRY_SECONDS"):
        ActionSettings.from_env({"FRONTDOOR_TICKET_RETRY_SECONDS": "soon"})


def test_no_action_module_reads_the_environment_itself() -> None:
    root = Path(__file__).resolve().parents[2] / "actions"
    readers = [p.name for p in root.glob("*.py") if p.name != "settings.py" and "os.environ" in p.read_text()]
    assert readers == []


def test_the_documented_key_prefix_defaults_are_the_ones_the_processes_use() -> None:
    from stack.settings import ENV_DEFAULTS

    assert ENV_DEFAULTS["ACTIONS_KEY_PREFIX"][0] == ActionSettings().key_prefix
    assert ENV_DEFAULTS["RASA_KEY_PREFIX"][0] == ActionSettings().rasa_key_prefix
