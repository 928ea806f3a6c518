"""The action server's configuration, read from its environment once, in one place.

`frontdoor up` sets these for the action server process (stack/supervisor.py); every action module asks
`action_settings()` instead of reading ``os.environ`` itself. Tests build an ``ActionSettings`` from a
dict, or pass values to the classes directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.kb.encoder import cache_folder
from bot.taxonomy import DEFAULT_MATRIX, matrix_path

ACTIONS_KEY_PREFIX = "fd-actions:"  # every Redis key the action server writes starts with it
DEFAULT_DOMAIN = Path(__file__).resolve().parent.parent / "domain.yml"
RETRY_AFTER_SECONDS = 20.0  # a parked ticket request is retried this long after the customer was told


@dataclass(frozen=True)
class ActionSettings:
    token: str = ""  # ACTION_SERVER_TOKEN: the Rasa server's bearer token (required to serve)
    host: str = "127.0.0.1"  # SANIC_HOST: the one interface to listen on
    token_secret: str = ""  # FRONTDOOR_TOKEN_SECRET: verifies the website's signed identity tokens
    redis_url: str = ""  # REDIS_URL: outbox, KB feedback, the transcript's events ("" = none)
    handoff_url: str = "http://127.0.0.1:8090"  # HANDOFF_URL
    handoff_bot_token: str = ""  # HANDOFF_BOT_TOKEN
    key_prefix: str = ACTIONS_KEY_PREFIX  # ACTIONS_KEY_PREFIX: the keys this process owns (outbox, KB feedback)
    rasa_key_prefix: str = "frontdoor"  # RASA_KEY_PREFIX: the tracker store's keys (read: the transcript)
    rasa_url: str = "http://127.0.0.1:5005"  # RASA_URL: tells a parked customer their ticket's reference
    rasa_token: str = ""  # RASA_TOKEN
    ticket_retry_seconds: float = RETRY_AFTER_SECONDS  # FRONTDOOR_TICKET_RETRY_SECONDS
    kb_root: Path = Path("kb_articles")  # KB_ROOT
    matrix_path: Path = DEFAULT_MATRIX  # HANDOFF_MATRIX: the escalation matrix (labels of queues, categories)
    domain_path: Path = DEFAULT_DOMAIN  # FRONTDOOR_DOMAIN: the domain Rasa no longer sends with each call
    public_site_url: str = "http://localhost:8080"  # PUBLIC_SITE_URL: article links
    embedding_cache: Path = Path("var/cache/embeddings")  # FRONTDOOR_EMBEDDING_CACHE or FRONTDOOR_VAR

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ActionSettings:
        """Settings from an environment; a malformed number names its variable."""
        retry = env.get("FRONTDOOR_TICKET_RETRY_SECONDS") or str(RETRY_AFTER_SECONDS)
        try:
            retry_seconds = float(retry)
        except ValueError:
            raise ValueError(f"FRONTDOOR_TICKET_RETRY_SECONDS must be a number of seconds, not {retry!r}") from None
        return cls(
            token=env.get("ACTION_SERVER_TOKEN", ""),
            host=env.get("SANIC_HOST") or "127.0.0.1",
            token_secret=env.get("FRONTDOOR_TOKEN_SECRET", ""),
            redis_url=env.get("REDIS_URL", ""),
            handoff_url=env.get("HANDOFF_URL") or "http://127.0.0.1:8090",
            handoff_bot_token=env.get("HANDOFF_BOT_TOKEN", ""),
            key_prefix=env.get("ACTIONS_KEY_PREFIX") or ACTIONS_KEY_PREFIX,
            rasa_key_prefix=env.get("RASA_KEY_PREFIX") or "frontdoor",
            rasa_url=(env.get("RASA_URL") or "http://127.0.0.1:5005").rstrip("/"),
            rasa_token=env.get("RASA_TOKEN", ""),
            ticket_retry_seconds=retry_seconds,
            kb_root=Path(env.get("KB_ROOT") or "kb_articles"),
            matrix_path=matrix_path(env),
            domain_path=Path(env.get("FRONTDOOR_DOMAIN") or DEFAULT_DOMAIN),
            public_site_url=(env.get("PUBLIC_SITE_URL") or "http://localhost:8080").rstrip("/"),
            embedding_cache=cache_folder(env),
        )


_current: ActionSettings | None = None


def action_settings() -> ActionSettings:
    """This process's settings, read from ``os.environ`` on first use."""
    global _current
    if _current is None:
        _current = ActionSettings.from_env(os.environ)
    return _current
