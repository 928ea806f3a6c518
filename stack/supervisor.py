"""`frontdoor up`: start the whole front door, wait until every part is healthy, stop it cleanly.

Processes (each logs to var/log/<name>.log): embedded Redis (unless REDIS_URL is set), the action server,
the handoff service, the demo website, the Rasa server and, when RT_URL is set, the RT connector. Children run in their own session so that a
Ctrl-C reaches only the supervisor, which then stops them in reverse order (Redis last, so its
append-only file is flushed); on Linux every child also gets SIGTERM if the supervisor dies.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from stack.embedded_redis import EmbeddedRedis, ping
from stack.settings import ENV_DEFAULTS, RedisAddress, Settings
from stack.training import ensure_model

logger = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The stack cannot start; the message says why and what to change."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    os.umask(0o077)  # what a child writes (logs, Redis' append-only file, caches) is the owner's alone
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def check_port_free(host: str, port: int, variable: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"port {port} is already in use; stop what uses it or set {variable} to another port"
                ) from exc
            raise


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own loopback URL
            status: int = response.status
            return 200 <= status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


STABLE_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 60.0


@dataclass
class Child:
    name: str
    command: list[str]
    env: Mapping[str, str]
    health: Callable[[], bool]
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0  # restarts in a row without a stable minute between them (the backoff's exponent)
    started_at: float = 0.0
    next_start: float = 0.0  # not before this monotonic time (backoff)

    def start(self, cwd: Path) -> None:
        self.started_at = time.monotonic()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.chmod(self.log_file, 0o600)  # logs hold conversation ids and errors: the owner's only
        log = os.fdopen(fd, "ab")
        log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {self.name}\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            self.command, cwd=cwd, env=dict(self.env), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent,
        )
        log.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float) -> None:
        if not self.alive():
            return
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %.0fs; killing it", self.name, timeout)
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Stack:
    """Everything `frontdoor up` runs; also what the end-to-end tests start."""

    settings: Settings
    model: Path | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    redis: EmbeddedRedis | None = None
    children: list[Child] = field(default_factory=list)

    # -- configuration -------------------------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        env.update(s.secrets)
        address = RedisAddress.parse(s.effective_redis_url)
        env.update({
            "PYTHONUNBUFFERED": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "RASA_TELEMETRY_ENABLED": "false",  # no network at run time: no telemetry, no error reports
            "REDIS_URL": s.effective_redis_url,
            # endpoints.yml reads these (Rasa substitutes ${VAR} in endpoint files)
            "REDIS_HOST": address.host,
            "REDIS_PORT": str(address.port),
            "REDIS_DB": str(address.db),
            "REDIS_PASSWORD": address.password,
            "RASA_KEY_PREFIX": env.get("RASA_KEY_PREFIX") or ENV_DEFAULTS["RASA_KEY_PREFIX"][0],
            "ACTION_ENDPOINT_URL": f"http://{s.host}:{s.action_port}/webhook",
            "HANDOFF_HOST": s.host,
            "SANIC_HOST": s.host,  # the action server binds the configured interface only
            "HANDOFF_PORT": str(s.handoff_port),
            "HANDOFF_URL": f"http://{s.host}:{s.handoff_port}",
            "HANDOFF_KEY_PREFIX": s.key_prefix,
            "HANDOFF_BOOTSTRAP_TOKENS": f"demo:lead:{s.secrets.get('FRONTDOOR_DEMO_AGENT_TOKEN', '')}",
            "RASA_URL": f"http://{s.host}:{s.rasa_port}",
            "SITE_HOST": s.host,
            "SITE_PORT": str(s.site_port),
            "PUBLIC_RASA_URL": s.url(s.rasa_port),
            "PUBLIC_HANDOFF_URL": s.url(s.handoff_port),
            "PUBLIC_SITE_URL": s.url(s.site_port),
            "KB_ROOT": str(s.kb_root),
            "KB_DRAFTS_DIR": str(s.kb_root / "drafts"),
            "FRONTDOOR_EMBEDDING_CACHE": str(s.embedding_cache),
        })
        env.update(self.extra_env)
        return env

    def build_children(self) -> list[Child]:
        s, py, log = self.settings, sys.executable, self.settings.log_dir
        env = self.base_env()
        assert self.model is not None
        token = s.secrets.get("RASA_TOKEN", "")
        # the token reaches Rasa through the environment (rasa_ext/serve.py), never the command line
        rasa_cmd = [
            py, "-m", "rasa_ext.serve", "--enable-api", "--cors", "*",
            "--interface", s.host, "--port", str(s.rasa_port),
            "--credentials", str(s.root / "credentials.yml"),
            "--endpoints", str(s.root / "endpoints.yml"),
            "--model", str(self.model),
        ]
        rasa_status = f"http://{s.host}:{s.rasa_port}/status?token={token}"
        connector = [self.connector_child(env)] if s.rt_url else []  # RT being down does not stop the start
        return [
            Child("actions", [py, "-m", "actions", "--actions", "actions", "--port", str(s.action_port)],
                  env, lambda: http_ok(f"http://{s.host}:{s.action_port}/ready"), log / "actions.log"),
            Child("handoff", [py, "-m", "handoff"], env,
                  lambda: http_ok(f"http://{s.host}:{s.handoff_port}/health"), log / "handoff.log"),
            Child("site", [py, "-m", "stack.website"], env,
                  lambda: http_ok(f"http://{s.host}:{s.site_port}/healthz"), log / "site.log"),
            Child("rasa", rasa_cmd, env, lambda: http_ok(rasa_status, timeout=2.0), log / "rasa.log"),
            *connector,
        ]

    def connector_child(self, env: Mapping[str, str] | None = None) -> Child:
        """The RT connector (``python -m connector``), started when RT_URL is set."""
        s = self.settings
        connector_env = {**(env if env is not None else self.base_env()), "RT_URL": s.rt_url, "RT_TOKEN": s.rt_token,
                         "RT_QUEUE_MAP": str(s.rt_queue_map), "RT_CONNECTOR_KEY_PREFIX": s.rt_key_prefix,
                         "RT_CONNECTOR_HOST": s.host, "RT_CONNECTOR_PORT": str(s.rt_connector_port)}
        return Child("rt-connector", [sys.executable, "-m", "connector"], connector_env,
                     lambda: http_ok(f"http://{s.host}:{s.rt_connector_port}/health"),
                     s.log_dir / "rt-connector.log")

    # -- lifecycle -----------------------------------------------------------------------------
    def check_ports(self) -> None:
        s = self.settings
        for attr, variable in Settings.PORT_VARS.items():
            if (attr == "embedded_redis_port" and s.redis_url) or (attr == "rt_connector_port" and not s.rt_url):
                continue
            check_port_free(s.host if attr != "embedded_redis_port" else "127.0.0.1", getattr(s, attr), variable)

    def start(self, timeout: float = 240.0) -> None:
        s = self.settings
        if s.rt_url and not s.rt_token:
            raise StartupError("RT_URL is set but RT_TOKEN is not: give the RT auth token of the connector's RT user")
        self.check_ports()
        for folder in (s.var_dir, s.log_dir, s.var_dir / "redis"):  # the owner's only (0700)
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
        if self.model is None:
            self.model = ensure_model(s.root, s.models_dir, log_file=s.log_dir / "train.log")
        if s.redis_url:
            address = RedisAddress.parse(s.redis_url)
            if not ping(address.host, address.port) and not address.password:
                raise StartupError(f"Redis at REDIS_URL ({address.host}:{address.port}) does not answer")
        else:
            self.redis = EmbeddedRedis(
                data_dir=s.var_dir / "redis", port=s.embedded_redis_port, log_file=s.log_dir / "redis.log",
                password=s.secrets.get("FRONTDOOR_REDIS_PASSWORD", ""),
            )
            self.redis.start(start_new_session=True, preexec_fn=_die_with_parent)
            logger.info("embedded Redis on port %d (append-only file in %s)", s.embedded_redis_port,
                        self.redis.data_dir)
        self.children = self.build_children()
        for child in self.children:
            child.start(s.root)
            logger.info("started %s (pid %d), log: %s", child.name, child.process.pid if child.process else -1,
                        child.log_file)
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float) -> None:
        pending = {child.name: child for child in self.children}
        deadline = time.monotonic() + timeout
        while pending:
            for name, child in list(pending.items()):
                if not child.alive():
                    raise StartupError(f"{name} exited during start-up; last lines of {child.log_file}:\n"
                                       f"{child.log_tail()}")
                if child.health():
                    logger.info("%s is healthy", name)
                    del pending[name]
            if time.monotonic() > deadline:
                names = ", ".join(pending)
                raise StartupError(f"not healthy after {timeout:.0f}s: {names}; see {self.settings.log_dir}")
            time.sleep(0.3)

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop(timeout=15.0)
        if self.redis is not None:
            self.redis.stop()

    def dead_child(self) -> Child | None:
        return next((child for child in self.children if not child.alive()), None)

    def supervise(self, now: float | None = None) -> list[str]:
        """One round of supervision: restart whatever died (the embedded Redis from its append-only file
        first, then the children), each with exponential backoff (1, 2, 4 ... 60 s) while it keeps
        crashing; a child that stayed up for STABLE_SECONDS starts from 1 s again. Returns what it
        restarted. The others keep serving meanwhile: the bot degrades politely while a part is down."""
        now = time.monotonic() if now is None else now
        restarted: list[str] = []
        redis = self.redis
        if redis is not None and redis.process is not None and redis.process.poll() is not None:
            logger.warning("embedded Redis exited (code %s); restarting it", redis.process.returncode)
            try:
                redis.start(start_new_session=True, preexec_fn=_die_with_parent)
                restarted.append("redis")
            except Exception:
                logger.exception("embedded Redis did not come back; trying again")
        for child in self.children:
            if child.alive():
                if child.restarts and now - child.started_at >= STABLE_SECONDS:
                    child.restarts = 0
                continue
            if now < child.next_start:
                continue
            code = child.process.returncode if child.process is not None else None
            logger.warning("%s exited (code %s); restarting it (restart %d in a row); last lines of %s:\n%s",
                           child.name, code, child.restarts + 1, child.log_file, child.log_tail(5))
            child.start(self.settings.root)
            child.restarts += 1
            child.next_start = now + min(MAX_BACKOFF_SECONDS, 2.0 ** (child.restarts - 1))
            restarted.append(child.name)
        return restarted

    def urls(self) -> dict[str, str]:
        s = self.settings
        return {
            "website (chat)": s.url(s.site_port) + "/",
            "agents' console": s.url(s.handoff_port) + "/agent",
            "Rasa REST channel": s.url(s.rasa_port) + "/webhooks/rest/webhook",
            "handoff API (OpenAPI)": s.url(s.handoff_port) + "/openapi.json",
            **({"RT connector (health)": s.url(s.rt_connector_port) + "/health"} if s.rt_url else {}),
        }


class Runner(Protocol):
    """What `frontdoor up` and `frontdoor cluster up` run: a Stack or a Cluster."""

    def start(self, timeout: float = ...) -> None: ...
    def stop(self) -> None: ...
    def supervise(self) -> list[str]: ...
    def urls(self) -> dict[str, str]: ...


def serve_until_signal(runner: Runner, settings: Settings, timeout: float, heading: str,
                       details: Callable[[], list[str]]) -> int:
    """Start ``runner``, print its URLs and ``details()``, restart crashed processes until SIGINT or
    SIGTERM, then stop everything. The one loop of both `up` commands."""
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        runner.start(timeout=timeout)
    except (StartupError, RuntimeError) as exc:
        print(f"\nfrontdoor: {exc}", file=sys.stderr)
        runner.stop()
        return 1
    except KeyboardInterrupt:
        runner.stop()
        return 130
    if stopping:
        runner.stop()
        return 0
    urls = runner.urls()
    width = max(map(len, urls))
    print(f"\n{heading}:\n")
    for label, url in urls.items():
        print(f"  {label:<{width}}  {url}")
    for line in details():
        print(line)
    print("\nPress Ctrl-C to stop.", flush=True)
    while not stopping:
        for name in runner.supervise():  # a crashed process comes back; the rest keeps serving
            print(f"frontdoor: {name} stopped unexpectedly and was restarted (see {settings.log_dir}/)",
                  file=sys.stderr, flush=True)
        time.sleep(0.5)
    print("\nstopping ...", flush=True)
    runner.stop()
    print("stopped.")
    return 0


def up(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(os.environ).with_secrets()
    except ValueError as exc:
        print(f"frontdoor: {exc}", file=sys.stderr)
        return 2

    def details() -> list[str]:
        shown = re.sub(r"//[^@/]*@", "//", settings.effective_redis_url)  # never the password
        return [f"\n  agents' console token (demo lead): FRONTDOOR_DEMO_AGENT_TOKEN in {settings.var_dir / 'secrets.env'}",
                f"  logs: {settings.log_dir}/   Redis: {shown}"]

    return serve_until_signal(Stack(settings), settings, args.timeout, "frontdoor is running", details)


def train(args: argparse.Namespace) -> int:
    settings = Settings.from_env(os.environ)
    try:
        path = ensure_model(settings.root, settings.models_dir, force=args.force)
    except RuntimeError as exc:
        print(f"frontdoor: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    defaults = "; ".join(f"{k}={v or ('(embedded)' if k == 'REDIS_URL' else '(unset)')}"
                         for k, (v, _h) in ENV_DEFAULTS.items())
    p_up = sub.add_parser("up", help="start the whole front door and print its URLs",
                          description=f"Environment variables and defaults: {defaults}")
    p_up.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for health checks")
    p_up.set_defaults(func=up)
    p_train = sub.add_parser("train", help="train the Rasa model if its inputs changed")
    p_train.add_argument("--force", action="store_true", help="train even when a model for the inputs exists")
    p_train.set_defaults(func=train)
