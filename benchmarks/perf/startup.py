"""Engine start-up in a fresh interpreter: import, unlock (Argon2id + open the store), load the matrix, models.

`python -m benchmarks.perf.startup PROFILE` prints one JSON line of seconds per step. The store's file is in the
OS page cache (it was just written), as it is for an app restarted on the same day.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def measure_startup(profile: Path) -> dict[str, float]:
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
    unlocked = time.perf_counter()
    _, paths, _ = lens.store.load_matrix()
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
