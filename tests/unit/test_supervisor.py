from __future__ import annotations

import socket
from pathlib import Path

import pytest

from stack.embedded_redis import EmbeddedRedis, free_port, ping
from stack.settings import Settings
from stack.supervisor import Stack, StartupError, check_port_free
from stack.training import fingerprint


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
    from stack.embedded_redis import send_command

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
    ext = tmp_path / "rasa_ext"
    ext.mkdir(parents=True)
    (ext / "classifier.py").write_text("a component")
    trained_on = fingerprint(tmp_path)
    assert trained_on != fingerprint(tmp_path.parent / "nothing")
    (ext / "tracker_store.py").write_text("runtime only")  # the running server's parts need no new model
    (ext / "rest_channel.py").write_text("runtime only")
    assert fingerprint(tmp_path) == trained_on
    (ext / "classifier.py").write_text("a changed component")
    assert fingerprint(tmp_path) != trained_on


def test_a_crashed_child_is_restarted_with_backoff_and_the_others_keep_running(tmp_path: Path) -> None:
    import signal
    import sys
    import time

    from stack.supervisor import Child

    env = {"FRONTDOOR_VAR": str(tmp_path), "FRONTDOOR_REDIS_PORT": str(free_port())}
    stack = Stack(Settings.from_env(env, root=tmp_path))
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    stack.children = [Child(name, sleeper, {}, lambda: True, tmp_path / f"{name}.log") for name in ("a", "b")]
    try:
        for child in stack.children:
            child.start(tmp_path)
        other = stack.children[1].process
        assert stack.supervise() == []
        first = stack.children[0]
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        now = time.monotonic()
        assert stack.supervise(now) == ["a"] and first.alive()
        first.process.send_signal(signal.SIGKILL)  # crashes again at once: the next start waits 1 s, then 2 s
        first.process.wait()
        assert stack.supervise(now + 0.5) == [] and not first.alive()
        assert stack.supervise(now + 1.0) == ["a"] and first.alive()
        assert first.next_start == now + 1.0 + 2.0
        assert stack.children[1].process is other and stack.children[1].alive()  # untouched
        # a minute up: the backoff starts from 1 s again
        stack.supervise(first.started_at + 60)
        assert first.restarts == 0
    finally:
        for child in stack.children:
            child.stop(5)


def test_a_killed_embedded_redis_comes_back_with_its_data(tmp_path: Path) -> None:
    import signal

    from stack.embedded_redis import send_command

    env = {"FRONTDOOR_VAR": str(tmp_path), "FRONTDOOR_REDIS_PORT": str(free_port())}
    stack = Stack(Settings.from_env(env, root=tmp_path))
    port = free_port()
    stack.redis = EmbeddedRedis(data_dir=tmp_path / "redis", port=port).start()
    try:
        send_command("127.0.0.1", port, "SET", "ticket", "T-000001")
        send_command("127.0.0.1", port, "CONFIG", "SET", "appendfsync", "always")
        send_command("127.0.0.1", port, "SET", "ticket", "T-000002")
        assert stack.redis.process is not None
        stack.redis.process.send_signal(signal.SIGKILL)
        stack.redis.process.wait()
        assert not ping("127.0.0.1", port)
        assert stack.supervise() == ["redis"]
        import redis

        assert redis.Redis(port=port).get("ticket") == b"T-000002"
    finally:
        stack.redis.stop()


def test_the_embedded_redis_has_a_password_that_is_not_on_its_command_line(tmp_path: Path) -> None:
    import redis

    port = free_port()
    server = EmbeddedRedis(data_dir=tmp_path, port=port, password="s3cret-pw").start()
    try:
        assert server.process is not None
        cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        assert b"s3cret-pw" not in cmdline
        assert (tmp_path / "redis.conf").stat().st_mode & 0o077 == 0
        assert not ping("127.0.0.1", port) and ping("127.0.0.1", port, password="s3cret-pw")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).set("x", "1")
        assert redis.Redis.from_url(server.url).set("x", "1")
    finally:
        server.stop()


def test_settings_give_the_embedded_redis_password_to_every_client(tmp_path: Path) -> None:
    env = {"FRONTDOOR_VAR": str(tmp_path), "FRONTDOOR_REDIS_PORT": "6390"}
    settings = Settings.from_env(env, root=tmp_path).with_secrets()
    password = settings.secrets["FRONTDOOR_REDIS_PASSWORD"]
    assert settings.effective_redis_url == f"redis://:{password}@127.0.0.1:6390/0"
    external = Settings.from_env({**env, "REDIS_URL": "redis://other:6379/0"}, root=tmp_path).with_secrets()
    assert external.effective_redis_url == "redis://other:6379/0"
