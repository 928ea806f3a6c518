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
. "$(dirname "$0")/apt-install.sh"
apt_install haproxy "install haproxy (2.x) yourself (or set HAPROXY_BIN=/path/to/haproxy); the cluster tests are skipped without it" \
  "the multi-instance deployment and its tests" haproxy || exit 1
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
if [ ! -x "$HAPROXY" ]; then
  echo "apt-get installed haproxy but $HAPROXY is still missing" >&2
  exit 1
fi
echo "haproxy: $("$HAPROXY" -v 2>/dev/null | head -1)"
