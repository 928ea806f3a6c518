"""Customer scenarios, end to end: multi-turn conversations written the way customers type, run against
the real stack (Rasa, action server, handoff service, Redis) and checked for facts a customer, or the
agent receiving the ticket, cares about. The scenarios live in ``tests/e2e/scenarios/<lang>.yml``; they
come from the requirements (issue #12), the help-center titles and the escalation matrix, never from the
bot's training data or its current answers.

Scenario file
-------------
::

    language: en
    scenarios:
      - id: en-privacy-email-stranger        # unique; the pytest id
        class: privacy                       # one of CLASSES below
        description: one line
        actors:                              # optional; default: one anonymous actor `customer`
          anna: {email: anna.k@example.com}  # `email`: her contact address when the form asks for it
        known_problem:                       # optional: a lead declared this incident before the chat
          title: Streamly Stick plays nothing  # (POST /api/v1/lead/incidents: error_code, or category +
          error_code: E-2002                   # product, or article); it is resolved when the scenario ends
          jonas: {login: {id: c-1, name: Jonas, email: j@example.com, tier: vip}}   # signed in
          kim: {page_language: none}         # no page language in the metadata (default: the file's)
        turns: [...]
        checks: {...}                        # whole-conversation checks, run at the end

Every actor has its own conversation (sender id). Metadata sent with each message: ``language`` (the
page language) and, for a signed-in actor, ``auth_token`` = ``bot.identity.sign(CustomerIdentity(...),
FRONTDOOR_TOKEN_SECRET)``.

Customer turns (``turns:``; each may name ``actor:`` -- default the first actor -- and ``lang:`` -- the
language the customer writes in from this turn on, default the file's language; ``expect:`` lists checks
of the bot's answer, ``capture:`` stores values for ``${name}`` in later turns and checks):

- ``say: text`` -- the customer types ``text``.
- ``press: fragment`` -- the customer clicks the button of the bot's last answer whose payload contains
  ``fragment`` (only buttons the bot actually offered; a list = the first fragment offered). With
  ``optional: true`` the turn is left out when no such button was offered (set-up steps only).
- ``fill_form: {answers: {field: text}, confirm: text, stop_at_summary: bool, max_answers: n}`` -- the
  customer answers whatever the form asks (``tracker.slots.requested_slot``), field by field, from
  ``answers`` (then the actor's ``email`` for ``contact_email``, then a vague per-language answer; a vague
  answer asked again is answered with the language's skip word). ``until: field`` stops when the form
  asks that field (and fails if a ticket is opened first). When no field is asked and no ticket
  exists yet, the customer asks for a person (``start``, default per language) if no form ran in this
  conversation yet, and otherwise agrees (the summary, an offer) with ``confirm``. The step ends
  when the conversation has a ticket, or at the summary with ``stop_at_summary``. A scenario answer asked
  again right away fails (``form_accepts_answer``): the answer was refused or dropped.
- ``fix_known_problem: {message: {de: ..., en: ..., da: ...}}`` -- the lead resolves the scenario's
  ``known_problem`` (each linked conversation is told, in its language, with the message of its language);
  "the reply" of this step is what the actor's conversation received since (waited for, up to 30 s).
- ``skip_field: {field: f, attempts: [...], word: skip}`` -- the form asks ``f``; unless the bot already
  offers skipping it (see ``offers_skip``), the customer gives the unusable ``attempts`` one by one until
  it does, then types ``word`` (default: skip / überspringen / spring over). Fails when the bot never
  offers skipping or moves past ``f`` without offering it, when ``f`` is asked again after ``word``, or
  when ``word`` ends the form (no question, no summary repeating a collected value, no ticket).

Checks after a turn (``expect:``; a bare string or a one-key mapping). "The reply" is every bot message
of the step (text and buttons); "the state" is Rasa's tracker (``requested_slot``, ``active_loop``) and
the actor's ticket at the handoff service, both read after the step:

- ``article: id`` (or a list: any of them) -- the reply links ``/help/<lang>/<id>``, ``lang`` being the
  customer's current language. When the bot offers a choice instead and one button names the article,
  the customer clicks it (a turn of its own) and the link is looked for in that answer.
- ``not_article: id`` -- the reply does not link that article; ``no_article`` -- it links no article.
- ``asks: field`` (or a list) -- the form now asks that field; ``not_asks: field``;
  ``asks_again`` -- the form asks the same field it asked before this turn.
- ``no_form`` -- no form is active and no form field is asked.
- ``in_handoff`` -- the form asks a field, the summary waits for the customer's go-ahead (all was said
  already), or the actor's conversation has a ticket.
- ``language`` / ``language: xx`` -- every line of the reply of four words or more is in that language
  (default: the customer's current language), and no line holds a phrase of another language (three
  words, two of them that language's stop words, e.g. "(did not help)" in a Danish summary); judged by
  the stop-word detector in this file, never by the bot's own language identification.
- ``says_any: [regex]`` / ``says_all: [regex]`` -- facts only (references, codes, e-mail addresses);
  ``${name}`` in a pattern is replaced by the escaped captured value.
- ``not_contains: [text]`` -- no literal text in the reply (e.g. another customer's ``${ref}``).
- ``states_wait`` -- the reply states a wait: a duration (minutes, hours, days) or a clock time (UTC, read
  as minutes from now); it is recorded for ``same_wait``.
  ``states_wait: ticket`` -- and one stated duration equals the ticket's promised first response
  (``first_response_due - created_at``; tolerance max(3 min, 10 %)).
- ``about_ticket`` -- the reply is about the actor's ticket: it names its reference, its queue position
  or a duration (recorded for ``same_wait``).
- ``says_position`` -- the reply names the ticket's current queue position (from the status view).
- ``no_status`` -- the reply reveals no ticket: no reference (``T-`` and six digits) and no wait.
- ``offers_skip`` -- the reply offers skipping the question: a button named or sending skip/überspringen/
  spring over, a button that leaves the asked field empty (payload ``{"<field>": "none"}``), or a text
  inviting the customer to type the skip word.
- ``ticket_exists`` / ``no_ticket`` -- the actor's conversation has / has no ticket.
- ``slot: {field: value}`` -- the form field holds that value (case-insensitive; ``re:`` = regex).
- ``told_known_problem`` -- the conversation is linked to the scenario's ``known_problem`` (the bot told
  the customer it is known; Rasa's ``incident`` slot holds its id); ``not_told_known_problem`` -- it is not.

``then_never_asks: [fields]`` on a turn: from the next turn on, the form never asks these fields in that
actor's conversation (details given inside the form, whatever was asked when they were given).

Captures (``capture:``): ``name: regex`` (last match in every bot message of the actor so far; group 1
when the regex has a group) or ``name: {ticket: key}`` (a key of the actor's ticket, e.g. ``reference``).
A capture that finds nothing fails the scenario.

Whole-conversation checks (``checks:``):

- ``never_asks: [fields]`` or ``never_asks: any`` -- checked after every turn of every actor.
- ``not_contains: [text]`` or ``{actor: [text]}`` -- in no bot message of (that actor's) conversation.
- ``ticket: {...}`` or a list -- the actor's ticket read from the handoff API (bot token by conversation,
  then the agents' view with the lead token): ``actor``, ``queue``, ``priority`` (a value or a list),
  ``category``, ``fields: {name: value}`` (dotted names such as ``customer.email``; ``re:`` = regex, a
  list field such as ``steps_tried`` must contain the text), ``fields_not``, ``reference_not``,
  ``transcript_contains`` / ``transcript_not_contains`` (customer turns of the transcript),
  ``articles_shown: {id: feedback}``, ``channels: n`` (conversations attached to it).
- ``no_ticket: true`` or ``[actors]``.
- ``same_wait: true`` -- every duration recorded by ``states_wait`` / ``about_ticket`` agrees: one value
  appears (within tolerance) in every recorded answer.
- ``language_everywhere: true`` -- the ``language`` check on every turn of every actor.

A failure names the check and the turn, and shows the whole conversation so far (customer and bot
lines, buttons and the state after each turn) plus the state read for the check.

Run: ``.venv/bin/pytest tests/e2e/test_scenarios.py -m e2e`` (one stack for the session; ``-k de-`` for one
language); ``scripts/bench_scenarios.py`` prints pass rates per language and class as JSON.
"""

