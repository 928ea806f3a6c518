"""``python -m rasa_ext.serve <rasa run arguments>``: Rasa's own ``rasa run``, with its HTTP API token
read from the environment (``RASA_TOKEN``) instead of the command line, where every local user could read
it in ``ps`` (``/proc/<pid>/cmdline`` keeps the arguments the process was started with, not these)."""

from __future__ import annotations

import os
import sys


def main() -> None:
    token = os.environ.get("RASA_TOKEN", "")
    sys.argv = ["rasa", "run", *sys.argv[1:], *(["--auth-token", token] if token else [])]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
