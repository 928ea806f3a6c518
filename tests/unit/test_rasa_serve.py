"""``python -m rasa_ext.serve`` hands Rasa its API token from the environment, whatever the token looks like."""

from __future__ import annotations

import pytest

from rasa_ext.serve import run_argv


@pytest.mark.parametrize("token", ["abc-DEF_123", "-starts-with-a-dash", "--looks-like-an-option", "x=y"])
def test_rasa_reads_the_token_it_was_given(token: str) -> None:
    from rasa.__main__ import create_argument_parser

    argv = run_argv(["--enable-api", "--port", "5005"], token)
    args = create_argument_parser().parse_args(argv[1:])
    assert args.auth_token == token and args.port == 5005 and args.enable_api


def test_no_token_no_option() -> None:
    assert run_argv(["--port", "1"], "") == ["rasa", "run", "--port", "1"]
