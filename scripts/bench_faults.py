"""Fault bench: customers ask for a human and clients create tickets through the API while every process
of the stack is killed with SIGKILL in turn (and restarted by the supervisor, as `frontdoor up` does).

    .venv/bin/python scripts/bench_faults.py --customers 40 --api 200

Each customer is one Rasa REST conversation (greeting, asking for a person, the problem, the e-mail
address) that retries a message on a connection error or a 5xx, with the same conversation id, as a chat
widget would. API clients POST tickets with their own conversation id and retry the same way. During the
run the bench kills, one after another, the action server, the handoff service, the Rasa server, the
embedded Redis and the website, each while load is going on. Afterwards it waits for the outbox drain and
the bot's notifications and counts, from the real stores:

  requested  conversations that reached the ticket step / API creates acknowledged with 201 or 200
  created    of those, how many have a ticket (handoff: by conversation)
  duplicated tickets beyond one per conversation (the seq counter against the distinct tickets)
  not told   customers whose conversation never showed them their ticket's reference

Target (issue 13): 0 lost, 0 duplicated, every customer told their reference.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.contract import OUTBOX_KEY  # noqa: E402
from stack.embedded_redis import free_port  # noqa: E402
from rasa_ext.degrade import APOLOGY, UNPROCESSED  # noqa: E402
from stack.settings import Settings  # noqa: E402
from stack.supervisor import Stack  # noqa: E402
from stack.training import model_path  # noqa: E402

CONVERSATION = ["Guten Tag", "Ich möchte bitte mit einem Mitarbeiter sprechen",
                "Meine Smart-TV-App startet seit gestern nicht mehr", "anna@example.com"]
KILL_ORDER = ["actions", "handoff", "rasa", "redis", "site"]


def http(url: str, body: Any = None, token: str = "", timeout: float = 30.0,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else None
        except ValueError:
            return exc.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return 0, None  # connection refused or reset: the part is down


def with_retries(call: Any, give_up_after: float = 300.0) -> tuple[int, Any]:
    """Retry on connection errors and 5xx (a widget resends), with backoff, up to ``give_up_after``."""
    deadline, delay = time.monotonic() + give_up_after, 0.5
    while True:
        status, body = call()
        if status and status < 500:
            return status, body
        if time.monotonic() > deadline:
            return status, body
        time.sleep(delay)
        delay = min(delay * 1.5, 5.0)


class Bench:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        s = stack.settings
        self.rasa = f"http://127.0.0.1:{s.rasa_port}"
        self.handoff = f"http://127.0.0.1:{s.handoff_port}"
        self.bot_token = s.secrets["HANDOFF_BOT_TOKEN"]
        self.rasa_token = s.secrets["RASA_TOKEN"]
        self.reached_ticket_step: list[str] = []
        self.api_acknowledged: list[str] = []
        self.errors: list[str] = []
        self.apologies = 0
        self.lock = threading.Lock()

    def customer(self, i: int) -> None:
        sender = f"fault-c{i}-{random.randrange(10**8)}"
        for text in CONVERSATION:
            for _attempt in range(10):
                status, replies = with_retries(lambda t=text: http(f"{self.rasa}/webhooks/rest/webhook",
                                                                   {"sender": sender, "message": t,
                                                                    "metadata": {"language": "de"}}))
                if status != 200:
                    with self.lock:
                        self.errors.append(f"{sender}: HTTP {status} for {text!r}")
                    return
                if not any(r.get("text") in (*APOLOGY.values(), *UNPROCESSED.values()) for r in replies or []):
                    break
                with self.lock:  # the bot asked to try again in a minute: a person does
                    self.apologies += 1
                time.sleep(random.uniform(10.0, 30.0))
            time.sleep(random.uniform(0.5, 2.0))  # a person reads and types
        with self.lock:
            self.reached_ticket_step.append(sender)

    def api_client(self, i: int) -> None:
        conversation = f"fault-api{i}-{random.randrange(10**8)}"
        body = {"schema_version": 1, "conversation_id": conversation, "channel": "api", "language": "en",
                "description": "The app crashes when I start a film.", "customer": {}}
        status, _ = with_retries(lambda: http(f"{self.handoff}/api/v1/tickets", body, self.bot_token))
        if status in (200, 201):
            with self.lock:
                self.api_acknowledged.append(conversation)
        else:
            with self.lock:
                self.errors.append(f"api {conversation}: HTTP {status}")

    def ticket_of(self, conversation: str) -> str | None:
        status, body = http(f"{self.handoff}/api/v1/tickets/by-conversation/{urllib.parse.quote(conversation)}",
                            token=self.bot_token)
        return str(body["reference"]) if status == 200 and body else None

    def bot_texts(self, sender: str) -> list[str]:
        status, tracker = http(f"{self.rasa}/conversations/{urllib.parse.quote(sender)}/tracker"
                               f"?token={self.rasa_token}")
        if status != 200 or not isinstance(tracker, dict):
            return []
        return [e.get("text") or "" for e in tracker.get("events", []) if e.get("event") == "bot"]


def kill(stack: Stack, name: str) -> None:
    if name == "redis":
        assert stack.redis is not None and stack.redis.process is not None
        stack.redis.process.kill()
        stack.redis.process.wait()
        return
    child = next(c for c in stack.children if c.name == name)
    assert child.process is not None
    child.process.kill()
    child.process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=40)
    parser.add_argument("--api", type=int, default=200, help="tickets created directly through the API")
    parser.add_argument("--gap", type=float, default=20.0, help="seconds between two kills")
    parser.add_argument("--settle", type=float, default=180.0,
                        help="seconds to wait at the end for the drain and the notifications")
    args = parser.parse_args()

    model = model_path(ROOT, ROOT / "models")
    if not model.exists():
        print(f"no trained model {model.name}: run `frontdoor train` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        env = {"FRONTDOOR_VAR": tmp, "FRONTDOOR_REDIS_PORT": str(free_port()), "RASA_PORT": str(free_port()),
               "ACTION_PORT": str(free_port()), "HANDOFF_PORT": str(free_port()), "SITE_PORT": str(free_port()),
               "FRONTDOOR_EMBEDDING_CACHE": str(ROOT / "var" / "cache" / "embeddings")}
        settings = Settings.from_env(env).with_secrets()
        stack = Stack(settings, model=model, extra_env={"FRONTDOOR_TICKET_RETRY_SECONDS": "5",
                                                         "HANDOFF_TICKETS_PER_CLIENT_HOUR": "0"})
        stack.start(timeout=300)
        bench = Bench(stack)
        stop = threading.Event()
        restarts: list[str] = []

        def supervise() -> None:  # what `frontdoor up` does once a second
            while not stop.is_set():
                restarts.extend(stack.supervise())
                time.sleep(1.0)

        supervisor = threading.Thread(target=supervise, daemon=True)
        supervisor.start()
        started = time.monotonic()
        try:
            with ThreadPoolExecutor(max_workers=24) as pool:
                futures = []
                for i in range(max(args.customers, args.api)):
                    if i < args.customers:
                        futures.append(pool.submit(bench.customer, i))
                    if i < args.api:
                        futures.append(pool.submit(bench.api_client, i))

                def killer() -> None:
                    for name in KILL_ORDER:
                        time.sleep(args.gap)
                        print(f"[{time.monotonic() - started:5.0f}s] kill -9 {name}", flush=True)
                        kill(stack, name)

                kills = threading.Thread(target=killer)
                kills.start()
                # more load while the kills go on: a second wave of customers
                for i in range(args.customers, 2 * args.customers):
                    time.sleep(len(KILL_ORDER) * args.gap / max(1, args.customers))
                    futures.append(pool.submit(bench.customer, i))
                kills.join()
                for future in futures:
                    future.result()
            print(f"[{time.monotonic() - started:5.0f}s] load done; restarts: {restarts}; waiting up to "
                  f"{args.settle:.0f}s for the drain and the notifications", flush=True)
            deadline = time.monotonic() + args.settle
            while True:
                refs = {c: bench.ticket_of(c) for c in bench.reached_ticket_step + bench.api_acknowledged}
                told = {c: any(f"**Ticket {refs[c]}**" in t for t in bench.bot_texts(c))
                        for c in bench.reached_ticket_step if refs[c]}
                if (all(refs.values()) and all(told.values())) or time.monotonic() > deadline:
                    break
                time.sleep(5.0)
            last_words = {c: bench.bot_texts(c)[-2:] for c in bench.reached_ticket_step
                          if not refs[c] or not told.get(c)}
            # duplicates: tickets created beyond one per conversation (the bench's Redis holds only its own)
            import redis  # noqa: PLC0415

            client = redis.Redis.from_url(settings.effective_redis_url, decode_responses=True)
            created_total = int(client.get(f"{settings.key_prefix}seq:ticket") or 0)
            parked_left = client.hlen(f"{settings.key_prefix}{OUTBOX_KEY}")
        finally:
            stop.set()
            stack.stop()
    requested = len(bench.reached_ticket_step) + len(bench.api_acknowledged)
    created = sum(1 for ref in refs.values() if ref)
    distinct = len({ref for ref in refs.values() if ref})
    not_told = [c for c, ok in told.items() if not ok] + [c for c in bench.reached_ticket_step if not refs[c]]
    result = {
        "customers": 2 * args.customers, "api_clients": args.api, "kills": KILL_ORDER, "restarts": restarts,
        "requested": requested, "created": created, "lost": requested - created,
        "duplicated": created_total - distinct, "still_parked": parked_left,
        "conversations_sharing_a_ticket": created - distinct,
        "customers_not_told": len(not_told), "apologies_then_resent": bench.apologies,
        "lost_ids": [c for c, ref in refs.items() if not ref][:10], "not_told_ids": not_told[:10],
        "last_bot_messages_of_those": last_words,
        "client_errors": bench.errors[:10],
        "client_error_count": len(bench.errors), "seconds": round(time.monotonic() - started),
    }
    print(json.dumps(result, indent=2))
    return 0 if result["lost"] == 0 and not not_told and result["duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
