"""`frontdoor report` without Redis: the command's refusals and the HTML file it writes (self-contained,
and figures cannot break out of their script element)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from handoff.analytics import Accumulator, StoredEvent, figures, parse_period
from stack.cli import build_parser
from stack.embedded_redis import free_port
from stack.report_cli import CHART_JS, cmd_report, render_html

NOW = 1_764_000_000.0


def sample() -> dict[str, object]:
    period = parse_period("7d", NOW, "UTC")
    acc = Accumulator(period.buckets, NOW, "UTC")
    hostile = "</script><script>alert(1)</script><!--"
    acc.add_events([StoredEvent("created", "T-1", NOW - 3600, {"category": "billing", "tags": [hostile],
                                                                 "articles": [], "conversation_id": "c1"})])
    return figures(period, acc.tallies(), {"events": NOW - 3600, "signals": None})


def test_the_report_is_one_self_contained_file() -> None:
    html = render_html(sample(), "de")
    assert html.count("<script") == 4  # the figures (JSON), Chart.js, the renderer, the call
    assert not re.search(r"""(?:src|href)\s*=""", html)  # nothing to fetch
    assert CHART_JS.read_text(encoding="utf-8")[:200] in html and "MIT License" in html
    assert '<html lang="de">' in html and "Support-Analysen (7d)" in html
    data = re.search(r'<script type="application/json" id="analytics-data">(.*?)</script>', html, re.S)
    assert data is not None and json.loads(data.group(1)) == sample()


def test_figures_cannot_end_their_script_element() -> None:
    html = render_html(sample())
    assert "alert(1)" in html and "</script><script>alert" not in html and "<!--" not in html.split("<body")[1]


def test_the_command_is_wired_and_says_why_it_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["report", "--since", "7m", "--out", str(tmp_path / "r.html"),
                                      "--redis-url", "redis://127.0.0.1:1/0"])
    assert args.func(args) == 2
    assert "'since' must be a number of hours, days or weeks like 24h, 7d or 30d" in capsys.readouterr().err
    unreachable = argparse.Namespace(since="7d", out=tmp_path / "r.html", lang="en", prefix="fd:", timezone="UTC",
                                     redis_url=f"redis://127.0.0.1:{free_port()}/0")
    assert cmd_report(unreachable) == 1
    assert "cannot read the analytics: ConnectionError" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
