"""``python -m rasa_ext.serve <rasa run arguments>``: Rasa's own ``rasa run``, with its HTTP API token
read from the environment (``RASA_TOKEN``) instead of the command line, where every local user could read
it in ``ps`` (``/proc/<pid>/cmdline`` keeps the arguments the process was started with, not these)."""

from __future__ import annotations

import os
import sys


def run_argv(arguments: list[str], token: str) -> list[str]:
    """``rasa run`` with ``arguments`` and the token as one argument ``--auth-token=...``: a token that
    starts with "-" (``token_urlsafe`` gives one in 64) would otherwise be read by argparse as an option,
    and Rasa would not start."""
    return ["rasa", "run", *arguments, *([f"--auth-token={token}"] if token else [])]


def main() -> None:
    sys.argv = run_argv(sys.argv[1:], os.environ.get("RASA_TOKEN", ""))
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
