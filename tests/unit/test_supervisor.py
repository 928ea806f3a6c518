from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.embedded_redis import EmbeddedRedis, free_port, ping
from bot.settings import Settings
from bot.supervisor import Stack, StartupError, check_port_free
from bot.training import fingerprint


def test_a_port_in_use_names_the_port_and_the_variable() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(StartupError, match=f"port {port} is already in use.*RASA_PORT"):
            check_port_free("127.0.0.1", port, "RASA_PORT")
    check_port_free("127.0.0.1", port, "RASA_PORT")  # free again


def test_stack_refuses_to_start_when_a_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = {"FRONTDOOR_VAR": str(tmp_path), "HANDOFF_PORT": str(busy.getsockname()[1]),
               "RASA_PORT": str(free_port()), "ACTION_PORT": str(free_port()), "SITE_PORT": str(free_port()),
               "FRONTDOOR_REDIS_PORT": str(free_port())}
        stack = Stack(Settings.from_env(env, root=tmp_path))
        with pytest.raises(StartupError, match="HANDOFF_PORT"):
            stack.start()
        assert stack.children == [] and stack.redis is None


def test_embedded_redis_persists_across_a_restart(tmp_path: Path) -> None:
    from bot.embedded_redis import send_command

    port = free_port()
    with EmbeddedRedis(data_dir=tmp_path, port=port):
        assert send_command("127.0.0.1", port, "SET", "k", "v") == b"+OK"
    assert not ping("127.0.0.1", port)
    assert (tmp_path / "appendonly.aof").exists()
    with EmbeddedRedis(data_dir=tmp_path, port=port):
        assert send_command("127.0.0.1", port, "GET", "k") == b"$1"


def test_the_model_fingerprint_follows_its_inputs(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "config.yml").write_text("a")
    (tmp_path / "domain.yml").write_text("b")
    (tmp_path / "data" / "nlu.yml").write_text("c")
    before = fingerprint(tmp_path)
    assert fingerprint(tmp_path) == before
    (tmp_path / "data" / "nlu.yml").write_text("changed")
    assert fingerprint(tmp_path) != before