from __future__ import annotations

import re
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.identity import CustomerIdentity, sign
from stack.supervisor import Stack
from tests.e2e.conftest import http_json

pytestmark = pytest.mark.e2e

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
LANGS = ("en", "de", "da")
FIELDS = (
    "description",
    "category",
    "product",
    "error_code",
    "order_number",
    "invoice_number",
    "contact_email",
    "steps_tried",
    "impact",
    "urgency",
)
CLASSES = {
    "privacy": "an e-mail is contact data, never identity; only login, this conversation or the S- code",
    "context_words": "words read in context: 'cancel' in a question, 'skip' when offered, a pasted S- code",
    "form_digression": "a question inside the form gets an answer and the form asks again",
    "followup": "right after a ticket: status, position, wait, additions go to that ticket",
    "summary_correction": "free-text corrections at the summary change the field and show it again",
    "no_repeat": "details said once (order, device, error code, e-mail, tried steps) are never asked again",
    "severity": "severity from the customer's words -> the matrix's queue and priority, and the bot says so",
    "promise": "one consistent first-response / wait figure for a ticket",
    "out_of_scope": "other companies' products and accounts are declined without the form",
    "language": "every line in the customer's language; a switch is followed, links included",
    "typed_feedback": "typed 'did not help' works like the button; 'do it for me' gets a person",
    "basics": "paraphrased problems get the right article, the form asks only what is missing, right queue",
    "known_problem": "a problem many customers have right now: told at once, linked, told again when fixed",
}
TURN_KEYS = {"say", "press", "fill_form", "skip_field", "fix_known_problem"}
TURN_OPTIONS = {"actor", "lang", "expect", "capture", "optional", "then_never_asks"}
TURN_CHECKS = {
    "article",
    "not_article",
    "no_article",
    "asks",
    "not_asks",
    "asks_again",
    "no_form",
    "in_handoff",
    "language",
    "says_any",
    "says_all",
    "not_contains",
    "states_wait",
    "about_ticket",
    "says_position",
    "offers_skip",
    "ticket_exists",
    "no_ticket",
    "slot",
    "no_status",
    "told_known_problem",
    "not_told_known_problem",
}
SCENARIO_KEYS = {"id", "class", "description", "turns", "checks", "actors", "known_problem"}
WHOLE_CHECKS = {"never_asks", "not_contains", "ticket", "no_ticket", "same_wait", "language_everywhere"}
TICKET_KEYS = {
    "actor",
    "queue",
    "priority",
    "category",
    "fields",
    "fields_not",
    "reference_not",
    "transcript_contains",
    "transcript_not_contains",
    "articles_shown",
    "channels",
}
MAX_TURNS_PER_ACTOR = 10

# What a customer types when the form asks something the scenario did not plan an answer for.
VAGUE = {"en": "no idea sorry", "de": "keine ahnung, sorry", "da": "aner det ikke, beklager"}
SKIP_WORD = {"en": "skip", "de": "überspringen", "da": "spring over"}
CONFIRM = {
    "en": "yes thats all correct, please send it",
    "de": "ja passt so, bitte abschicken",
    "da": "ja det passer, send den bare",
}
START = {
    "en": "i'd like to talk to a person about this please",
    "de": "ich möchte bitte mit einem mitarbeiter darüber sprechen",
    "da": "jeg vil gerne tale med en medarbejder om det",
}
# What a customer says for the usual questions when the scenario has nothing more specific.
DEFAULT_ANSWERS = {
    "en": {"impact": "only me", "urgency": "normal, not super urgent", "steps_tried": "nothing else so far"},
    "de": {
        "impact": "nur ich",
        "urgency": "normal, nicht super dringend",
        "steps_tried": "sonst noch nichts",
    },
    "da": {
        "impact": "kun mig",
        "urgency": "normal, ikke super hastende",
        "steps_tried": "ikke andet indtil videre",
    },
}


# -- language detector (stop words; independent of the bot's own language identification) --------------

# Words that occur in two lists (e.g. "for" in English and Danish) are dropped from both below.
_STOP_RAW = {
    "en": " ".join(
        (
            "the and is are you your yours of with this that it its we our please can not have",
            "has been be was were what how when where which would should could do does did there",
            "here about yet if or my me just any into from they them their than then only still",
            "nothing none already us soon within team you're we'll i'll don't can't didn't for at",
            "also",
        )
    ),
    "de": " ".join(
        (
            "der die das und ist sind sie ihr ihre ihren ihrem ihrer ich wir nicht mit für auf",
            "ein eine einen einem einer dem den des zu zum zur bitte können kann wird werden",
            "haben hat noch auch oder wenn wie was uns unser unsere schon nur bei aus es dass",
            "gibt sich hier ob wurde danke sobald damit kein keine keinen mich dich dir mir ihnen",
            "euch also über nach vom von im bereits leider gerne möchten nichts",
        )
    ),
    "da": " ".join(
        (
            "og er det den du din dit dine jeg vi ikke med til på en et af for har kan vil skal",
            "eller hvis hvordan hvad os vores også kun fra der så nu her tak blevet være bliver",
            "endnu hvor mig dig om jer ved sig nogen noget efter hos når allerede venligst mere",
            "meget hjælpe hjælp desværre gerne mit dem",
        )
    ),
}
_ALL_WORDS = [set(words.split()) for words in _STOP_RAW.values()]
STOPWORDS = {
    lang: {w for w in words.split() if sum(w in s for s in _ALL_WORDS) == 1}
    for lang, words in _STOP_RAW.items()
}
_NOISE_RE = re.compile(
    r"https?://\S+|/help/\S+|\S+@\S+|\b[A-Z]{1,4}-[A-Za-z0-9_-]+|\*\*|__|`|\[|\]|\(|\)|#+", re.UNICODE
)
_WORD_RE = re.compile(r"[a-zäöüßæøå']+")


def language_scores(text: str) -> dict[str, int]:
    clean = _NOISE_RE.sub(" ", text).lower()
    words = _WORD_RE.findall(clean)
    scores = {lang: sum(1 for w in words if w in STOPWORDS[lang]) for lang in LANGS}
    scores["de"] += min(2, len(re.findall(r"[äöüß]", clean)))
    scores["da"] += min(2, len(re.findall(r"[æøå]", clean)))
    return scores


