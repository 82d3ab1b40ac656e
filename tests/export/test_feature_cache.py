"""The benchmark feature cache keeps one row per photo content, aligned across its files, through a save and a load."""

import json
from types import SimpleNamespace

import numpy as np

from export.ranker.features import _ProfileCache


def _described(*captions):
    return [SimpleNamespace(caption=c, aspects=(c,)) for c in captions]


def test_a_content_added_twice_keeps_one_aligned_row_after_a_reload(tmp_path):
    cache = _ProfileCache(tmp_path)
    cache.add(["a", "b"], np.array([[1.0, 0], [0, 1.0]]), np.array([[1.0], [2.0]]), _described("first a", "b"))
    cache.add(["a", "c"], np.array([[3.0, 3], [4.0, 4]]), np.array([[3.0], [4.0]]), _described("second a", "c"))
    cache.save()
    again = _ProfileCache(tmp_path)
    assert sorted(again.rows) == ["a", "b", "c"] and len(again.vectors) == len(again.visual) == 3
    for digest, vector, visual, caption in [("a", [3, 3], 3, "second a"), ("b", [0, 1], 2, "b"), ("c", [4, 4], 4, "c")]:
        row = again.rows[digest]
        assert list(again.vectors[row]) == vector and again.visual[row][0] == visual and again.captions[row] == caption


def test_a_cache_whose_files_disagree_is_made_again(tmp_path):
    cache = _ProfileCache(tmp_path)
    cache.add(["a", "b"], np.eye(2), np.ones((2, 1)), _described("a", "b"))
    cache.save()
    meta = json.loads((tmp_path / "profiles.json").read_text())
    (tmp_path / "profiles.json").write_text(json.dumps(meta | {"hashes": ["a"]}))  # a cache of the old bug
    assert _ProfileCache(tmp_path).rows == {}
