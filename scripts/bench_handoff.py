"""Benchmark of the handoff service: ticket creation and claim throughput and latency.

Starts its own embedded Redis (append-only, like production), runs the service as subprocess(es)
(``python -m handoff``) or in-process, and drives it with concurrent HTTP clients.

    .venv/bin/python scripts/bench_handoff.py --tickets 5000 --concurrency 32 --instances 1

Sustained, with the SLA watcher on and a large open backlog (issue 13): 100,000 open tickets are created
first, then ``--due`` of them get a tier-1 limit in the past (so the watcher has real work during the run),
then creation and claims each run for ``--duration`` seconds:

    .venv/bin/python scripts/bench_handoff.py --open 100000 --due 10000 --sla-interval 30 --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack.embedded_redis import EmbeddedRedis, free_port  # noqa: E402

BOT = "bench-bot-token"
AGENT = "bench-agent-token"
QUEUES = ["tier1-general", "tech-support", "billing", "key-accounts"]


def body(i: int) -> dict[str, object]:
    kinds: list[dict[str, object]] = [
        {"category": "general"},
        {"category": "technical", "error_code": "E42"},
        {"category": "billing", "description": "I want a refund for invoice 4711"},
        {"category": "general", "customer": {"id": f"c{i}", "verified": True, "tier": "vip"}},
    ]
    base: dict[str, object] = {
        "schema_version": 1, "conversation_id": f"bench-{i}", "channel": "socketio", "language": "en",
        "customer": {"name": "Bench", "email": f"user{i}@example.com", "verified": False, "tier": "standard"},
        "description": "The app crashes when I start a film.", "impact": "only_me", "urgency": "normal",
        "articles_shown": [{"id": "tech-playback", "lang": "en", "title": "Playback", "feedback": "did_not_help"}],
        "transcript": [{"sender": "customer", "text": "It crashes, my card 4111 1111 1111 1111", "timestamp": 1.0},
                       {"sender": "bot", "text": "Sorry to hear that", "timestamp": 2.0}],
    }
    base.update(kinds[i % 4])
    return base


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes (Linux /proc), to separate service cost from machine load."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams (one connection, one request at a
    time): request bytes are built once per request, the response is read by Content-Length. It
    needs a fraction of aiohttp's client CPU, so on a 2-core machine the service gets more of the
    machine (like ``wrk`` would; none is installed here). ``--client aiohttp`` uses aiohttp."""

    def __init__(self, url: str) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n{head}\r\n".encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise RuntimeError("connection closed by the service")
        status = int(status_line.split(b" ", 2)[1])
        length = -1
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            lname = name.strip().lower()
            if lname == b"content-length":
                length = int(value)
            elif lname == b"transfer-encoding":
                raise RuntimeError("chunked responses are not supported by the raw client")
        if length < 0:
            raise RuntimeError("response without Content-Length")
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


