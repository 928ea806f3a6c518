#!/usr/bin/env bash
# Makes sure Debian's Request Tracker 5 (request-tracker5 with the SQLite backend) is installed for the
# connector's tests (tests/rt/) and scripts/bench_rt.py. Only its programs and libraries are used: the tests
# create an SQLite database of their own in a temporary folder and run RT's standalone server on a free
# loopback port; the package's own database (dbconfig) and web server configuration are not used.
set -u
RT_SERVER=${RT_SERVER:-/usr/share/request-tracker5/libexec/rt-server}
if [ -x "$RT_SERVER" ] && [ -d /usr/share/request-tracker5/lib ] && perl -MDBD::SQLite -e1 2>/dev/null; then
  echo "request-tracker5: $(dpkg-query -W -f='${Version}' request-tracker5 2>/dev/null || echo installed)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Request Tracker 5 is missing and apt-get is not available: install request-tracker5 and" >&2
  echo "rt5-db-sqlite yourself; the RT connector's tests are skipped without them" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "Request Tracker 5 is missing; run as root: apt-get install -y request-tracker5 rt5-db-sqlite" >&2
    exit 1
  fi
fi
echo "installing Debian's request-tracker5 + rt5-db-sqlite (apt-get) for the RT connector's tests"
# dbconfig-no-thanks: the package must not create a database of its own (the tests make theirs)
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
       --no-install-recommends dbconfig-no-thanks request-tracker5 rt5-db-sqlite rt5-standalone; } \
       >/tmp/ensure-rt.log 2>&1; then
  tail -20 /tmp/ensure-rt.log >&2
  echo "could not install request-tracker5 with apt-get (log: /tmp/ensure-rt.log);" >&2
  echo "the RT connector's tests need it and are skipped without it" >&2
  exit 1
fi
if [ ! -x "$RT_SERVER" ]; then
  echo "apt-get installed request-tracker5 but $RT_SERVER is missing" >&2
  exit 1
fi
echo "request-tracker5: $(dpkg-query -W -f='${Version}' request-tracker5)"
