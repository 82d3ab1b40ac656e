"""One server per token file: a running one is never taken over, a dead one's file is cleared at the next start,
and a server removes `api.json` on stop only while it still holds its token. Real servers, real processes."""

import json
import os
import signal
import socket
import stat
import subprocess
import time

import httpx
import pytest

from engine.serve import token
from engine.serve.server import LocalServer
from engine.serve.token import ServerRunningError, clear_stale_token_file, write_token_file
from tests.engine.fault_tools import REPO, cli_command


def serve(config) -> subprocess.Popen:
    """`visuallens serve --port 0` over the module's profile (its environment), output captured."""
    return subprocess.Popen(cli_command("serve", "--port", "0", "--config", str(config)), cwd=REPO,
                            env=os.environ.copy(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_token_file(config, proc: subprocess.Popen, not_token: str | None = None) -> dict:
    deadline = time.monotonic() + 120
    while True:
        try:
            saved = json.loads((config / "api.json").read_text())
            if saved["token"] != not_token:
                return saved
        except FileNotFoundError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)


def status(saved: dict) -> int:
    return httpx.get(saved["url"] + "/status", headers={"Authorization": f"Bearer {saved['token']}"},
                     timeout=30).status_code


def test_a_second_server_is_refused_while_the_first_runs(lens, tmp_path):
    config = tmp_path / "cfg"
    with LocalServer(lens, port=0, config=config) as first:
        with pytest.raises(ServerRunningError, match=f"already running on {first.url}.*--config"):
            LocalServer(lens, port=0, config=config)

        second = serve(config)  # the command: one line, exit code 7 (in use), before binding anything
        try:
            out, err = second.communicate(timeout=120)
        finally:
            if second.poll() is None:
                second.kill()
                second.communicate()
        assert second.returncode == 7, err
        [line] = [line for line in err.splitlines() if line.strip()]
        assert line.startswith("error: a VisualLens API server is already running on " + first.url), err
        assert str(config / "api.json") in line
        assert json.loads((config / "api.json").read_text()) == {"url": first.url, "token": first.token}
        assert status({"url": first.url, "token": first.token}) == 200
    assert first.token_file_removed and not (config / "api.json").exists()


@pytest.mark.slow  # two server processes, one killed: not in `./run test fast` (the stale-file cases below are)
def test_a_server_killed_with_sigkill_leaves_a_file_the_next_start_clears(lens, tmp_path):
    config = tmp_path / "cfg"
    first = serve(config)
    try:
        dead = wait_for_token_file(config, first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    assert (config / "api.json").exists()  # nothing can clean up after SIGKILL

    second = serve(config)
    try:
        saved = wait_for_token_file(config, second, not_token=dead["token"])
        assert status(saved) == 200
        # Someone replaces the file while it runs: on stop the server leaves it and says so.
        (config / "api.json").write_text(json.dumps({**saved, "token": "someone else's"}))
    finally:
        second.send_signal(signal.SIGTERM)
        out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert "removed a stale token file" in err and str(config / "api.json") in err
    assert "no longer held this server's token" in err and "token file removed" not in err
    assert json.loads((config / "api.json").read_text())["token"] == "someone else's"


def test_stop_removes_the_token_file_only_while_it_is_this_servers(lens, tmp_path):
    with LocalServer(lens, port=0, config=tmp_path) as running:
        assert running.stale_token_file is None
        (tmp_path / "api.json").write_text(json.dumps({"url": running.url, "token": "another"}))
    assert not running.token_file_removed and (tmp_path / "api.json").exists()


def test_an_open_config_folder_is_made_private(lens, tmp_path):
    config = tmp_path / "cfg"
    config.mkdir(mode=0o777)
    config.chmod(0o777)
    with LocalServer(lens, port=0, config=config) as running:
        assert stat.S_IMODE(config.stat().st_mode) == 0o700
        assert stat.S_IMODE(running.token_path.stat().st_mode) == 0o600


@pytest.fixture()
def listener():
    """A loopback port something else listens on (accepting at the kernel level, never answering)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock.getsockname()[1]


def plant(folder, content: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "api.json").write_text(content)


@pytest.mark.parametrize("content", [
    "", "{not json", "[1, 2]", '{"url": 8731, "token": "x"}',
    '{"url": "http://192.0.2.1:8731", "token": "x"}',  # not loopback: never asked (tests fail any such connect)
    '{"url": "http://127.0.0.1:99999", "token": "x"}',
])
def test_unusable_token_files_are_stale(tmp_path, content):
    plant(tmp_path, content)
    assert clear_stale_token_file(tmp_path) == tmp_path / "api.json"
    assert not (tmp_path / "api.json").exists()


def test_a_port_freed_or_taken_by_another_program_is_stale(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as sock:
        free = sock.getsockname()[1]
    plant(tmp_path, json.dumps({"url": f"http://127.0.0.1:{free}", "token": "x"}))  # refused
    assert clear_stale_token_file(tmp_path) is not None and not (tmp_path / "api.json").exists()


def test_another_server_with_another_token_is_not_this_files_server(lens, tmp_path):
    with LocalServer(lens, port=0, config=tmp_path / "theirs") as other:
        plant(tmp_path / "mine", json.dumps({"url": other.url, "token": "not theirs"}))  # answered 401
        assert clear_stale_token_file(tmp_path / "mine") is not None
        assert (tmp_path / "theirs" / "api.json").exists()


def test_a_port_held_without_answers_is_not_taken_over(tmp_path, listener, monkeypatch):
    """A stopped (SIGSTOP) server still holds its port: refuse rather than guess."""
    monkeypatch.setattr(token, "PROBE_TIMEOUT", 0.5)  # nothing answers here: no need to wait the full 5 s
    plant(tmp_path, json.dumps({"url": f"http://127.0.0.1:{listener}", "token": "x"}))
    with pytest.raises(ServerRunningError, match="did not answer"):
        clear_stale_token_file(tmp_path)
    assert (tmp_path / "api.json").exists()


def test_two_servers_writing_at_once_cannot_both_own_the_file(tmp_path):
    write_token_file(tmp_path, "http://127.0.0.1:1", "first")
    with pytest.raises(ServerRunningError, match="at the same time"):
        write_token_file(tmp_path, "http://127.0.0.1:2", "second")
    assert json.loads((tmp_path / "api.json").read_text())["token"] == "first"