async def run_phase(name: str, urls: list[str], n: int, concurrency: int, make: object,
                    service_pids: list[int] = [], redis_pid: int = 0,  # noqa: B006
                    client: str = "raw", duration: float | None = None) -> dict[str, float]:
    latencies: list[float] = []
    # requests are encoded before the clock starts (a load generator should not spend its CPU on JSON)
    requests = [make(i) for i in range(n)]  # type: ignore[operator]
    requests = [(m, p, h, json.dumps(b).encode(), ok) for m, p, h, b, ok in requests]
    counter = iter(range(n))
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    raws = [RawHttp(urls[w % len(urls)]) for w in range(concurrency)]
    async with aiohttp.ClientSession(connector=connector) as http:
        async def worker(w: int) -> None:
            url = urls[w % len(urls)]
            raw = raws[w]
            for i in counter:
                if duration is not None and time.perf_counter() - start > duration:
                    break
                method, path, headers, payload, ok = requests[i]
                t0 = time.perf_counter()
                if client == "raw":
                    status, data = await raw.request(method, path, headers, payload)
                else:
                    async with http.request(method, url + path, data=payload,
                                            headers={**headers, "Content-Type": "application/json"}) as resp:
                        status, data = resp.status, await resp.read()
                if status not in ok:
                    raise RuntimeError(f"{name}: HTTP {status} {data[:200]!r}")
                latencies.append(time.perf_counter() - t0)

        cpu0, rcpu0, ccpu0 = cpu_seconds(service_pids), cpu_seconds([redis_pid]), own_cpu_seconds()
        start = time.perf_counter()
        try:
            await asyncio.gather(*(worker(w) for w in range(concurrency)))
        finally:
            for raw in raws:
                raw.close()
        elapsed = time.perf_counter() - start
        cpu, rcpu = cpu_seconds(service_pids) - cpu0, cpu_seconds([redis_pid]) - rcpu0
        ccpu = own_cpu_seconds() - ccpu0
    n = len(latencies)
    result = {"requests": float(n), "seconds": elapsed, "per_second": n / elapsed,
              "p50_ms": pct(latencies, 50), "p95_ms": pct(latencies, 95), "p99_ms": pct(latencies, 99),
              "max_ms": max(latencies) * 1000,
              "mean_ms": statistics.mean(latencies) * 1000, "client_cpu_ms_per_request": ccpu * 1000 / n}
    print(f"{name:8s} {n:6d} req in {elapsed:6.2f}s = {result['per_second']:7.0f}/s  "
          f"p50 {result['p50_ms']:6.1f} ms  p95 {result['p95_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  "
          f"max {result['max_ms']:6.1f} ms", flush=True)
    if service_pids:
        result["service_cpu_ms_per_request"] = cpu * 1000 / n
        result["redis_cpu_ms_per_request"] = rcpu * 1000 / n
        print(f"         service CPU {cpu * 1000 / n:.2f} ms/request (= {n / cpu if cpu else 0:.0f} req/s per fully "
              f"available core), redis CPU {rcpu * 1000 / n:.3f}, client ({client}) CPU {ccpu * 1000 / n:.3f}",
              flush=True)
    return result


async def make_due(redis_url: str, count: int) -> list[str]:
    """Give ``count`` open tier-1 tickets a tier-1 limit that has passed (as after a quiet spell when many
    tickets cross their limit at once), through the store, which keeps the watcher's schedule."""
    from dataclasses import replace  # noqa: PLC0415

    from redis.asyncio import Redis  # noqa: PLC0415

    from handoff.store import Store  # noqa: PLC0415
    from handoff.transitions import Event  # noqa: PLC0415

    past = time.time() - 60
    async with Redis.from_url(redis_url, decode_responses=True) as r:
        store = Store(r, "bench:")
        refs = sorted(await store.open_refs())
        moved = [t.reference for t in await store.tickets(refs) if t is not None and t.tier == 1][:count]
        for i in range(0, len(moved), 200):
            await asyncio.gather(*(store.mutate(ref, lambda t: (replace(t, tier_due=past),
                                                                Event("bench_made_due", "bench")), past)
                                   for ref in moved[i:i + 200]))
    return moved


async def report_watcher(redis_url: str, made_due: list[str]) -> None:
    """How many of the tickets made due the watcher moved up to tier 2 during the run."""
    from redis.asyncio import Redis  # noqa: PLC0415

    from handoff.store import Store  # noqa: PLC0415

    async with Redis.from_url(redis_url, decode_responses=True) as r:
        store = Store(r, "bench:")
        escalated = sum(1 for t in await store.tickets(made_due) if t is not None and t.tier == 2)
        due_left = len(await store.due_refs(time.time(), 1_000_000))
        print(f"SLA watcher: {escalated} of the {len(made_due)} tickets made due escalated to tier 2; still due "
              f"at the end: {due_left}; open tickets now: {len(await store.open_refs())}", flush=True)


