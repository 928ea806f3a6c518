"""Benchmark of the leads' analytics: how long GET /api/v1/lead/analytics?since=30d takes at a realistic volume.

Starts its own embedded Redis, fills the events and signals streams with ``--days`` days of
``--tickets-per-day`` tickets (each created, claimed, answered - 85 % in time -, resolved; 15 % escalated, 10 %
breached, 40 % rated, a second reply for half of them) and the bot's signals (3 KB answers, 0.5 unanswered,
0.4 votes, 0.1 ambiguous, 0.05 declined per ticket), each entry with its stream id at its time as the service
writes them, then times ``handoff.reporting.period_figures`` (the code behind the endpoint) cold (nothing
cached: every day read from the streams) and warm (complete past days from the day cache), and the same
through the HTTP endpoint of an in-process service.

    .venv/bin/python scripts/bench_analytics.py --days 30 --tickets-per-day 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack.embedded_redis import EmbeddedRedis, free_port  # noqa: E402

PREFIX = "bench:"
CATEGORIES = ["technical", "billing", "account", "subscription", "general", "shipping"]
QUEUES = {"technical": "tech-support", "billing": "billing", "account": "account-security",
          "subscription": "billing", "general": "tier1-general", "shipping": "shipping-returns"}
TAGS = ["playback", "tv", "refund", "login", "2fa", "app", "delivery", ""]
ARTICLES = [f"kb-{i:03d}" for i in range(120)]
AGENTS = [f"agent{i:02d}" for i in range(25)]


def day_entries(day_start: float, tickets: int, rng: random.Random, offset: int) -> tuple[list[Any], list[Any]]:
    """(at, fields) of one day's events and signals."""
    events: list[tuple[float, dict[str, str]]] = []
    signals: list[tuple[float, dict[str, str]]] = []

    def event(at: float, kind: str, ref: str, by: str, **data: Any) -> None:
        events.append((at, {"type": kind, "ref": ref, "at": repr(at),
                            "data": json.dumps({"by": by, "reason": "", **data}, separators=(",", ":"))}))

    def signal(at: float, kind: str, conv: str, **data: Any) -> None:
        signals.append((at, {"type": kind, "conv": conv, "at": repr(at),
                             "data": json.dumps({"language": rng.choice("dee"), "text": "wie kann ich ... " * 4,
                                                 **data}, separators=(",", ":"))}))

    for i in range(tickets):
        ref, conv = f"T-{offset + i:07d}", f"conv-{offset + i}"
        at = day_start + rng.uniform(0, 86000)
        category = rng.choice(CATEGORIES)
        queue, tag, article = QUEUES[category], rng.choice(TAGS), rng.choice(ARTICLES)
        signal(at - 120, "kb_answered", conv, article_id=article, article_lang="de", category=category)
        event(at, "created", ref, "bot", queue=queue, priority="P3", category=category, channel="socketio",
              rule="default", tier=1, tags=[tag] if tag else [], articles=[article], conversation_id=conv,
              first_response_due=at + 3600)
        agent = rng.choice(AGENTS)
        claimed = at + rng.uniform(60, 3000)
        event(claimed, "claimed", ref, agent, agent=agent, queue=queue)
        breached = rng.random() < 0.10
        if breached:
            event(at + 3600, "sla_breached", ref, "sla-watcher", due=at + 3600, queue=queue, category=category)
        replied = claimed + rng.uniform(30, 600)
        met = not breached and rng.random() < 0.95
        reply_at = replied if met else max(replied, at + 3700)
        event(reply_at, "reply", ref, agent, delivered=True, first_response=True, due=at + 3600, met=met,
              breached=breached, queue=queue, category=category)
        if rng.random() < 0.5:
            event(reply_at + 600, "reply", ref, agent, delivered=True)
        if rng.random() < 0.15:
            event(reply_at + 700, "escalated", ref, agent, from_queue=queue, to_queue="engineering", tier=3,
                  from_tier=2, category=category, tags=[tag] if tag else [], articles=[article])
        event(reply_at + 1800, "resolved", ref, agent, queue=queue, category=category)
        if rng.random() < 0.4:
            event(reply_at + 1900, "rated", ref, "customer", rating=rng.choice([1, 2, 3, 4, 4, 5, 5, 5]), queue=queue,
                  category=category, agent=agent)
        for k in range(2):  # answered without a ticket
            signal(day_start + rng.uniform(0, 86000), "kb_answered", f"conv-{offset + i}-{k}", article_id=article)
        if rng.random() < 0.5:
            signal(day_start + rng.uniform(0, 86000), "kb_no_answer", f"conv-{offset + i}-n")
        if rng.random() < 0.4:
            signal(day_start + rng.uniform(0, 86000), "kb_feedback", f"conv-{offset + i}-0", article_id=article,
                   helped=rng.random() < 0.7)
        if rng.random() < 0.1:
            signal(day_start + rng.uniform(0, 86000), "kb_ambiguous", f"conv-{offset + i}-a")
        if rng.random() < 0.05:
            signal(day_start + rng.uniform(0, 86000), "declined", f"conv-{offset + i}-d")
    return sorted(events, key=lambda e: e[0]), sorted(signals, key=lambda e: e[0])


