"""Webhook delivery: a consumer group on the event stream, JSON bodies signed with HMAC-SHA256,
retries with exponential backoff. Entries are acknowledged only after delivery (or after the last
retry, when they go to a dead-letter list), so a restart resumes where it stopped."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any

import aiohttp

from handoff.settings import Settings
from handoff.store import Store

logger = logging.getLogger(__name__)

GROUP = "webhooks"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_payload(entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    return {
        "id": entry_id,
        "type": fields.get("type"),
        "reference": fields.get("ref"),
        "at": float(fields.get("at", "0")),
        "data": json.loads(fields.get("data", "{}")),
    }


async def deliver(http: aiohttp.ClientSession, url: str, body: bytes, secret: str | None, retries: int,
                  backoff: float) -> bool:
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Frontdoor-Signature"] = sign(secret, body)
    delay = backoff
    for attempt in range(retries + 1):
        try:
            async with http.post(url, data=body, headers=headers) as resp:
                if 200 <= resp.status < 300:
                    return True
                logger.warning("webhook %s answered HTTP %s (attempt %d)", url, resp.status, attempt + 1)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            logger.warning("webhook %s failed: %s (attempt %d)", url, type(exc).__name__, attempt + 1)
        if attempt < retries:
            await asyncio.sleep(delay)
            delay *= 2
    return False


async def run_webhook_dispatcher(store: Store, http: aiohttp.ClientSession, settings: Settings) -> None:
    consumer = settings.instance_id
    while True:
        try:
            await store.ensure_group(GROUP)
            while True:
                entries = await store.read_group(GROUP, consumer, count=50, block_ms=1000)
                for entry_id, fields in entries:
                    body = json.dumps(event_payload(entry_id, fields)).encode()
                    for url in settings.webhooks:
                        ok = await deliver(http, url, body, settings.webhook_secret, settings.webhook_retries,
                                           settings.webhook_backoff)
                        if not ok:
                            await store.push_dead_letter(entry_id, url, fields)
                    await store.ack(GROUP, entry_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis unavailable: wait and resume from the pending entries
            logger.warning("webhook dispatcher paused: %s", type(exc).__name__)
            await asyncio.sleep(1.0)