def wait_health(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"service at {url} did not become healthy")


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        redis = EmbeddedRedis(data_dir=Path(tmp) / "redis", port=free_port(), log_file=Path(tmp) / "redis.log")
        redis.start()
        procs: list[subprocess.Popen[bytes]] = []
        runners = []
        urls = []
        env = dict(os.environ, REDIS_URL=redis.url, HANDOFF_BOT_TOKEN=BOT, HANDOFF_KEY_PREFIX="bench:",
                   HANDOFF_BOOTSTRAP_TOKENS=f"bench:agent:{AGENT}", HANDOFF_SLA_INTERVAL=str(args.sla_interval),
                   HANDOFF_LOG_LEVEL="WARNING", KB_DRAFTS_DIR=str(Path(tmp) / "drafts"))
        try:
            for k in range(args.instances):
                port = free_port()
                urls.append(f"http://127.0.0.1:{port}")
                if args.mode == "subprocess":
                    procs.append(subprocess.Popen([sys.executable, "-m", "handoff"], cwd=ROOT,
                                                  env=dict(env, HANDOFF_PORT=str(port), HANDOFF_INSTANCE_ID=f"b{k}")))
                else:
                    from aiohttp import web  # noqa: PLC0415

                    from handoff.app import create_app  # noqa: PLC0415
                    from handoff.settings import Settings  # noqa: PLC0415

                    settings = Settings.from_env(dict(env, HANDOFF_PORT=str(port)))
                    runner = web.AppRunner(create_app(settings), access_log=None)
                    await runner.setup()
                    await web.TCPSite(runner, "127.0.0.1", port).start()
                    runners.append(runner)
            for url in urls:
                await asyncio.to_thread(wait_health, url)
            bot = {"Authorization": f"Bearer {BOT}"}
            agent = {"Authorization": f"Bearer {AGENT}"}
            print(f"mode={args.mode} instances={args.instances} tickets={args.tickets} uvloop={not args.no_uvloop} "
                  f"concurrency={args.concurrency} client={args.client} cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}", flush=True)
            # warm-up (connections, scripts)
            c = args.client
            await run_phase("warmup", urls, 200, 8, lambda i: ("POST", "/api/v1/tickets", bot,
                                                              body(1_000_000 + i), (201,)), client=c)
            await run_phase("warmup", urls, 200, 8, lambda i: ("POST", "/api/v1/agent/claim", agent,
                                                              {"queues": QUEUES}, (200,)), client=c)
            pids = [p.pid for p in procs]
            rpid = redis.process.pid if redis.process else 0
            if args.open:
                await run_phase("preload", urls, args.open, args.concurrency,
                                lambda i: ("POST", "/api/v1/tickets", bot, body(2_000_000 + i), (201,)), client=c)
                moved = await make_due(redis.url, args.due)
                print(f"open tickets: {args.open + 200}; {len(moved)} of them made due (tier-1 limit in the past); "
                      f"SLA watcher every {args.sla_interval}s", flush=True)
            await run_phase("create", urls, args.tickets, args.concurrency,
                            lambda i: ("POST", "/api/v1/tickets", bot, body(i), (201,)), pids, rpid, c,
                            args.duration)
            await run_phase("claim", urls, args.tickets, args.concurrency,
                            lambda i: ("POST", "/api/v1/agent/claim", agent, {"queues": QUEUES}, (200,)), pids, rpid,
                            c, args.duration)
            if args.open:
                await report_watcher(redis.url, moved)
        finally:
            for runner in runners:
                await runner.cleanup()
            for proc in procs:
                proc.terminate()
                proc.wait(10)
            redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--mode", choices=("subprocess", "inprocess"), default="subprocess")
    parser.add_argument("--client", choices=("raw", "aiohttp"), default="raw",
                        help="load generator: minimal HTTP/1.1 client (default) or aiohttp's")
    parser.add_argument("--open", type=int, default=0, help="open tickets created before the measured phases")
    parser.add_argument("--due", type=int, default=0, help="of those, how many get a tier-1 limit in the past")
    parser.add_argument("--sla-interval", type=float, default=0.0, help="SLA watcher period in seconds (0: off)")
    parser.add_argument("--duration", type=float, default=None,
                        help="run each measured phase this long (seconds; --tickets bounds the requests)")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio loop in the client (and service)")
    args = parser.parse_args()
    if args.no_uvloop:
        os.environ["HANDOFF_UVLOOP"] = "0"
    else:
        try:
            import uvloop  # noqa: PLC0415  (installed with Rasa's dependencies)

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        except ImportError:
            pass
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
