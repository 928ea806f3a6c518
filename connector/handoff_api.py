"""The connector's client of the handoff service's helpdesk API (HANDOFF_HELPDESK_TOKEN): read a ticket,
store RT's id on it, apply a change made in RT (idempotent by the RT transaction's key)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

from connector.errors import Rejected, Transient


class HandoffAPI:
    def __init__(self, http: aiohttp.ClientSession, url: str, token: str) -> None:
        self.http = http
        self.base = url.rstrip("/") + "/api/v1/helpdesk/tickets/"
        self.headers = {"Authorization": f"Bearer {token}"}

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = self.base + quote(path, safe="/")
        try:
            async with self.http.request(method, url, json=body, headers=self.headers) as resp:
                data = await resp.json(content_type=None)
                if resp.status >= 500 or resp.status == 429:
                    raise Transient(f"handoff service answered HTTP {resp.status} to {method} {path}")
                if resp.status >= 400:
                    detail = data.get("detail") if isinstance(data, dict) else str(data)
                    raise Rejected(f"handoff service refused {method} {path}: {detail}", resp.status)
                return data if isinstance(data, dict) else {}
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise Transient(f"handoff service unreachable ({type(exc).__name__})") from None
        except ValueError:
            raise Transient(f"handoff service answered {method} {path} with something that is not JSON") from None

    async def ticket(self, ref: str) -> dict[str, Any]:
        return await self._call("GET", ref)

    async def link(self, ref: str, rt_id: int) -> None:
        await self._call("PUT", f"{ref}/link", {"helpdesk_id": str(rt_id)})

    async def action(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", f"{ref}/actions", body)
