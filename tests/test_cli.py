"""The `visuallens` CLI end to end: the main job, JSON output, exit codes and error lines. The commands run in this
process (`vl`); the main job also runs in subprocesses (`vl_process`, the slow tier)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.engine.fault_tools import run_cli_in_process

PASS = "correct horse battery staple"


def vl(*args, env=None, check=True):
    """`visuallens ARGS` in this process; `env` is laid over the environment."""
    result = run_cli_in_process(*args, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}")
    return result


def vl_process(*args, env=None, check=True):
    """`visuallens ARGS` in a subprocess of its own, as a user runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", *map(str, args)],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}")
    return result


@pytest.fixture()
def library(home, photo_dir, tmp_path):
    folder = tmp_path / "Pictures"
    shutil.copytree(photo_dir, folder)
    vl("init", "--no-keyring")
    return folder


@pytest.mark.parametrize("vl", [vl, pytest.param(vl_process, marks=pytest.mark.slow)], ids=["in-process", "subprocess"])
def test_main_job_index_search_recommend_status_forget_wipe(library, catalog, tmp_path, home, vl):
    report = json.loads(vl("index", library, "--json").stdout)
    assert report["added"] == 4 and report["failed"] == []

    hits = json.loads(vl("search", "a cat", "--json", "-k", "2").stdout)
    assert [os.path.basename(h["path"]) for h in hits][:1] == ["chelsea.png"]
    assert set(hits[0]) == {"path", "score"}

    answer = json.loads(vl("recommend", "--category", "outing", "--catalog", catalog, "--json", "-w", "4",
                           "--grid", tmp_path / "out" / "grid.png").stdout)
    assert answer["scorer"] == "trained ranker" and answer["category"] == "outing" and answer["photos_used"] == 4
    assert isinstance(answer["support"], int) and answer["cold_start"] == (answer["support"] < 3)
    ranking = answer["ranking"]
    assert [r["rank"] for r in ranking] == [1, 2, 3]
    assert set(ranking[0]) == {"id", "name", "score", "rank", "evidence"}
    assert set(ranking[0]["evidence"]) == {"cells", "aspect_words", "feedback"}
    assert all(1 <= c <= 4 for r in ranking for c in r["evidence"]["cells"])
    assert (tmp_path / "out" / "grid.png").stat().st_size > 1000

    table = vl("recommend", "--category", "outing", "--catalog", catalog).stdout
    assert "cat cafe" in table and "rank" in table and "ranked by the trained ranker" in " ".join(table.split())

    status = json.loads(vl("status", "--json").stdout)
    assert status["photos"] == 4 and status["bundle"] == "lite" and status["scorer"] == "trained ranker"
    assert status["execution_provider"] == "CPUExecutionProvider"
    assert status["bundle_parity"]["image_encoder"]["max_abs_diff"] < 1e-3
    shown = vl("status", env={"COLUMNS": "200"}).stdout
    assert "image_encoder: max abs diff" in shown and "{" not in shown and "store bytes" in shown
    assert str(library) in shown and " MB " in shown

    assert "Forgot 1 photo" in vl("forget", library / "rocket.jpg").stdout
    assert json.loads(vl("status", "--json").stdout)["photos"] == 3

    vl("wipe", "--yes")
    assert not (home / "profile.db").exists() and not (home / "keys.json").exists()
    assert vl("status", check=False).returncode == 3


def test_wrong_passphrase_is_refused_and_changes_nothing(library, home):
    vl("index", library)
    before = (home / "profile.db").read_bytes()
    result = vl("status", env={"VISUALLENS_PASSPHRASE": "wrong"}, check=False)
    assert result.returncode == 4
    assert "wrong passphrase" in result.stderr.lower()
    assert (home / "profile.db").read_bytes() == before


def test_not_initialised(home):
    result = vl("search", "cat", check=False)
    assert result.returncode == 3 and "visuallens init" in result.stderr


def test_init_without_keyring_or_passphrase_explains(home):
    result = vl("init", env={"VISUALLENS_PASSPHRASE": ""}, check=False)
    assert result.returncode == 4 and "VISUALLENS_PASSPHRASE" in result.stderr


def test_missing_folder_and_bad_catalog_are_one_line_errors(library, tmp_path):
    result = vl("index", tmp_path / "nowhere", check=False)
    assert result.returncode == 6 and "nowhere" in result.stderr and "Traceback" not in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = vl("recommend", "--category", "x", "--catalog", bad, check=False)
    assert result.returncode == 6 and "bad.json" in result.stderr and "Traceback" not in result.stderr


def test_unknown_category_lists_the_known_ones(library, catalog):
    vl("index", library)
    result = vl("recommend", "--category", "spaceship", "--catalog", catalog, check=False)
    assert result.returncode == 6 and "outing" in result.stderr


def test_broken_bundle_is_named(library, tmp_path, lite_bundle, monkeypatch):
    broken = tmp_path / "broken-bundles"
    shutil.copytree(lite_bundle, broken / "lite")
    (broken / "lite" / "text_encoder.onnx").write_bytes(b"garbage")
    result = vl("index", library, env={"VISUALLENS_BUNDLES": str(broken)}, check=False)
    assert result.returncode == 5 and "text_encoder.onnx" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
