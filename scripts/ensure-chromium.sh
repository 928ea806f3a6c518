#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests (tests/e2e/test_browser.py).
# Playwright drives this system browser; we never download a browser build of Playwright's own.
set -u
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi
. "$(dirname "$0")/apt-install.sh"
apt_install chromium "install Chromium yourself (or set CHROMIUM=/path/to/chromium); the browser tests are skipped without it" \
  "the browser tests" chromium || exit 1
if [ ! -x "$CHROMIUM" ]; then
  echo "apt-get installed chromium but $CHROMIUM is still missing" >&2
  exit 1
fi
echo "chromium: $("$CHROMIUM" --version 2>/dev/null)"
