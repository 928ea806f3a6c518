"""Load benchmark: N concurrent conversations through Rasa's REST channel, our full stack against the
untouched `rasa init` example bot on the same machine, one after the other.

Ours: Rasa server + action server (KB search, handoff client) + handoff service + embedded Redis
(tracker and lock store in Redis), each conversation a realistic script in de/en/da (greeting, a problem
answered from the KB, feedback, thanks, goodbye). The example bot: `rasa init --no-prompt` (its own
config: DIET + TED, in-memory tracker store), conversations from its own stories.

Usage: .venv/bin/python scripts/bench_load.py [--concurrency 16] [--conversations 160]
Prints JSON with messages/s and latency p50/p95/p99 for both, the ratios the target is about, and the
resident memory of our Rasa server and action server after the run.
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
import uuid
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.embedded_redis import free_port  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.supervisor import Stack, http_ok  # noqa: E402
from bot.training import ensure_model  # noqa: E402

OURS = [
    ["Hallo", "Mir wurde mein Abo diesen Monat zweimal abgebucht", "/feedback_helped", "Vielen Dank", "Tschüss"],
    ["Hello", "How do I reset my password?", "/feedback_helped", "thanks a lot", "bye"],
    ["Hej", "Hvor er min pakke? Jeg har bestilt en Streamly Stick", "/feedback_helped", "mange tak", "farvel"],
]
INIT_BOT = [["hello", "I am sad", "yes", "great, thanks", "bye"],
            ["hi", "very good", "bye"],
            ["hey", "not good", "no", "goodbye"]]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def drive(url: str, scripts: list[list[str]], concurrency: int, conversations: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[list[str]] = asyncio.Queue()
    for i in range(conversations):
        queue.put_nowait(scripts[i % len(scripts)])
    timeout = aiohttp.ClientTimeout(total=60)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while not queue.empty():
            script = queue.get_nowait()
            sender = f"bench-{uuid.uuid4().hex[:12]}"
            for message in script:
                started = time.perf_counter()
                try:
                    async with session.post(url, json={"sender": sender, "message": message}) as response:
                        await response.read()
                        if response.status != 200:
                            errors += 1
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    errors += 1
                latencies.append((time.perf_counter() - started) * 1000)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"messages": len(latencies), "errors": errors, "seconds": round(elapsed, 2),
            "messages_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(statistics.median(latencies), 1), "p95_ms": round(percentile(latencies, 0.95), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1)}


def measure(url: str, scripts: list[list[str]], concurrency: int, conversations: int) -> dict[str, float]:
    asyncio.run(drive(url, scripts, concurrency, max(concurrency, conversations // 10)))  # warm-up
    return asyncio.run(drive(url, scripts, concurrency, conversations))


def init_bot(workdir: Path) -> Path:
    workdir = workdir.resolve()
    """`rasa init --no-prompt` once (it trains the example bot); reused by later runs."""
    models = workdir / "models"
    if not models.exists() or not list(models.glob("*.tar.gz")):
        workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(workdir)],
                       cwd=workdir, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return max(models.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)


def run_init_bot(workdir: Path, concurrency: int, conversations: int) -> dict[str, float]:
    model = init_bot(workdir)
    port = free_port()
    log = (workdir / "rasa.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "rasa", "run", "--port", str(port), "--model", str(model),
                                "--interface", "127.0.0.1"], cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        # "/" answers once the server is up ("/status" needs --enable-api: it waited out the deadline)
        while not http_ok(f"http://127.0.0.1:{port}/") and time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the example bot exited; see {workdir / 'rasa.log'}")
            time.sleep(0.5)
        return measure(f"http://127.0.0.1:{port}/webhooks/rest/webhook", INIT_BOT, concurrency, conversations)
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MB (VmRSS from /proc), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def run_ours(var: Path, concurrency: int, conversations: int) -> dict[str, Any]:
    env = {"FRONTDOOR_VAR": str(var), "RASA_PORT": str(free_port()), "ACTION_PORT": str(free_port()),
           "HANDOFF_PORT": str(free_port()), "SITE_PORT": str(free_port()),
           "FRONTDOOR_REDIS_PORT": str(free_port())}
    settings = Settings.from_env(env).with_secrets()
    stack = Stack(settings, model=ensure_model(ROOT, ROOT / "models"))
    stack.start(timeout=300)
    try:
        url = f"http://127.0.0.1:{settings.rasa_port}/webhooks/rest/webhook"
        out: dict[str, Any] = dict(measure(url, OURS, concurrency, conversations))
        # after the run: each server's resident memory (target: <= 1 GB each)
        out["rss_mb"] = {child.name: rss_mb(child.process.pid) for child in stack.children
                         if child.process is not None and child.name in ("rasa", "actions")}
        # a failed custom action still gives the customer a 200: count them from Rasa's log (the run is
        # only valid with none)
        log = (settings.log_dir / "rasa.log").read_text(errors="replace")
        out["action_errors"] = log.count("Encountered an exception while running action")
        return out
    finally:
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--conversations", type=int, default=160)
    parser.add_argument("--init-dir", type=Path, default=ROOT / "var" / "bench" / "rasa-init-bot")
    args = parser.parse_args()
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory(prefix="frontdoor-bench-") as tmp:
        ours = run_ours(Path(tmp), args.concurrency, args.conversations)
    example = run_init_bot(args.init_dir, args.concurrency, args.conversations)
    result = {"concurrency": args.concurrency, "conversations": args.conversations, "frontdoor": ours,
              "rasa_init_example_bot": example,
              "throughput_ratio": round(ours["messages_per_s"] / example["messages_per_s"], 2),
              "p95_ratio": round(ours["p95_ms"] / example["p95_ms"], 2)}
    print(json.dumps(result, indent=2))
    if ours["action_errors"]:
        print(f"invalid run: {ours['action_errors']} custom actions failed (see the Rasa log)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
