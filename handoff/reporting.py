"""The analytics of a period, read from the streams through the store: the service's
``GET /api/v1/lead/analytics?since=`` and ``frontdoor report`` both call ``period_figures``, so the page
and the report cannot disagree. Complete past days are tallied once and cached (``handoff.analytics``:
their figures cannot change any more); only the days still open are read from the streams."""

from __future__ import annotations

import logging
from typing import Any

from handoff import analytics
from handoff.store import Store

logger = logging.getLogger(__name__)


async def period_figures(store: Store, since: str, now: float, timezone: str) -> dict[str, Any]:
    """The figures of the period ``since`` (``24h``, ``7d``, ``30d`` ...) ending ``now``; a bad value raises
    InvalidRequest with the reason."""
    period = analytics.parse_period(since, now, timezone)
    namespace = f"{analytics.CACHE_VERSION}:{timezone}"
    cached = (await store.analytics_days(namespace, [b.key for b in period.buckets])
              if period.unit == "day" else {})
    missing = [b for b in period.buckets if b.key not in cached]
    fresh: dict[str, analytics.Tally] = {}
    if missing:
        start = analytics.scan_start(missing[0], timezone)
        acc = analytics.Accumulator(missing, now, timezone)
        async for events in store.event_batches(start):
            acc.add_events(events)
        async for signals in store.signal_batches(start):
            acc.add_signals(signals)
        tallies = acc.tallies()
        fresh = {b.key: t for b, t in zip(missing, tallies)}
        final = {b.key: t for b, t in zip(missing, tallies) if analytics.is_final(b, period.unit, now)}
        await store.save_analytics_days(namespace, final)
        if final:
            logger.info("analytics: %d complete day(s) tallied and cached", len(final))
    return analytics.figures(period, [cached[b.key] if b.key in cached else fresh[b.key] for b in period.buckets],
                             await store.history_from())
