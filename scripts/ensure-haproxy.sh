#!/usr/bin/env bash
# Makes sure Debian's haproxy is installed for the multi-instance deployment (`frontdoor cluster up`) and
# its tests (tests/cluster/). Only the binary is used: frontdoor runs it in the foreground with a config of
# its own; the package's system service is not started (and never needed).
set -u
HAPROXY=${HAPROXY_BIN:-$(command -v haproxy || echo /usr/sbin/haproxy)}
if [ -x "$HAPROXY" ]; then
  echo "haproxy: $("$HAPROXY" -v 2>/dev/null | head -1)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "haproxy is missing and apt-get is not available: install haproxy (2.x) yourself" >&2
  echo "(or set HAPROXY_BIN=/path/to/haproxy); the cluster tests are skipped without it" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "haproxy is missing; run as root: apt-get install -y haproxy" >&2
    exit 1
  fi
fi
echo "installing Debian's haproxy (apt-get) for the multi-instance deployment and its tests"
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq haproxy; } >/tmp/ensure-haproxy.log 2>&1; then
  tail -20 /tmp/ensure-haproxy.log >&2
  echo "could not install haproxy with apt-get (log: /tmp/ensure-haproxy.log)" >&2
  exit 1
fi
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
if [ ! -x "$HAPROXY" ]; then
  echo "apt-get installed haproxy but $HAPROXY is still missing" >&2
  exit 1
fi
echo "haproxy: $("$HAPROXY" -v 2>/dev/null | head -1)"
