"""The connector and the handoff service as the processes they are in production, on the session's real RT 5
(the ``rt`` fixture, tests/conftest.py) and Redis; helpers to read RT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stack.embedded_redis import free_port
from tests.rt.rt_server import AGENT, CONNECTOR, RTServer

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "connector" / "rt_queues.yml"
BOT = "rt-test-bot-token"
HELPDESK = "rt-test-helpdesk-token"
LEAD = "rt-test-lead-token"


def rt_call(rt: RTServer, method: str, path: str, body: Any = None, params: dict[str, str] | None = None,
            user: str = AGENT) -> Any:
    """RT's REST2 as ``user`` (the agent, by default)."""
    url = rt.url + "/REST/2.0" + path + ("?" + urllib.parse.urlencode(params) if params else "")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"token {rt.tokens[user]}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read() or b"null")


def rt_tickets_for(rt: RTServer, ref: str) -> list[int]:
    found = rt_call(rt, "GET", "/tickets", params={"query": f"'CF.{{Frontdoor reference}}' = '{ref}'"})
    return [int(item["id"]) for item in found["items"]]


def rt_references(rt: RTServer, prefix: str) -> list[str]:
    """The Frontdoor reference of every RT ticket whose reference starts with ``prefix`` (one per ticket)."""
    refs: list[str] = []
    page = 1
    while True:
        found = rt_call(rt, "GET", "/tickets", params={
            "query": f"'CF.{{Frontdoor reference}}' LIKE '{prefix}%'", "fields": "CustomFields", "per_page": "100",
            "page": str(page)})
        for item in found["items"]:
            refs += [v for cf in item["CustomFields"] if cf["name"] == "Frontdoor reference" for v in cf["values"]]
        if not found.get("next_page"):
            return refs
        page += 1


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def http(method: str, url: str, body: Any = None, token: str = BOT) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@dataclass
class Proc:
    """A child process of the test (the handoff service or the connector) with its log."""

    command: list[str]
    env: dict[str, str]
    log: Path
    health: str
    process: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        if wait:
            wait_for(lambda: self.alive_or_fail() and _ok(self.health), 60, f"{self.command[2]} to be healthy")

    def alive_or_fail(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.command} exited with {self.process.returncode}:\n{self.tail()}")
        return True

    def kill9(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Deployment:
    """The handoff service and the connector on the session's Redis and RT, under key prefixes of their own;
    references start at a number of their own so that tickets of several tests never share one in RT."""

    rt: RTServer
    handoff: Proc
    connector: Proc
    handoff_url: str
    prefix: str
    connector_prefix: str
    first_number: int
    created: list[str] = field(default_factory=list)

    def create_ticket(self, n: int, **overrides: Any) -> dict[str, Any]:
        body = {"conversation_id": f"rt-{self.prefix}-{n}", "channel": "rest", "language": "en",
                "customer": {"name": "Ada Lovelace", "email": f"ada{n}@example.com", "tier": "vip"},
                "category": "technical", "product": "Streamly app", "error_code": "E42",
                "description": f"The app shows error E42 when I start a film ({n}). It worked yesterday.",
                "transcript": [{"sender": "customer", "text": "Error E42 on every film", "timestamp": 1.0},
                               {"sender": "bot", "text": "Try restarting the app", "timestamp": 2.0}],
                **overrides}
        status, created = http("POST", self.handoff_url + "/api/v1/tickets", body)
        assert status == 201, created
        self.created.append(created["reference"])
        return dict(created)

    def ticket(self, ref: str) -> dict[str, Any]:
        status, body = http("GET", f"{self.handoff_url}/api/v1/helpdesk/tickets/{ref}", token=HELPDESK)
        assert status == 200, body
        return dict(body)


@pytest.fixture
def deployment(rt: RTServer, redis_url: str, tmp_path: Path) -> Iterator[Deployment]:
    import redis as redis_sync

    run = uuid.uuid4().hex[:8]
    prefix, connector_prefix = f"rt{run}:", f"rt{run}-connector:"
    first = int(run, 16) % 9000 * 1000 + 1_000_000  # T-1234000...: not shared with another test's tickets
    client = redis_sync.Redis.from_url(redis_url)
    client.set(f"{prefix}seq:ticket", first - 1)  # test set-up: where this service's numbering starts
    client.close()
    handoff_port, connector_port = free_port(), free_port()
    handoff_url = f"http://127.0.0.1:{handoff_port}"
    env = {**os.environ, "REDIS_URL": redis_url, "HANDOFF_BOT_TOKEN": BOT, "HANDOFF_HELPDESK_TOKEN": HELPDESK,
           "HANDOFF_PORT": str(handoff_port), "HANDOFF_KEY_PREFIX": prefix, "HANDOFF_URL": handoff_url,
           "HANDOFF_BOOTSTRAP_TOKENS": f"lena:lead:{LEAD}", "RASA_URL": "http://127.0.0.1:9",
           "HANDOFF_INCIDENT_DETECTION": "0", "HANDOFF_TICKETS_PER_CLIENT_HOUR": "0", "HANDOFF_SLA_INTERVAL": "0",
           "KB_DRAFTS_DIR": str(tmp_path / "drafts"),
           "RT_URL": rt.url, "RT_TOKEN": rt.tokens[CONNECTOR], "RT_QUEUE_MAP": str(MAPPING),
           "RT_CONNECTOR_KEY_PREFIX": connector_prefix, "RT_CONNECTOR_PORT": str(connector_port),
           "RT_POLL_INTERVAL": "0.5", "PYTHONUNBUFFERED": "1"}
    handoff = Proc([sys.executable, "-m", "handoff"], env, tmp_path / "handoff.log", handoff_url + "/health")
    connector = Proc([sys.executable, "-m", "connector"], env, tmp_path / "connector.log",
                     f"http://127.0.0.1:{connector_port}/health")
    handoff.start()
    deployment = Deployment(rt, handoff, connector, handoff_url, prefix, connector_prefix, first)
    try:
        yield deployment
    finally:
        connector.stop()
        handoff.stop()
        print(f"--- connector.log\n{connector.tail(60)}\n--- handoff.log\n{handoff.tail(20)}")
        from tests.conftest import delete_keys

        delete_keys(redis_url, prefix)
        delete_keys(redis_url, connector_prefix)
