"""Settings of the handoff service: a frozen value read once from the environment by the entry point."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from handoff.errors import SettingsError
from bot.envvars import env_float, env_int

ROLES = ("agent", "lead")


@dataclass(frozen=True)
class BootstrapToken:
    name: str
    role: str
    token: str


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours for SLA clocks (P1 runs 24/7). ``days`` are ISO weekdays, 1 = Monday."""

    days: tuple[int, ...] = (1, 2, 3, 4, 5)
    start_minute: int = 8 * 60
    end_minute: int = 18 * 60
    timezone: str = "UTC"


@dataclass(frozen=True)
class Settings:
    redis_url: str
    bot_token: str
    host: str = "127.0.0.1"
    port: int = 8090
    key_prefix: str = "fd:"
    matrix_path: Path = Path("handoff/escalation_matrix.yml")
    kb_drafts_dir: Path = Path("kb_articles/drafts")
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str | None = None
    webhooks: tuple[str, ...] = ()
    webhook_secret: str | None = None
    bootstrap_tokens: tuple[BootstrapToken, ...] = ()
    sla_interval: float = 30.0  # seconds between SLA sweeps; 0 disables the watcher
    matrix_poll_interval: float = 5.0  # seconds between checks of the matrix file; 0 disables
    business_hours: BusinessHours = field(default_factory=BusinessHours)
    client_max_size: int = 256 * 1024
    events_maxlen: int = 2_000_000  # a cap on the events stream (handoff.store.EVENTS_MAXLEN)
    signals_maxlen: int = 2_000_000  # a cap on the bot's signals stream
    retention_days: float = 90.0  # the events and signals streams keep this many days (analytics)
    retention_interval: float = 3600.0  # seconds between trims of the streams by time; 0 disables
    # a new ticket is acknowledged only once this many replicas have it (Redis WAIT), so a failover to a
    # replica never loses a ticket the API confirmed; 0 = do not wait (a single Redis)
    replica_acks: int = 0
    replica_ack_timeout_ms: int = 1000
    webhook_retries: int = 5
    webhook_backoff: float = 0.5  # first retry delay in seconds, doubled each time
    http_timeout: float = 5.0
    default_wait_minutes: int = 10  # expected wait per queue position when the queue has no history
    instance_id: str = "handoff"
    tickets_per_client_hour: int = 10  # new tickets one anonymous client may open per hour; 0 = no limit
    incident_detection: bool = True  # the incident detector reads new tickets and unanswered conversations
    incident_notify_interval: float = 2.0  # seconds between rounds telling customers an incident is fixed
    helpdesk_token: str | None = None  # bearer token of the helpdesk connector (connector/); None: no access

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        missing = [name for name in ("REDIS_URL", "HANDOFF_BOT_TOKEN") if not env.get(name)]
        if missing:
            raise SettingsError(f"missing required environment variable(s): {', '.join(missing)}")
        return cls(
            redis_url=env["REDIS_URL"],
            bot_token=env["HANDOFF_BOT_TOKEN"],
            host=env.get("HANDOFF_HOST", "127.0.0.1"),
            port=env_int(env, "HANDOFF_PORT", 8090, SettingsError),
            key_prefix=env.get("HANDOFF_KEY_PREFIX", "fd:"),
            matrix_path=served_matrix(env.get("HANDOFF_MATRIX")),
            kb_drafts_dir=Path(env.get("KB_DRAFTS_DIR", "kb_articles/drafts")),
            rasa_url=env.get("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            rasa_token=env.get("RASA_TOKEN") or None,
            webhooks=tuple(u.strip() for u in env.get("HANDOFF_WEBHOOKS", "").split(",") if u.strip()),
            webhook_secret=env.get("HANDOFF_WEBHOOK_SECRET") or None,
            bootstrap_tokens=parse_bootstrap_tokens(env.get("HANDOFF_BOOTSTRAP_TOKENS", "")),
            sla_interval=env_float(env, "HANDOFF_SLA_INTERVAL", 30.0, SettingsError),
            matrix_poll_interval=env_float(env, "HANDOFF_MATRIX_POLL", 5.0, SettingsError),
            replica_acks=env_int(env, "HANDOFF_REPLICA_ACKS", 0, SettingsError),
            replica_ack_timeout_ms=env_int(env, "HANDOFF_REPLICA_ACK_TIMEOUT_MS", 1000, SettingsError),
            business_hours=parse_business_hours(
                env.get("HANDOFF_BUSINESS_HOURS", "mon-fri 08:00-18:00"), env.get("HANDOFF_TIMEZONE", "UTC")
            ),
            instance_id=env.get("HANDOFF_INSTANCE_ID", "handoff"),
            tickets_per_client_hour=env_int(env, "HANDOFF_TICKETS_PER_CLIENT_HOUR", 10, SettingsError),
            incident_detection=env.get("HANDOFF_INCIDENT_DETECTION", "1").strip().lower() not in ("0", "false", "no",
                                                                                                 "off"),
            incident_notify_interval=env_float(env, "HANDOFF_INCIDENT_NOTIFY_INTERVAL", 2.0, SettingsError),
            events_maxlen=env_int(env, "HANDOFF_EVENTS_MAXLEN", 2_000_000, SettingsError),
            signals_maxlen=env_int(env, "HANDOFF_SIGNALS_MAXLEN", 2_000_000, SettingsError),
            retention_days=env_float(env, "HANDOFF_RETENTION_DAYS", 90.0, SettingsError),
            helpdesk_token=env.get("HANDOFF_HELPDESK_TOKEN") or None,
        )


def served_matrix(raw: str | None) -> Path:
    """HANDOFF_MATRIX, else handoff/escalation_matrix.yml (relative to the working directory, or the
    file shipped in this package when the service runs from elsewhere). The RT connector reads the matrix
    the same way: its queue mapping is checked against the queues this service routes to."""
    if raw:
        return Path(raw)
    default = Path("handoff/escalation_matrix.yml")
    return default if default.exists() else Path(__file__).resolve().parent / "escalation_matrix.yml"


def parse_bootstrap_tokens(raw: str) -> tuple[BootstrapToken, ...]:
    """``alice:agent:TOKEN,bob:lead:TOKEN2`` -> tokens."""
    tokens: list[BootstrapToken] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        parts = item.split(":", 2)
        if len(parts) != 3 or not all(parts) or parts[1] not in ROLES:
            raise SettingsError(
                "HANDOFF_BOOTSTRAP_TOKENS entries must look like name:agent|lead:token "
                f"(entry {len(tokens) + 1} is malformed)"
            )
        tokens.append(BootstrapToken(name=parts[0], role=parts[1], token=parts[2]))
    return tuple(tokens)


_DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}


def parse_business_hours(raw: str, timezone: str = "UTC") -> BusinessHours:
    """``mon-fri 08:00-18:00`` (or ``mon,wed 09:00-17:00``) -> BusinessHours."""
    try:
        days_part, hours_part = raw.strip().lower().split()
        if "-" in days_part:
            first, last = days_part.split("-")
            days = tuple(range(_DAYS[first], _DAYS[last] + 1))
        else:
            days = tuple(_DAYS[d] for d in days_part.split(","))
        start, end = hours_part.split("-")
        sh, sm = (int(x) for x in start.split(":"))
        eh, em = (int(x) for x in end.split(":"))
    except (ValueError, KeyError):
        raise SettingsError(f"HANDOFF_BUSINESS_HOURS must look like 'mon-fri 08:00-18:00', got {raw!r}") from None
    if not days or sh * 60 + sm >= eh * 60 + em:
        raise SettingsError(f"HANDOFF_BUSINESS_HOURS is empty or ends before it starts: {raw!r}")
    return BusinessHours(days=days, start_minute=sh * 60 + sm, end_minute=eh * 60 + em, timezone=timezone)
