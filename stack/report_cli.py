"""``frontdoor report --since 7d [--out FILE]``: the leads' analytics of a period as ONE self-contained HTML
file (Chart.js, the console's renderer, its styles and the figures inlined: it opens offline, from e-mail
or a file share) and a text summary of the same figures on stdout.

Reads Redis through the handoff service's own store and ``handoff.reporting.period_figures``, the code
behind ``GET /api/v1/lead/analytics``, so no service needs to run and the report and the page agree.
Settings come from the environment like the other commands (``REDIS_URL`` or the embedded server,
``HANDOFF_KEY_PREFIX``, ``HANDOFF_TIMEZONE``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from html import escape
from pathlib import Path
from typing import Any, TextIO

CONSOLE = Path(__file__).resolve().parents[1] / "handoff" / "console"
CHART_JS = CONSOLE / "vendor" / "chart.umd.js"
CHART_LICENSE = CONSOLE / "vendor" / "chart.js-LICENSE.md"
TITLE = {"en": "Streamly – support analytics", "de": "Streamly – Support-Analysen"}


def register(subparsers: Any) -> None:
    """Add the ``report`` command to the ``frontdoor`` parser."""
    report = subparsers.add_parser("report", help="analytics of a period as one self-contained HTML file and a "
                                                  "text summary (reads Redis; no running service needed)")
    report.add_argument("--since", default="7d", help="the period: 24h, 7d, 30d (any 1-72h, 1-90d or 1-12w; default 7d)")
    report.add_argument("--out", type=Path, default=None,
                        help="the HTML file to write (default: frontdoor-report-<since>.html here)")
    report.add_argument("--lang", choices=("en", "de"), default="en", help="language of the HTML report")
    report.add_argument("--redis-url", default=None, help="default: REDIS_URL, else the embedded server's")
    report.add_argument("--prefix", default=None, help="the handoff service's key prefix (default: HANDOFF_KEY_PREFIX "
                                                       "or fd:)")
    report.add_argument("--timezone", default=None, help="days are local days of this zone (default: "
                                                         "HANDOFF_TIMEZONE or UTC, like the service)")
    report.set_defaults(func=lambda args: cmd_report(args))


def cmd_report(args: argparse.Namespace, out: TextIO | None = None, now: float | None = None) -> int:
    from handoff.errors import HandoffError

    out = out or sys.stdout
    if not CHART_JS.is_file():
        print(f"Chart.js is missing ({CHART_JS}): run `make install`", file=sys.stderr)
        return 2
    redis_url, prefix, timezone = _settings(args)
    try:
        figures = asyncio.run(read_figures(redis_url, prefix, args.since, time.time() if now is None else now,
                                           timezone))
    except HandoffError as exc:
        print(f"frontdoor report: {exc.detail}", file=sys.stderr)
        return 2
    except Exception as exc:  # Redis down or unreachable: say so, with the reason
        print(f"cannot read the analytics: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    path = args.out or Path(f"frontdoor-report-{args.since}.html")
    path.write_text(render_html(figures, args.lang), encoding="utf-8")
    from handoff.analytics import summary_lines

    for line in summary_lines(figures):
        print(line, file=out)
    print(f"written: {path}", file=out)
    return 0


def _settings(args: argparse.Namespace) -> tuple[str, str, str]:
    from stack.settings import Settings

    settings = Settings.from_env(os.environ)
    redis_url = args.redis_url or settings.with_secrets().effective_redis_url
    prefix = args.prefix or settings.key_prefix
    timezone = args.timezone or os.environ.get("HANDOFF_TIMEZONE") or "UTC"
    return redis_url, prefix, timezone


async def read_figures(redis_url: str, prefix: str, since: str, now: float, timezone: str) -> dict[str, Any]:
    """The period's figures, by the service's own code (``handoff.reporting.period_figures``)."""
    from redis.asyncio import Redis  # type: ignore[import-untyped, unused-ignore]

    from handoff.reporting import period_figures
    from handoff.store import Store

    async with Redis.from_url(redis_url, decode_responses=True, socket_timeout=30.0,
                              socket_connect_timeout=2.0) as redis:
        return await period_figures(Store(redis, prefix), since, now, timezone)


def _inline_script(text: str) -> str:
    """Script text that cannot end its <script> element early (nor open a comment that would hide it)."""
    if re.search(r"</script|<!--", text, re.I):
        raise ValueError("script text holds </script or <!-- and cannot be inlined as it is")
    return text


def render_html(figures: dict[str, Any], lang: str = "en") -> str:
    """One HTML file: styles, Chart.js (with its licence notice), the renderer and the figures, all inline."""
    styles = "\n".join((CONSOLE / name).read_text(encoding="utf-8") for name in ("console.css", "analytics.css"))
    data = json.dumps(figures, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    period = figures["period"]
    title = f"{TITLE.get(lang, TITLE['en'])} ({period['since']})"
    licence = CHART_LICENSE.read_text(encoding="utf-8") if CHART_LICENSE.is_file() else ""
    return f"""<!doctype html>
<html lang="{escape(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="frontdoor report">
<title>{escape(title)}</title>
<style>
{styles}
</style>
</head>
<body class="report">
<header class="bar"><div class="brand">▶ Streamly <span>frontdoor report</span></div></header>
<main id="main" class="analytics">
<h1>{escape(title)}</h1>
<div id="analytics-root"></div>
</main>
<footer class="muted"><details><summary>Chart.js (MIT licence)</summary><pre>{escape(licence)}</pre></details></footer>
<script type="application/json" id="analytics-data">{data}</script>
<script>
{_inline_script(CHART_JS.read_text(encoding="utf-8"))}
</script>
<script>
{_inline_script((CONSOLE / "analytics.js").read_text(encoding="utf-8"))}
</script>
<script>
window.FrontdoorAnalytics.render(document.getElementById("analytics-root"),
  JSON.parse(document.getElementById("analytics-data").textContent), {json.dumps(lang)});
</script>
</body>
</html>
"""
