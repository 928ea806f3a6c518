"""One multi-instance cluster for every test in this folder: 2 Rasa servers, 2 action servers, 2 handoff
instances behind a real haproxy, on a real Redis primary + replica with 3 Sentinels, all on free ports,
started by the same code as `frontdoor cluster up` and supervised (restarted after a crash) by it."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.http_client import http_json  # noqa: F401  # the suites import it from here

from stack.cluster import Cluster, ClusterOptions, haproxy_binary
from stack.embedded_redis import free_port
from stack.settings import ROOT, Settings
from stack.training import model_path

BOT_TOKEN = "cluster-bot-token"
LEAD_TOKEN = "cluster-lead-token"


class Supervised:
    """The cluster with `frontdoor cluster up`'s supervision loop running in a thread."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.restarted: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="cluster-supervisor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self.restarted += self.cluster.supervise()
            self._stop.wait(0.3)

    def hold(self, name: str, seconds: float) -> None:
        """Keep the supervisor from restarting ``name`` for ``seconds`` (its backoff, set by hand)."""
        with self._lock:
            self.cluster.child(name).next_start = time.monotonic() + seconds

    def release(self, name: str) -> None:
        with self._lock:
            self.cluster.child(name).next_start = 0.0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervised]:
    try:
        haproxy_binary()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    model = model_path(ROOT, ROOT / "models")
    if not model.exists():
        pytest.fail(f"no trained model for the current inputs ({model.name}); run `make test` or `frontdoor train`")
    var = tmp_path_factory.mktemp("cluster")
    run_id = uuid.uuid4().hex[:8]
    env = {
        "FRONTDOOR_VAR": str(var),
        "RASA_PORT": str(free_port()),
        "ACTION_PORT": str(free_port()),
        "HANDOFF_PORT": str(free_port()),
        "SITE_PORT": str(free_port()),
        "FRONTDOOR_REDIS_PORT": str(free_port()),  # haproxy's Redis frontend
        "HANDOFF_KEY_PREFIX": f"cl{run_id}:",
        "FRONTDOOR_DEMO_AGENT_TOKEN": LEAD_TOKEN,
        "HANDOFF_BOT_TOKEN": BOT_TOKEN,
        "RASA_TOKEN": "cluster-rasa-token",
        "FRONTDOOR_TOKEN_SECRET": "cluster-token-secret",
        "FRONTDOOR_EMBEDDING_CACHE": str(ROOT / "var" / "cache" / "embeddings"),
    }
    settings = Settings.from_env(env).with_secrets()
    options = ClusterOptions(down_after_ms=1000, failover_timeout_ms=5000, lock_lifetime=15, site=False,
                             # CLUSTER_LOCK_STORE=redis measures Rasa's own lock store instead
                             **({"lock_store": os.environ["CLUSTER_LOCK_STORE"]}
                                if os.environ.get("CLUSTER_LOCK_STORE") else {}))
    running = Cluster(settings, model=model, options=options, extra_env={
        "RASA_KEY_PREFIX": f"cl{run_id}",
        "ACTIONS_KEY_PREFIX": f"cl{run_id}-actions:",
        "KB_DRAFTS_DIR": str(var / "drafts"),
        "FRONTDOOR_TICKET_RETRY_SECONDS": "2",
        "HANDOFF_TICKETS_PER_CLIENT_HOUR": "0",  # the load comes from one machine
        "HANDOFF_SLA_INTERVAL": "0",
        # HANDOFF_REPLICA_ACKS=0 in the environment measures the failover without the replica confirmation
        **({"HANDOFF_REPLICA_ACKS": os.environ["HANDOFF_REPLICA_ACKS"]} if "HANDOFF_REPLICA_ACKS" in os.environ else {}),
    })
    try:
        running.start(timeout=420)
    except Exception:
        running.stop()
        for log in sorted(settings.log_dir.glob("*.log")):
            print(f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:]))
        raise
    supervised = Supervised(running)
    yield supervised
    supervised.stop()
    running.stop()


def logs_of(cluster: Cluster, name: str, lines: int = 30) -> str:
    path: Path = cluster.settings.log_dir / f"{name}.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def ticket_request(conversation: str) -> dict[str, Any]:
    n = conversation.rsplit("-", 1)[-1]
    return {
        "schema_version": 1, "conversation_id": conversation, "channel": "rest", "language": "en",
        "customer": {"name": f"Customer {n}", "email": f"{conversation}@example.com", "verified": False},
        "category": "technical", "description": f"The app shows error E42 when I start a film ({n})",
        "impact": "only_me", "urgency": "normal", "requested_human": True,
        "transcript": [{"sender": "customer", "text": "it does not work", "timestamp": 1.0}],
    }
