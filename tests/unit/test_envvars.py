"""Numbers from environment variables: one parser, each process's own settings error naming the variable."""

from __future__ import annotations

import pytest

from bot.envvars import env_float, env_int
from connector.errors import ConfigError
from connector.settings import Settings as ConnectorSettings
from handoff.errors import SettingsError
from handoff.settings import Settings as HandoffSettings


def test_unset_or_empty_gives_the_default_and_a_value_parses() -> None:
    assert env_int({}, "N", 7, ValueError) == 7 and env_int({"N": ""}, "N", 7, ValueError) == 7
    assert env_int({"N": "12"}, "N", 7, ValueError) == 12
    assert env_float({"F": "0.5"}, "F", 2.0, ValueError) == 0.5 and env_float({}, "F", 2.0, ValueError) == 2.0


def test_a_value_that_does_not_parse_is_the_processs_own_error() -> None:
    handoff = {"REDIS_URL": "redis://127.0.0.1:6379/0", "HANDOFF_BOT_TOKEN": "t", "HANDOFF_PORT": "80x"}
    with pytest.raises(SettingsError, match="HANDOFF_PORT must be an integer, got '80x'"):
        HandoffSettings.from_env(handoff)
    connector = {"RT_URL": "http://rt", "RT_TOKEN": "t", "REDIS_URL": "redis://127.0.0.1:6379/0",
                 "HANDOFF_URL": "http://h", "HANDOFF_HELPDESK_TOKEN": "t", "RT_TIMEOUT": "soon"}
    with pytest.raises(ConfigError, match="RT_TIMEOUT must be a number, got 'soon'"):
        ConnectorSettings.from_env(connector)
