"""Background loops: the SLA watcher, the matrix file poller and the streams' retention (started in
cleanup_ctx)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from handoff.matrix_source import MatrixSource
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


async def run_retention(store: Store, clock: Callable[[], float], interval: float) -> None:
    """Trims the events and signals streams to their retention (by time) now and every ``interval`` s; every
    instance may do it (trimming twice removes nothing more)."""
    while True:
        try:
            removed = await store.trim_streams(clock())
            if removed:
                logger.info("retention: %d stream entries older than %.0f days removed", removed,
                            store.retention_days)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis down: try again next time
            logger.warning("stream retention failed: %s", type(exc).__name__)
        await asyncio.sleep(interval)
