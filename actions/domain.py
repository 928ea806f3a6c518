"""The domain the actions render responses and validate forms with, read once from ``domain.yml``.

Rasa would send the whole domain (45 KB of JSON) with every action call; with ``enable_selective_domain``
in endpoints.yml it sends none, and the action server uses its own copy of the same file (`frontdoor up`
starts both from one checkout). A call that does carry a domain (a Rasa configured without selective
domain, or an action listed with ``send_domain: true``) keeps its own.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml


@functools.lru_cache(maxsize=2)
def local_domain(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "responses" not in data:
        raise ValueError(f"{path}: not a Rasa domain with responses")
    return data


def with_domain(action_call: dict[str, Any], path: Path) -> dict[str, Any]:
    """``action_call`` with a domain: its own when Rasa sent one, else the local copy."""
    if action_call.get("domain"):
        return action_call
    return {**action_call, "domain": local_domain(path)}
