"""Render a domain response in the conversation's language inside the action.

Rasa renders an action's `response=` with the slots as they were *before* the action's own events, so
an action that sets the language (or runs before one is set) would answer in the default language. The
actions therefore pick the variation for `language_of(tracker)` themselves; the texts stay in domain.yml.
"""

from __future__ import annotations

import string
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.customer import language_of


class _Keep(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def variation(domain: dict[str, Any], name: str, lang: str) -> dict[str, Any]:
    variations = (domain.get("responses") or {}).get(name) or []
    for candidate in variations:
        conditions = candidate.get("condition") or []
        if any(c.get("name") == "language" and c.get("value") == lang for c in conditions):
            return dict(candidate)
    default = [v for v in variations if not v.get("condition")]
    if default:
        return dict(default[0])
    raise KeyError(f"response {name!r} is not in the domain")


def render(domain: dict[str, Any], name: str, lang: str, **values: Any) -> tuple[str, list[dict[str, Any]]]:
    chosen = variation(domain, name, lang)
    text = string.Formatter().vformat(str(chosen.get("text", "")), (), _Keep(values))
    return text, list(chosen.get("buttons") or [])


def utter(dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any], name: str,
          buttons: list[dict[str, Any]] | None = None, lang: str | None = None, **values: Any) -> None:
    text, default_buttons = render(domain, name, lang or language_of(tracker), **values)
    dispatcher.utter_message(text=text, buttons=buttons if buttons is not None else default_buttons)
