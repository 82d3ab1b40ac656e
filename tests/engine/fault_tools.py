"""Helpers for the fault-injection tests: generated photo libraries, CLI subprocesses, raw store checks."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SAMPLES = ("astronaut", "camera", "chelsea", "coffee", "rocket", "coins", "moon", "clock", "brick", "grass",
           "hubble_deep_field", "immunohistochemistry")
DAC_CAPS = "-dac_override,-dac_read_search"


def make_photos(folder: Path, count: int, start: int = 0, side: int = 160, prefix: str = "p") -> list[Path]:
    """`count` small JPEGs with distinct content: scikit-image's real photos, mirrored, rotated, re-lit, marked."""
    from PIL import Image, ImageEnhance, ImageOps
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    bases = []
    for name in SAMPLES:
        image = Image.fromarray(getattr(data, name)()).convert("RGB")
        bases.append(image.resize((side, max(1, side * image.height // image.width))))
    made = []
    for i in range(start, start + count):
        base, k = bases[i % len(bases)], i // len(bases)
        variant = base.rotate(k * 7 % 360) if k % 2 else ImageOps.mirror(base)
        variant = ImageEnhance.Brightness(variant).enhance(0.7 + (k % 10) * 0.06)
        variant.putpixel((i % variant.width, 0), (i % 256, (i // 256) * 40 % 256, 255))  # content hashes differ
        path = folder / f"{prefix}{i:04d}.jpg"
        variant.save(path, quality=85)
        made.append(path)
    return made


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "engine.cli", *args]


def run_cli(*args: str, env: dict | None = None, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """`visuallens ARGS` in a subprocess (environment of this process unless `env`), output captured as text."""
    return subprocess.run(cli_command(*args), check=False, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def run_cli_in_process(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`visuallens ARGS` in this process (typer's CliRunner), for the tests that are about what a command does and
    prints, not about the process: the same result shape as `run_cli`, without the second or two a fresh
    interpreter takes to start and import. `env` is laid over this process's environment for the call.

    Like a process of its own, an unexpected exception exits 1 with its traceback on stderr."""
    from typer.testing import CliRunner

    from engine.cli import app

    with _environment(env or {}), _fresh_consoles():
        result = CliRunner().invoke(app, [str(arg) for arg in args])
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(*result.exc_info)[1:])
    return subprocess.CompletedProcess(cli_command(*args), result.exit_code, result.stdout, stderr)


@contextmanager
def _environment(changes: dict):
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _fresh_consoles():
    """The CLI's consoles as a `visuallens` process with captured output would make them in the environment of this
    call: this process made them when it imported the CLI, with its own terminal and environment (`pytest -s`)."""
    from rich.console import Console

    from engine.cli import context

    consoles = (context.out, context.err)
    saved = [(c._color_system, c._force_terminal, c._width, c._height) for c in consoles]
    try:
        for console in consoles:
            fresh = Console(file=io.StringIO(), stderr=console.stderr)  # its output is a pipe, not a terminal
            console._color_system, console._force_terminal = fresh._color_system, fresh._force_terminal
            console._width, console._height = fresh._width or 80, fresh._height or 25  # COLUMNS, LINES, or 80x25
        yield
    finally:
        for console, (color, force, width, height) in zip(consoles, saved):
            console._color_system, console._force_terminal, console._width, console._height = color, force, width, height


def unprivileged(command: list[str]) -> list[str]:
    """Root ignores permission bits (CAP_DAC_OVERRIDE): run `command` without those capabilities (util-linux setpriv).

    Returns `command` unchanged for a normal user; None when running as root without setpriv."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return [setpriv, "--bounding-set", DAC_CAPS, "--inh-caps", DAC_CAPS, *command]


def file_hash(path: str | Path) -> str:
    """The indexer's content hash (blake2b-128)."""
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=16).hexdigest()


def raw_connection(db_path: Path, key: bytes):
    """An independent SQLCipher connection to a store, below the ProfileStore API."""
    import sqlcipher3

    from engine.profile.store import CIPHER_PAGE_SIZE

    connection = sqlcipher3.connect(str(db_path), isolation_level=None)
    connection.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    connection.execute(f"PRAGMA cipher_page_size = {CIPHER_PAGE_SIZE}")
    return connection


def raw_counts(db_path: Path, key: bytes) -> dict[str, int]:
    """Row counts and referential checks read with an independent connection."""
    connection = raw_connection(db_path, key)
    try:
        def one(sql: str) -> int:
            return connection.execute(sql).fetchone()[0]

        return {
            "photos": one("SELECT count(*) FROM photos"),
            "vectors": one("SELECT count(*) FROM vectors"),
            "distinct_paths": one("SELECT count(DISTINCT path) FROM photos"),
            "orphan_vectors": one("SELECT count(*) FROM vectors WHERE photo_id NOT IN (SELECT id FROM photos)"),
            "foreign_key_errors": len(connection.execute("PRAGMA foreign_key_check").fetchall()),
        }
    finally:
        connection.close()


def assert_consistent(db_path: Path, key: bytes, dim: int | None = None) -> dict[str, str]:
    """The store opens, authenticates, and every photo row is whole: one vector, a caption, aspect words, and (for
    files still on disk) their size, mtime and content hash. Returns {path: content hash}."""
    from engine.profile.store import ProfileStore

    with ProfileStore.open(db_path, key) as store:
        assert store.integrity_ok(), "integrity check failed"
        fingerprints = store.fingerprints()
        _, matrix_paths, _ = store.load_matrix()
        profiles = store.profiles(sorted(fingerprints))
    counts = raw_counts(db_path, key)
    assert counts == {"photos": len(fingerprints), "vectors": len(fingerprints), "distinct_paths": len(fingerprints),
                      "orphan_vectors": 0, "foreign_key_errors": 0}, counts
    assert sorted(matrix_paths) == sorted(fingerprints) and len(profiles) == len(fingerprints)
    for profile in profiles:
        assert profile.caption.strip() and profile.aspects, profile.path
        assert np.isfinite(profile.vector).all() and np.abs(profile.vector).sum() > 0, profile.path
        if dim is not None:
            assert profile.vector.size == dim, profile.path
        if os.path.exists(profile.path):  # a deleted photo stays until an index run completes
            info = os.stat(profile.path)
            assert (profile.size, profile.mtime_ns) == (info.st_size, info.st_mtime_ns), profile.path
            assert profile.content_hash == file_hash(profile.path), profile.path
    return {path: fp.content_hash for path, fp in fingerprints.items()}
