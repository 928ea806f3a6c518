from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

from aiohttp.test_utils import TestClient

from stack.embedded_redis import free_port
from handoff_helpers import ROOT


async def test_health_ok(client: TestClient) -> None:
    resp = await client.get("/health")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


def test_main_exits_2_without_required_settings() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HANDOFF_BOT_TOKEN")}
    proc = subprocess.run(
        [sys.executable, "-m", "handoff"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2
    assert "REDIS_URL" in proc.stderr and "HANDOFF_BOT_TOKEN" in proc.stderr


def test_main_serves_health(redis_url: str, key_prefix: str) -> None:
    port = free_port()
    env = dict(os.environ, REDIS_URL=redis_url, HANDOFF_BOT_TOKEN="x", HANDOFF_PORT=str(port),
               HANDOFF_KEY_PREFIX=key_prefix)
    proc = subprocess.Popen([sys.executable, "-m", "handoff"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)
