"""Engine start-up in a fresh interpreter: import, unlock (Argon2id + open the store), load the matrix, models.

`python -m benchmarks.perf.startup PROFILE` prints one JSON line of seconds per step. The store's file is in the
OS page cache (it was just written), as it is for an app restarted on the same day. `measure_startup` runs it twice:
without the encrypted vector snapshot (the matrix read from the store's rows, as after an index run changed the
photos; the snapshot is written then) and with it (every later start-up).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def measure_startup(profile: Path) -> dict[str, float]:
    """The start-up with the snapshot, and `load_matrix_rows_s`: the matrix's load without it."""
    from engine.home import Home
    from engine.profile.store import SNAPSHOT_SUFFIX

    Path(f"{Home(profile).store_path}{SNAPSHOT_SUFFIX}").unlink(missing_ok=True)
    cold, warm = _run(profile), _run(profile)
    return {**warm, "load_matrix_rows_s": cold["load_matrix_s"]}


def measure_cli_recommend(profile: Path, catalog: Path, category: str, runs: int = 3) -> dict[str, float]:
    """Seconds of `visuallens recommend --json` end to end in a fresh process: the first over this catalog (its
    items embedded and stored) and the best of `runs` later ones (asked before: embedded nothing)."""
    from benchmarks.perf.workspace import PASSPHRASE

    env = {**os.environ, "VISUALLENS_HOME": str(profile), "VISUALLENS_PASSPHRASE": PASSPHRASE,
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    command = [sys.executable, "-m", "engine.cli", "recommend", "--category", category, "--catalog", str(catalog),
               "--json"]

    def once() -> float:
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"visuallens recommend failed:\n{done.stderr[-3000:]}")
        return time.perf_counter() - start

    first = once()
    return {"first_s": first, "asked_before_s": min(once() for _ in range(runs))}


def _run(profile: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-m", "benchmarks.perf.startup", str(profile)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"start-up benchmark failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    start = time.perf_counter()
    from engine.api import unlock
    from engine.home import Home

    imported = time.perf_counter()
    from benchmarks.perf.workspace import PASSPHRASE  # after the clock: the benchmark's own module

    after_own_import = time.perf_counter()
    lens = unlock(Home(Path(sys.argv[1])), PASSPHRASE)
    lens.bundle.identity  # the bundle's checksums verified, as every start-up does
    unlocked = time.perf_counter()
    paths = lens.photo_library().paths  # the photos of the active bundle, as questions read them (8-bit codes)
    loaded = time.perf_counter()
    _ = lens.recommender  # the models: image and text encoders (and the ranker, when the bundle has one)
    warmed = time.perf_counter()
    print(json.dumps({
        "photos": len(paths),
        "import_s": imported - start,
        "unlock_s": unlocked - after_own_import,
        "load_matrix_s": loaded - unlocked,
        "models_s": warmed - loaded,
    }))


if __name__ == "__main__":
    main()
