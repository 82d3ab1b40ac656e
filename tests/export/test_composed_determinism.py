"""The composed benchmark is a function of its configuration: not of the process's string hashing, nor of where
the asset cache lives."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from export.data.registry import cache_root

pytestmark = pytest.mark.slow  # not in `./run test fast`

ROOT = Path(__file__).resolve().parents[2]
GENERATE = """
import sys
from pathlib import Path
from export.data.benchmark.composed import ComposedConfig, generate_composed_benchmark
config = ComposedConfig(seed=7, train_users=2, val_users=0, test_users=2, queries_per_user=2, history=(20, 30),
                        photo_sources=("emoji-google", "emoji-fluent-3d"), item_source="emoji-twitter", everyday_share=0.3)
generate_composed_benchmark(Path(sys.argv[1]), config)
"""


def _generate(out: Path, hash_seed: str, assets: Path) -> dict[str, str]:
    """Generate in a fresh process; every file's SHA-256 by its path inside `out`."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "VISUALLENS_ASSET_CACHE": str(assets), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", GENERATE, str(out)], env=env, cwd=ROOT, check=True, timeout=120)
    files = sorted(path for path in out.rglob("*") if path.is_file())
    return {path.relative_to(out).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def test_two_processes_with_other_string_hashing_and_cache_path_write_the_same_files(tmp_path):
    # run one after the other: the first fills a cold asset cache that the second reaches through a symlink
    first = _generate(tmp_path / "a", "1", cache_root())
    (tmp_path / "assets").symlink_to(cache_root().resolve(), target_is_directory=True)
    second = _generate(tmp_path / "b", "2", tmp_path / "assets")
    assert any(name.startswith("photos/everyday-") for name in first) and "users.jsonl" in first
    assert first == second
