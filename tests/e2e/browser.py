"""Playwright helpers for the browser tests: Debian's Chromium (never a downloaded browser build), a
context that refuses every request off this machine, and small page objects for the chat widget
(rasa-webchat 1.0.1) and the agents' console."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/")
WAIT_MS = 60_000  # a bot answer (NLU + action server + KB) or a poll of the console


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium driven by Playwright; skips when Playwright or the browser is missing."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (see pyproject dev)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: run scripts/ensure-chromium.sh")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class OfflineContext:
    """A browser context (own storage) whose requests off this machine are aborted and recorded."""

    def __init__(self, browser: Any, locale: str, viewport: dict[str, int] | None = None) -> None:
        self.context = browser.new_context(locale=locale, viewport=viewport or {"width": 1366, "height": 768})
        self.blocked: list[str] = []
        self.console_errors: list[str] = []
        self.frames: list[str] = []  # socket.io traffic, for the failure report
        self.context.route(lambda url: not LOCAL.match(url) and not url.startswith("data:"), self._block)

    def _block(self, route: Any) -> None:
        self.blocked.append(route.request.url)
        route.abort()

    def new_page(self) -> Any:
        page = self.context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("console", lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.console_errors.append(f"page error: {exc}"))
        page.on("websocket", self._watch_socket)
        return page

    def _watch_socket(self, ws: Any) -> None:
        self.frames.append(f"open {ws.url}")
        ws.on("framesent", lambda data: self.frames.append(f"> {str(data)[:300]}"))
        ws.on("framereceived", lambda data: self.frames.append(f"< {str(data)[:300]}"))
        ws.on("close", lambda _ws: self.frames.append("closed"))

    def close(self) -> None:
        self.context.close()


def exact(text: str) -> re.Pattern[str]:
    """Matches an element whose whole (trimmed) text is ``text``."""
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


class Widget:
    """The customer's side: rasa-webchat on the demo website."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def open(self) -> None:
        from playwright.sync_api import expect  # noqa: PLC0415

        launcher = self.page.locator(".rw-launcher")
        expect(launcher).to_be_visible(timeout=WAIT_MS)
        launcher.click()
        expect(self.input).to_be_visible(timeout=WAIT_MS)

    def reopen(self) -> None:
        """After a reload or on return: the widget restores its stored open/closed state a moment after
        it renders; open it only when it stays closed."""
        from playwright.sync_api import expect  # noqa: PLC0415

        expect(self.page.locator(".rw-launcher")).to_be_visible(timeout=WAIT_MS)
        try:
            expect(self.input).to_be_visible(timeout=3000)
        except AssertionError:
            self.open()

    @property
    def input(self) -> Any:
        return self.page.locator(".rw-new-message")

    @property
    def messages(self) -> Any:
        return self.page.locator(".rw-message")

    def say(self, text: str) -> None:
        from playwright.sync_api import expect  # noqa: PLC0415

        expect(self.input).to_be_enabled(timeout=WAIT_MS)
        self.input.fill(text)
        self.input.press("Enter")
        expect(self.page.locator(".rw-client", has_text=text).last).to_be_visible(timeout=WAIT_MS)

    def message(self, pattern: str | re.Pattern[str]) -> Any:
        """The last bot message containing ``pattern`` (visible once it has arrived)."""
        return self.page.locator(".rw-response", has_text=pattern).last

    def wait_for(self, pattern: str | re.Pattern[str], timeout: int = WAIT_MS) -> Any:
        from playwright.sync_api import expect  # noqa: PLC0415

        found = self.message(pattern)
        expect(found).to_be_visible(timeout=timeout)
        return found

    def button(self, title: str) -> Any:
        return self.page.locator(".rw-reply", has_text=exact(title)).last

    def click(self, title: str) -> None:
        from playwright.sync_api import expect  # noqa: PLC0415

        button = self.button(title)
        expect(button).to_be_visible(timeout=WAIT_MS)
        button.click()

    def transcript(self) -> str:
        return "\n".join(self.messages.all_inner_texts())


class Console:
    """The agent's side: the console at /agent on the handoff service."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def sign_in(self, token: str) -> None:
        from playwright.sync_api import expect  # noqa: PLC0415

        self.page.goto(f"{self.base_url}/agent")
        self.page.get_by_label(re.compile("^(Agenten-Token|Agent token)$")).fill(token)
        self.page.locator("#signin-form button[type=submit]").click()
        expect(self.page.locator("#view-queues")).to_be_visible(timeout=WAIT_MS)

    def only_queues(self, *names: str) -> None:
        """Claim only from these queues (the checkboxes of the queue table)."""
        from playwright.sync_api import expect  # noqa: PLC0415

        expect(self.page.locator("#queue-rows tr")).not_to_have_count(0, timeout=WAIT_MS)
        for box in self.page.locator("#queue-rows input[type=checkbox]").all():
            box.set_checked(box.get_attribute("data-queue") in names)

    def ticket_reference(self) -> str:
        return str(self.page.locator("#ticket-title").inner_text()).strip()
