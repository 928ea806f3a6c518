"""One Redis data node of the multi-instance deployment (``stack.cluster``), and the few Redis calls the
cluster makes itself (asking Sentinel for the master, reading a node's role), in plain RESP.

``python -m stack.redis_node --port P --dir D --primary HOST:PORT --sentinels H:P,H:P,H:P`` writes the
node's configuration (mode 0600: it holds the password, which comes from ``FRONTDOOR_REDIS_PASSWORD`` in
the environment, never the command line) and replaces itself with ``redis-server``, so the supervisor
watches (and ``kill -9`` hits) the server itself. Before that it asks the Sentinels which node is the
master now: a node restarted after a failover comes back as a replica of the new master instead of as a
second master with older data (``--primary`` is only the first start's answer, when no Sentinel knows yet).

Every node keeps an append-only file; the AOF is written before the server answers a write, so a process
that is killed (``kill -9``, a crash) and restarted loses nothing it acknowledged (only a crash of the
machine loses the last second, ``appendfsync everysec``).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from stack.embedded_redis import _resp, redis_server_binary

MASTER_NAME = "frontdoor"

Reply = str | int | list["Reply"] | None


class RespError(RuntimeError):
    """The server answered with an error reply."""


def _read(stream: BinaryIO) -> Reply:
    line = stream.readline()
    if not line:
        raise ConnectionError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RespError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = stream.read(size + 2)
        return data[:-2].decode(errors="replace")
    if kind == b"*":
        count = int(rest)
        return None if count < 0 else [_read(stream) for _ in range(count)]
    raise ConnectionError(f"not a RESP reply: {line[:40]!r}")


def call(host: str, port: int, *args: str, password: str = "", timeout: float = 1.0) -> Reply:
    """One command (after AUTH when ``password``); returns the decoded reply, raises RespError/OSError."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall((_resp("AUTH", password) if password else b"") + _resp(*args))
        stream = sock.makefile("rb")
        if password:
            _read(stream)
        return _read(stream)


def parse_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def master_from_sentinels(sentinels: Sequence[tuple[str, int]], name: str = MASTER_NAME,
                          timeout: float = 0.5) -> tuple[str, int] | None:
    """The master's address as the first Sentinel that answers knows it (None if none answers)."""
    for host, port in sentinels:
        try:
            reply = call(host, port, "SENTINEL", "get-master-addr-by-name", name, timeout=timeout)
        except (OSError, RespError):
            continue
        if isinstance(reply, list) and len(reply) == 2 and isinstance(reply[0], str) and isinstance(reply[1], str):
            return reply[0], int(reply[1])
    return None


def role(host: str, port: int, password: str = "", timeout: float = 0.5) -> str | None:
    """'master' or 'slave' (Redis' word), or None when the node does not answer."""
    try:
        reply = call(host, port, "ROLE", password=password, timeout=timeout)
    except (OSError, RespError):
        return None
    return reply[0] if isinstance(reply, list) and reply and isinstance(reply[0], str) else None


def node_config(port: int, data_dir: Path, password: str, replica_of: tuple[str, int] | None,
                host: str = "127.0.0.1", min_replicas: int = 0, min_replicas_lag: int = 10) -> str:
    lines = [
        f"port {port}", f"bind {host}", f"dir {data_dir}", "daemonize no", "protected-mode yes",
        "appendonly yes", "appendfsync everysec", 'save ""', 'logfile ""',
        # a replica takes over: it keeps an AOF of its own and answers reads only
        "replica-read-only yes", "replica-serve-stale-data yes",
        f"min-replicas-to-write {min_replicas}", f"min-replicas-max-lag {min_replicas_lag}",
    ]
    if password:
        lines += [f"requirepass {password}", f"masterauth {password}"]
    if replica_of is not None:
        lines.append(f"replicaof {replica_of[0]} {replica_of[1]}")
    return "\n".join(lines) + "\n"


def sentinel_config(port: int, data_dir: Path, master: tuple[str, int], password: str, host: str = "127.0.0.1",
                    quorum: int = 2, down_after_ms: int = 2000, failover_timeout_ms: int = 10000,
                    name: str = MASTER_NAME) -> str:
    lines = [
        f"port {port}", f"bind {host}", f"dir {data_dir}", "daemonize no", 'logfile ""',
        f"sentinel monitor {name} {master[0]} {master[1]} {quorum}",
        f"sentinel down-after-milliseconds {name} {down_after_ms}",
        f"sentinel failover-timeout {name} {failover_timeout_ms}",
        f"sentinel parallel-syncs {name} 1",
    ]
    if password:
        lines.append(f"sentinel auth-pass {name} {password}")
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.redis_node", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--primary", required=True, help="HOST:PORT of the first master (this node: itself)")
    parser.add_argument("--sentinels", default="", help="HOST:PORT,... of the Sentinels to ask first")
    parser.add_argument("--min-replicas", type=int, default=0)
    args = parser.parse_args(argv)
    password = os.environ.get("FRONTDOOR_REDIS_PASSWORD", "")
    sentinels = [parse_address(item) for item in args.sentinels.split(",") if item]
    master = master_from_sentinels(sentinels) or parse_address(args.primary)
    myself = (args.host, args.port)
    replica_of = None if master == myself else master
    args.dir.mkdir(parents=True, exist_ok=True)
    config = write_private(args.dir / "redis.conf", node_config(
        args.port, args.dir.resolve(), password, replica_of, args.host, args.min_replicas))
    print(f"redis node {args.host}:{args.port} starting as "
          f"{'master' if replica_of is None else 'replica of %s:%d' % replica_of}", flush=True)
    binary = redis_server_binary()
    os.execv(binary, [binary, str(config)])
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main())
