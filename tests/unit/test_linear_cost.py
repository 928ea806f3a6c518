"""No customer text costs more than linear time in the readers every message goes through (a 100,000-
character word once took 21 s in a regex and froze the bot for everyone). Checked as a complexity
behaviour: doubling the input must not quadruple the work (the ratio of two timings, with a floor so
that tiny durations do not count), on shapes that trip backtracking regexes."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from bot import dialogue
from bot.entities import EntityFinder
from bot.lang import LanguageIdentifier, features
from handoff.masking import mask_payment_data

SHAPES: dict[str, Callable[[int], str]] = {
    "one word": lambda n: "a" * n,
    "at signs": lambda n: "a@" * (n // 2),
    "digits": lambda n: "1" * n,
    "order prefixes": lambda n: "SO-" * (n // 3),
    "short words": lambda n: "ab " * (n // 3),
    "lead-ins": lambda n: "so " * (n // 3),
    "anchors": lambda n: "hab ich schon " * (n // 14),
    "dots": lambda n: "." * n,
    "dashes": lambda n: "a-" * (n // 2),
    "digit groups": lambda n: "1234 " * (n // 5),
    "iban-like": lambda n: "DE89 " * (n // 5),
}
IDENTIFIER = LanguageIdentifier.train({"en": ["how do I reset my password"], "de": ["wie setze ich mein passwort"],
                                       "da": ["hvordan nulstiller jeg min adgangskode"]})
FINDER = EntityFinder()
READERS: dict[str, Callable[[str], object]] = {
    "language features": features, "language identification": IDENTIFIER.identify,
    "is_question": dialogue.is_question, "severity": dialogue.assess_severity, "devices": dialogue.devices_in,
    "steps tried": dialogue.steps_tried_in, "fields named": dialogue.fields_named,
    "did not help": dialogue.says_not_helped, "do it for me": dialogue.asks_to_do_it, "entities": FINDER.find,
    "payment data masking": mask_payment_data,
}


def _seconds(reader: Callable[[str], object], text: str) -> float:
    """CPU seconds of this process (other processes loading the machine do not count)."""
    started = time.process_time()
    reader(text)
    return time.process_time() - started


@pytest.mark.parametrize("reader", READERS, ids=list(READERS))
def test_readers_cost_grows_linearly(reader: str) -> None:
    for shape, make in SHAPES.items():
        small = min(_seconds(READERS[reader], make(20_000)) for _ in range(3))
        large = min(_seconds(READERS[reader], make(40_000)) for _ in range(3))
        # quadratic work would be 4x; allow noise up to 3x, and ignore anything under 0.2 s (the e-mail
        # pattern that froze the bot took over 1 s at this size, so it would still fail)
        assert large < 0.2 or large < 3 * max(small, 0.005), (shape, small, large)
