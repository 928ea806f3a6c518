"""Fuzzing the handoff API from its OpenAPI document (issue 13), bounded and seeded so that it runs in
`make test` and fails the same way twice.

For every operation in ``openapi_document()``:
- schemathesis generates requests from the document (its examples, coverage and fuzzing phases: path
  parameters, query strings, JSON bodies that match the schema and bodies that violate it), sent with the
  right token or a wrong/missing one;
- two sweeps send what a schema generator does not, exhaustively: each hostile value (numbers too big for a
  float, NaN/Infinity literals, lone UTF-16 surrogates, NUL, text over the limits, wrong types, nesting
  thousands deep) in each field of an otherwise valid body, and each hostile segment (percent-encoded
  garbage, invalid UTF-8, over length) in each path and query parameter;
- Hypothesis strategies mix them at random with bodies that are not JSON or not an object, over the size
  limit, under wrong content types, with every kind of token.

Every response must be: no 5xx; a 4xx is a JSON object ``{"error": ..., "detail": ...}`` sent in under a
second; a 2xx is strict JSON (no NaN, no lone surrogate) and conforms to the response schema the document
gives for it.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.specs.openapi.checks import content_type_conformance

from handoff.openapi import openapi_document
from tests.fuzz.conftest import AGENT, BOT, HELPDESK, LEAD, Known, LiveHandoff

SEED = 20_251_124
REFUSAL_SECONDS = 1.0  # the limit for refusing a request
DOCUMENT = openapi_document()
METHODS = ("get", "post", "put", "patch", "delete")
OPERATIONS = [(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item
              if method in METHODS]
MAX_BODY = 256 * 1024  # handoff Settings.client_max_size

schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict({
    "seed": SEED,
    "generation": {"deterministic": True, "database": "none", "max-examples": 10},
}))
FUZZ_SETTINGS: dict[str, Any] = {
    "derandomize": True, "database": None, "deadline": None, "print_blob": False,  # refusal times are checked
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
}

# Authorization headers: the operation's own token ("right") most often, then every other kind
AUTH: dict[str, str | None] = {
    "bot": f"Bearer {BOT}",
    "agent": f"Bearer {AGENT}",
    "lead": f"Bearer {LEAD}",
    "helpdesk": f"Bearer {HELPDESK}",
    "none": None,
    "unknown": "Bearer not-a-token",
    "basic": f"Basic {BOT}",
    "empty": "Bearer ",
    "lowercase": f"bearer {BOT}",
    "long": "Bearer " + "x" * 4000,  # under aiohttp's 8 KiB header line limit, which is answered before the app
}
AUTH_KINDS = ["right"] * len(AUTH) + list(AUTH)
AUTH_CHOICES = st.sampled_from(AUTH_KINDS)


def right_auth(method: str, path: str) -> str | None:
    security = DOCUMENT["paths"][path][method.lower()].get("security", [])
    scheme = next(iter(security[0]), None) if security else None
    if scheme == "botToken":
        return AUTH["bot"]
    if scheme == "helpdeskToken":
        return AUTH["helpdesk"]
    if scheme == "agentToken":
        return AUTH["lead" if path.startswith("/api/v1/lead/") else "agent"]
    return None


def known_values(known: Known, name: str) -> tuple[str, ...]:
    return {"ref": known.refs, "secret": known.secrets, "conversation_id": known.conversations,
            "customer_id": known.customers, "name": ("console.js", "console.css"), "id": known.incidents}.get(name, ())


# -- the checks every response must pass ---------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(raw: bytes) -> Any:
    """Parse as RFC 8259 JSON: UTF-8, no NaN/Infinity, no lone surrogate in any text."""
    value = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError on a lone surrogate
    return value


def check_response(case: schemathesis.Case, sent: requests.Response | schemathesis.Response, elapsed: float) -> None:
    response = schemathesis.Response.from_any(sent)
    what = f"{case.operation.label} -> {response.status_code}: {response.content[:300]!r}"
    assert response.status_code < 500, what
    content_type = response.headers.get("content-type", [""])[0]
    if 400 <= response.status_code < 500:
        assert content_type.startswith("application/json"), what
        body = strict_json(response.content)
        assert isinstance(body, dict) and set(body) == {"error", "detail"}, what
        assert isinstance(body["error"], str) and isinstance(body["detail"], str), what
        assert elapsed < REFUSAL_SECONDS, f"{what} took {elapsed:.2f} s to refuse"
    elif 200 <= response.status_code < 300 and content_type.startswith("application/json"):
        strict_json(response.content)
    # the document's response schema (2xx and documented 4xx) and content type
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance,
                                             content_type_conformance])


class Sweep:
    """Collects the failed checks of a sweep, which sends hundreds of requests in one test, and reports
    them all at the end, each with the input that caused it."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    @contextmanager
    def check(self, what: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - an assertion or a schema violation: both are findings
            self.failures.append(f"with {what}: {str(exc)[:500]}")

    def assert_clean(self) -> None:
        assert not self.failures, f"{len(self.failures)} failed:\n" + "\n".join(self.failures[:30])


def send(session: requests.Session, method: str, url: str, **kwargs: Any) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = session.request(method, url, allow_redirects=False, timeout=10, **kwargs)
    return response, time.monotonic() - started


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


# -- 1. schemathesis, from the document ----------------------------------------------------------------


@schema.parametrize()
@settings(**FUZZ_SETTINGS)
def test_every_operation_from_the_document(case: schemathesis.Case, live_handoff: LiveHandoff,
                                           session: requests.Session) -> None:
    """Schemathesis' examples, coverage (boundary and schema-violating values, unexpected methods) and
    fuzzing phases. The token and whether a path parameter names an existing ticket are picked from a hash
    of the case (an extra ``@given`` would turn the coverage phase off)."""
    method, path = case.operation.method.upper(), case.operation.path
    pick = zlib.crc32(repr((case.method, case.path_parameters, case.query, case.body)).encode())
    for name in case.path_parameters or {}:  # half the time an id that exists, so the 2xx paths are reached
        values = known_values(live_handoff.known, name)
        if pick % 8 < len(values):
            case.path_parameters[name] = values[pick % 8]
    auth = AUTH_KINDS[pick // 8 % len(AUTH_KINDS)]
    header = right_auth(method, path) if auth == "right" else AUTH[auth]
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    case.headers = headers if header is None else {**headers, "Authorization": header}
    started = time.monotonic()
    response = case.call(base_url=live_handoff.url, session=session, allow_redirects=False, timeout=10)
    check_response(case, response, time.monotonic() - started)


# -- 2. what a schema generator does not send ------------------------------------------------------------


class Raw:
    """A JSON literal written as is into the body (NaN, 1e999, a 400-digit integer, ``"\\ud800"`` ...)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r}{'...' if len(self.text) > 40 else ''})"


def _deep(depth: int, kind: str) -> Raw:
    return Raw("[" * depth + "]" * depth if kind == "list" else '{"a":' * depth + "1" + "}" * depth)


HOSTILE_VALUES: list[Any] = [
    # numbers JSON allows but a float cannot hold, and the literals it does not allow
    Raw("NaN"), Raw("-Infinity"), Raw("1e999"), Raw("1e-999"), Raw("-" + "9" * 400), Raw("1" + "0" * 5000),
    2**63, 1.5,
    # text: lone surrogates, NUL and control characters, over the field limits
    Raw('"\\ud800"'), Raw('"ok\\ud83d"'), "\x00", "\x1b[31m\r\n\t\u202e", "", " ", "x" * 5_001,
    # other types, and nesting deeper than any parser's recursion limit
    True, None, [], {"fuzz": 1}, _deep(990, "list"), _deep(990, "dict"), _deep(100_000, "list"),
]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = DOCUMENT["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def plausible(node: dict[str, Any]) -> Any:
    """A value of ``node``'s type: objects with their required properties and any nested objects, so a
    hostile value can be put deep inside a body that is otherwise accepted."""
    node = _resolve(node)
    kind = node.get("type")
    if "enum" in node:
        return node["enum"][0]
    if kind == "object":
        props = node.get("properties", {})
        nested = [k for k, v in props.items() if _resolve(v).get("type") == "object"
                  or _resolve(_resolve(v).get("items", {})).get("type") == "object"]
        return {k: plausible(props[k]) for k in dict.fromkeys([*node.get("required", []), *nested]) if k in props}
    if kind == "array":
        items = node.get("items", {"type": "string"})
        return [plausible(items)] if _resolve(items).get("type") == "object" else []
    return {"integer": node.get("minimum", 1), "number": 1.0, "boolean": True}.get(str(kind), "fuzz")


Path = tuple[str | int, ...]


def field_paths(node: dict[str, Any], value: Any, at: Path = ()) -> list[Path]:
    """Every declared property of every object in ``value`` (present or not), and one undeclared one."""
    node = _resolve(node)
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in field_paths(node.get("items", {}), item, (*at, i))]
    if not isinstance(value, dict):
        return []
    props = node.get("properties", {})
    paths = [(*at, key) for key in [*props, "extra"]]
    return paths + [p for key, child in value.items() for p in field_paths(props.get(key, {}), child, (*at, key))]


def put(body: Any, path: Path, value: Any) -> Any:
    """A copy of ``body`` with ``value`` at ``path``."""
    if not path:
        return value
    if isinstance(body, list):
        index = int(path[0])
        return [*body[:index], put(body[index], path[1:], value), *body[index + 1:]]
    return {**body, path[0]: put(body.get(path[0], {}), path[1:], value)}


def encode(body: Any) -> bytes:
    """JSON with every ``Raw`` written in verbatim (json.dumps cannot write NaN literals as we want)."""
    raws: list[str] = []

    def default(value: Any) -> str:
        raws.append(value.text)
        return f"\x00raw{len(raws) - 1}\x00"

    text = json.dumps(body, default=default)
    for i, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x00raw{i}\x00"), raw)
    return text.encode("utf-8", "surrogatepass")


def request_schema(method: str, path: str) -> dict[str, Any]:
    body = DOCUMENT["paths"][path][method.lower()].get("requestBody")
    return body["content"]["application/json"]["schema"] if body else {"type": "object"}


def path_names(method: str, path: str) -> list[str]:
    return [p["name"] for p in DOCUMENT["paths"][path][method.lower()].get("parameters", []) if p["in"] == "path"]


def quote_segment(text: str) -> str:
    """Percent-encode as a client would; lone surrogates become their (invalid) UTF-8 bytes, %ED%A0%80."""
    if text.startswith("%") or text in ("", ".."):
        return text  # already encoded, or meant verbatim
    return quote(text, safe="", errors="surrogatepass")


def url_for(path: str, params: dict[str, str], query: Sequence[tuple[str, str]] = ()) -> str:
    for name, value in params.items():
        path = path.replace("{" + name + "}", quote_segment(value))
    return path + ("?" + "&".join(f"{quote_segment(k)}={quote_segment(v)}" for k, v in query) if query else "")


# the estimate reads its body with the same json_body + validate_create as the create, swept here
POST_OPERATIONS = [(m, p) for m, p in OPERATIONS if m == "POST" and p != "/api/v1/estimate"]


@pytest.mark.parametrize(("method", "path"), POST_OPERATIONS, ids=[f"{m} {p}" for m, p in POST_OPERATIONS])
def test_every_field_with_every_hostile_value(method: str, path: str, live_handoff: LiveHandoff,
                                              session: requests.Session) -> None:
    """A sweep, not a sample: each hostile value in each field (declared or not, at any depth) of an
    otherwise plausible body, with the right token and an id that exists."""
    node = request_schema(method, path)
    base = plausible(node)
    params = {name: known_values(live_handoff.known, name)[0] for name in path_names(method, path)}
    case = schema[path][method].Case(path_parameters=params)
    headers = {"Content-Type": "application/json"}
    if right_auth(method, path):
        headers["Authorization"] = str(right_auth(method, path))
    sweep = Sweep()
    for n, field in enumerate(field_paths(node, base)):
        for k, value in enumerate(HOSTILE_VALUES):
            body = put(base, field, value)
            if path == "/api/v1/tickets" and field != ("conversation_id",):
                body = put(body, ("conversation_id",), f"sweep-{n}-{k}")  # a new ticket each time
            response, elapsed = send(session, method, live_handoff.url + url_for(path, params), data=encode(body),
                                     headers=headers)
            with sweep.check(f"{'.'.join(map(str, field))} = {value!r}"):
                check_response(case, response, elapsed)
                if response.status_code == 201:  # what was stored is served back as valid JSON
                    served_back(live_handoff, session, response.json())
    sweep.assert_clean()


def served_back(live_handoff: LiveHandoff, session: requests.Session, created: dict[str, Any]) -> None:
    """The new ticket as agents and the customer see it, then resolved; a new incident (a lead declared
    one) as agents and the bot see it, then resolved."""
    if "reference" not in created:
        for path, token in (("/api/v1/agent/incidents/{id}", AUTH["agent"]), ("/api/v1/bot/incidents/{id}", AUTH["bot"])):
            response, elapsed = send(session, "GET", live_handoff.url + url_for(path, {"id": created["id"]}),
                                     headers={"Authorization": str(token)})
            assert response.status_code == 200, response.text
            check_response(schema[path]["GET"].Case(path_parameters={"id": created["id"]}), response, elapsed)
        resolved = session.post(f"{live_handoff.url}/api/v1/lead/incidents/{created['id']}/resolve", json={},
                                headers={"Authorization": str(AUTH["lead"])}, timeout=30)
        assert resolved.status_code == 200, resolved.text  # its keys free again for the next declaration
        return
    for method, path, params, token in (
            ("GET", "/api/v1/agent/tickets/{ref}", {"ref": created["reference"]}, AUTH["agent"]),
            ("GET", "/api/v1/status/{secret}", {"secret": created["secret_reference"]}, None)):
        response, elapsed = send(session, method, live_handoff.url + url_for(path, params),
                                 headers={"Authorization": token} if token else {})
        assert response.status_code == 200, response.text
        check_response(schema[path][method].Case(path_parameters=params), response, elapsed)
    resolved = session.post(f"{live_handoff.url}/api/v1/agent/tickets/{created['reference']}/resolve",
                            json={"resolution": "fuzzed"}, headers={"Authorization": str(AUTH["lead"])}, timeout=30)
    assert resolved.status_code == 200, resolved.text  # off the open lists, which the later tests read


SEGMENTS = ["", "..", "../../etc/passwd", "%2F", "%00", "%ff%fe", "%ED%A0%80", "\ud800", "\x00", "\x1b\n",
            "\u202e", "T-999999", "S-" + "0" * 40, "x" * 101, "y" * 2000, "null", "[]", "{}", "1e999", "-1"]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_parameter_with_every_hostile_segment(method: str, path: str, live_handoff: LiveHandoff,
                                                   session: requests.Session) -> None:
    """Each path and query parameter of the operation set to each hostile segment (percent-encoded garbage,
    invalid UTF-8, lone surrogates, over length), with the right token."""
    names = path_names(method, path)
    params = {name: (known_values(live_handoff.known, name) or ("fuzz",))[0] for name in names}
    headers = {"Content-Type": "application/json"}
    if right_auth(method, path):
        headers["Authorization"] = str(right_auth(method, path))
    body = encode(plausible(request_schema(method, path))) if method == "POST" else None
    query_names = [p["name"] for p in DOCUMENT["paths"][path][method.lower()].get("parameters", [])
                   if p["in"] == "query"]
    variants = [({**params, name: segment}, []) for name in names for segment in SEGMENTS]
    variants += [(params, [(key, segment)]) for key in query_names for segment in SEGMENTS]
    variants += [(params, [("", segment)]) for segment in SEGMENTS[:3]]  # a query the operation does not read
    sweep = Sweep()
    for values, query in variants:
        response, elapsed = send(session, method, live_handoff.url + url_for(path, values, query), data=body,
                                 headers=headers)
        with sweep.check(f"{values} {query}"):
            check_response(schema[path][method].Case(path_parameters=values), response, elapsed)
    sweep.assert_clean()


@st.composite
def hostile_bodies(draw: st.DrawFn, method: str, path: str) -> bytes:
    node = request_schema(method, path)
    base = plausible(node)
    kind = draw(st.sampled_from(["inject", "inject", "value", "bytes", "whole"]))
    if kind == "inject":  # one or two random values at random fields of a plausible body
        body = base
        for field in draw(st.lists(st.sampled_from(field_paths(node, base)), min_size=1, max_size=2)):
            body = put(body, field, draw(st.sampled_from(HOSTILE_VALUES) | json_values()))
        return encode(body)
    if kind == "value":
        return encode(draw(st.sampled_from(HOSTILE_VALUES) | json_values()))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    valid = json.dumps(base).encode()
    return draw(st.sampled_from([
        b"", b"not json", b"{", b'{"text": ', b"\xef\xbb\xbf" + valid, json.dumps(base).encode("utf-16"),
        b'{"text": "\xff\xfe"}', b'{"text": "a", "text": 1}', b"[]", b'"text"', b"42", b"null",
        valid + b" trailing", valid * 2, b"{" * 10_000,
        valid[:-1] + b', "pad": "' + b"y" * (MAX_BODY + 10) + b'"}',  # over the body size limit: 413
    ]))


def json_values() -> st.SearchStrategy[Any]:
    text = st.text(st.characters(codec=None), max_size=20)  # lone surrogates included
    return st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                        max_leaves=8)


CONTENT_TYPES = st.sampled_from([
    "application/json", "application/json", "application/json; charset=utf-8", "application/json; charset=latin-1",
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", None,
])
HOSTILE_SEGMENTS = st.text(st.characters(codec=None), max_size=30) | st.sampled_from(SEGMENTS)


@st.composite
def hostile_requests(draw: st.DrawFn, method: str, path: str, known: Known) -> dict[str, Any]:
    params = {}
    for name in path_names(method, path):
        values = known_values(known, name)
        params[name] = draw(st.sampled_from(values) if values and draw(st.booleans()) else HOSTILE_SEGMENTS)
    query = draw(st.lists(st.tuples(st.sampled_from(["mine", "queue", "status", "x"]), HOSTILE_SEGMENTS),
                          max_size=2))
    auth = draw(AUTH_CHOICES)
    header = right_auth(method, path) if auth == "right" else AUTH[auth]
    headers = {} if header is None else {"Authorization": header}
    content_type = draw(CONTENT_TYPES)
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = draw(hostile_bodies(method, path)) if method == "POST" or draw(st.integers(0, 9)) == 0 else None
    return {"path_parameters": params, "url": url_for(path, params, query), "headers": headers, "body": body}


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
@settings(**FUZZ_SETTINGS, max_examples=20)
@given(data=st.data())
def test_every_operation_with_hostile_input(method: str, path: str, data: st.DataObject,
                                            live_handoff: LiveHandoff, session: requests.Session) -> None:
    """Random combinations: token kind, content type, path and query garbage, body kind."""
    request = data.draw(hostile_requests(method, path, live_handoff.known))
    case = schema[path][method].Case(path_parameters=request["path_parameters"])
    response, elapsed = send(session, method, live_handoff.url + request["url"], data=request["body"],
                             headers=request["headers"])
    check_response(case, response, elapsed)


def test_every_operation_is_fuzzed() -> None:
    """Both tests above cover every operation of the document (and nothing else is served)."""
    from handoff.web import ROUTES

    assert {(m, p) for m, p, _ in ROUTES} <= set(OPERATIONS)
    assert {op.label for op in (result.ok() for result in schema.get_all_operations())} == {
        f"{m} {p}" for m, p in OPERATIONS}


# -- what the fuzzing found, kept as plain regression tests -----------------------------------------------


def test_a_refused_large_body_does_not_stall_the_connection(live_handoff: LiveHandoff,
                                                            session: requests.Session) -> None:
    """A body the service refuses without reading (no token, or an endpoint that takes none) used to leave
    the keep-alive connection paused when over 128 KiB of it were buffered: the next request on it was
    never answered (aiohttp 3.9 flow control)."""
    body = b'{"pad": "' + b"y" * 200_000 + b'"}'
    for path, headers in (("/api/v1/tickets", {}), ("/api/v1/lead/matrix/reload", {"Authorization": str(AUTH["lead"])})):
        response, _ = send(session, "POST", live_handoff.url + path, data=body,
                           headers={**headers, "Content-Type": "application/json"})
        assert response.status_code in (200, 401), response.text
        started = time.monotonic()
        health = session.get(f"{live_handoff.url}/health", timeout=5)
        assert health.status_code == 200 and time.monotonic() - started < REFUSAL_SECONDS


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/tickets/by-conversation/fuzz-conv-0/messages", b'{"text": "hi", "timestamp": 1' + b"0" * 400 + b"}"),
    ("/api/v1/tickets", encode(put(plausible(request_schema("POST", "/api/v1/tickets")),
                                   ("transcript", 0, "timestamp"), Raw("-" + "9" * 400)))),
    ("/api/v1/tickets", encode(put(plausible(request_schema("POST", "/api/v1/tickets")),
                                   ("customer", "extra"), Raw("1e999")))),
])
def test_numbers_a_float_cannot_hold_are_refused(path: str, body: bytes, live_handoff: LiveHandoff,
                                                 session: requests.Session) -> None:
    """A 400-digit timestamp used to be a 500 (OverflowError); 1e999 in a field kept as sent (customer,
    articles) was stored as Infinity and served back as invalid JSON."""
    response, _ = send(session, "POST", live_handoff.url + path, data=body,
                       headers={"Authorization": str(AUTH["bot"]), "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
