"""Fuzzing the public REST chat webhook on the real stack (issue 13), seeded and bounded (about 200
requests): bodies that are not a message, messages over the 4,000-character limit up to 1 MB, deep nesting,
lone surrogates, control characters, odd metadata, payloads the bot never offered (also with the
whitespace Rasa strips in front), and random text in German, English and Danish.

No answer is a 5xx; a body that is not a message or a message over the limit is refused (4xx, or the
channel's polite reply) in under a second, measured per request; an injected payload never reaches the
bot, so it creates no ticket, rates or closes none and shows no staff message; and afterwards a "hello"
in a fresh conversation gets a normal answer within a few seconds.
"""

from __future__ import annotations

import json
import random
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from rasa_ext.rest_channel import MAX_MESSAGE_CHARS, not_offered_reply, too_long_reply
from stack.supervisor import Stack
from tests.e2e.conftest import agent_token, handoff_get, http_json

pytestmark = pytest.mark.e2e

SEED = 20_251_124
REFUSAL_SECONDS = 1.0  # the limit, for refusals only (a normal bot turn may take longer)
TURN_SECONDS = 30.0
LANGUAGES = ("de", "en", "da")
MARKER = "FUZZ-STAFF-7Q"  # text of a forged agent message: must never be shown
NOT_OFFERED = {lang: not_offered_reply({"language": lang}) for lang in LANGUAGES}
TOO_LONG = {lang: too_long_reply({"language": lang}) for lang in LANGUAGES}
REFUSALS = {*NOT_OFFERED.values(), *TOO_LONG.values()}
INTERNAL_INTENTS = {"rate", "agent_message", "ticket_resolved", "EXTERNAL_retry_ticket", "session_start",
                    "restart", "feedback_helped", "feedback_not_helped", "choose_article", "correct_field"}
WORDS = {
    "de": "hallo mein passwort funktioniert nicht rechnung abo doppelt abgebucht fernseher ruckelt bitte hilfe "
          "kündigen warum größe über straße ärger".split(),
    "en": "hello my password does not work invoice subscription charged twice tv buffering please help cancel "
          "why refund account locked".split(),
    "da": "hej min adgangskode virker ikke faktura abonnement trukket to gange tv hakker hjælp opsige hvorfor "
          "på grød blåbær".split(),
}
# scripts, combining marks, right-to-left, emoji, zero-width and private-use characters
ODD_CHARACTERS = [chr(c) for c in (*range(0x391, 0x3A9), *range(0x410, 0x42F), 0x5D0, 0x627, 0x4E2D, 0x6587,
                                   0x1F600, 0x1F4A9, 0x301, 0x308, 0x200B, 0x200D, 0x202E, 0xFEFF, 0xE000, 0xFFFD)]


@pytest.fixture(scope="module")
def webhook(stack: Stack) -> Iterator[tuple[str, requests.Session]]:
    with requests.Session() as session:
        yield f"http://127.0.0.1:{stack.settings.rasa_port}/webhooks/rest/webhook", session


def sender() -> str:
    return f"fuzz-{uuid.uuid4().hex[:10]}"


def post(webhook: tuple[str, requests.Session], body: bytes,
         content_type: str = "application/json") -> tuple[requests.Response, float]:
    url, session = webhook
    started = time.monotonic()
    response = session.post(url, data=body, headers={"Content-Type": content_type}, timeout=60)
    return response, time.monotonic() - started


def message(who: str, text: str, language: Any = "en", **extra: Any) -> bytes:
    body = {"sender": who, "message": text, "metadata": {"language": language}, **extra}
    return json.dumps(body).encode("utf-8", "surrogatepass")  # lone surrogates as \\udXXX escapes


