#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests (tests/e2e/test_browser.py).
# Playwright drives this system browser; we never download a browser build of Playwright's own.
set -u
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing at $CHROMIUM and apt-get is not available: install Chromium yourself" >&2
  echo "(or set CHROMIUM=/path/to/chromium); the browser tests will be skipped without it" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "chromium is missing at $CHROMIUM; run as root: apt-get install -y chromium" >&2
    exit 1
  fi
fi
echo "installing Debian's chromium (apt-get) for the browser tests"
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } >/tmp/ensure-chromium.log 2>&1; then
  tail -20 /tmp/ensure-chromium.log >&2
  echo "could not install chromium with apt-get (log: /tmp/ensure-chromium.log);" >&2
  echo "the browser tests need /usr/bin/chromium and will be skipped without it" >&2
  exit 1
fi
if [ ! -x "$CHROMIUM" ]; then
  echo "apt-get installed chromium but $CHROMIUM is still missing" >&2
  exit 1
fi
echo "chromium: $("$CHROMIUM" --version 2>/dev/null)"
