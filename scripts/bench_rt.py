"""The RT connector's 1,000-ticket target: tickets created through the handoff API while the connector runs,
with one kill -9 of the connector and one restart of RT in the middle; then RT's tickets are counted (one per
reference: none lost, none twice) and the time to catch up is measured.

Everything is real and local: an embedded Redis, Debian's RT 5 (scripts/ensure-rt.sh) with a fresh SQLite
database on a free loopback port, the handoff service and the connector as processes.

    .venv/bin/python scripts/bench_rt.py [--tickets 1000] [--clients 8]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stack.embedded_redis import EmbeddedRedis, free_port  # noqa: E402
from tests.rt.conftest import BOT, HELPDESK, LEAD, MAPPING, Proc, http, rt_references  # noqa: E402
from tests.rt.rt_server import CONNECTOR, RTServer, installed  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients creating tickets")
    args = parser.parse_args()
    if not installed():
        print("Request Tracker 5 is not installed: run scripts/ensure-rt.sh", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-rt-") as tmp:
        return run(Path(tmp), args.tickets, args.clients)


def run(tmp: Path, count: int, clients: int) -> int:
    redis = EmbeddedRedis(data_dir=tmp / "redis", port=free_port(), log_file=tmp / "redis.log")
    (tmp / "redis").mkdir()
    rt = RTServer.for_mapping(tmp / "rt", free_port(), MAPPING)
    t0 = time.monotonic()
    rt.setup()
    rt.start()
    print(f"RT ready in {time.monotonic() - t0:.1f} s", flush=True)
    with redis:
        handoff_port, connector_port = free_port(), free_port()
        handoff_url = f"http://127.0.0.1:{handoff_port}"
        env = {**os.environ, "REDIS_URL": redis.url, "HANDOFF_BOT_TOKEN": BOT, "HANDOFF_HELPDESK_TOKEN": HELPDESK,
               "HANDOFF_PORT": str(handoff_port), "HANDOFF_KEY_PREFIX": "bench:", "HANDOFF_URL": handoff_url,
               "HANDOFF_BOOTSTRAP_TOKENS": f"lena:lead:{LEAD}", "RASA_URL": "http://127.0.0.1:9",
               "HANDOFF_INCIDENT_DETECTION": "0", "HANDOFF_TICKETS_PER_CLIENT_HOUR": "0", "HANDOFF_LOG_LEVEL": "WARNING",
               "KB_DRAFTS_DIR": str(tmp / "drafts"), "RT_URL": rt.url, "RT_TOKEN": rt.tokens[CONNECTOR],
               "RT_QUEUE_MAP": str(MAPPING), "RT_CONNECTOR_PORT": str(connector_port), "PYTHONUNBUFFERED": "1"}
        handoff = Proc([sys.executable, "-m", "handoff"], env, tmp / "handoff.log", handoff_url + "/health")
        connector = Proc([sys.executable, "-m", "connector"], env, tmp / "connector.log",
                         f"http://127.0.0.1:{connector_port}/health")
        handoff.start()
        connector.start()
        try:
            return measure(rt, handoff_url, connector, count, clients)
        finally:
            connector.stop()
            handoff.stop()
            rt.remove()


def measure(rt: RTServer, handoff_url: str, connector: Proc, count: int, clients: int) -> int:
    refs: list[str] = []
    lock = threading.Lock()
    events: list[str] = []
    started = time.monotonic()

    def create(n: int) -> None:
        body = {"conversation_id": f"bench-{n}", "channel": "rest", "language": ("de", "en", "da")[n % 3],
                "customer": {"name": f"Customer {n}", "email": f"c{n}@example.com"},
                "category": ("technical", "billing", "account", "shipping")[n % 4],
                "description": f"Problem number {n}: the app shows error E{n % 50}.",
                "transcript": [{"sender": "customer", "text": f"error E{n % 50}", "timestamp": 1.0}]}
        status, created = http("POST", handoff_url + "/api/v1/tickets", body)
        assert status == 201, created
        with lock:
            refs.append(created["reference"])

    def health_now() -> dict[str, Any]:
        try:
            status, body = http("GET", connector.health)
        except OSError:  # the connector is restarting
            return {}
        return dict(body) if status == 200 else {}

    def mirrored() -> int:
        return int(health_now().get("mirrored", -1))

    def faults() -> None:  # in the middle of the mirroring: at 30 % kill -9, at 60 % an RT restart
        while mirrored() < count * 0.3:
            time.sleep(0.2)
        connector.kill9()
        events.append(f"{time.monotonic() - started:.1f} s: connector killed (SIGKILL), {len(refs)} tickets created")
        time.sleep(2.0)
        connector.start(wait=False)
        events.append(f"{time.monotonic() - started:.1f} s: connector started again")
        while mirrored() < count * 0.6:
            time.sleep(0.2)
        rt.stop()
        events.append(f"{time.monotonic() - started:.1f} s: RT stopped at {mirrored()} mirrored")
        rt.start()
        events.append(f"{time.monotonic() - started:.1f} s: RT answering again")

    chaos = threading.Thread(target=faults)
    chaos.start()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(create, range(count)))
    created_at = time.monotonic()
    print(f"{count} tickets created in {created_at - started:.1f} s", flush=True)
    chaos.join()
    health: dict[str, Any] = {}
    while True:
        health = health_now()
        if health and health["mirrored"] >= count and health["parked"] == 0 and health["lag"] == 0:
            break
        if time.monotonic() - created_at > 1800:
            print(f"gave up: {health.get('mirrored')} mirrored after 30 minutes", file=sys.stderr)
            break
        time.sleep(0.5)
    done_at = time.monotonic()
    counts = Counter(rt_references(rt, "T-"))
    linked = sum(1 for ref in refs if http("GET", f"{handoff_url}/api/v1/helpdesk/tickets/{ref}",
                                           token=HELPDESK)[1].get("helpdesk_id"))
    result = {
        "tickets_created": len(refs), "rt_tickets": sum(counts.values()), "references_in_rt": len(counts),
        "missing": len(set(refs) - set(counts)), "duplicated": sum(1 for n in counts.values() if n > 1),
        "linked_on_our_tickets": linked, "set_aside": health.get("stats", {}).get("set_aside", 0),
        "create_seconds": round(created_at - started, 1), "all_mirrored_seconds": round(done_at - started, 1),
        "catch_up_after_last_create_seconds": round(done_at - created_at, 1),
        "mirrored_per_second": round(count / (done_at - started), 2),
        "stats": health.get("stats", {}), "events": events,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    print(json.dumps(result, indent=2))
    ok = result["missing"] == 0 and result["duplicated"] == 0 and result["rt_tickets"] == count
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