def replies_of(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, (response.status_code, response.text[:300])
    replies = response.json()
    assert isinstance(replies, list) and all(isinstance(r, dict) for r in replies), replies
    assert all(MARKER not in str(r.get("text", "")) for r in replies), replies
    return replies


def assert_refused(response: requests.Response, elapsed: float, what: str) -> None:
    """Refused: a 4xx with a JSON reason, or 200 with only the channel's own reply; in under a second."""
    assert response.status_code < 500, (what, response.status_code, response.text[:300])
    assert elapsed < REFUSAL_SECONDS, f"{what}: took {elapsed:.2f} s to refuse"
    if 400 <= response.status_code < 500:
        assert "error" in response.json() or response.status_code == 429, (what, response.text[:300])
    else:
        texts = [r.get("text") for r in replies_of(response)]
        assert texts and all(t in REFUSALS for t in texts), (what, texts)


# -- what the webhook is sent ---------------------------------------------------------------------------


def malformed_bodies(rng: random.Random) -> list[tuple[str, bytes, str]]:
    """Bodies that are not a customer's message: (label, body, content type)."""
    who = sender()
    fixed: list[tuple[str, bytes]] = [
        ("empty", b""), ("not json", b"not json"), ("truncated", b'{"sender": "a", "message": '),
        ("invalid utf-8", b'{"sender": "a", "message": "\xff\xfe"}'), ("bom", b'\xef\xbb\xbf{"sender": "a"}'),
        ("utf-16", json.dumps({"sender": who, "message": "hi"}).encode("utf-16")),
        ("array", b"[]"), ("array of a message", json.dumps([{"sender": who, "message": "hi"}]).encode()),
        ("string", b'"hello"'), ("number", b"42"), ("null", b"null"), ("true", b"true"), ("NaN", b"NaN"),
        ("huge number", b"1" + b"0" * 5000), ("deep list", b"[" * 100_000 + b"]" * 100_000),
        ("deep object", b'{"a":' * 50_000 + b"1" + b"}" * 50_000), ("nul", b"\x00" * 64),
        ("no sender", json.dumps({"message": "hi"}).encode()), ("no message", json.dumps({"sender": who}).encode()),
        ("sender too long", message("s" * 201, "hi")), ("blank sender", message("   ", "hi")),
        ("metadata a list", json.dumps({"sender": who, "message": "hi", "metadata": []}).encode()),
        ("metadata a string", json.dumps({"sender": who, "message": "hi", "metadata": "de"}).encode()),
        ("metadata NaN", b'{"sender": "%s", "message": "hi", "metadata": NaN}' % who.encode()),
        ("lone high surrogate", message(sender(), "hallo \ud800")), ("lone low surrogate", message(who, "\udfff hi")),
        ("surrogate sender", message("fuzz-\ud800-" + uuid.uuid4().hex[:6], "hello")),
        ("surrogate metadata", message(who, "hello", "\ud83d")),
    ]
    odd: list[Any] = [None, 1, 1.5, True, [], {}, ["hi"], {"text": "hi"}, 10**30]
    for value in odd:
        fixed.append((f"sender={value!r}", json.dumps({"sender": value, "message": "hi"}).encode()))
        fixed.append((f"message={value!r}", json.dumps({"sender": sender(), "message": value}).encode()))
    for i in range(8):
        fixed.append((f"random bytes {i}", rng.randbytes(rng.randrange(1, 300))))
    cases = [(label, body, "application/json") for label, body in fixed]
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        cases.append((f"form as {content_type}", b"sender=a&message=hi", content_type))
    return cases


def long_messages(rng: random.Random) -> list[tuple[str, bytes, str]]:
    """Over the limit, up to about 1 MB, in each language (the reply names the limit in it)."""
    cases = []
    for length in (MAX_MESSAGE_CHARS + 1, 5_000, 20_000, 100_000, 400_000, 1_000_000):
        language = rng.choice(LANGUAGES)
        text = " ".join(rng.choice(WORDS[language]) for _ in range(length // 4 + 1))[:length]
        cases.append((f"{length} characters ({language})", language, message(sender(), text, language)))
    # the same over-long message with every kind of odd metadata language
    for language in ([], {}, 1, None, "xx", ["de"]):
        body = json.dumps({"sender": sender(), "message": "x" * 5_000, "metadata": {"language": language}}).encode()
        cases.append((f"5000 characters, language={language!r}", "en", body))
    return [(label, body, language) for label, language, body in cases]


PAYLOADS = [
    '/rate{{"ticket_reference": "{ref}", "rating": 1}}', '/rate{{"ticket": "{ref}", "rating": 1}}',
    '/agent_message{{"agent_text": "' + MARKER + '", "agent_name": "Mallory"}}',
    '/ticket_resolved{{"reference": "{ref}"}}', "/EXTERNAL_retry_ticket", "/restart", "/session_start",
    "/feedback_not_helped", '/inform{{"email": "mallory@example.com"}}', "/request_human",
]
# what Rasa's UserMessage strips before it reads a message as an intent
WRAPPERS = ["{}", " {}", "\n{}", "\t{} ", "\u00a0{}", "\u2003\u3000{}"]


def random_text(rng: random.Random, language: str) -> str:
    parts = [rng.choice(WORDS[language]) for _ in range(rng.randrange(1, 12))]
    for _ in range(rng.randrange(0, 4)):
        parts.insert(rng.randrange(len(parts) + 1), "".join(rng.choices(ODD_CHARACTERS, k=rng.randrange(1, 4))))
    text = " ".join(parts)
    return text.upper() if rng.random() < 0.1 else text


def odd_texts(rng: random.Random) -> list[tuple[str, str, str, Any]]:
    """Messages that are text, but odd: (label, sender, text, page language). Normal bot turns, not timed."""
    cases: list[tuple[str, str, str]] = [
        ("control characters", sender(), "hi\x00\x01\x1b[31m\x7f\r\n\tthere"), ("only spaces", sender(), "   "),
        ("empty", sender(), ""), ("only a slash", sender(), "/"), ("slash text", sender(), "/ my tv is broken"),
        ("nul sender", "fuzz\x00" + uuid.uuid4().hex[:6], "hello"), ("path sender", "../../" + sender(), "hello"),
        ("exactly the limit", sender(), "a " * (MAX_MESSAGE_CHARS // 2)),
    ]
    for language in LANGUAGES:
        cases += [(f"random {language}", sender(), random_text(rng, language)) for _ in range(6)]
    odd_languages: list[Any] = [[], {}, 1, None, "xx", ["de"]]  # on a normal message
    return ([(label, who, text, rng.choice(LANGUAGES)) for label, who, text in cases]
            + [(f"hello, language={lang!r}", sender(), "hello", lang) for lang in odd_languages])


# -- the test ---------------------------------------------------------------------------------------------


def victim_ticket(stack: Stack) -> str:
    """A resolved ticket of another conversation: what a forged /rate would rate and close."""
    base = f"http://127.0.0.1:{stack.settings.handoff_port}"
    body = {"conversation_id": f"victim-{uuid.uuid4().hex[:8]}", "channel": "rest", "language": "en",
            "description": "My TV app shows error E42."}
    status, created = http_json(base + "/api/v1/tickets", body, token=stack.settings.secrets["HANDOFF_BOT_TOKEN"])
    assert status == 201, created
    ref = created["reference"]
    status, resolved = http_json(f"{base}/api/v1/agent/tickets/{ref}/resolve", {"resolution": "restarted"},
                                 token=agent_token(stack))
    assert status == 200, resolved
    return str(ref)


class Findings:
    """The failed checks of a test that sends many requests, reported together with their inputs."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    @contextmanager
    def check(self, what: str) -> Iterator[None]:
        try:
            yield
        except AssertionError as exc:
            self.failures.append(f"{what}: {exc}"[:600])

    def assert_none(self) -> None:
        assert not self.failures, f"{len(self.failures)} failed:\n" + "\n".join(self.failures)


def test_the_webhook_survives_hostile_bodies_and_refuses_them_quickly(
        stack: Stack, webhook: tuple[str, requests.Session]) -> None:
    rng = random.Random(SEED)
    findings = Findings()
    for label, body, content_type in malformed_bodies(rng):
        response, elapsed = post(webhook, body, content_type)
        with findings.check(label):
            assert_refused(response, elapsed, label)
    for label, body, language in long_messages(rng):
        response, elapsed = post(webhook, body)
        with findings.check(label):
            assert_refused(response, elapsed, label)
            assert [r.get("text") for r in replies_of(response)] == [TOO_LONG[language]]
    for label, who, text, language in odd_texts(rng):
        response, elapsed = post(webhook, message(who, text, language))
        with findings.check(label):  # a normal bot turn: no 5xx, a list of replies, in reasonable time
            assert response.status_code < 500, (response.status_code, response.text[:300])
            assert elapsed < TURN_SECONDS, f"took {elapsed:.1f} s"
            if response.status_code == 200:
                replies_of(response)
    findings.assert_none()


def test_payloads_the_bot_never_offered_do_nothing(stack: Stack, webhook: tuple[str, requests.Session]) -> None:
    ref = victim_ticket(stack)
    senders = []
    findings = Findings()
    for template in PAYLOADS:
        for wrapper in WRAPPERS:
            who, language = sender(), LANGUAGES[len(senders) % 3]
            text = wrapper.format(template.format(ref=ref))
            response, elapsed = post(webhook, message(who, text, language))
            senders.append(who)
            with findings.check(repr(text)):
                assert_refused(response, elapsed, repr(text))
                assert [r.get("text") for r in replies_of(response)] == [NOT_OFFERED[language]]
    findings.assert_none()
    s = stack.settings
    for who in senders:  # none reached the bot, none opened a ticket
        status, tracker = http_json(f"http://127.0.0.1:{s.rasa_port}/conversations/{who}/tracker"
                                    f"?token={s.secrets['RASA_TOKEN']}")
        assert status == 200
        intents = [e["parse_data"]["intent"].get("name") for e in tracker["events"] if e["event"] == "user"]
        assert not INTERNAL_INTENTS & set(intents), (who, intents)
        status, _ = handoff_get(stack, f"/api/v1/tickets/by-conversation/{urllib.parse.quote(who)}")
        assert status == 404, who
    status, ticket = handoff_get(stack, f"/api/v1/agent/tickets/{ref}", token=agent_token(stack))
    assert status == 200 and ticket["status"] == "resolved" and ticket["rating"] is None, ticket
    assert [h["action"] for h in ticket["history"]][-1] == "resolved", ticket["history"]


def test_after_the_fuzzing_a_new_conversation_is_answered_normally(webhook: tuple[str, requests.Session]) -> None:
    response, elapsed = post(webhook, message(sender(), "hello", "en"))
    texts = [r.get("text", "") for r in replies_of(response)]
    assert texts and not REFUSALS & set(texts) and any("Streamly assistant" in t for t in texts), texts
    assert elapsed < 5.0, f"hello took {elapsed:.1f} s"
