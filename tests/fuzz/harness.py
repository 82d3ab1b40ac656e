"""Running the product under test for the fuzz suite: the CLI in subprocesses under a memory limit, the
documented exit codes, the checks that the profile survived, and the Hypothesis settings shared by every test."""

from __future__ import annotations

import json
import os
import resource
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings

from tests.engine.fault_tools import REPO, cli_command

# `visuallens index` of a small folder runs in 0.7 GB of address space and fails at 0.5 GB (ONNX Runtime's arenas
# and thread stacks are reserved up front); 3 GiB leaves room for that on bigger machines, while a 1 x 100000 strip
# resized for the encoder (about 20 GB) cannot fit.
MEMORY_LIMIT = 3 * 2**30
# README, "Exit codes": ok, error, usage, no profile, locked, bundle, bad input, in use, store damaged.
EXIT_CODES = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 8})
CRASH_MARKERS = ("Traceback", "MemoryError", "bad_alloc", "Segmentation fault", "core dumped")
PASS = "correct horse battery staple"

# Each test names its examples for CI (the whole suite: 1.5 minutes on 2 busy cores, within CI's 4); with
# VISUALLENS_FUZZ_SCALE=N it runs N times as many, from a random seed (Hypothesis prints how to reproduce a failure).
SCALE_ENV = "VISUALLENS_FUZZ_SCALE"
SCALE = max(1, int(os.environ.get(SCALE_ENV) or 1))
_BASE = settings(
    deadline=None,
    derandomize=SCALE == 1,  # CI: the same inputs on every run
    database=None,  # no example database in the working tree (.hypothesis/ keeps only a self-ignored cache)
    print_blob=True,
    suppress_health_check=list(HealthCheck),  # slow subprocess examples and large generated files are the point
)


def fuzz_settings(examples: int, subprocess_per_example: bool = False) -> settings:
    """Hypothesis settings for a test: `examples` in CI; no shrinking when each example starts processes (a
    failure names its whole input instead, and CI stays bounded)."""
    phases = [Phase.explicit, Phase.generate] + ([] if subprocess_per_example else [Phase.shrink])
    return settings(_BASE, max_examples=examples * SCALE, phases=phases)


def limit_memory() -> None:
    """`preexec_fn` of every process under test: at most MEMORY_LIMIT bytes of address space."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@dataclass(frozen=True)
class Profile:
    """A VisualLens data dir for the CLI, and the photos it held before any fuzzing."""

    env: dict[str, str]
    baseline: frozenset[str]

    @property
    def home(self) -> Path:
        return Path(self.env["VISUALLENS_HOME"])


def run_cli(env: dict[str, str], *args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    """`visuallens ARGS` under the memory limit, output captured as text."""
    return subprocess.run(
        cli_command(*map(str, args)), cwd=REPO, env=env, capture_output=True, text=True, encoding="utf-8",
        errors="replace", stdin=subprocess.DEVNULL, timeout=timeout, preexec_fn=limit_memory,
    )


def assert_clean(result: subprocess.CompletedProcess, allowed: set[int], about: object = "") -> None:
    """No crash (signal, traceback, out of memory) and an exit code among `allowed` (all documented ones)."""
    assert allowed <= EXIT_CODES
    output = result.stdout + result.stderr
    command = " ".join(result.args[3:])[:300]
    where = f"{command}\n{about}\nstdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-4000:]}"
    assert result.returncode >= 0, f"killed by signal {-result.returncode}: {where}"
    assert not any(marker in output for marker in CRASH_MARKERS), f"crashed: {where}"
    assert result.returncode in allowed, f"exit code {result.returncode} not in {sorted(allowed)}: {where}"


def assert_profile_intact(profile: Profile) -> set[str]:
    """The store opens (`status` and `search` exit 0) and still holds every photo indexed before the fuzzing;
    returns every photo path it holds."""
    status = run_cli(profile.env, "status", "--json")
    assert_clean(status, {0})
    info = json.loads(status.stdout)
    assert "bundle_error" not in info, info["bundle_error"]
    found = run_cli(profile.env, "search", "a photo", "-k", "1000000", "--json")
    assert_clean(found, {0})
    paths = {hit["path"] for hit in json.loads(found.stdout)}
    assert profile.baseline <= paths, f"lost: {sorted(profile.baseline - paths)}"
    assert len(paths) == info["photos"], (len(paths), info["photos"])
    return paths
