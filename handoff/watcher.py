"""Background loops: the SLA watcher and the matrix file poller (both started in cleanup_ctx)."""

from __future__ import annotations

import asyncio
import logging

from handoff.matrix_source import MatrixSource
from handoff.service import TicketService

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
