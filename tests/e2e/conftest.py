"""The whole stack for end-to-end tests: real Rasa server, action server, handoff service, website and
Redis, started by the same code as `frontdoor up`, on free ports, with their own key prefixes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.http_client import http_json  # noqa: F401  # the suites import it from here

from stack.embedded_redis import free_port
from stack.settings import ROOT, Settings
from stack.supervisor import Stack
from stack.training import model_path


def start_stack(redis_url: str, var: Path, extra: dict[str, str] | None = None) -> Stack:
    """The whole stack on free ports, under its own key prefixes, with ``extra`` in its environment."""
    model = model_path(ROOT, ROOT / "models")
    if not model.exists():
        pytest.fail(f"no trained model for the current inputs ({model.name}); run `make test` or `frontdoor train`")
    run_id = uuid.uuid4().hex[:8]
    env = {
        "REDIS_URL": redis_url,
        "FRONTDOOR_VAR": str(var),
        "RASA_PORT": str(free_port()),
        "ACTION_PORT": str(free_port()),
        "HANDOFF_PORT": str(free_port()),
        "SITE_PORT": str(free_port()),
        "HANDOFF_KEY_PREFIX": f"e2e{run_id}:",
        "FRONTDOOR_DEMO_AGENT_TOKEN": "e2e-lead-token",
        "HANDOFF_BOT_TOKEN": "e2e-bot-token",
        "RASA_TOKEN": "e2e-rasa-token",
        "FRONTDOOR_TOKEN_SECRET": "e2e-token-secret",
        # the embeddings `frontdoor train` and the KB tests already computed (not a per-test folder)
        "FRONTDOOR_EMBEDDING_CACHE": str(ROOT / "var" / "cache" / "embeddings"),
    }
    settings = Settings.from_env(env).with_secrets()
    drafts = var / "drafts"
    running = Stack(settings, model=model, extra_env={"RASA_KEY_PREFIX": f"e2e{run_id}",
                                                      "ACTIONS_KEY_PREFIX": f"e2e{run_id}-actions:",
                                                      "KB_DRAFTS_DIR": str(drafts),
                                                      "FRONTDOOR_TICKET_RETRY_SECONDS": "2", **(extra or {})})
    try:
        running.start(timeout=300)
    except Exception:
        running.stop()
        for log in sorted(Path(settings.log_dir).glob("*.log")):
            print(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:]))
        raise
    return running


@pytest.fixture(scope="session")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # the suites have many customers with the same problems within minutes: the incident detector would
    # (rightly) group them; tests/e2e/test_incidents.py runs a stack of its own with it
    running = start_stack(redis_url, tmp_path_factory.mktemp("var"), {"HANDOFF_INCIDENT_DETECTION": "0"})
    yield running
    running.stop()


class Chat:
    """One customer's conversation through Rasa's REST channel."""

    def __init__(self, stack: Stack, sender: str | None = None, metadata: dict[str, Any] | None = None) -> None:
        self.url = f"http://127.0.0.1:{stack.settings.rasa_port}/webhooks/rest/webhook"
        self.sender = sender or f"e2e-{uuid.uuid4().hex[:10]}"
        self.metadata = metadata or {}

    def say(self, text: str) -> list[dict[str, Any]]:
        status, replies = http_json(self.url, {"sender": self.sender, "message": text, "metadata": self.metadata})
        assert status == 200, replies
        return list(replies or [])

    def texts(self, text: str) -> list[str]:
        return [reply.get("text", "") for reply in self.say(text)]

    def buttons(self, replies: list[dict[str, Any]]) -> list[str]:
        return [button["payload"] for reply in replies for button in reply.get("buttons", [])]


def handoff_get(stack: Stack, path: str, token: str | None = None) -> tuple[int, Any]:
    base = f"http://127.0.0.1:{stack.settings.handoff_port}"
    return http_json(base + path, token=token or stack.settings.secrets["HANDOFF_BOT_TOKEN"])


def agent_token(stack: Stack) -> str:
    return stack.settings.secrets["FRONTDOOR_DEMO_AGENT_TOKEN"]


@pytest.fixture
def chat(stack: Stack) -> Chat:
    return Chat(stack)
