"""Background loops: the SLA watcher, the matrix file poller and the streams' retention (started in
cleanup_ctx)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable

from handoff.matrix_source import MatrixSource
from handoff.reporting import period_figures
from handoff.service import TicketService
from handoff.store import Store

logger = logging.getLogger(__name__)


async def run_sla_watcher(service: TicketService, interval: float) -> None:
    while True:
        try:
            counts = await service.sweep_sla()
            if any(counts.values()):
                logger.info("sla sweep: %s", counts)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis down or a bad ticket: log and try again next time
            logger.warning("sla sweep failed: %s", type(exc).__name__)
        await asyncio.sleep(interval)


async def run_matrix_poller(source: MatrixSource, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        source.reload_if_changed()


async def run_retention(store: Store, clock: Callable[[], float], interval: float, timezone: str = "UTC",
                        instance: str = "handoff", first_delay: float = 60.0) -> None:
    """Every ``interval`` s (the first time ``first_delay`` s after the start): trims the events and signals
    streams to their retention by time (every instance may: trimming twice removes nothing more), then
    tallies the complete past days of the last 30 into the analytics day cache (one instance at a time, under
    a lock), so a lead's 30-day page reads only the days still open however long nobody looked."""
    owner = f"{instance}:{secrets.token_hex(4)}"
    await asyncio.sleep(min(first_delay, interval))
    while True:
        try:
            removed = await store.trim_streams(clock())
            if removed:
                logger.info("retention: %d stream entries older than %.0f days removed", removed,
                            store.retention_days)
            if await store.acquire_lock("analytics", owner, int(max(interval, 60.0) * 1000)):
                try:
                    await period_figures(store, "30d", clock(), timezone)
                finally:
                    await store.release_lock("analytics", owner)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis down: try again next time
            logger.warning("stream retention or analytics cache failed: %s", type(exc).__name__)
        await asyncio.sleep(interval)
