"""The data dir is 0700 and every file VisualLens writes in it 0600, whatever the umask, folders made before too."""

import os
import stat

import pytest

from engine.home import Home, Settings, write_private
from tests.engine.fault_tools import run_cli


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def with_umask_000() -> None:
    os.umask(0)


def test_init_and_later_runs_make_an_existing_open_data_dir_private(home):
    home.mkdir()
    home.chmod(0o777)  # made by an older version, by hand, or by `models install` under a lax umask
    result = run_cli("init", "--no-keyring", preexec_fn=with_umask_000)
    assert result.returncode == 0, result.stderr
    assert mode(home) == 0o700
    files = {path.name: mode(path) for path in home.iterdir()}
    assert {"settings.json", "keys.json", "profile.db"} <= set(files) and set(files.values()) == {0o600}, files

    home.chmod(0o777)
    result = run_cli("status", "--json", preexec_fn=with_umask_000)
    assert result.returncode == 0, result.stderr
    assert mode(home) == 0o700


def test_settings_are_written_0600_under_umask_000(tmp_path):
    previous = os.umask(0)
    try:
        home = Home(tmp_path / "data")
        home.save_settings(Settings(bundle="lite"))
        home.save_settings(Settings(bundle="base"))  # replacing keeps the mode too
    finally:
        os.umask(previous)
    assert mode(home.settings_path) == 0o600 and mode(home.root) == 0o700
    assert home.load_settings().bundle == "base"
    assert sorted(p.name for p in home.root.iterdir()) == ["settings.json"]  # no temporary file left behind


def test_opening_takes_access_away_from_others_and_never_adds_any(tmp_path, monkeypatch):
    monkeypatch.setenv("VISUALLENS_HOME", str(tmp_path / "data"))
    assert not Home.default().root.exists()  # opening does not create it
    (tmp_path / "data").mkdir()
    # 0o1777: a shared folder (sticky, as /tmp is), named by mistake, is not locked against everyone else.
    for before, after in [(0o777, 0o700), (0o755, 0o700), (0o555, 0o500), (0o700, 0o700), (0o1777, 0o1777)]:
        (tmp_path / "data").chmod(before)
        assert mode(Home.default().root) == after, oct(before)


def test_write_private_without_replace_never_takes_an_existing_name(tmp_path):
    path = tmp_path / "api.json"
    write_private(path, b"first", replace=False)
    with pytest.raises(FileExistsError):
        write_private(path, b"second", replace=False)
    assert path.read_bytes() == b"first" and mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["api.json"]
