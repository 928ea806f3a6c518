"""The multi-instance deployment under load and failures (one cluster for the whole file, see conftest):
a conversation's order across Rasa servers, 50 agents claiming over two handoff instances, kill -9 of one
instance of each kind, and a Redis failover. Every load loop is bounded in count and time and talks to
this machine's loopback only. The clients retry through the balancer on a connection error or a 5xx, as
the chat widget and a helpdesk integration do; what the server acknowledged must never be lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis

from handoff.tickets import decode as decode_ticket
from stack import redis_node
from stack.cluster import Cluster, backend_status, server_stats
from rasa_ext.lock_store import AtomicRedisLockStore
from stack.settings import RedisAddress
from tests.cluster.conftest import BOT_TOKEN, Supervised, http_json, logs_of, ticket_request

RETRYABLE = (502, 503, 504)


def rasa(c: Cluster, instance: int | None = None) -> str:
    """The balancer's Rasa frontend, or one Rasa server directly (0-based)."""
    port = c.settings.rasa_port if instance is None else c.ports.rasa[instance]  # type: ignore[union-attr]
    return f"http://{c.settings.host}:{port}"


def handoff(c: Cluster) -> str:
    return f"http://{c.settings.host}:{c.settings.handoff_port}"


def redis_client(c: Cluster) -> redis.Redis:
    return redis.Redis.from_url(c.settings.effective_redis_url, decode_responses=True, socket_timeout=5)


def with_retry(call: Any, deadline: float) -> tuple[int, Any, int]:
    """Call until a non-retryable answer or the deadline; (status, body, attempts). 0 = no answer."""
    attempts = 0
    status, body = 0, None
    while time.monotonic() < deadline:
        attempts += 1
        try:
            status, body = call()
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            status, body = 0, repr(exc)
        if status and status not in RETRYABLE:
            return status, body, attempts
        time.sleep(0.3)
    return status, body, attempts


def say(url: str, sender: str, text: str, deadline: float) -> tuple[int, Any, int]:
    return with_retry(lambda: http_json(url + "/webhooks/rest/webhook", {"sender": sender, "message": text},
                                        timeout=60), deadline)


def create(c: Cluster, conversation: str, deadline: float) -> tuple[int, Any, int]:
    return with_retry(lambda: http_json(handoff(c) + "/api/v1/tickets", ticket_request(conversation),
                                        token=BOT_TOKEN, timeout=15), deadline)


def references_by_conversation(c: Cluster, prefix: str) -> dict[str, list[str]]:
    """Every ticket in Redis whose conversation starts with ``prefix`` (read from the store itself, so a
    duplicate that no index points at is found too)."""
    key_prefix = c.settings.key_prefix
    client = redis_client(c)
    found: dict[str, list[str]] = {}
    for key in client.scan_iter(f"{key_prefix}ticket:T-*", count=1000):
        if key.count(":") != key_prefix.count(":") + 1:
            continue  # :history, :replies, :notes
        raw = client.hgetall(key)
        if not raw:
            continue
        for channel in decode_ticket(raw).channels[:1]:  # the store's own codec, not its layout
            if channel["conversation_id"].startswith(prefix):
                found.setdefault(channel["conversation_id"], []).append(key.rsplit(":", 1)[1])
    return found