def wrong_language_lines(text: str, lang: str) -> list[str]:
    """Lines (of four words or more) that read as another language than ``lang``, and phrases of another
    language inside a line (three words, two of them another language's stop words, none of ``lang``'s,
    e.g. "(did not help)" in a Danish summary)."""
    bad = []
    chunks = [line for line in text.splitlines() if line.strip()]
    for n, chunk in enumerate([*chunks, text] if len(chunks) > 1 else chunks):
        clean = _NOISE_RE.sub(" ", chunk).lower()
        words = _WORD_RE.findall(clean)
        if len(words) >= 4:
            scores = language_scores(chunk)
            best = max(scores, key=lambda k: scores[k])
            if best != lang and scores[best] >= 2 and scores[best] >= scores[lang] + 2:
                bad.append(f"[{best}?] {' '.join(chunk.split())[:160]}")
                continue
        if n == len(chunks):  # the whole text: only as a whole, its phrases were looked at line by line
            continue
        for i in range(max(0, len(words) - 2)):
            window = words[i : i + 3]
            if any(w in STOPWORDS[lang] for w in window):
                continue
            other = next(
                (o for o in LANGS if o != lang and sum(w in STOPWORDS[o] for w in window) >= 2), None
            )
            if other:
                bad.append(f"[{other}? '{' '.join(window)}'] {chunk.strip()[:160]}")
                break
    return bad


# -- durations stated in a reply -----------------------------------------------------------------------

_NUM = r"\d+(?:[.,]\d+)?"
_UNIT = (
    r"(minutes?|minuten?|minutter|minut|mins?\.?|min\b|hours?|hrs?|h\b|stunden?|std\.?|timer|timen|time|"
    r"days?|tage?n?|werktage?n?|arbeitstage?n?|dage?|hverdage?|business days?)"
)
_DURATION_RE = re.compile(rf"({_NUM})(?:\s*(?:-|–|to|bis|til)\s*({_NUM}))?\s*{_UNIT}", re.IGNORECASE)
_WORD_DURATIONS = [
    (re.compile(r"\b(half an hour|halben stunde|halbe stunde|halv time|halvanden time)\b", re.I), 30),
    (re.compile(r"\b(quarter of an hour|viertelstunde|et kvarter)\b", re.I), 15),
    (re.compile(r"\b(an hour|one hour|einer stunde|eine stunde|en time|én time)\b", re.I), 60),
]


def _unit_minutes(unit: str) -> float:
    u = unit.lower().rstrip(".")
    if u.startswith("min"):
        return 1
    if u.startswith(("hour", "hr", "stund", "std", "time")) or u == "h":
        return 60
    return 1440


def durations(text: str) -> list[float]:
    """Every duration (in minutes) the text states."""
    clean = re.sub(r"\b[A-Z]{1,4}-[A-Za-z0-9_-]+", " ", text)
    found: list[float] = []
    for match in _DURATION_RE.finditer(clean):
        factor = _unit_minutes(match.group(3))
        for number in (match.group(1), match.group(2)):
            if number:
                found.append(float(number.replace(",", ".")) * factor)
    for pattern, minutes in _WORD_DURATIONS:
        if pattern.search(clean):
            found.append(float(minutes))
    return found


_CLOCK_RE = re.compile(r"(?<![\d:.,])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])")  # 09:30, never a date or price


def stated_waits(text: str, now: float | None = None) -> list[float]:
    """Durations the text states, plus clock times (UTC, the handoff service's default business-hours
    time zone) turned into minutes from now (next occurrence)."""
    found = durations(text)
    now = time.time() if now is None else now
    clean = re.sub(r"\b[A-Z]{1,4}-[A-Za-z0-9_-]+", " ", text)
    midnight = now - now % 86400
    for match in _CLOCK_RE.finditer(clean):
        at = midnight + int(match.group(1)) * 3600 + int(match.group(2)) * 60
        while at < now - 60:
            at += 86400
        found.append(round((at - now) / 60.0, 1))
    return found


def same_duration(a: float, b: float) -> bool:
    return abs(a - b) <= max(3.0, 0.1 * max(a, b))


# -- the conversation ------------------------------------------------------------------------------------


_SKIP_WORD_RE = re.compile(r"\bskip|überspring|ueberspring|\bspring\s+(?:\w+\s+)?over\b", re.IGNORECASE)
_SKIP_INVITE_RE = re.compile(
    r"[\"“„'«»‚‘]\s*(?:skip|überspringen|spring over)\s*[\"”“'«»‘’]"
    r"|\b(?:you can|or)\s+skip\b|\bskip (?:this|it)\b"
    r"|\b(?:können|kannst)\s+(?:sie|du)\b[^.?!]{0,40}\büberspringen\b|\büberspringen sie\b"
    r"|\bkan\s+(?:du\s+)?springe\b[^.?!]{0,30}\bover\b|\bspring\s+(?:det\s+|den\s+|spørgsmålet\s+)?over\b",
    re.IGNORECASE,
)


class ScenarioFailure(AssertionError):
    def __init__(self, check: str, turn: int, actor: str, detail: str) -> None:
        super().__init__(detail)
        self.check, self.turn, self.actor, self.detail = check, turn, actor, detail


@dataclass
class State:
    requested_slot: str | None
    active_loop: str | None
    slots: dict[str, Any]
    intent: str

    @property
    def asked(self) -> str | None:
        return self.requested_slot if self.active_loop and self.requested_slot in FIELDS else None

    def describe(self) -> str:
        filled = {k: v for k, v in self.slots.items() if k in FIELDS and v not in (None, "", [])}
        return (
            f"active_loop={self.active_loop} requested_slot={self.requested_slot} intent={self.intent} "
            f"fields={filled}"
        )


@dataclass
class Actor:
    name: str
    sender: str
    metadata: dict[str, Any]
    email: str = ""
    lang: str = "en"
    last_replies: list[dict[str, Any]] = field(default_factory=list)
    bot_texts: list[str] = field(default_factory=list)
    turns: int = 0
    form_seen: bool = False
    never: set[str] = field(default_factory=set)


@dataclass
class Entry:
    turn: int
    actor: str
    customer: str
    replies: list[dict[str, Any]]
    state: str


def reply_text(replies: Iterable[dict[str, Any]]) -> str:
    parts = []
    for reply in replies:
        if reply.get("text"):
            parts.append(str(reply["text"]))
        for button in reply.get("buttons", []) or []:
            parts.append(f"{button.get('title', '')}")
    return "\n".join(parts)


