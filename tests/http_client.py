"""The JSON-over-HTTP helper of the end-to-end and cluster suites (stdlib only: it also runs in threads)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def http_json(url: str, body: Any = None, token: str = "", method: str | None = None,
              timeout: float = 30.0) -> tuple[int, Any]:
    """(status, parsed JSON body or None); an error body that is not JSON comes back as text."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"))
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else None
        except ValueError:
            return exc.code, raw.decode(errors="replace")
