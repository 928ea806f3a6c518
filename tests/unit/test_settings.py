from __future__ import annotations

import stat
from pathlib import Path

import pytest

from stack.settings import SECRET_NAMES, RedisAddress, Settings


def test_defaults_are_documented_values(tmp_path: Path) -> None:
    settings = Settings.from_env({}, root=tmp_path)
    assert (settings.rasa_port, settings.action_port, settings.handoff_port, settings.site_port) == (
        5005, 5055, 8090, 8080)
    assert settings.redis_url == ""
    assert settings.effective_redis_url == "redis://127.0.0.1:6380/0"
    assert settings.var_dir == tmp_path / "var"


@pytest.mark.parametrize("value", ["abc", "0", "70000", "-1"])
def test_a_bad_port_names_the_variable(value: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="HANDOFF_PORT"):
        Settings.from_env({"HANDOFF_PORT": value}, root=tmp_path)


def test_redis_url_is_parsed_and_checked() -> None:
    assert RedisAddress.parse("redis://:pw@example.org:6390/3") == RedisAddress("example.org", 6390, 3, "pw")
    with pytest.raises(ValueError, match="redis://"):
        RedisAddress.parse("http://localhost:6379")
    with pytest.raises(ValueError, match="database"):
        RedisAddress.parse("redis://localhost:6379/x")


def test_missing_secrets_are_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = Settings.from_env({"FRONTDOOR_VAR": str(tmp_path / "v")}, root=tmp_path).with_secrets()
    assert set(first.secrets) == set(SECRET_NAMES)
    secrets_file = tmp_path / "v" / "secrets.env"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    second = Settings.from_env({"FRONTDOOR_VAR": str(tmp_path / "v")}, root=tmp_path).with_secrets()
    assert second.secrets == first.secrets


def test_a_secret_from_the_environment_wins(tmp_path: Path) -> None:
    env = {"FRONTDOOR_VAR": str(tmp_path), "HANDOFF_BOT_TOKEN": "given"}
    assert Settings.from_env(env, root=tmp_path).with_secrets().secrets["HANDOFF_BOT_TOKEN"] == "given"
