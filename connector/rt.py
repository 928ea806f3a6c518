"""The one HTTP client of RT's REST2 API (``{RT_URL}/REST/2.0``, ``Authorization: token ...``).

Failures are ``Transient`` (unreachable, timeout, 5xx, 429: retried with backoff) or ``Rejected`` (another
4xx: RT will not accept this request as it is)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from connector.errors import Rejected, Transient
from connector.mapping import TRANSACTION_FIELDS, TRANSACTION_QUERY, Txn, parse_txn

logger = logging.getLogger(__name__)

PAGE = 100  # RT's largest page


class RTClient:
    def __init__(self, http: aiohttp.ClientSession, url: str, token: str) -> None:
        self.http = http
        self.base = url.rstrip("/") + "/REST/2.0"
        self.headers = {"Authorization": f"token {token}", "Accept": "application/json"}
        self._real_names: dict[str, str] = {}

    async def _call(self, method: str, path: str, *, params: Mapping[str, str | int] | None = None,
                    body: Any = None, missing_ok: bool = False) -> Any:
        try:
            async with self.http.request(method, self.base + path, params=params, json=body,
                                         headers=self.headers) as resp:
                text = await resp.text()
                if resp.status == 404 and missing_ok:
                    return None
                if resp.status >= 500 or resp.status in (408, 429):
                    raise Transient(f"RT answered HTTP {resp.status} to {method} {path}")
                if resp.status >= 400:
                    raise Rejected(f"RT refused {method} {path}: HTTP {resp.status} {text[:300]}", resp.status)
                return await resp.json(content_type=None) if text else None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise Transient(f"RT unreachable ({type(exc).__name__}) on {method} {path}") from None
        except ValueError:
            raise Transient(f"RT answered {method} {path} with something that is not JSON") from None

    # -- start-up checks ------------------------------------------------------------------------------

    async def version(self) -> str:
        info = await self._call("GET", "/rt")
        return str((info or {}).get("Version", "?"))

    async def queue(self, name: str) -> dict[str, Any] | None:
        """The queue ``name`` (with its TicketCustomFields), None when RT has none by that name."""
        found = await self._call("GET", f"/queue/{quote(name, safe='')}", missing_ok=True)
        return found if isinstance(found, dict) else None

    async def queue_names(self) -> dict[str, str]:
        """Queue id -> name of every queue the connector's RT user can see."""
        out: dict[str, str] = {}
        page = 1
        while True:
            found = await self._call("GET", "/queues/all", params={"fields": "Name", "per_page": PAGE, "page": page})
            for item in found.get("items", []):
                out[str(item["id"])] = str(item.get("Name", item["id"]))
            if not found.get("next_page"):
                return out
            page += 1

    async def user_name(self, user_id: str) -> str:
        found = await self._call("GET", f"/user/{user_id}")
        return str(found["Name"])

    async def real_name(self, user: str) -> str:
        """The RT user's real name (what the customer reads as the agent's name), else the user name."""
        if user not in self._real_names:
            try:
                found = await self._call("GET", f"/user/{quote(user, safe='')}", missing_ok=True)
            except Rejected:
                found = None
            self._real_names[user] = str((found or {}).get("RealName") or user)
        return self._real_names[user]

    # -- tickets ----------------------------------------------------------------------------------------

    async def find_tickets(self, query: str) -> list[int]:
        """Ids of the tickets TicketSQL ``query`` finds, lowest first."""
        found = await self._call("GET", "/tickets", params={"query": query, "orderby": "id", "per_page": PAGE})
        return [int(item["id"]) for item in found.get("items", [])]

    async def create_ticket(self, body: Mapping[str, Any]) -> int:
        created = await self._call("POST", "/ticket", body=dict(body))
        if not isinstance(created, dict) or "id" not in created:
            raise Rejected(f"RT created no ticket: {str(created)[:300]}")
        return int(created["id"])

    async def update_ticket(self, ticket: int, body: Mapping[str, Any]) -> list[str]:
        result = await self._call("PUT", f"/ticket/{ticket}", body=dict(body))
        return [str(m) for m in result] if isinstance(result, list) else []

    async def comment(self, ticket: int, text: str) -> None:
        await self._call("POST", f"/ticket/{ticket}/comment", body={"Content": text, "ContentType": "text/plain"})

    # -- transactions -----------------------------------------------------------------------------------

    async def last_transaction_id(self) -> int:
        found = await self._call("GET", "/transactions", params={"query": "id > 0", "orderby": "id", "order": "DESC",
                                                                  "per_page": 1})
        items = found.get("items", [])
        return int(items[0]["id"]) if items else 0

    async def transactions_after(self, after: int, limit: int = PAGE) -> list[Txn]:
        """Correspondence, status and queue changes of tickets with an id above ``after``, oldest first."""
        found = await self._call("GET", "/transactions", params={
            "query": f"id > {int(after)} AND {TRANSACTION_QUERY}", "orderby": "id", "order": "ASC",
            "per_page": limit, "fields": TRANSACTION_FIELDS})
        return [parse_txn(item) for item in found.get("items", [])]

    async def transaction_text(self, txn: int) -> str:
        """The text of a correspondence: its first text/plain part (text/html is reduced to its text)."""
        found = await self._call("GET", f"/transaction/{txn}/attachments",
                                 params={"fields": "Content,ContentType", "per_page": PAGE})
        parts = [item for item in found.get("items", []) if item.get("Content")]
        plain = [p for p in parts if str(p.get("ContentType", "")).startswith("text/plain")]
        if plain:
            return str(plain[0]["Content"]).strip()
        html = [p for p in parts if str(p.get("ContentType", "")).startswith("text/html")]
        return _html_text(str(html[0]["Content"])) if html else ""


def _html_text(html: str) -> str:
    import re  # noqa: PLC0415 - only correspondence written as HTML needs it

    text = re.sub(r"(?is)<(script|style).*?</\1>", "", html)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    import html as html_module  # noqa: PLC0415

    return "\n".join(line.strip() for line in html_module.unescape(text).splitlines() if line.strip())
