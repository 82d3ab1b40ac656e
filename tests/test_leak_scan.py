"""Leak scan: after a full CLI session (init, index, search, recommend, feedback, a correction, taste, status) and
a desktop session (unlock, index, thumbnails, search, recommend, a like, your taste), no file under the data dir,
the temp dir, the config dir or the user's home/XDG dirs holds a caption, an aspect word, a photo's path or name,
raw vector bytes, a judged item or a pinned word; not even the encrypted store, whose pages are all ciphertext."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from engine.api import unlock
from engine.home import Home
from tests.engine.fault_tools import REPO, cli_command, make_photos, run_cli

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before pytest-qt creates the QApplication

# Whole sessions in processes of their own, and 20 s of `visuallens watch` under strace: the slow tier (CI); the fast
# tier checks the files the engine writes in tests/engine/test_privacy_on_disk.py.
pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

LIBRARY_NAME = "VerySecretHolidayFolder"
PINNED = "grandmas-marmalade"  # a word the user pins: their taste, kept only in the encrypted store
TELEMETRY_HINT = "onnxruntime>=1.29 on Linux queues 1DS telemetry unless ORT_DISABLE_TELEMETRY=1 is set before import"


def scanned_files(roots: list[Path]) -> list[Path]:
    """Every regular file under `roots` (symlinks are not followed: they point at what is not ours)."""
    found = []
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                path = Path(folder) / name
                if path.is_file() and not path.is_symlink():
                    found.append(path)
    return found


def leaks(files: list[Path], secrets: dict[bytes, str]) -> dict[str, list[str]]:
    """{file: [what of the secrets it holds]}, for the files that hold any."""
    found = {}
    for path in files:
        blob = path.read_bytes()
        held = sorted({label for secret, label in secrets.items() if secret in blob})
        if held:
            found[str(path)] = held
    return found


def photo_secrets(home: Home) -> tuple[dict[bytes, str], int]:
    """What must never be readable outside the store, in UTF-8 and UTF-16 (Qt's own strings), with what it is;
    and how many photos the store holds."""
    secrets: dict[bytes, str] = {}

    def text(value: str, label: str) -> None:
        for encoding in ("utf-8", "utf-16-le"):
            secrets[value.encode(encoding)] = label

    with unlock(home) as lens:
        profiles = lens.store.profiles(lens.photo_paths())
        _, _, matrix = lens.store.load_matrix()
    assert len(profiles) >= 20
    for profile in profiles:
        text(profile.path, "photo path")
        text(Path(profile.path).name, "photo name")
        text(profile.caption, "caption")
        text(profile.caption[:24], "start of a caption")
        for word in profile.aspects:  # short words only as stored (JSON), or they would match random ciphertext
            text(word if len(word) >= 5 else json.dumps(word), "aspect word")
        secrets[profile.vector.astype("<f4").tobytes()[:32]] = "raw vector bytes"
        if profile.visual_vector is not None:
            secrets[profile.visual_vector.astype("<f4").tobytes()[:32]] = "raw visual vector bytes"
    for row in matrix:
        secrets[row.astype("<f4").tobytes()[:32]] = "normalised vector bytes"
    text(LIBRARY_NAME, "library folder name")
    return secrets, len(profiles)


def test_no_photo_data_is_readable_in_any_file_the_app_wrote(home, photo_dir, catalog, tmp_path, qtbot, monkeypatch):
    from desktop.app import create_app
    from desktop.main_window import MainWindow
    from desktop.session import Session
    from tests.desktop.conftest import wait_indexed

    library = tmp_path / LIBRARY_NAME
    library.mkdir()
    for photo in photo_dir.iterdir():
        shutil.copy(photo, library / f"grandmas-garden-{photo.name}")
    make_photos(library / "birthday", 20, prefix="aunt-mildreds-party-")
    temp, config, user = tmp_path / "tmp", tmp_path / "config", tmp_path / "user"
    for folder in (temp, config, user):
        folder.mkdir()
    xdg = {f"XDG_{kind}_HOME": str(user / kind.lower()) for kind in ("CONFIG", "CACHE", "DATA", "STATE")}
    for name, value in {"TMPDIR": str(temp), "VISUALLENS_CONFIG": str(config), "HOME": str(user), **xdg}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(tempfile, "tempdir", None)  # tempfile reads TMPDIR again

    for args in (("init", "--no-keyring"), ("index", str(library)), ("search", "a cat", "--json"),
                 ("recommend", "--category", "outing", "--catalog", str(catalog), "--query", "a cat", "--json"),
                 ("feedback", "c3", "--category", "outing", "--catalog", str(catalog), "--not-for-me"),
                 ("correct", "-c", "outing", "--more-of", PINNED), ("taste", "outing", "--catalog", str(catalog)),
                 ("status", "--json")):
        done = run_cli(*args)
        assert done.returncode == 0, (args, done.stderr)

    create_app([])
    window = MainWindow(Session(Home.default()))
    qtbot.addWidget(window)
    window.show()
    window.start()  # VISUALLENS_PASSPHRASE unlocks silently, as the keyring would
    make_photos(library / "later", 4, start=20, prefix="new-neighbours-")
    window.runner.start([library])
    wait_indexed(qtbot, window)
    qtbot.waitUntil(lambda: all(window.thumbnails.get(p) is not None for p in window.library.model.paths()),
                    timeout=60_000)
    window.library.search_box.setText("a cat")
    with qtbot.waitSignal(window.library.search_done, timeout=60_000):
        window.library.search()
    view = window.recommend
    assert view.open_catalog(catalog)
    view.query.setText("a cat")
    with qtbot.waitSignal(view.ranked, timeout=60_000):
        view.recommend()
    view.table.selectRow(1)
    liked = view.recommendation.ranked[1].item.name
    with qtbot.waitSignal(view.ranked, timeout=60_000):
        view.like_button.click()
    with qtbot.waitSignal(window.taste.shown, timeout=60_000):  # Your taste: thumbnails of the photos, in memory
        window.tabs.setCurrentWidget(window.taste)
    secrets, photos = photo_secrets(Home.default())
    for name in ("rocket launch viewing", liked):  # the items judged
        for encoding in ("utf-8", "utf-16-le"):
            secrets[name.encode(encoding)] = "judged item"
    secrets.update({PINNED.encode(encoding): "pinned word" for encoding in ("utf-8", "utf-16-le")})
    while_open = scanned_files([home])  # the app still holds the store: its WAL and shared memory are there too
    assert {"profile.db-wal", "profile.db-shm"} <= {p.name for p in while_open}
    assert leaks(while_open, secrets) == {}
    window.close()

    files = scanned_files([home, temp, config, user])
    assert {p.name for p in files} >= {"profile.db", "keys.json"}

    planted = temp / "planted.txt"  # the scan itself works
    planted.write_bytes(b"..." + next(s for s, label in secrets.items() if label == "caption") + b"...")
    assert "caption" in leaks([planted], secrets)[str(planted)]
    planted.unlink()

    print(f"\nleak scan: {len(files)} files ({', '.join(sorted({p.name for p in files}))}) scanned for "
          f"{len(secrets)} secrets of {photos} photos")
    assert leaks(files, secrets) == {}
    elsewhere = sorted(str(p) for p in files if home not in p.parents)
    assert elsewhere == [], f"written outside the data dir (ONNX Runtime telemetry? {TELEMETRY_HINT}): {elsewhere}"


def test_no_native_code_opens_a_network_connection(home, photo_dir, tmp_path):
    """The session fixture guards Python sockets only; native libraries (ONNX Runtime's telemetry uploads about
    10 s after its first session, say) are watched here at the system-call level: `visuallens watch` runs for
    20 s, indexing and waiting, and must not connect anywhere but to local sockets."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    trace = tmp_path / "trace.txt"
    library = tmp_path / "library"
    shutil.copytree(photo_dir, library)
    assert run_cli("init", "--no-keyring").returncode == 0
    watch = ["timeout", "-s", "INT", "20", *cli_command("watch", str(library), "--json")]
    done = subprocess.run([strace, "-f", "-qq", "-e", "trace=connect", "-o", str(trace), *watch],
                          check=False, cwd=REPO, capture_output=True, text=True, timeout=300)
    if not trace.exists() or "ptrace" in done.stderr:
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()}")
    assert done.returncode in (0, 124), done.stderr
    assert '"added": 4' in done.stdout
    calls = [line for line in trace.read_text().splitlines() if "connect(" in line]
    network = [line for line in calls if "AF_UNIX" not in line and "AF_NETLINK" not in line]
    assert network == [], f"`visuallens watch` tried the network ({TELEMETRY_HINT}): {network[:3]}"
