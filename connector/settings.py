"""Settings of the connector: a frozen value read once from the environment by the entry point."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from connector.errors import ConfigError
from bot.envvars import env_float, env_int
from handoff.settings import served_matrix

DEFAULT_KEY_PREFIX = "fd-rt:"
DEFAULT_PORT = 8095
DEFAULT_QUEUE_MAP = Path("connector/rt_queues.yml")


@dataclass(frozen=True)
class Settings:
    rt_url: str  # e.g. http://rt.example.com (REST2 is under /REST/2.0)
    rt_token: str  # RT auth token (RT::Authen::Token), sent as "Authorization: token ..."
    redis_url: str
    handoff_url: str
    handoff_token: str  # HANDOFF_HELPDESK_TOKEN
    queue_map: Path = DEFAULT_QUEUE_MAP
    matrix_path: Path = Path("handoff/escalation_matrix.yml")
    rt_user: str = ""  # the connector's RT user (its own transactions are not applied back); "" = from the token
    key_prefix: str = DEFAULT_KEY_PREFIX  # the connector's own Redis keys
    events_key: str = "fd:events"  # the handoff service's event stream (read as a consumer group)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT  # /health
    poll_interval: float = 2.0  # seconds between polls of RT's new transactions
    concurrency: int = 4  # tickets mirrored at the same time (one ticket's events stay in order)
    timeout: float = 15.0  # seconds per HTTP request to RT or the handoff service
    max_backoff: float = 60.0  # retries of parked work wait 1, 2, 4 ... this many seconds
    consumer: str = "rt-connector"  # the consumer's name in the group (stable: a restart resumes its entries)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        missing = [n for n in ("RT_URL", "RT_TOKEN", "REDIS_URL", "HANDOFF_URL", "HANDOFF_HELPDESK_TOKEN")
                   if not env.get(n)]
        if missing:
            raise ConfigError(f"missing required environment variable(s): {', '.join(missing)}")
        url = env["RT_URL"].rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"RT_URL must start with http:// or https:// (got {url!r})")
        return cls(
            rt_url=url,
            rt_token=env["RT_TOKEN"],
            redis_url=env["REDIS_URL"],
            handoff_url=env["HANDOFF_URL"].rstrip("/"),
            handoff_token=env["HANDOFF_HELPDESK_TOKEN"],
            queue_map=Path(env.get("RT_QUEUE_MAP") or DEFAULT_QUEUE_MAP),
            matrix_path=served_matrix(env.get("HANDOFF_MATRIX")),
            rt_user=env.get("RT_USER", ""),
            key_prefix=env.get("RT_CONNECTOR_KEY_PREFIX") or DEFAULT_KEY_PREFIX,
            events_key=(env.get("HANDOFF_KEY_PREFIX") or "fd:") + "events",
            host=env.get("RT_CONNECTOR_HOST") or "127.0.0.1",
            port=env_int(env, "RT_CONNECTOR_PORT", DEFAULT_PORT, ConfigError),
            poll_interval=env_float(env, "RT_POLL_INTERVAL", 2.0, ConfigError),
            concurrency=max(1, env_int(env, "RT_CONNECTOR_CONCURRENCY", 4, ConfigError)),
            timeout=env_float(env, "RT_TIMEOUT", 15.0, ConfigError),
            consumer=env.get("RT_CONNECTOR_ID") or "rt-connector",
        )
