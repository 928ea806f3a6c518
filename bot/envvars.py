"""Numbers from environment variables, for the settings of each process (handoff service, RT connector):
unset or empty gives the default; anything else must parse, or the process's own settings error names the
variable and the value."""

from __future__ import annotations

from collections.abc import Callable, Mapping


def env_int(env: Mapping[str, str], name: str, default: int, error: Callable[[str], Exception]) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise error(f"{name} must be an integer, got {raw!r}") from None


def env_float(env: Mapping[str, str], name: str, default: float, error: Callable[[str], Exception]) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise error(f"{name} must be a number, got {raw!r}") from None