def wait_for(condition: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - started


def kill9(c: Cluster, name: str) -> int:
    child = c.child(name)
    assert child.process is not None and child.alive(), f"{name} is not running"
    pid = child.process.pid
    os.kill(pid, signal.SIGKILL)
    return pid


# -- (1) a conversation over two Rasa servers ------------------------------------------------------

QUESTIONS = [
    "How do I change my password?", "How can I cancel my subscription?", "Which devices are supported?",
    "How do I turn on subtitles?", "Can I change my payment method?", "How do I add a profile for my kids?",
    "How do I download films to watch offline?", "Why is the picture quality so low?",
]


def lock_tickets(c: Cluster, client: redis.Redis, sender: str) -> set[str]:
    """The tickets of the conversation's lock in Redis right now (AtomicRedisLockStore's JSON value)."""
    raw = client.get(f"{c.extra_env['RASA_KEY_PREFIX']}:lock:{sender}")
    tickets = json.loads(raw).get("tickets", []) if raw else []
    return set(tickets) if isinstance(tickets, list) else set()


def whole_turns(events: list[dict[str, Any]]) -> list[str]:
    """The user texts of a tracker, checking that each turn ran to its end (the bot answered and listened
    again) before the next user message came in."""
    users = [i for i, e in enumerate(events) if e["event"] == "user"]
    for here, following in zip(users, [*users[1:], len(events)]):
        turn = events[here + 1:following]
        assert any(e["event"] == "bot" for e in turn), (events[here]["text"], turn)
        actions = [e["name"] for e in turn if e["event"] == "action"]
        assert actions and actions[-1] == "action_listen", (events[here]["text"], actions)
    return [events[i]["text"] for i in users]


def tracker_events(c: Cluster, instance: int, sender: str) -> list[dict[str, Any]]:
    status, tracker = http_json(f"{rasa(c, instance)}/conversations/{sender}/tracker?token=cluster-rasa-token")
    assert status == 200, tracker
    return list(tracker["events"])


def test_one_conversations_messages_stay_in_order_across_rasa_instances(cluster: Supervised) -> None:
    """The test holds the conversation's lock itself while it sends the messages, alternately to each Rasa
    server directly and through the balancer, each once the one before it is queued (holds a ticket); then
    it lets go, and the two servers work through the queue: the tracker must have the messages in the
    order they were queued, each turn whole. Then a burst of messages at the same moment: each exactly
    once, no turn interleaved with another."""
    c = cluster.cluster
    client = redis_client(c)
    sender = "order-" + uuid.uuid4().hex[:8]
    status, replies, _ = say(rasa(c), sender, "Hello", time.monotonic() + 120)
    assert status == 200 and replies, replies
    targets = [rasa(c, 0), rasa(c, 1), rasa(c), rasa(c)]  # directly to each server, and through the balancer
    results: dict[int, tuple[float, float, int, Any]] = {}

    def send(i: int, text: str) -> None:
        started = time.monotonic()
        status, body = http_json(targets[i % 4] + "/webhooks/rest/webhook", {"sender": sender, "message": text},
                                 timeout=90)
        results[i] = (started, time.monotonic(), status, body)

    address = RedisAddress.parse(c.settings.effective_redis_url)
    holder = AtomicRedisLockStore(host=address.host, port=address.port, db=address.db,
                                  password=address.password or None, key_prefix=c.extra_env["RASA_KEY_PREFIX"])
    held = holder.issue_ticket(sender, lock_lifetime=120)
    threads: list[threading.Thread] = []
    try:
        for i, text in enumerate(QUESTIONS):
            threads.append(threading.Thread(target=send, args=(i, text)))
            threads[-1].start()
            deadline = time.monotonic() + 20
            while len(lock_tickets(c, client, sender)) < i + 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            assert len(lock_tickets(c, client, sender)) == i + 2, f"message {i} never got a ticket in the lock"
    finally:
        holder.cleanup(sender, held)
    for t in threads:
        t.join(120)
    assert all(results[i][2] == 200 and results[i][3] for i in range(len(QUESTIONS))), results
    overlapping = max(sum(1 for s, e, *_ in results.values() if s <= at < e) for at, *_ in results.values())
    assert overlapping >= 2, "the messages did not overlap: this measured nothing"
    events = tracker_events(c, 1, sender)
    assert whole_turns(events) == ["Hello", *QUESTIONS]  # each once, in the order they were queued

    burst = [f"{q} (again)" for q in QUESTIONS[:6]]
    results.clear()
    threads = [threading.Thread(target=send, args=(i, text)) for i, text in enumerate(burst)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(results[i][2] == 200 and results[i][3] for i in range(len(burst))), results
    events = tracker_events(c, 0, sender)
    texts = whole_turns(events)
    assert texts[:len(QUESTIONS) + 1] == ["Hello", *QUESTIONS] and sorted(texts[len(QUESTIONS) + 1:]) == sorted(burst)
    assert len(tracker_events(c, 1, sender)) == len(events)  # both servers see the same conversation


# -- (2) 50 agents over two handoff instances ------------------------------------------------------

def register_agents(c: Cluster, n: int) -> list[str]:
    from redis.asyncio import Redis as AsyncRedis

    from handoff.store import Store

    tokens = [f"agent-{uuid.uuid4().hex}" for _ in range(n)]

    async def register() -> None:
        async with AsyncRedis.from_url(c.settings.effective_redis_url, decode_responses=True) as client:
            store = Store(client, c.settings.key_prefix)
            for i, token in enumerate(tokens):
                await store.register_token(token, f"agent{i:02d}", "agent", time.time())

    asyncio.run(register())
    return tokens


def test_fifty_agents_over_two_handoff_instances_never_double_claim(cluster: Supervised) -> None:
    c = cluster.cluster
    run = "claim-" + uuid.uuid4().hex[:6]
    tickets = 150
    deadline = time.monotonic() + 120
    created: dict[str, str] = {}
    lock = threading.Lock()

    def creator(worker: int) -> None:
        for n in range(worker, tickets, 10):
            status, body, _ = create(c, f"{run}-{n}", deadline)
            assert status in (200, 201), body
            with lock:
                created[body["reference"]] = f"{run}-{n}"

    threads = [threading.Thread(target=creator, args=(w,)) for w in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(created) == tickets
    agents = register_agents(c, 50)
    before = server_stats(c.stats_url)
    claims: list[tuple[str, str]] = []
    errors: list[Any] = []
    start = threading.Barrier(len(agents))

    def agent(token: str) -> None:
        start.wait(30)
        while time.monotonic() < deadline:
            try:
                status, body = http_json(handoff(c) + "/api/v1/agent/claim", {}, token=token, timeout=30)
            except OSError as exc:
                errors.append(repr(exc))
                return
            if status != 200:
                errors.append((status, body))
                return
            if body["ticket"] is None:
                return
            with lock:
                claims.append((body["ticket"]["reference"], token))

    threads = [threading.Thread(target=agent, args=(token,)) for token in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    ours = [ref for ref, _ in claims if ref in created]
    assert not errors, errors[:5]
    assert [ref for ref, n in Counter(ours).items() if n > 1] == []  # nobody got a ticket someone else has
    assert set(ours) == set(created)  # and every ticket was claimed
    by_agent = Counter(token for _, token in claims)
    assert len(by_agent) > 10, by_agent  # the agents really competed
    after = server_stats(c.stats_url)
    served = [int(after[("handoff", f"handoff-{i}")]["stot"]) - int(before[("handoff", f"handoff-{i}")]["stot"])
              for i in (1, 2)]
    assert min(served) >= 40, served  # both instances took claims
    client = redis_client(c)
    for ref, token in claims[:20]:  # the store agrees with what the agent was told
        assert client.hget(f"{c.settings.key_prefix}ticket:{ref}", "status") == "claimed"


# -- (3) kill -9 of one instance of each kind under load -------------------------------------------

@dataclass
class Load:
    """Customers chatting through the bot until a ticket, and an integration creating tickets through the
    API, both through the balancer, retrying on connection errors and 5xx."""

    c: Cluster
    run: str
    until: float
    deadline: float
    acked: dict[str, str] = field(default_factory=dict)  # API: conversation -> reference it was told
    unacked: list[str] = field(default_factory=list)
    retried: int = 0
    turns: int = 0
    unanswered: list[tuple[str, str, Any]] = field(default_factory=list)
    told: dict[str, str] = field(default_factory=dict)  # bot: conversation -> reference the bot said
    no_reference: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def api(self, worker: int) -> None:
        n = 0
        while time.monotonic() < self.until:
            conversation = f"{self.run}-api-{worker}-{n}"
            n += 1
            status, body, attempts = create(self.c, conversation, self.deadline)
            with self.lock:
                self.retried += attempts - 1
                if status in (200, 201):
                    self.acked[conversation] = body["reference"]
                else:
                    self.unacked.append(conversation)
            time.sleep(0.01)  # an integration, not a flood: leave the two cores some room for the chats

    def chat(self, worker: int) -> None:
        n = 0
        while time.monotonic() < self.until:
            conversation = f"{self.run}-chat-{worker}-{n}"
            n += 1
            replies: Any = None
            for text in ("I want to talk to a human", "The subtitles on my LG TV are out of sync since the update",
                         f"{conversation}@example.com"):
                status, replies, attempts = say(rasa(self.c), conversation, text, self.deadline)
                with self.lock:
                    self.turns += 1
                    self.retried += attempts - 1
                    if status != 200 or not replies:
                        self.unanswered.append((conversation, text, replies))
            joined = " ".join(r.get("text", "") for r in replies or [])
            with self.lock:
                if "Ticket T-" in joined:
                    self.told[conversation] = "T-" + joined.split("Ticket T-")[1][:6]
                else:
                    self.no_reference.append(conversation)

    def run_with(self, api_workers: int, chat_workers: int, during: Any) -> None:
        threads = [threading.Thread(target=self.api, args=(w,)) for w in range(api_workers)]
        threads += [threading.Thread(target=self.chat, args=(w,)) for w in range(chat_workers)]
        for t in threads:
            t.start()
        try:
            during()
        finally:
            for t in threads:
                t.join(max(1.0, self.deadline - time.monotonic() + 5))

    def check_nothing_lost(self) -> None:
        stored = references_by_conversation(self.c, self.run)
        assert not self.unacked, f"creates never acknowledged: {self.unacked[:5]}"
        lost = {conv: ref for conv, ref in {**self.acked, **self.told}.items() if stored.get(conv) != [ref]}
        assert not lost, {conv: (ref, stored.get(conv)) for conv, ref in list(lost.items())[:5]}
        duplicated = {conv: refs for conv, refs in stored.items() if len(refs) > 1}
        assert not duplicated, duplicated


def test_kill_9_of_one_instance_of_each_kind_under_load_loses_nothing(cluster: Supervised) -> None:
    c = cluster.cluster
    start = time.monotonic()
    load = Load(c, "kill-" + uuid.uuid4().hex[:6], until=start + 30, deadline=start + 150)
    victims = ["handoff-1", "actions-1", "rasa-1"]
    killed: dict[str, float] = {}
    old_pids = {name: c.child(name).process.pid for name in victims}  # type: ignore[union-attr]
    restarted_before = list(cluster.restarted)

    def kill_them() -> None:
        for name in victims:  # one of each kind, a few seconds apart, while the load runs
            time.sleep(4)
            kill9(c, name)
            killed[name] = time.monotonic() - start

    load.run_with(api_workers=3, chat_workers=6, during=kill_them)
    print(f"\nkill -9 under load: {len(load.acked)} API tickets, {len(load.told)} bot tickets, {load.turns} turns, "
          f"{load.retried} client retries, killed at {killed}; unanswered {len(load.unanswered)}, "
          f"without reference {len(load.no_reference)}")
    assert set(killed) == set(victims)
    assert not load.unanswered, load.unanswered[:5]  # every message answered (after retries)
    load.check_nothing_lost()
    assert len(load.acked) >= 30 and len(load.told) >= 3, (len(load.acked), len(load.told))
    # a turn whose action call died with its action server gets the apology instead of the ticket; the
    # customer then repeats and gets it. Never more than the conversations in flight at the moments of a kill.
    assert len(load.no_reference) <= 6, load.no_reference
    # the supervisor brought each of them back, and haproxy sends them traffic again
    waited = wait_for(lambda: all(c.child(n).alive() and c.child(n).process.pid != old_pids[n]  # type: ignore[union-attr]
                                  for n in victims), 30, "restart of the killed instances")
    assert set(victims) <= set(cluster.restarted[len(restarted_before):])
    healthy = wait_for(lambda: all(c.child(n).health() for n in victims) and c.balanced(), 240,
                       "the restarted instances healthy behind haproxy: " + logs_of(c, "rasa-1", 10))
    print(f"restarted within {waited:.1f} s, healthy again {healthy:.0f} s later")


# -- (4) Redis failover under load -----------------------------------------------------------------

def test_redis_primary_killed_under_load_sentinel_fails_over_and_nothing_acknowledged_is_lost(
        cluster: Supervised) -> None:
    c = cluster.cluster
    assert c.ports is not None and c.ports.redis, "this test needs the cluster's own Redis"
    wait_for(c.balanced, 120, "a balanced cluster before the failover")
    old = c.master()
    assert old is not None
    old_node = c.redis_child_at(old[1]).name
    start = time.monotonic()
    load = Load(c, "failover-" + uuid.uuid4().hex[:6], until=start + 18, deadline=start + 90)
    timings: dict[str, float] = {}

    def fail_over() -> None:
        time.sleep(3)
        cluster.hold(old_node, 120)  # the machine is gone: no quick restart that would make a failover moot
        kill9(c, old_node)
        killed = time.monotonic()
        timings["promoted"] = wait_for(lambda: (c.master() or old) != old, 60, "Sentinel's failover")
        new_port = c.master()[1]  # type: ignore[index]
        timings["routed"] = wait_for(
            lambda: backend_status(c.stats_url).get(("redis", c.redis_child_at(new_port).name)) == "UP", 30,
            "haproxy routing to the new master") + timings["promoted"]
        wait_for(lambda: redis_node.role("127.0.0.1", c.settings.embedded_redis_port, c.password) == "master", 30,
                 "the master through haproxy")
        timings["through haproxy"] = time.monotonic() - killed
        time.sleep(6)  # the new master has no replica yet: creates wait (503) until the old node is back
        cluster.release(old_node)

    load.run_with(api_workers=4, chat_workers=2, during=fail_over)
    new = c.master()
    print(f"\nRedis failover under load: {len(load.acked)} API tickets, {len(load.told)} bot tickets, "
          f"{load.retried} client retries; promoted after {timings['promoted']:.1f} s, haproxy routing after "
          f"{timings['routed']:.1f} s, answering through haproxy after {timings['through haproxy']:.1f} s; unacknowledged {len(load.unacked)}")
    assert new is not None and new != old
    load.check_nothing_lost()
    assert len(load.acked) >= 30, len(load.acked)
    # the old primary came back (from the supervisor) as a replica of the new one, and haproxy still
    # routes to one node only
    rejoined = wait_for(lambda: redis_node.role(*old, password=c.password) == "slave" and c.balanced(), 60,
                        "the old primary back as a replica: " + logs_of(c, old_node, 10))
    print(f"old primary back as a replica {rejoined:.1f} s after the load")
    assert redis_node.role(*new, password=c.password) == "master"
