"""Settings of the whole stack as `frontdoor up` starts it, read once from the environment.

Every variable has a documented default (README, "Configuration"). Secrets are never defaults: when a
secret is not given, `frontdoor up` generates one into `var/secrets.env` (mode 0600, not in git) and
reuses it on the next start, so a demo works out of the box and production passes real ones.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent

# name -> (default, help). The README's configuration table is generated from the same facts.
ENV_DEFAULTS: dict[str, tuple[str, str]] = {
    "FRONTDOOR_HOST": ("127.0.0.1", "interface every process binds to"),
    "RASA_PORT": ("5005", "Rasa server (REST + socket.io channels, HTTP API)"),
    "ACTION_PORT": ("5055", "Rasa action server"),
    "HANDOFF_PORT": ("8090", "handoff service (ticket API, agents' console at /agent)"),
    "SITE_PORT": ("8080", "demo website with the chat widget"),
    "REDIS_URL": ("", "external Redis (redis://[:password@]host:port/db); empty = embedded server"),
    "FRONTDOOR_REDIS_PORT": ("6380", "port of the embedded Redis server"),
    "FRONTDOOR_VAR": ("var", "runtime directory: logs, embedded Redis data, generated secrets"),
    "FRONTDOOR_MODELS": ("models", "directory of trained Rasa models"),
    "HANDOFF_KEY_PREFIX": ("fd:", "prefix of every Redis key of the handoff service"),
    "ACTIONS_KEY_PREFIX": ("fd-actions:", "prefix of every Redis key the action server writes (outbox, KB feedback)"),
    "RASA_KEY_PREFIX": ("frontdoor", "prefix of the Rasa server's Redis keys (conversations, pending chat messages)"),
    "KB_ROOT": ("kb_articles", "knowledge-base articles (hot reloaded)"),
    "FRONTDOOR_EMBEDDING_CACHE": ("", "sentence embeddings of articles and training examples; empty = "
                                      "<FRONTDOOR_VAR>/cache/embeddings"),
    "RT_URL": ("", "Request Tracker 5 to mirror tickets into (the RT connector runs only when set)"),
    "RT_TOKEN": ("", "RT auth token of the connector's RT user (RT_URL needs it; never generated)"),
    "RT_QUEUE_MAP": ("connector/rt_queues.yml", "which RT queue each queue of the escalation matrix goes to"),
    "RT_CONNECTOR_KEY_PREFIX": ("fd-rt:", "prefix of the RT connector's Redis keys"),
    "RT_CONNECTOR_PORT": ("8095", "the RT connector's health check (/health)"),
}

SECRET_NAMES: dict[str, str] = {
    "HANDOFF_BOT_TOKEN": "bearer token the action server uses for the handoff service",
    "RASA_TOKEN": "token for Rasa's HTTP API (the handoff service delivers agent replies with it)",
    "FRONTDOOR_REDIS_PASSWORD": "password of the embedded Redis server (not used with REDIS_URL)",
    "ACTION_SERVER_TOKEN": "bearer token the Rasa server sends to the action server (nothing else may call it)",
    "FRONTDOOR_TOKEN_SECRET": "HMAC secret that signs logged-in website users' tokens",
    "FRONTDOOR_DEMO_AGENT_TOKEN": "token of the demo agent `demo` (role lead) for the console",
    "HANDOFF_HELPDESK_TOKEN": "bearer token of the RT connector at the handoff service",
}


def _resolve(root: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else root / path


@dataclass(frozen=True)
class RedisAddress:
    host: str
    port: int
    db: int
    password: str

    @classmethod
    def parse(cls, url: str) -> RedisAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"REDIS_URL must start with redis:// (got {url!r})")
        db_text = parts.path.lstrip("/") or "0"
        if not db_text.isdigit():
            raise ValueError(f"REDIS_URL database must be a number (got {db_text!r})")
        return cls(parts.hostname or "127.0.0.1", parts.port or 6379, int(db_text), parts.password or "")


@dataclass(frozen=True)
class Settings:
    root: Path
    host: str
    rasa_port: int
    action_port: int
    handoff_port: int
    site_port: int
    redis_url: str  # empty: embedded
    embedded_redis_port: int
    var_dir: Path
    models_dir: Path
    kb_root: Path
    key_prefix: str
    embedding_cache: Path
    secrets: Mapping[str, str] = field(default_factory=dict)
    rt_url: str = ""  # empty: no RT connector
    rt_token: str = ""
    rt_queue_map: Path = ROOT / "connector" / "rt_queues.yml"
    rt_key_prefix: str = "fd-rt:"
    rt_connector_port: int = 8095

    PORT_VARS = {
        "rasa_port": "RASA_PORT",
        "action_port": "ACTION_PORT",
        "handoff_port": "HANDOFF_PORT",
        "site_port": "SITE_PORT",
        "embedded_redis_port": "FRONTDOOR_REDIS_PORT",
        "rt_connector_port": "RT_CONNECTOR_PORT",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str], root: Path = ROOT) -> Settings:
        def get(name: str) -> str:
            return env.get(name) or ENV_DEFAULTS[name][0]

        def port(name: str) -> int:
            text = get(name)
            if not text.isdigit() or not 0 < int(text) < 65536:
                raise ValueError(f"{name} must be a port number between 1 and 65535 (got {text!r})")
            return int(text)

        redis_url = get("REDIS_URL")
        if redis_url:
            RedisAddress.parse(redis_url)  # fail early with a clear message
        var_dir = _resolve(root, get("FRONTDOOR_VAR"))
        cache = get("FRONTDOOR_EMBEDDING_CACHE")
        return cls(
            root=root,
            host=get("FRONTDOOR_HOST"),
            rasa_port=port("RASA_PORT"),
            action_port=port("ACTION_PORT"),
            handoff_port=port("HANDOFF_PORT"),
            site_port=port("SITE_PORT"),
            redis_url=redis_url,
            embedded_redis_port=port("FRONTDOOR_REDIS_PORT"),
            var_dir=var_dir,
            models_dir=_resolve(root, get("FRONTDOOR_MODELS")),
            kb_root=_resolve(root, get("KB_ROOT")),
            key_prefix=get("HANDOFF_KEY_PREFIX"),
            embedding_cache=_resolve(root, cache) if cache else var_dir / "cache" / "embeddings",
            secrets={name: env[name] for name in SECRET_NAMES if env.get(name)},
            rt_url=get("RT_URL").rstrip("/"),
            rt_token=get("RT_TOKEN"),
            rt_queue_map=_resolve(root, get("RT_QUEUE_MAP")),
            rt_key_prefix=get("RT_CONNECTOR_KEY_PREFIX"),
            rt_connector_port=port("RT_CONNECTOR_PORT"),
        )

    @property
    def effective_redis_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        password = self.secrets.get("FRONTDOOR_REDIS_PASSWORD", "")
        return f"redis://{':' + password + '@' if password else ''}127.0.0.1:{self.embedded_redis_port}/0"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    def url(self, port: int) -> str:
        host = "localhost" if self.host in ("127.0.0.1", "0.0.0.0") else self.host
        return f"http://{host}:{port}"

    def with_secrets(self) -> Settings:
        """Fill in every missing secret from var/secrets.env, generating (and saving) new ones."""
        path = self.var_dir / "secrets.env"
        stored: dict[str, str] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                name, sep, value = line.partition("=")
                if sep and name in SECRET_NAMES:
                    stored[name] = value.strip()
        merged = dict(stored)
        merged.update(self.secrets)
        missing = [name for name in SECRET_NAMES if not merged.get(name)]
        if missing:
            for name in missing:
                merged[name] = secrets.token_urlsafe(24)
                stored[name] = merged[name]
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write("# generated by `frontdoor up`; set these variables to override\n")
                handle.writelines(f"{name}={value}\n" for name, value in stored.items())
        return replace(self, secrets=merged)