def reply_links(replies: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    links = []
    for reply in replies:
        blobs = [str(reply.get("text") or "")]
        blobs += [
            str(b.get("payload", "")) + " " + str(b.get("url", "")) for b in reply.get("buttons", []) or []
        ]
        for att in (reply.get("attachment"), reply.get("custom"), reply.get("image")):
            if att:
                blobs.append(str(att))
        for blob in blobs:
            links += re.findall(r"/help/(de|en|da)/([a-z0-9][a-z0-9-]*)", blob)
    return links


def buttons(replies: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for reply in replies for b in reply.get("buttons", []) or []]


class Runner:
    def __init__(self, stack: Stack, scenario: dict[str, Any], language: str) -> None:
        self.stack = stack
        self.scenario = scenario
        self.language = language
        s = stack.settings
        self.rasa = f"http://127.0.0.1:{s.rasa_port}"
        self.handoff = f"http://127.0.0.1:{s.handoff_port}"
        self.rasa_token = s.secrets["RASA_TOKEN"]
        self.bot_token = s.secrets["HANDOFF_BOT_TOKEN"]
        self.lead_token = s.secrets["FRONTDOOR_DEMO_AGENT_TOKEN"]
        self.vars: dict[str, str] = {}
        self.log: list[Entry] = []
        self.turn = 0
        self.waits: list[tuple[int, list[float]]] = []
        self.checks = scenario.get("checks") or {}
        never = self.checks.get("never_asks") or []
        self.never_asks: set[str] = set(FIELDS) if never == "any" else set(never)
        self.actors: dict[str, Actor] = {}
        run = uuid.uuid4().hex[:8]
        for name, spec in (scenario.get("actors") or {"customer": {}}).items():
            spec = spec or {}
            metadata: dict[str, Any] = {}
            page = spec.get("page_language", language)
            if page and page != "none":
                metadata["language"] = page
            email = spec.get("email", "")
            login = spec.get("login")
            if login:
                identity = CustomerIdentity(
                    str(login["id"]),
                    str(login["name"]),
                    str(login["email"]),
                    str(login.get("tier", "standard")),
                )
                metadata["auth_token"] = sign(identity, s.secrets["FRONTDOOR_TOKEN_SECRET"])
                email = email or str(login["email"])
            self.actors[name] = Actor(name, f"scn-{scenario['id']}-{name}-{run}", metadata, email, language)
        self.default_actor = next(iter(self.actors))
        self.ticket_error = ""
        self.incident = ""  # the scenario's known problem, once declared
        self.incident_open = False

    # -- reading state ---------------------------------------------------------------------------------
    def state(self, actor: Actor) -> State:
        url = f"{self.rasa}/conversations/{actor.sender}/tracker?token={self.rasa_token}"
        status, tracker = http_json(url)
        if status != 200 or not isinstance(tracker, dict):
            return State(None, None, {}, f"<tracker unavailable: {status}>")
        slots = tracker.get("slots") or {}
        loop = (tracker.get("active_loop") or {}).get("name")
        intent = ((tracker.get("latest_message") or {}).get("intent") or {}).get("name") or ""
        return State(slots.get("requested_slot"), loop, slots, intent)

    def read(self, url: str, token: str) -> tuple[int, Any]:
        """GET from the handoff service. A 5xx is retried twice (the API's contract for "the ticket store
        is not reachable, try again shortly"); each retry is printed so that the CI log shows it."""
        for attempt in range(3):
            status, body = http_json(url, token=token)
            if status < 500:
                break
            print(f"scenario {self.scenario['id']}: GET {url} answered {status} {str(body)[:200]} "
                  f"(attempt {attempt + 1})", file=sys.stderr)
            time.sleep(1.0)
        return status, body

    def status_view(self, actor: Actor) -> dict[str, Any] | None:
        self.ticket_error = ""  # the reason of this read's failure only, never an earlier one's
        status, body = self.read(f"{self.handoff}/api/v1/tickets/by-conversation/{actor.sender}", self.bot_token)
        if status != 200 or not isinstance(body, dict):
            if status != 404:
                self.ticket_error = f"the status view answered {status}: {str(body)[:300]}"
            return None
        return body

    def ticket(self, actor: Actor) -> dict[str, Any] | None:
        view = self.status_view(actor)
        if view is None:
            return None
        status, body = self.read(f"{self.handoff}/api/v1/agent/tickets/{view['reference']}", self.lead_token)
        if status != 200 or not isinstance(body, dict):
            self.ticket_error = f"the agents' view of {view['reference']} answered {status}: {str(body)[:300]}"
            return None
        body["_status_view"] = view
        return body

    # -- failing ---------------------------------------------------------------------------------------
    def fail(self, check: str, actor: Actor | None, detail: str, extra_state: str = "") -> None:
        read_failed = bool(self.ticket_error)  # before the state read below makes reads of its own
        lines = [
            f"FAILED {check} at turn {self.turn} ({actor.name if actor else '-'}): {detail}",
            f"scenario {self.scenario['id']} [{self.scenario['class']}]: {self.scenario['description']}",
            "--- conversation so far",
        ]
        for entry in self.log:
            lines.append(f"[{entry.turn}] {entry.actor}> {entry.customer}")
            for reply in entry.replies:
                text = str(reply.get("text") or "").replace("\n", "\n        ")
                if text:
                    lines.append(f"      bot> {text}")
                if reply.get("buttons"):
                    lines.append(
                        "      bot> [buttons: "
                        + ", ".join(f"{b.get('title')} -> {b.get('payload')}" for b in reply["buttons"])
                        + "]"
                    )
            lines.append(f"      state: {entry.state}")
        lines.append("--- state read")
        if actor is not None:
            lines.append(f"tracker: {self.state(actor).describe()}")
            view = self.status_view(actor)
            lines.append(f"ticket (status view): {view}")
        if extra_state:
            lines.append(extra_state)
        if read_failed:  # a read of the handoff service failed: what its log said last
            handoff = next(child for child in self.stack.children if child.name == "handoff")
            lines.append("--- handoff.log, last lines")
            lines.append(handoff.log_tail(20) or "<no handoff.log>")
        if self.vars:
            lines.append(f"captured: {self.vars}")
        raise ScenarioFailure(check, self.turn, actor.name if actor else "-", "\n".join(lines))

    # -- sending ---------------------------------------------------------------------------------------
    def send(self, actor: Actor, text: str) -> tuple[list[dict[str, Any]], State]:
        self.turn += 1
        actor.turns += 1
        status, replies = http_json(
            f"{self.rasa}/webhooks/rest/webhook",
            {"sender": actor.sender, "message": text, "metadata": actor.metadata},
            timeout=90.0,
        )
        if status != 200:
            self.fail("rest_channel", actor, f"the REST channel answered {status}: {replies}")
        replies = list(replies or [])
        actor.last_replies = replies
        actor.bot_texts += [str(r.get("text") or "") for r in replies]
        state = self.state(actor)
        actor.form_seen = actor.form_seen or bool(state.active_loop)
        self.log.append(Entry(self.turn, actor.name, text, replies, state.describe()))
        if state.asked and state.asked in actor.never:
            self.fail(
                "never_asks", actor, f"the form asks `{state.asked}` again, which the customer gave earlier"
            )
        if state.asked and state.asked in self.never_asks:
            why = (
                "this conversation must never reach the form"
                if self.never_asks == set(FIELDS)
                else "which the customer already gave"
            )
            self.fail("never_asks", actor, f"the form asks `{state.asked}`, {why}")
        return replies, state

    def sub(self, text: str, regex: bool = False) -> str:
        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.vars:
                self.fail("capture", None, f"${{{name}}} is used but was never captured")
            return re.escape(self.vars[name]) if regex else self.vars[name]

        return re.sub(r"\$\{(\w+)\}", repl, str(text))

    # -- turns -------------------------------------------------------------------------------------------
    def run(self) -> None:
        problem = self.scenario.get("known_problem")
        if problem:
            self.declare(problem)
        try:
            self.run_turns()
        finally:
            if problem and self.incident_open:
                self.fix(None)

    # the action server looks the open incidents up at most every CACHE_SECONDS (actions/incidents.py)
    INCIDENT_CACHE = 2.5

    def declare(self, problem: dict[str, Any]) -> None:
        status, body = http_json(f"{self.handoff}/api/v1/lead/incidents", dict(problem), token=self.lead_token)
        if status != 201:
            raise AssertionError(f"declaring the known problem failed: {status} {body}")
        self.incident = str(body["id"])
        self.incident_open = True
        time.sleep(self.INCIDENT_CACHE)

    def fix(self, message: dict[str, str] | None) -> None:
        status, body = http_json(f"{self.handoff}/api/v1/lead/incidents/{self.incident}/resolve",
                                 {"message": message or {}}, token=self.lead_token)
        if status != 200:
            raise AssertionError(f"resolving the known problem failed: {status} {body}")
        self.incident_open = False
        time.sleep(self.INCIDENT_CACHE)

    def fixed(self, actor: Actor, spec: dict[str, Any]) -> list[dict[str, Any]]:
        """The lead resolves the known problem; the actor's bot messages that arrive after it."""
        seen = len(self.bot_events(actor))
        self.fix(spec.get("message"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            events = self.bot_events(actor)
            if len(events) > seen:
                time.sleep(0.5)  # the rest of the same delivery
                return [{"text": e.get("text") or "", "buttons": (e.get("data") or {}).get("buttons") or []}
                        for e in self.bot_events(actor)[seen:]]
            time.sleep(0.3)
        self.fail("fix_known_problem", actor, "nothing reached the conversation within 30 s of the fix")
        return []

    def bot_events(self, actor: Actor) -> list[dict[str, Any]]:
        status, tracker = http_json(f"{self.rasa}/conversations/{actor.sender}/tracker?token={self.rasa_token}")
        if status != 200 or not isinstance(tracker, dict):
            return []
        return [e for e in tracker.get("events") or [] if e.get("event") == "bot"]

    def run_turns(self) -> None:
        for turn in self.scenario["turns"]:
            actor = self.actors[turn.get("actor", self.default_actor)]
            if turn.get("lang"):
                actor.lang = turn["lang"]
            before = self.state(actor)
            replies: list[dict[str, Any]] = []
            if "say" in turn:
                replies, _ = self.send(actor, self.sub(turn["say"]))
            elif "press" in turn:
                if turn.get("optional") and not self.offered(actor, turn["press"]):
                    continue
                replies = self.press(actor, turn["press"])
            elif "fill_form" in turn:
                replies = self.fill_form(actor, turn["fill_form"] or {})
            elif "skip_field" in turn:
                replies = self.skip_field(actor, turn["skip_field"])
            elif "fix_known_problem" in turn:
                replies = self.fixed(actor, turn["fix_known_problem"] or {})
                actor.last_replies = replies
            for check in turn.get("expect") or []:
                replies = self.check_turn(actor, check, replies, before)
            if self.checks.get("language_everywhere"):
                self.check_turn(actor, "language", replies, before)
            for name, spec in (turn.get("capture") or {}).items():
                self.capture(actor, name, spec)
            actor.never |= set(turn.get("then_never_asks") or [])
        self.check_whole()

    @staticmethod
    def offered(actor: Actor, fragment: str | list[str]) -> bool:
        frags = [fragment] if isinstance(fragment, str) else fragment
        return any(f in str(b.get("payload", "")) for f in frags for b in buttons(actor.last_replies))

    def press(self, actor: Actor, fragment: str | list[str]) -> list[dict[str, Any]]:
        offered = buttons(actor.last_replies)
        for frag in [fragment] if isinstance(fragment, str) else fragment:
            for button in offered:
                if frag in str(button.get("payload", "")):
                    replies, _ = self.send(actor, str(button["payload"]))
                    return replies
        self.fail(
            "press",
            actor,
            f"no button with a payload containing {fragment!r} was offered; offered: "
            f"{[b.get('payload') for b in offered]}",
        )
        return []

    def fill_form(self, actor: Actor, spec: dict[str, Any]) -> list[dict[str, Any]]:
        answers = {k: self.sub(v) for k, v in (spec.get("answers") or {}).items()}
        lang = actor.lang
        confirm = self.sub(spec.get("confirm") or CONFIRM[lang])
        max_answers = int(spec.get("max_answers", 8))
        collected: list[dict[str, Any]] = []
        given = confirms = 0
        last_field: str | None = None
        last_planned = False
        repeats = 0
        while True:
            if self.status_view(actor) is not None:
                if spec.get("stop_at_summary"):
                    self.fail("summary", actor, "a ticket was opened without showing the summary first")
                if spec.get("until"):
                    self.fail(
                        "fill_form", actor, f"a ticket was opened without the form asking `{spec['until']}`"
                    )
                return collected
            state = self.state(actor)
            asked = state.asked
            if spec.get("until") and asked == spec["until"]:
                return collected
            if asked is None:
                if spec.get("stop_at_summary") and confirms == 0 and (given > 0 or actor.form_seen):
                    return collected
                if confirms >= 3:
                    self.fail(
                        "fill_form", actor, "no ticket after asking for a person / agreeing three times"
                    )
                confirms += 1
                last_field = None
                text = confirm if actor.form_seen else self.sub(spec.get("start") or START[lang])
                replies, _ = self.send(actor, text)
                collected += replies
                continue
            if given >= max_answers:
                self.fail("form_stuck", actor, f"the form still asks `{asked}` after {given} answers")
            repeats = repeats + 1 if asked == last_field else 0
            if repeats and last_planned:
                self.fail(
                    "form_accepts_answer",
                    actor,
                    f"the form asked `{asked}` again right after the answer {answers.get(asked)!r}",
                )
            planned = asked in answers or (asked == "contact_email" and bool(actor.email))
            if asked in answers:
                text = answers[asked]
            elif asked == "contact_email" and actor.email:
                text = actor.email
            elif repeats:
                text = SKIP_WORD[lang]
            else:
                text = DEFAULT_ANSWERS[lang].get(asked, VAGUE[lang])
            if repeats >= 2:
                self.fail(
                    "form_stuck", actor, f"the form keeps asking `{asked}` (also after {SKIP_WORD[lang]!r})"
                )
            last_field, last_planned = asked, planned
            given += 1
            replies, _ = self.send(actor, text)
            collected += replies

    def skip_field(self, actor: Actor, spec: dict[str, Any]) -> list[dict[str, Any]]:
        target = spec["field"]
        word = spec.get("word") or SKIP_WORD[actor.lang]
        if self.state(actor).asked != target:
            self.fail("skip_field", actor, f"the form does not ask `{target}` (cannot test skipping it)")
        attempts = list(spec.get("attempts") or [])
        replies = actor.last_replies
        while not self.offers_skip(replies, target):
            if not attempts:
                self.fail("offers_skip", actor, f"the bot never offered to skip `{target}`")
            replies, state = self.send(actor, self.sub(attempts.pop(0)))
            if state.asked != target:
                self.fail(
                    "offers_skip",
                    actor,
                    f"the form moved past `{target}` after an unusable answer "
                    f"without offering to skip it (the customer could not skip it himself)",
                )
        before = self.state(actor)
        values = [
            str(v) for f, v in before.slots.items() if f in FIELDS and isinstance(v, str) and len(v) >= 5
        ]
        replies, state = self.send(actor, word)
        if state.asked == target:
            self.fail("skip", actor, f"{word!r} did not skip `{target}`: the form asks it again")
        text = reply_text(replies)
        summary_shown = any(v.lower() in text.lower() for v in values)
        if not state.asked and self.status_view(actor) is None and not summary_shown:
            self.fail(
                "skip",
                actor,
                f"{word!r} ended the form instead of skipping `{target}`: no question, no "
                f"summary (none of the collected values is repeated) and no ticket",
            )
        return replies

    @staticmethod
    def offers_skip(replies: list[dict[str, Any]], field_name: str = "") -> bool:
        """The reply offers skipping: a button named or sending skip/überspringen/spring over, a button that
        leaves ``field_name`` empty ("none"), or a text inviting the customer to type the skip word."""
        for button in buttons(replies):
            blob = f"{button.get('title', '')} {button.get('payload', '')}"
            if _SKIP_WORD_RE.search(blob):
                return True
            if field_name and re.search(
                rf'"{field_name}"\s*:\s*"(none|skip|)"', str(button.get("payload", ""))
            ):
                return True
        return bool(_SKIP_INVITE_RE.search(reply_text(r for r in replies if r.get("text"))))

    def capture(self, actor: Actor, name: str, spec: Any) -> None:
        if isinstance(spec, dict):
            ticket = self.ticket(actor)
            key = spec.get("ticket", "reference")
            if ticket is None or not ticket.get(key):
                self.fail(
                    "capture", actor, f"cannot capture {name}: no ticket (or no {key}) for this conversation"
                )
            self.vars[name] = str(ticket[key]) if ticket else ""
            return
        pattern = re.compile(str(spec))
        matches = [m for text in actor.bot_texts for m in pattern.finditer(text)]
        if not matches:
            self.fail("capture", actor, f"cannot capture {name}: no bot message matches {spec!r}")
        last = matches[-1]
        self.vars[name] = last.group(1) if pattern.groups else last.group(0)

    # -- checks after a turn -----------------------------------------------------------------------------
    def check_turn(
        self, actor: Actor, check: Any, replies: list[dict[str, Any]], before: State
    ) -> list[dict[str, Any]]:
        name, arg = (check, None) if isinstance(check, str) else next(iter(check.items()))
        text = reply_text(replies)
        state = self.state(actor)
        lang = actor.lang
        if name == "article":
            wanted = [arg] if isinstance(arg, str) else list(arg)
            links = reply_links(replies)
            if not any((lang, w) in links for w in wanted):
                choice = [b for b in buttons(replies) if any(w in str(b.get("payload", "")) for w in wanted)]
                if choice and not any(w for (_, w) in links if w in wanted):
                    replies, state = self.send(actor, str(choice[0]["payload"]))
                    links = reply_links(replies)
                if not any((lang, w) in links for w in wanted):
                    self.fail(
                        "article",
                        actor,
                        f"expected a link /help/{lang}/{' or '.join(wanted)}; "
                        f"links in the reply: {links or 'none'}",
                    )
        elif name == "not_article":
            if any(w == arg for (_, w) in reply_links(replies)):
                self.fail("not_article", actor, f"the reply links {arg} (again)")
        elif name == "no_article":
            if reply_links(replies):
                self.fail("no_article", actor, f"the reply links an article: {reply_links(replies)}")
        elif name == "asks":
            wanted = [arg] if isinstance(arg, str) else list(arg)
            if state.asked not in wanted:
                self.fail("asks", actor, f"expected the form to ask {wanted}; it asks {state.asked}")
        elif name == "not_asks":
            if state.asked == arg:
                self.fail("not_asks", actor, f"the form asks `{arg}`")
        elif name == "asks_again":
            if not before.asked:
                self.fail("asks_again", actor, "no form question was open before this turn")
            if state.asked != before.asked:
                self.fail(
                    "asks_again",
                    actor,
                    f"before the turn the form asked `{before.asked}`, now it asks "
                    f"{state.asked} (active_loop={state.active_loop})",
                )
        elif name == "no_form":
            if state.active_loop or state.requested_slot in FIELDS:
                self.fail("no_form", actor, f"a form is active: {state.describe()}")
        elif name == "in_handoff":
            if not state.asked and state.slots.get("review") != "confirm" and self.status_view(actor) is None:
                self.fail("in_handoff", actor, "no form question or summary is open and the conversation has no ticket")
        elif name == "language":
            want = arg or lang
            bad = wrong_language_lines(text, want)
            if bad:
                self.fail(
                    "language", actor, f"expected every line in {want}; these are not:\n  " + "\n  ".join(bad)
                )
        elif name in ("says_any", "says_all"):
            patterns = [self.sub(p, regex=True) for p in ([arg] if isinstance(arg, str) else arg)]
            hits = [bool(re.search(p, text, re.IGNORECASE)) for p in patterns]
            if (name == "says_any" and not any(hits)) or (name == "says_all" and not all(hits)):
                self.fail(name, actor, f"the reply should contain {name[5:]} of {patterns}")
        elif name == "not_contains":
            for value in [arg] if isinstance(arg, str) else arg:
                literal = self.sub(value)
                if literal.lower() in text.lower():
                    self.fail("not_contains", actor, f"the reply contains {literal!r}")
        elif name == "states_wait":
            found = stated_waits(text)
            if not found:
                self.fail("states_wait", actor, "the reply states no duration (minutes / hours / days)")
            if arg == "ticket":
                ticket = self.ticket(actor)
                if ticket is None:
                    self.fail("states_wait", actor, "no ticket to compare the stated duration with")
                promised = (
                    (float(ticket["first_response_due"]) - float(ticket["created_at"])) / 60.0
                    if ticket
                    else 0.0
                )
                if not any(same_duration(d, promised) for d in found):
                    self.fail(
                        "states_wait",
                        actor,
                        f"stated {found} minutes; the ticket promises a first "
                        f"response in {promised:.0f} minutes (priority {ticket and ticket['priority']})",
                    )
            self.waits.append((self.turn, found))
        elif name == "about_ticket":
            view = self.status_view(actor)
            if view is None:
                self.fail("about_ticket", actor, "the conversation has no ticket")
            found = stated_waits(text)
            assert view is not None
            mentions_ref = view["reference"] in text
            position = view.get("queue_position")
            mentions_pos = position is not None and self._says_number(text, int(position))
            if not (mentions_ref or mentions_pos or found):
                self.fail(
                    "about_ticket",
                    actor,
                    f"the reply names neither the ticket {view['reference']}, nor its "
                    f"queue position {position}, nor a wait",
                )
            if found:
                self.waits.append((self.turn, found))
        elif name == "says_position":
            view = self.status_view(actor)
            position = view and view.get("queue_position")
            if not position:
                self.fail("says_position", actor, f"the ticket has no queue position: {view}")
            if not self._says_number(text, int(position or 0)):
                self.fail("says_position", actor, f"the reply does not name the queue position {position}")
        elif name == "no_status":
            refs = re.findall(r"\bT-\d{6}\b", text)
            waits = durations(text)
            if refs or waits:
                self.fail(
                    "no_status", actor, f"the reply reveals a ticket status: references {refs}, waits {waits}"
                )
        elif name == "offers_skip":
            if not self.offers_skip(replies, state.asked or ""):
                self.fail("offers_skip", actor, "the reply does not offer skipping the question")
        elif name == "ticket_exists":
            if self.status_view(actor) is None:
                self.fail("ticket_exists", actor, "the conversation has no ticket")
        elif name == "no_ticket":
            if self.status_view(actor) is not None:
                self.fail("no_ticket", actor, "the conversation has a ticket")
        elif name == "slot":
            for key, value in arg.items():
                if not self._value_matches(state.slots.get(key), self.sub(value)):
                    self.fail("slot", actor, f"field {key} is {state.slots.get(key)!r}, expected {value!r}")
        elif name in ("told_known_problem", "not_told_known_problem"):
            linked = bool(self.incident) and state.slots.get("incident") == self.incident
            if linked != (name == "told_known_problem"):
                self.fail(name, actor, f"the conversation is {'not ' if not linked else ''}linked to the known "
                                       f"problem {self.incident or '(none declared)'}")
        return replies

    @staticmethod
    def _says_number(text: str, number: int) -> bool:
        clean = re.sub(r"\b[A-Z]{1,4}-[A-Za-z0-9_-]+|\S+@\S+|https?://\S+|/help/\S+", " ", text)
        if re.search(rf"(?<![\d.,:]){number}(?![\d:])", clean):
            return True
        ordinals = {1: r"next|first|nächste|erste|næste|første|vorne|forrest", 2: r"second|zweite|anden"}
        return number in ordinals and bool(re.search(rf"\b({ordinals[number]})", clean, re.IGNORECASE))

    @staticmethod
    def _value_matches(actual: Any, expected: str) -> bool:
        if isinstance(actual, list):
            joined = " | ".join(str(a) for a in actual)
            if expected.startswith("re:"):
                return bool(re.search(expected[3:], joined))
            return expected.lower() in joined.lower()
        actual_s = "" if actual is None else str(actual)
        if expected.startswith("re:"):
            return bool(re.search(expected[3:], actual_s))
        return actual_s.strip().lower() == expected.strip().lower()

    # -- whole-conversation checks -------------------------------------------------------------------
    def check_whole(self) -> None:
        checks = self.checks
        not_contains = checks.get("not_contains")
        if not_contains:
            mapping = (
                not_contains if isinstance(not_contains, dict) else {a: not_contains for a in self.actors}
            )
            for name, values in mapping.items():
                actor = self.actors[name]
                for value in values:
                    literal = self.sub(value)
                    for text in actor.bot_texts:
                        if literal.lower() in text.lower():
                            self.fail(
                                "not_contains",
                                actor,
                                f"a bot message to {name} contains {literal!r}: " f"{text[:200]!r}",
                            )
        no_ticket = checks.get("no_ticket")
        if no_ticket:
            for name in self.actors if no_ticket is True else no_ticket:
                if self.status_view(self.actors[name]) is not None:
                    self.fail("no_ticket", self.actors[name], "the conversation has a ticket")
        tickets = checks.get("ticket")
        for spec in [tickets] if isinstance(tickets, dict) else tickets or []:
            self.check_ticket(spec)
        if checks.get("same_wait"):
            if len(self.waits) < 2:
                self.fail("same_wait", None, f"fewer than two stated waits to compare: {self.waits}")
            candidates = self.waits[0][1]
            if not any(
                all(any(same_duration(c, d) for d in found) for _, found in self.waits) for c in candidates
            ):
                self.fail(
                    "same_wait",
                    self.actors[self.default_actor],
                    "the stated waits differ (turn: minutes): "
                    + "; ".join(f"{t}: {found}" for t, found in self.waits),
                )

    def check_ticket(self, spec: dict[str, Any]) -> None:
        actor = self.actors[spec.get("actor", self.default_actor)]
        ticket = self.ticket(actor)
        if ticket is None:
            self.fail("ticket", actor, self.ticket_error or "the conversation has no ticket")
        assert ticket is not None
        summary = {
            k: ticket.get(k)
            for k in (
                "reference",
                "queue",
                "priority",
                "category",
                "product",
                "error_code",
                "order_number",
                "invoice_number",
                "impact",
                "urgency",
                "steps_tried",
                "customer",
                "routing_rule",
                "priority_reasons",
                "articles_shown",
            )
        }
        extra = f"ticket (agents' view): {summary}"

        def bad(what: str) -> None:
            self.fail("ticket", actor, what, extra)

        if "queue" in spec and ticket["queue"] != spec["queue"]:
            bad(f"queue is {ticket['queue']}, expected {spec['queue']}")
        if "priority" in spec:
            allowed = [spec["priority"]] if isinstance(spec["priority"], str) else list(spec["priority"])
            if ticket["priority"] not in allowed:
                bad(f"priority is {ticket['priority']}, expected {' or '.join(allowed)}")
        if "category" in spec:
            allowed = [spec["category"]] if isinstance(spec["category"], str) else list(spec["category"])
            if ticket.get("category") not in allowed:
                bad(f"category is {ticket.get('category')}, expected {' or '.join(allowed)}")
        if "reference_not" in spec and ticket["reference"] == self.sub(spec["reference_not"]):
            bad(f"the conversation is linked to {ticket['reference']}, another customer's ticket")
        for key, value in (spec.get("fields") or {}).items():
            actual = self._dotted(ticket, key)
            if not self._value_matches(actual, self.sub(value)):
                bad(f"field {key} is {actual!r}, expected {value!r}")
        for key, value in (spec.get("fields_not") or {}).items():
            actual = self._dotted(ticket, key)
            if actual not in (None, "", []) and self._value_matches(actual, self.sub(value)):
                bad(f"field {key} is {actual!r}, which it must not be ({value!r})")
        customer_turns = [
            str(t.get("text", "")) for t in ticket.get("transcript", []) if t.get("sender") == "customer"
        ]
        joined = "\n".join(customer_turns).lower()
        for value in spec.get("transcript_contains") or []:
            if self.sub(value).lower() not in joined:
                bad(f"the transcript's customer turns lack {self.sub(value)!r}: {customer_turns[-6:]}")
        for value in spec.get("transcript_not_contains") or []:
            if self.sub(value).lower() in joined:
                bad(f"the transcript contains {self.sub(value)!r} (another customer's words)")
        shown = {a.get("id"): a.get("feedback") for a in ticket.get("articles_shown", [])}
        for article, feedback in (spec.get("articles_shown") or {}).items():
            if shown.get(article) != feedback:
                bad(f"articles_shown has {article}: {shown.get(article)}, expected {feedback} (all: {shown})")
        if "channels" in spec and len(ticket.get("channels", [])) != int(spec["channels"]):
            bad(f"{len(ticket.get('channels', []))} conversations are attached, expected {spec['channels']}")

    @staticmethod
    def _dotted(ticket: dict[str, Any], key: str) -> Any:
        value: Any = ticket
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value


# -- loading ---------------------------------------------------------------------------------------------


def _count_turns(turns: list[dict[str, Any]], actor: str) -> int:
    """Customer turns of one actor as written: one per say/press, the attempts and the word of a skip, and
    for the form steps one per distinct planned answer plus one agreement per step."""
    n = 0
    planned: set[str] = set()
    for turn in turns:
        if turn.get("actor", actor) != actor:
            continue
        if "fill_form" in turn:
            planned |= set((turn["fill_form"] or {}).get("answers") or {})
            n += 1
        elif "skip_field" in turn:
            n += len(turn["skip_field"].get("attempts") or []) + 1
        else:
            n += 1
    return n + len(planned)


def _validate(scenario: dict[str, Any], lang: str, where: str) -> None:
    def need(cond: bool, what: str) -> None:
        if not cond:
            raise ValueError(f"{where}: {what}")

    for key in ("id", "class", "description", "turns"):
        need(key in scenario, f"missing {key}")
    need(
        set(scenario) <= SCENARIO_KEYS,
        f"unknown keys {set(scenario) - SCENARIO_KEYS}",
    )
    need(scenario["class"] in CLASSES, f"unknown class {scenario['class']!r}")
    problem = scenario.get("known_problem")
    need(problem is None or (isinstance(problem, dict) and "title" in problem
                             and set(problem) <= {"title", "error_code", "category", "product", "article"}),
         "known_problem: {title, error_code | category + product | article}")
    need(problem is not None or not any("fix_known_problem" in t for t in scenario["turns"]),
         "fix_known_problem without a known_problem")
    need(scenario["id"].startswith((f"{lang}-", f"holdout-{lang}-", f"fresh-{lang}-")), "ids start with the language")
    actors = list((scenario.get("actors") or {"customer": {}}).keys())
    for i, turn in enumerate(scenario["turns"]):
        kinds = set(turn) & TURN_KEYS
        need(len(kinds) == 1, f"turn {i + 1} needs exactly one of {sorted(TURN_KEYS)}")
        need(
            set(turn) <= TURN_KEYS | TURN_OPTIONS,
            f"turn {i + 1}: unknown keys {set(turn) - TURN_KEYS - TURN_OPTIONS}",
        )
        need(turn.get("actor", actors[0]) in actors, f"turn {i + 1}: unknown actor")
        need(turn.get("lang", lang) in LANGS, f"turn {i + 1}: unknown lang")
        for check in turn.get("expect") or []:
            name = check if isinstance(check, str) else next(iter(check))
            need(name in TURN_CHECKS, f"turn {i + 1}: unknown check {name!r}")
            if name in ("asks", "not_asks"):
                values = check[name] if isinstance(check[name], list) else [check[name]]
                need(all(v in FIELDS for v in values), f"turn {i + 1}: unknown form field in {check}")
        if "fill_form" in turn:
            need(
                set(turn["fill_form"].get("answers") or {}) <= set(FIELDS),
                f"turn {i + 1}: unknown form field",
            )
    checks = scenario.get("checks") or {}
    need(set(checks) <= WHOLE_CHECKS, f"unknown whole-conversation checks {set(checks) - WHOLE_CHECKS}")
    never = checks.get("never_asks")
    need(never in (None, "any") or set(never) <= set(FIELDS), "never_asks: unknown field")
    tickets = checks.get("ticket")
    for spec in [tickets] if isinstance(tickets, dict) else tickets or []:
        need(set(spec) <= TICKET_KEYS, f"ticket: unknown keys {set(spec) - TICKET_KEYS}")
    total = 0
    for actor in actors:
        n = _count_turns(scenario["turns"], actor)
        need(
            n <= MAX_TURNS_PER_ACTOR, f"actor {actor} has {n} customer turns (at most {MAX_TURNS_PER_ACTOR})"
        )
        total += n
    need(total >= 3, f"only {total} customer turns (at least 3)")


SETS = {"suite": "{lang}.yml", "holdout": "holdout_{lang}.yml", "fresh": "fresh_{lang}.yml"}


def load_scenarios(directory: Path = SCENARIO_DIR, set_name: str = "suite") -> list[dict[str, Any]]:
    """Every scenario of every language file of one set, each with its ``language``; raises on a malformed
    file. ``suite`` (``<lang>.yml``) runs in ``make test``; ``holdout`` (``holdout_<lang>.yml``, written by a
    second author who saw neither the bot's data nor the suite's results) is a measurement only:
    ``scripts/bench_scenarios.py --set holdout``, never tuned on. ``fresh`` (``fresh_<lang>.yml``) is a
    third author's set, written in the tenth session after the holdout had been tuned on: measured the same
    way (``--set fresh``), never tuned on."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for lang in LANGS:
        path = directory / SETS[set_name].format(lang=lang)
        if not path.exists():
            continue
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if doc.get("language") != lang:
            raise ValueError(f"{path}: `language: {lang}` expected")
        for scenario in doc.get("scenarios") or []:
            where = f"{path.name}:{scenario.get('id', '?')}"
            _validate(scenario, lang, where)
            if scenario["id"] in seen:
                raise ValueError(f"{where}: duplicate id")
            seen.add(scenario["id"])
            out.append({**scenario, "language": lang})
    return out


def load_known_gaps(path: Path = SCENARIO_DIR / "known_gaps.yml") -> dict[str, str]:
    """Suite scenarios that still fail, each with its cause. They run as strict xfails: one that starts
    passing fails the run until its entry is removed, so the list can only shrink honestly."""
    if not path.exists():
        return {}
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(doc, dict) or not all(isinstance(v, str) and v.strip() for v in doc.values()):
        raise ValueError(f"{path}: a mapping of scenario id -> the cause, in one line")
    return {str(k): v for k, v in doc.items()}


def _params(scenarios: list[dict[str, Any]], gaps: dict[str, str]) -> list[Any]:
    unknown = set(gaps) - {s["id"] for s in scenarios}
    if unknown:
        raise ValueError(f"known_gaps.yml names scenarios that do not exist: {sorted(unknown)}")
    return [pytest.param(s, id=s["id"], marks=[pytest.mark.xfail(strict=True, reason=gaps[s["id"]])]
                         if s["id"] in gaps else []) for s in scenarios]


SCENARIOS = load_scenarios()
HOLDOUT = load_scenarios(set_name="holdout")
FRESH = load_scenarios(set_name="fresh")
KNOWN_GAPS = load_known_gaps()


def test_every_class_is_covered_in_every_language() -> None:
    for lang in LANGS:
        mine = [s for s in SCENARIOS if s["language"] == lang]
        assert len(mine) >= 22, f"{lang}: {len(mine)} scenarios"
        missing = set(CLASSES) - {s["class"] for s in mine}
        assert not missing, f"{lang}: no scenario for {sorted(missing)}"


@pytest.mark.parametrize("scenario", _params(SCENARIOS, KNOWN_GAPS))
def test_scenario(stack: Stack, scenario: dict[str, Any], record_property: Any) -> None:
    run_scenario(stack, scenario, record_property)


@pytest.mark.holdout
@pytest.mark.parametrize("scenario", HOLDOUT, ids=[s["id"] for s in HOLDOUT])
def test_holdout_scenario(stack: Stack, scenario: dict[str, Any], record_property: Any) -> None:
    run_scenario(stack, scenario, record_property)


@pytest.mark.holdout
@pytest.mark.parametrize("scenario", FRESH, ids=[s["id"] for s in FRESH])
def test_fresh_scenario(stack: Stack, scenario: dict[str, Any], record_property: Any) -> None:
    run_scenario(stack, scenario, record_property)


def run_scenario(stack: Stack, scenario: dict[str, Any], record_property: Any) -> None:
    record_property("scenario_class", scenario["class"])
    record_property("scenario_language", scenario["language"])
    started = time.monotonic()
    runner = Runner(stack, scenario, scenario["language"])
    failure: ScenarioFailure | None = None
    try:
        runner.run()
    except ScenarioFailure as exc:
        failure = exc
    record_property("seconds", round(time.monotonic() - started, 1))
    if failure is not None:
        record_property("first_failing_check", f"{failure.check} (turn {failure.turn}, {failure.actor})")
        pytest.fail(str(failure), pytrace=False)
