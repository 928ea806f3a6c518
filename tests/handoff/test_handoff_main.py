"""``python -m handoff`` as a process: SIGHUP reload, token CLI, bad matrix at start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from handoff_helpers import BOT, ROOT, payload

from stack.embedded_redis import free_port


def call(url: str, data: dict[str, Any] | None = None, token: str = BOT) -> dict[str, Any]:
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


@pytest.fixture
def env(redis_url: str, key_prefix: str, tmp_path: Path) -> dict[str, str]:
    matrix = tmp_path / "matrix.yml"
    matrix.write_text((ROOT / "handoff" / "escalation_matrix.yml").read_text())
    return dict(os.environ, REDIS_URL=redis_url, HANDOFF_BOT_TOKEN=BOT, HANDOFF_KEY_PREFIX=key_prefix,
                HANDOFF_PORT=str(free_port()), HANDOFF_MATRIX=str(matrix), HANDOFF_MATRIX_POLL="0",
                HANDOFF_SLA_INTERVAL="0", KB_DRAFTS_DIR=str(tmp_path / "drafts"))


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll ``check`` until it holds (a signal is handled a moment after it is sent), or fail."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "did not happen in time"
        time.sleep(0.05)


@pytest.fixture
def service(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    url = f"http://127.0.0.1:{env['HANDOFF_PORT']}"
    log = (tmp_path / "handoff.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "handoff"], cwd=ROOT, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1):
                break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
    yield proc, url
    proc.terminate()
    proc.wait(10)
    log.close()


def test_sighup_reloads_matrix_and_keeps_last_good(service: tuple[subprocess.Popen[bytes], str],
                                                  env: dict[str, str], tmp_path: Path) -> None:
    proc, url = service
    matrix = Path(env["HANDOFF_MATRIX"])
    assert call(url + "/api/v1/tickets", payload("h1", category="outage", customer={}))["queue"] == "engineering"
    matrix.write_text(matrix.read_text().replace(
        "when: {category: outage}\n    then: {queue: engineering, priority: P1}",
        "when: {category: outage}\n    then: {queue: tier1-general, priority: P1}"))
    proc.send_signal(signal.SIGHUP)
    eventually(lambda: call(url + "/api/v1/estimate", payload("h2", category="outage", customer={}))["queue"]
               == "tier1-general")
    assert call(url + "/api/v1/tickets", payload("h2", category="outage", customer={}))["queue"] == "tier1-general"
    matrix.write_text("rules: [")
    proc.send_signal(signal.SIGHUP)
    log = tmp_path / "handoff.log"
    eventually(lambda: "keeping the last good escalation matrix" in log.read_text(errors="replace"))
    assert proc.poll() is None
    assert call(url + "/api/v1/tickets", payload("h3", category="outage", customer={}))["queue"] == "tier1-general"


def test_token_create_cli(service: tuple[subprocess.Popen[bytes], str], env: dict[str, str]) -> None:
    _, url = service
    out = subprocess.run([sys.executable, "-m", "handoff", "token", "create", "--name", "carl", "--role", "lead"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=True)
    token = out.stdout.strip()
    assert len(token) >= 32
    assert call(url + "/api/v1/agent/me", token=token) == {"name": "carl", "role": "lead"}


def test_bad_matrix_at_start_exits_2(env: dict[str, str]) -> None:
    Path(env["HANDOFF_MATRIX"]).write_text("categories: {}\n")
    proc = subprocess.run([sys.executable, "-m", "handoff"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2
    assert env["HANDOFF_MATRIX"] in proc.stderr and "categories" in proc.stderr


def test_starts_before_redis_and_recovers(env: dict[str, str], tmp_path: Path) -> None:
    from stack.embedded_redis import EmbeddedRedis  # noqa: PLC0415

    redis_port = free_port()
    env = dict(env, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", HANDOFF_BOOTSTRAP_TOKENS="dora:agent:dora-token")
    url = f"http://127.0.0.1:{env['HANDOFF_PORT']}"
    proc = subprocess.Popen([sys.executable, "-m", "handoff"], cwd=ROOT, env=env)
    server = EmbeddedRedis(data_dir=tmp_path / "late-redis", port=redis_port)
    try:
        deadline = time.monotonic() + 20
        status = 0
        while status != 503:
            assert time.monotonic() < deadline and proc.poll() is None
            try:
                urllib.request.urlopen(url + "/health", timeout=3)
                status = 200  # something else answers on the port we picked for Redis: retry
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                pass
            time.sleep(0.1)
        server.start()
        deadline = time.monotonic() + 15
        while True:
            try:
                assert call(url + "/api/v1/agent/me", token="dora-token") == {"name": "dora", "role": "agent"}
                break
            except (urllib.error.HTTPError, OSError):
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(10)
        server.stop()