async def fill(redis: Any, days: int, per_day: int, now: float) -> tuple[int, int]:
    rng = random.Random(20251124)
    first_day = (now // 86400 - days + 1) * 86400  # UTC midnights
    counts = [0, 0]
    last_ms = [0, 0]
    for d in range(days):
        day_start = first_day + d * 86400
        events, signals = day_entries(day_start, per_day, rng, d * per_day)
        for n, (key, entries) in enumerate(((PREFIX + "events", events), (PREFIX + "signals", signals))):
            pipe = redis.pipeline(transaction=False)
            for at, fields in entries:
                if at > now:
                    continue
                ms = max(int(at * 1000), last_ms[n] + 1)  # the stream id at the entry's time, increasing
                last_ms[n] = ms
                pipe.xadd(key, fields, id=f"{ms}-0")
                counts[n] += 1
            await pipe.execute()
        print(f"  day {d + 1}/{days}: {counts[0]:,} events, {counts[1]:,} signals", end="\r", flush=True)
    print()
    return counts[0], counts[1]


async def main_async(args: argparse.Namespace) -> None:
    from redis.asyncio import Redis

    from handoff.reporting import period_figures
    from handoff.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp) / "redis", port=free_port(), log_file=Path(tmp) / "redis.log")
        server.start()
        try:
            async with Redis.from_url(server.url, decode_responses=True) as redis:
                now = time.time()
                started = time.perf_counter()
                n_events, n_signals = await fill(redis, args.days, args.tickets_per_day, now)
                memory = [int(await redis.memory_usage(PREFIX + name, samples=0) or 0) for name in ("events", "signals")]
                print(f"filled {n_events:,} events and {n_signals:,} signals ({args.days} days x "
                      f"{args.tickets_per_day:,} tickets) in {time.perf_counter() - started:.1f} s; Redis memory: "
                      f"events {memory[0] / 2**20:.0f} MiB ({memory[0] / n_events:.0f} B/entry), signals "
                      f"{memory[1] / 2**20:.0f} MiB ({memory[1] / n_signals:.0f} B/entry)", flush=True)
                store = Store(redis, PREFIX)
                for label, since in (("cold (nothing cached)", args.since), ("warm (past days cached)", args.since),
                                     ("warm", "7d"), ("24h (by hour, never cached)", "24h")):
                    times = []
                    for _ in range(1 if label.startswith("cold") else args.repeat):
                        t0 = time.perf_counter()
                        figures = await period_figures(store, since, time.time(), "UTC")
                        times.append(time.perf_counter() - t0)
                    d = figures["deflection"]["total"]
                    print(f"{since:>4} {label:<28} {min(times) * 1000:8.0f} ms (best of {len(times)}; "
                          f"median {sorted(times)[len(times) // 2] * 1000:.0f} ms)   deflection {d['numerator']:,} of "
                          f"{d['denominator']:,}, escalations {figures['escalation']['total']['numerator']:,} of "
                          f"{figures['escalation']['total']['denominator']:,}", flush=True)
                await http_timing(server.url, args)
        finally:
            server.stop()


async def http_timing(redis_url: str, args: argparse.Namespace) -> None:
    """The endpoint itself (in-process service, the caches warm from above), as the console calls it."""
    import aiohttp
    from aiohttp import web

    from handoff.app import create_app
    from handoff.settings import BootstrapToken, Settings

    port = free_port()
    settings = Settings(redis_url=redis_url, bot_token="b", key_prefix=PREFIX, port=port, sla_interval=0,
                        matrix_poll_interval=0, retention_interval=0,
                        bootstrap_tokens=(BootstrapToken("lead", "lead", "bench-lead"),))
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer bench-lead"}) as http:
            for _ in range(50):  # the bootstrap token is registered in the background
                async with http.get(f"http://127.0.0.1:{port}/api/v1/agent/me") as resp:
                    if resp.status == 200:
                        break
                await asyncio.sleep(0.1)
            times, size = [], 0
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                async with http.get(f"http://127.0.0.1:{port}/api/v1/lead/analytics?since={args.since}") as resp:
                    body = await resp.read()
                    assert resp.status == 200, body[:200]
                times.append(time.perf_counter() - t0)
                size = len(body)
            print(f"GET /api/v1/lead/analytics?since={args.since} (warm): best {min(times) * 1000:.0f} ms, median "
                  f"{sorted(times)[len(times) // 2] * 1000:.0f} ms, {size / 1024:.0f} KiB of JSON", flush=True)
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--tickets-per-day", type=int, default=2000)
    parser.add_argument("--since", default="30d")
    parser.add_argument("--repeat", type=int, default=5)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
