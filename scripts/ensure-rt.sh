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
. "$(dirname "$0")/apt-install.sh"
# dbconfig-no-thanks: the package must not create a database of its own (the tests make theirs)
apt_install rt "install request-tracker5 and rt5-db-sqlite yourself; the RT connector's tests need them" \
  "the RT connector's tests" --no-install-recommends dbconfig-no-thanks request-tracker5 rt5-db-sqlite \
  rt5-standalone || exit 1
if [ ! -x "$RT_SERVER" ]; then
  echo "apt-get installed request-tracker5 but $RT_SERVER is missing" >&2
  exit 1
fi
echo "request-tracker5: $(dpkg-query -W -f='${Version}' request-tracker5)"
