"""The cluster's generated configuration, checked by the tools that read it (no cluster needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stack import redis_node
from stack.cluster import LOCK_STORE, ClusterOptions, ClusterPorts, endpoints_file, haproxy_binary, haproxy_config
from stack.settings import ROOT, Settings


def ports() -> ClusterPorts:
    return ClusterPorts(rasa=(41001, 41002), actions=(41011, 41012), handoff=(41021, 41022), redis=(41031, 41032),
                        sentinels=(41041, 41042, 41043), stats=41050)


def test_haproxy_accepts_the_generated_configuration(tmp_path: Path) -> None:
    try:
        binary = haproxy_binary()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    settings = Settings.from_env({"FRONTDOOR_VAR": str(tmp_path)})
    text = haproxy_config(settings, ports(), ClusterOptions(), "s3cret-pw")
    path = redis_node.write_private(tmp_path / "haproxy.cfg", text)
    check = subprocess.run([binary, "-c", "-f", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # the Redis frontend routes to the master only, and authenticates its check
    assert "tcp-check expect string role:master" in text and "AUTH\\ s3cret-pw" in text
    assert text.count("server redis-") == 2 and "on-marked-down shutdown-sessions" in text
    assert path.stat().st_mode & 0o777 == 0o600  # it holds the Redis password


def test_with_an_external_redis_haproxy_balances_only_the_services(tmp_path: Path) -> None:
    settings = Settings.from_env({"FRONTDOOR_VAR": str(tmp_path), "REDIS_URL": "redis://redis.internal:6379/0"})
    external = ClusterPorts(rasa=(1, 2), actions=(3, 4), handoff=(5, 6), redis=(), sentinels=(), stats=7)
    text = haproxy_config(settings, external, ClusterOptions(), "")
    assert "frontend redis" not in text and text.count("server handoff-") == 2


def test_rasa_reads_the_cluster_endpoints_with_the_atomic_lock_store(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.utils.endpoints import read_endpoint_config

    for name, value in {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6390", "REDIS_DB": "0", "REDIS_PASSWORD": "pw",
                        "RASA_KEY_PREFIX": "fd", "ACTION_ENDPOINT_URL": "http://127.0.0.1:1/webhook",
                        "ACTION_SERVER_TOKEN": "tok"}.items():
        monkeypatch.setenv(name, value)
    path = endpoints_file(ROOT, tmp_path / "endpoints.yml")
    lock = read_endpoint_config(str(path), "lock_store")
    tracker = read_endpoint_config(str(path), "tracker_store")
    action = read_endpoint_config(str(path), "action_endpoint")
    assert lock is not None and lock.type == LOCK_STORE and lock.url == "127.0.0.1" and str(lock.kwargs["port"]) == "6390"
    project = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    assert tracker is not None and project is not None and tracker.type == project.type  # the rest as it is
    assert tracker.kwargs["password"] == "pw"
    assert action is not None and action.headers["Authorization"] == "Bearer tok"


def test_a_restarted_node_follows_the_sentinels_not_its_first_role() -> None:
    config = redis_node.node_config(7001, Path("/tmp/x"), "pw", ("127.0.0.1", 7002))
    assert "replicaof 127.0.0.1 7002" in config and "masterauth pw" in config
    assert "replicaof" not in redis_node.node_config(7001, Path("/tmp/x"), "pw", None)
    assert redis_node.master_from_sentinels([("127.0.0.1", 1)]) is None  # nobody answers: keep the first role
