"""Periods as leads write them in a query or on the command line: ``24h``, ``7d``, ``30d``, ``2w``."""

from __future__ import annotations

import re

from handoff.errors import InvalidRequest

_UNITS = {"h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
MAX_SECONDS = 366 * 86400.0


def parse_period(text: str) -> float:
    """Seconds of a period like ``7d``; InvalidRequest with the reason for anything else."""
    match = re.fullmatch(r"\s*(\d{1,4})\s*([hdw])\s*", text or "")
    if not match:
        raise InvalidRequest(f"a period is a number and h, d or w (24h, 7d, 30d), not {text[:20]!r}")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not 0 < seconds <= MAX_SECONDS:
        raise InvalidRequest("a period is between 1h and 366d")
    return seconds
