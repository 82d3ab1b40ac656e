"""A real registry photo library (>=300 sample photos, every supported format) indexed and recommended from."""

import json
import os
import subprocess
import sys

import pytest

from export.data.samples import build_sample_catalog, build_sample_photos

pytestmark = pytest.mark.slow


def vl(*args):
    result = subprocess.run([sys.executable, "-m", "engine.cli", *map(str, args)], capture_output=True, text=True,
                            env=dict(os.environ), stdin=subprocess.DEVNULL, timeout=1200)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_index_sample_library_and_recommend(home, tmp_path_factory):
    data = tmp_path_factory.mktemp("demo")
    photos = build_sample_photos(data / "photos")
    catalog = build_sample_catalog(data / "catalog")
    vl("init", "--no-keyring")
    report = json.loads(vl("index", photos, "--json"))
    assert report["added"] >= 300, report
    assert report["failed"] == [] and report["added"] == report["scanned"]  # PNG, JPEG, WebP, HEIC, EXIF-rotated

    categories = sorted({item["category"] for item in json.loads(catalog.read_text())["items"]})
    answer = json.loads(vl("recommend", "--category", categories[0], "--catalog", catalog, "--json",
                           "--grid", tmp_path_factory.mktemp("out") / "grid.png"))
    assert answer["scorer"] == "trained ranker"
    ranking = answer["ranking"]
    assert len(ranking) >= 10
    assert all(r["evidence"]["cells"] and all(1 <= c <= 64 for c in r["evidence"]["cells"]) for r in ranking[:5])
    assert any(r["evidence"]["aspect_words"] for r in ranking[:5])

    again = json.loads(vl("index", photos, "--json"))
    assert again["decoded"] == 0 and again["unchanged"] == report["added"]
