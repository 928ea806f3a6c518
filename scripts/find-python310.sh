#!/usr/bin/env bash
# Print the path of a working Python 3.10 interpreter, or explain what to install and fail.
set -u
candidates=("${PYTHON310:-}" python3.10)
for root in "${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv /opt/pyenv; do
  [ -n "$root" ] && candidates+=("$root"/versions/3.10*/bin/python3.10)
done
candidates+=(/usr/bin/python3.10 /usr/local/bin/python3.10)
for candidate in "${candidates[@]}"; do
  [ -n "$candidate" ] || continue
  if out=$("$candidate" -c 'import sys, venv; print(sys.executable) if sys.version_info[:2] == (3, 10) else sys.exit(1)' 2>/dev/null); then
    echo "$out"
    exit 0
  fi
done
cat >&2 <<'MSG'
frontdoor needs Python 3.10 (Rasa 3.6 does not run on 3.11+), with venv and the Python headers.
Install it, for example:
  pyenv install 3.10.13          # with pyenv, or
  apt-get install python3.10 python3.10-venv python3.10-dev
or point PYTHON310=/path/to/python3.10 at an existing one, then run the command again.
MSG
exit 1
