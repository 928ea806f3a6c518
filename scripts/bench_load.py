"""Load benchmark: N concurrent conversations through Rasa's REST channel, our full stack against the
untouched `rasa init` example bot on the same machine, one after the other.

Ours: Rasa server + action server (KB search, handoff client) + handoff service + embedded Redis
(tracker and lock store in Redis), each conversation a realistic script in de/en/da (greeting, a problem
answered from the KB, feedback, thanks, goodbye). The example bot: `rasa init --no-prompt` (its own
config: DIET + TED, in-memory tracker store), conversations from its own stories.

Usage: .venv/bin/python scripts/bench_load.py [--concurrency 16] [--conversations 160] [--repeat N]
Prints JSON with messages/s and latency p50/p95/p99 for both, the ratios the target is about, the CPU time
per message of each server process during the measured run (``cpu_ms_per_message``: ours the Rasa server,
action server and handoff service; the example bot its Rasa server), and the resident memory of our Rasa
server and action server after the run.

Long conversations (issue 14): `--long [--conversations 1] [--messages 200] [--concurrency N]` runs N
conversations of that many messages on both bots (ours: questions the KB answers in de/en/da, typed and
button feedback, "did not help" and cancelling the form, small talk, out of scope, status and wait
questions, at most one ticket per conversation; the example bot: its greet/mood/goodbye intents) and
reports the median and p95 latency of the first, middle and last 20 messages, the ratio last/first, the
tracker size per conversation (Redis for ours) and the Rasa server's resident memory before and after.
`--rss-rounds R [--conversations 1000] [--messages 50]` runs R such rounds on our stack only and prints
the Rasa server's resident memory after each. Both modes switch the chat channel's per-client and
per-conversation message limits off (one bench client sends far faster than a person); the output says so.
`--out FILE` also writes the JSON to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack.embedded_redis import free_port  # noqa: E402
from stack.settings import Settings  # noqa: E402
from stack.supervisor import Stack, http_ok  # noqa: E402
from stack.training import ensure_model  # noqa: E402

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


def measure(url: str, scripts: list[list[str]], concurrency: int, conversations: int,
            pids: dict[str, int] | None = None) -> dict[str, Any]:
    """Warm up, then the measured run; with ``pids``, also the CPU time each of those processes spent per
    message during the run (user + system, from /proc: less sensitive to the machine's load than rates)."""
    asyncio.run(drive(url, scripts, concurrency, max(concurrency, conversations // 10)))  # warm-up
    before = {name: cpu_seconds(pid) for name, pid in (pids or {}).items()}
    out: dict[str, Any] = dict(asyncio.run(drive(url, scripts, concurrency, conversations)))
    if pids:
        out["cpu_ms_per_message"] = {name: round((cpu_seconds(pid) - before[name]) * 1000 / max(1, out["messages"]), 2)
                                     for name, pid in pids.items()}
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def init_bot(workdir: Path) -> Path:
    workdir = workdir.resolve()
    """`rasa init --no-prompt` once (it trains the example bot); reused by later runs."""
    models = workdir / "models"
    if not models.exists() or not list(models.glob("*.tar.gz")):
        workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(workdir)],
                       cwd=workdir, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return max(models.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)


@contextmanager
def example_bot(workdir: Path, enable_api: bool = False) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The example bot's Rasa server on a free port until the block ends; yields its base URL and process
    (`enable_api`: Rasa's HTTP API too, to read trackers)."""
    model = init_bot(workdir)
    port = free_port()
    command = [sys.executable, "-m", "rasa", "run", "--port", str(port), "--model", str(model),
               "--interface", "127.0.0.1"] + (["--enable-api"] if enable_api else [])
    log = (workdir / "rasa.log").open("wb")
    process = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        # "/" answers once the server is up ("/status" needs --enable-api: it waited out the deadline)
        while not http_ok(f"http://127.0.0.1:{port}/") and time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the example bot exited; see {workdir / 'rasa.log'}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def run_init_bot(workdir: Path, concurrency: int, conversations: int) -> dict[str, Any]:
    with example_bot(workdir) as (base, process):
        return measure(f"{base}/webhooks/rest/webhook", INIT_BOT, concurrency, conversations, {"rasa": process.pid})


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MB (VmRSS from /proc), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


@contextmanager
def our_stack(var: Path, extra_env: dict[str, str] | None = None) -> Iterator[tuple[Settings, Stack]]:
    """Our whole stack on free ports with its own embedded Redis under `var`, until the block ends."""
    env = {"FRONTDOOR_VAR": str(var), "RASA_PORT": str(free_port()), "ACTION_PORT": str(free_port()),
           "HANDOFF_PORT": str(free_port()), "SITE_PORT": str(free_port()),
           "FRONTDOOR_REDIS_PORT": str(free_port())}
    settings = Settings.from_env(env).with_secrets()
    stack = Stack(settings, model=ensure_model(ROOT, ROOT / "models"), extra_env=dict(extra_env or {}))
    try:
        stack.start(timeout=300)
        yield settings, stack
    finally:
        stack.stop()


def server_rss(stack: Stack) -> dict[str, float | None]:
    """Resident memory of our Rasa server and action server in MB (target: <= 1 GB each)."""
    return {child.name: rss_mb(child.process.pid) for child in stack.children
            if child.process is not None and child.name in ("rasa", "actions")}


def failed_actions(settings: Settings) -> int:
    """A failed custom action still gives the customer a 200: count them from Rasa's log (the run is only
    valid with none)."""
    log = (settings.log_dir / "rasa.log").read_text(errors="replace")
    return log.count("Encountered an exception while running action")


def run_ours(var: Path, concurrency: int, conversations: int) -> dict[str, Any]:
    with our_stack(var) as (settings, stack):
        url = f"http://127.0.0.1:{settings.rasa_port}/webhooks/rest/webhook"
        pids = {child.name: child.process.pid for child in stack.children
                if child.process is not None and child.name in ("rasa", "actions", "handoff")}
        out: dict[str, Any] = dict(measure(url, OURS, concurrency, conversations, pids))
        out["rss_mb"] = server_rss(stack)  # after the run
        out["action_errors"] = failed_actions(settings)
        return out


# -- long conversations (issue 14) --------------------------------------------------------------------------

# one bench client sends far faster than a person: the chat channel's message limits would refuse it
NO_CHANNEL_LIMITS = {"FRONTDOOR_CONVERSATION_MESSAGES_PER_MINUTE": "0",
                     "FRONTDOOR_CLIENT_MESSAGES_PER_MINUTE": "0"}
CHANNEL_LIMITS_NOTE = ("off for this bench: FRONTDOOR_CONVERSATION_MESSAGES_PER_MINUTE=0 and "
                       "FRONTDOOR_CLIENT_MESSAGES_PER_MINUTE=0 in the stack's environment")
HELPED = "/feedback_helped"  # the "helped" button under every article
TICKET_REFERENCE = re.compile(r"\bT-\d{6}\b")
WINDOW = 20
LONG_LOGS = ROOT / "var" / "bench" / "long-logs"  # the last long run's stack logs


@dataclass(frozen=True)
class Lines:
    """One language's customer messages for the long conversations (wording as in kb_articles/ and
    tests/e2e/scenarios/); every question is answered by an article, which offers the feedback buttons."""

    greet: str
    questions: tuple[str, ...]
    thanks: tuple[str, str, str]
    helped: str  # typed
    not_helped: str  # typed: starts the pre-qualification form (or, with a ticket, refers to it) ...
    cancel: str  # ... which the customer stops
    bot_challenge: str
    chitchat: str
    out_of_scope: str
    status: str
    wait: str
    human: str  # a person, please, with the e-mail ({n}: the conversation's number): the only ticket
    goodbye: str


LONG_OURS = {
    "de": Lines(
        greet="Hallo",
        questions=("Ich habe mein Passwort vergessen und komme nicht mehr rein",
                   "Mir wurde diesen Monat zweimal abgebucht",
                   "Wie schalte ich Untertitel auf dem Fernseher ein?",
                   "Die Fernbedienung vom Stick reagiert nicht mehr",
                   "Kann ich mein Abo für einen Monat pausieren?",
                   "Wo kann ich meine Rechnung herunterladen?",
                   "Das Bild ruckelt ständig auf dem Fernseher, alle paar Minuten lädt es neu",
                   "Wo bleibt mein Paket? Ich habe einen Streamly Stick bestellt",
                   "Wie kündige ich eigentlich mein Abo?"),
        thanks=("danke", "ok danke", "vielen Dank"), helped="super, hat geholfen, danke",
        not_helped="hat nicht geholfen", cancel="ach, vergessen Sie es", bot_challenge="Bist du ein Bot?",
        chitchat="Wie geht es dir?", out_of_scope="Wie wird das Wetter morgen?",
        status="Wie ist der Stand meines Tickets?", wait="wie lange dauert das?",
        human="Ich möchte bitte mit einem Mitarbeiter sprechen, erreichbar bin ich unter "
              "kunde.{n}@example.de",
        goodbye="Tschüss"),
    "en": Lines(
        greet="Hi there",
        questions=("I forgot my password and can't log in",
                   "I was charged twice for my subscription this month",
                   "how do I turn on subtitles on my tv?",
                   "my streamly stick remote doesn't pair anymore",
                   "can I pause my subscription for a month?",
                   "how do I download my invoice?",
                   "my video keeps buffering every few minutes on the tv",
                   "where is my parcel? I ordered a Streamly Stick",
                   "how do I cancel my subscription?"),
        thanks=("thanks", "ok thank you", "cheers"), helped="great, that helped, thanks",
        not_helped="that didn't help", cancel="never mind, forget it", bot_challenge="are you a bot?",
        chitchat="how are you today?", out_of_scope="what's the weather like today?",
        status="what's the status of my ticket?", wait="how long will it take?",
        human="I'd like to talk to a person please, you can reach me at customer.{n}@example.com",
        goodbye="bye"),
    "da": Lines(
        greet="Hej",
        questions=("Jeg har glemt min adgangskode og kan ikke logge ind",
                   "Jeg er blevet trukket to gange for mit abonnement denne måned",
                   "Hvordan slår jeg undertekster til på mit tv?",
                   "Fjernbetjeningen til min Streamly Stick virker ikke længere",
                   "Kan jeg sætte mit abonnement på pause i en måned?",
                   "Hvor kan jeg downloade min faktura?",
                   "Videoen hakker hele tiden på mit tv",
                   "Hvor er min pakke? Jeg har bestilt en Streamly Stick",
                   "Hvordan opsiger jeg mit abonnement?"),
        thanks=("tak", "okay tak", "mange tak"), helped="super, det hjalp, tak",
        not_helped="det hjalp ikke", cancel="glem det", bot_challenge="Er du en robot?",
        chitchat="Hvordan har du det?", out_of_scope="Hvordan bliver vejret i morgen?",
        status="Hvad er status på min sag?", wait="hvor længe tager det?",
        human="Jeg vil gerne tale med en medarbejder, I kan skrive til mig på kunde.{n}@example.dk",
        goodbye="farvel"),
}
LANGUAGES = ("de", "en", "da")
INIT_BOT_LONG = ["hello", "I am sad", "yes", "hi again", "very good", "are you a bot?", "not good", "no",
                 "great, thanks", "goodbye"]


def block(lines: Lines, turn: int) -> list[list[str]]:
    """Twenty messages in one language, in units that belong together (a question and its feedback)."""
    q = [lines.questions[(6 * turn + k) % len(lines.questions)] for k in range(6)]
    return [[q[0], HELPED], [lines.thanks[0]], [q[1], lines.not_helped, lines.cancel], [lines.bot_challenge],
            [q[2], lines.helped], [lines.status], [lines.chitchat], [q[3], HELPED], [lines.out_of_scope],
            [q[4], lines.thanks[1]], [lines.wait], [q[5], HELPED], [lines.thanks[2]]]


def our_long_script(n: int, messages: int) -> list[str]:
    """Conversation number `n`: a greeting, blocks of twenty messages that go through de/en/da (starting
    with LANGUAGES[n % 3]), then a request for a person with the e-mail (the conversation's only ticket) and
    a goodbye. The ticket comes last because after it the bot reads problems as additions to the ticket and
    questions as asking for its status: before it, every stretch of twenty messages has the same mix."""
    order = LANGUAGES[n % 3:] + LANGUAGES[:n % 3]
    script = [(order[0], LONG_OURS[order[0]].greet)]
    turn = 0
    while len(script) < messages - 2:
        lang = order[turn % 3]
        script += [(lang, message) for unit in block(LONG_OURS[lang], turn // 3) for message in unit]
        turn += 1
    script = script[:max(1, messages - 2)]
    lines = LONG_OURS[script[-1][0]]
    return ([message for _lang, message in script] + [lines.human.format(n=n), lines.goodbye])[:messages]


def init_long_script(_n: int, messages: int) -> list[str]:
    return [INIT_BOT_LONG[k % len(INIT_BOT_LONG)] for k in range(messages)]


@dataclass
class LongRun:
    senders: list[str]
    latencies: list[list[float]]  # ms, per conversation and message
    seconds: float = 0.0
    errors: int = 0  # not 200 (a 429 of the channel limits included) or no answer
    payloads_not_offered: int = 0  # a scripted button the bot had not just offered: the script is off track
    tickets: int = 0  # conversations whose replies named a ticket reference
    load_average: list[float] = field(default_factory=list)


async def drive_long(url: str, scripts: list[list[str]], concurrency: int,
                     prefix: str = "bench-long") -> LongRun:
    """Each script is one conversation, `concurrency` of them at a time; every message's latency is kept
    by its position in the conversation."""
    run = LongRun(senders=[f"{prefix}-{uuid.uuid4().hex[:12]}" for _ in scripts],
                  latencies=[[] for _ in scripts])
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(scripts)):
        queue.put_nowait(i)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            offered: set[str] = set()
            ticket = False
            for message in scripts[i]:
                if message.startswith("/") and message not in offered:
                    run.payloads_not_offered += 1
                status, body = 0, b""
                started = time.perf_counter()
                try:
                    payload = {"sender": run.senders[i], "message": message}
                    async with session.post(url, json=payload) as response:
                        body = await response.read()
                        status = response.status
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                run.latencies[i].append((time.perf_counter() - started) * 1000)
                if status != 200:
                    run.errors += 1
                    offered = set()
                    continue
                replies = json.loads(body)
                offered = {button.get("payload") for reply in replies
                           for button in reply.get("buttons") or []}
                ticket = ticket or any(TICKET_REFERENCE.search(reply.get("text") or "") for reply in replies)
            run.tickets += ticket

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60), connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        run.seconds = time.perf_counter() - started
    run.load_average = [round(x, 2) for x in os.getloadavg()]
    return run


def windows(messages: int) -> dict[str, range]:
    """The first, middle and last twenty positions (1-20, 91-110, 181-200 for 200 messages)."""
    size = min(WINDOW, messages)
    middle = (messages - size) // 2
    return {"first": range(size), "middle": range(middle, middle + size),
            "last": range(messages - size, messages)}


def long_summary(run: LongRun) -> dict[str, Any]:
    everything = [ms for conversation in run.latencies for ms in conversation]
    messages = min(len(conversation) for conversation in run.latencies)
    out: dict[str, Any] = {
        "messages": len(everything), "errors": run.errors, "payloads_not_offered": run.payloads_not_offered,
        "conversations_with_ticket": run.tickets, "seconds": round(run.seconds, 1),
        "messages_per_s": round(len(everything) / run.seconds, 1),
        "p50_ms": round(statistics.median(everything), 1), "p95_ms": round(percentile(everything, 0.95), 1),
        "load_average_at_end": run.load_average,
    }
    for name, positions in windows(messages).items():
        values = [conversation[k] for conversation in run.latencies for k in positions]
        out[f"{name}_messages_{positions.start + 1}_{positions.stop}"] = {
            "p50_ms": round(statistics.median(values), 1), "p95_ms": round(percentile(values, 0.95), 1)}
    first, last = (out[f"{name}_messages_{r.start + 1}_{r.stop}"] for name, r in windows(messages).items()
                   if name != "middle")
    out["last_first_ratio_p50"] = round(last["p50_ms"] / first["p50_ms"], 2)
    out["last_first_ratio_p95"] = round(last["p95_ms"] / first["p95_ms"], 2)
    return out


def warm_up(url: str, script: Any, concurrency: int) -> None:
    """A few short conversations first (twenty messages, ending with a ticket), not counted."""
    scripts = [script(100_000 + i, WINDOW) for i in range(max(3, concurrency))]
    asyncio.run(drive_long(url, scripts, concurrency, prefix="bench-warm"))


def tracker_json_kb(base: str, senders: list[str], token: str | None = None) -> dict[str, float]:
    """Size of each conversation's tracker as Rasa's HTTP API returns it (all events): median, max in KB."""
    sizes = []
    for sender in senders:
        query = "include_events=ALL" + (f"&token={token}" if token else "")
        url = f"{base}/conversations/{sender}/tracker?{query}"
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - our own loopback URL
            sizes.append(len(response.read()) / 1024)
    return {"median": round(statistics.median(sizes), 1), "max": round(max(sizes), 1)}


def redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.effective_redis_url)


def redis_per_conversation(client: redis.Redis, senders: list[str], used_before: int) -> dict[str, Any]:
    """Redis memory of the conversations, two ways: MEMORY USAGE (SAMPLES 0, exact) summed over every key
    whose name holds the conversation's id (whatever the tracker store's key layout), and the growth of
    INFO used_memory during the run divided by the number of conversations (everything the run wrote:
    trackers, tickets, KB votes, the event stream, allocator overhead)."""
    wanted = set(senders)
    per_sender = dict.fromkeys(senders, 0)
    patterns: set[str] = set()
    sender_in_key = re.compile(r"bench-long-[0-9a-f]{12}")
    for raw in client.scan_iter(count=1000):
        key = raw.decode(errors="replace")
        match = sender_in_key.search(key)
        if match and match.group() in wanted:
            per_sender[match.group()] += client.memory_usage(raw, samples=0) or 0
            patterns.add(key.replace(match.group(), "<id>"))
    used_after = int(client.info("memory")["used_memory"])
    sizes = [size / 1024 for size in per_sender.values()]
    return {
        "method": "MEMORY USAGE <key> SAMPLES 0 summed over the keys named with the conversation id; and "
                  "(INFO used_memory after - before the run) / conversations",
        "conversation_keys": sorted(patterns),
        "conversation_keys_kb": {"median": round(statistics.median(sizes), 1), "max": round(max(sizes), 1)},
        "used_memory_delta_per_conversation_kb": round((used_after - used_before) / 1024 / len(senders), 1),
        "used_memory_mb_after": round(used_after / 2**20, 1),
    }


def run_ours_long(var: Path, conversations: int, messages: int, concurrency: int) -> dict[str, Any]:
    with our_stack(var, NO_CHANNEL_LIMITS) as (settings, stack):
        base = f"http://127.0.0.1:{settings.rasa_port}"
        url = f"{base}/webhooks/rest/webhook"
        warm_up(url, our_long_script, concurrency)
        client = redis_client(settings)
        used_before = int(client.info("memory")["used_memory"])
        rss_before = server_rss(stack)
        scripts = [our_long_script(n, messages) for n in range(conversations)]
        run = asyncio.run(drive_long(url, scripts, concurrency))
        out = long_summary(run)
        out["rss_mb"] = {"before": rss_before, "after": server_rss(stack)}
        out["redis"] = redis_per_conversation(client, run.senders, used_before)
        out["tracker_json_kb"] = tracker_json_kb(base, run.senders, settings.secrets.get("RASA_TOKEN"))
        out["action_errors"] = failed_actions(settings)
        client.close()
        return out


def run_init_bot_long(workdir: Path, conversations: int, messages: int, concurrency: int) -> dict[str, Any]:
    with example_bot(workdir, enable_api=True) as (base, process):
        url = f"{base}/webhooks/rest/webhook"
        warm_up(url, init_long_script, concurrency)
        rss_before = rss_mb(process.pid)
        run = asyncio.run(drive_long(url, [init_long_script(n, messages) for n in range(conversations)],
                                     concurrency))
        out = long_summary(run)
        out["rss_mb"] = {"before": {"rasa": rss_before}, "after": {"rasa": rss_mb(process.pid)}}
        out["redis"] = "none: the example bot keeps its trackers in memory (its default tracker store)"
        out["tracker_json_kb"] = tracker_json_kb(base, run.senders)
        return out


def run_rss_rounds(var: Path, rounds: int, conversations: int, messages: int,
                   concurrency: int) -> dict[str, Any]:
    """`rounds` rounds of `conversations` new conversations of `messages` messages on our stack; the Rasa
    server's resident memory after each (target: <= 1 GB and not growing from one round to the next)."""
    with our_stack(var, NO_CHANNEL_LIMITS) as (settings, stack):
        url = f"http://127.0.0.1:{settings.rasa_port}/webhooks/rest/webhook"
        warm_up(url, our_long_script, concurrency)
        client = redis_client(settings)
        out: dict[str, Any] = {"rss_mb_after_warm_up": server_rss(stack), "rounds": []}
        print(f"after the warm-up: RSS {out['rss_mb_after_warm_up']} MB", file=sys.stderr, flush=True)
        for r in range(rounds):
            scripts = [our_long_script(r * conversations + n, messages) for n in range(conversations)]
            run = asyncio.run(drive_long(url, scripts, concurrency))
            summary = long_summary(run)
            entry = {"round": r + 1, "rss_mb": server_rss(stack),
                     "redis_used_memory_mb": round(int(client.info("memory")["used_memory"]) / 2**20, 1),
                     **{k: v for k, v in summary.items() if k not in ("p50_ms", "p95_ms")}}
            out["rounds"].append(entry)
            print(f"round {r + 1}/{rounds}: {summary['messages']} messages in {summary['seconds']} s, "
                  f"{summary['errors']} errors, RSS {entry['rss_mb']} MB, "
                  f"Redis {entry['redis_used_memory_mb']} MB, "
                  f"load {run.load_average}", file=sys.stderr, flush=True)
        rasa = [entry["rss_mb"]["rasa"] for entry in out["rounds"]]
        if None not in rasa:
            out["rasa_rss_growth_mb_from_round_1"] = round(rasa[-1] - rasa[0], 1)
        out["action_errors"] = failed_actions(settings)
        client.close()
        return out


STARTED_UTC = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int,
                        help="concurrent conversations (default 16; --long: all the conversations at once)")
    parser.add_argument("--conversations", type=int,
                        help="conversations (default 160; --long: 1; --rss-rounds: 1000 per round)")
    parser.add_argument("--long", action="store_true", help="long conversations on both bots (issue 14)")
    parser.add_argument("--rss-rounds", type=int, default=0, metavar="R",
                        help="R rounds of conversations on our stack, the Rasa server's RSS after each")
    parser.add_argument("--messages", type=int,
                        help="messages per conversation (--long: 200; --rss-rounds: 50)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="short mode: N rounds, alternating which bot goes first, and their medians")
    parser.add_argument("--init-dir", type=Path, default=ROOT / "var" / "bench" / "rasa-init-bot")
    parser.add_argument("--out", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args()
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.long or args.rss_rounds:
        result, code = long_mode(args)
    else:
        result, code = short_mode(args)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return code


def short_round(args: argparse.Namespace, ours_first: bool) -> dict[str, Any]:
    concurrency, conversations = args.concurrency or 16, args.conversations or 160
    runs: dict[str, Any] = {}
    for who in (("ours", "example") if ours_first else ("example", "ours")):
        if who == "ours":
            with tempfile.TemporaryDirectory(prefix="frontdoor-bench-") as tmp:
                runs["frontdoor"] = run_ours(Path(tmp), concurrency, conversations)
        else:
            runs["rasa_init_example_bot"] = run_init_bot(args.init_dir, concurrency, conversations)
    ours, example = runs["frontdoor"], runs["rasa_init_example_bot"]
    return {"frontdoor": ours, "rasa_init_example_bot": example, "first": "frontdoor" if ours_first else
            "rasa_init_example_bot", "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "throughput_ratio": round(ours["messages_per_s"] / example["messages_per_s"], 2),
            "p95_ratio": round(ours["p95_ms"] / example["p95_ms"], 2)}


def short_mode(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    """One round (ours, then the example bot), or `--repeat N` rounds that alternate which bot goes
    first (this machine's speed drifts within minutes: the example bot alone ran 29.6-54.5 msg/s in one
    hour) with the medians over the rounds."""
    concurrency, conversations = args.concurrency or 16, args.conversations or 160
    rounds = [short_round(args, ours_first=(k % 2 == 0)) for k in range(max(1, args.repeat))]
    result: dict[str, Any] = {"concurrency": concurrency, "conversations": conversations,
                              "started_utc": STARTED_UTC, **rounds[0]}
    if len(rounds) > 1:
        result = {"concurrency": concurrency, "conversations": conversations, "started_utc": STARTED_UTC,
                  "rounds": rounds, "median": {
                      "frontdoor_messages_per_s": statistics.median(r["frontdoor"]["messages_per_s"] for r in rounds),
                      "example_messages_per_s": statistics.median(
                          r["rasa_init_example_bot"]["messages_per_s"] for r in rounds),
                      "throughput_ratio": statistics.median(r["throughput_ratio"] for r in rounds),
                      "p95_ratio": statistics.median(r["p95_ratio"] for r in rounds)}}
    failed = sum(r["frontdoor"]["action_errors"] for r in rounds)
    if failed:
        print(f"invalid run: {failed} custom actions failed (see the Rasa log)", file=sys.stderr)
        return result, 2
    return result, 0


def long_mode(args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    started = time.monotonic()
    result: dict[str, Any] = {"started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                              "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                              "channel_message_limits": CHANNEL_LIMITS_NOTE}
    print(f"chat channel message limits {CHANNEL_LIMITS_NOTE}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="frontdoor-bench-") as tmp:
        if args.rss_rounds:
            conversations, messages = args.conversations or 1000, args.messages or 50
            concurrency = args.concurrency or 16
            result.update(mode="rss-rounds", rounds=args.rss_rounds, conversations_per_round=conversations,
                          messages_per_conversation=messages, concurrency=concurrency)
            ours = run_rss_rounds(Path(tmp), args.rss_rounds, conversations, messages, concurrency)
            result["frontdoor"] = ours
            errors = sum(entry["errors"] for entry in ours["rounds"])
        else:
            conversations, messages = args.conversations or 1, args.messages or 200
            concurrency = args.concurrency or conversations
            result.update(mode="long", conversations=conversations, messages_per_conversation=messages,
                          concurrency=concurrency)
            ours = run_ours_long(Path(tmp), conversations, messages, concurrency)
            result["frontdoor"] = ours
            example = run_init_bot_long(args.init_dir, conversations, messages, concurrency)
            result["rasa_init_example_bot"] = example
            errors = ours["errors"] + example["errors"]
        # the stack's logs outlive the temporary folder (a failed action is explained in rasa.log)
        shutil.rmtree(LONG_LOGS, ignore_errors=True)
        shutil.copytree(Settings.from_env({"FRONTDOOR_VAR": tmp}).log_dir, LONG_LOGS)
    result["logs"] = str(LONG_LOGS)
    result["seconds_total"] = round(time.monotonic() - started, 1)
    if ours["action_errors"] or errors:
        print(f"invalid run: {ours['action_errors']} custom actions failed (see the Rasa log), {errors} "
              "messages without a 200", file=sys.stderr)
        return result, 2
    return result, 0


if __name__ == "__main__":
    sys.exit(main())
