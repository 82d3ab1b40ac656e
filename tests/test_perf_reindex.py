"""`benchmarks/run`'s re-index part measures what it says: a library this bundle indexed before is re-indexed without
decoding or hashing a file (profiles left by another bundle would all be encoded again)."""

from __future__ import annotations

from benchmarks.perf.reindex import build_small_library, measure_reindex


def test_an_unchanged_library_is_reindexed_without_opening_a_file(tmp_path, lite_bundle):
    library = build_small_library(tmp_path / "library", count=40)
    result = measure_reindex(lite_bundle, library, tmp_path / "profile")
    assert (result.photos, result.unchanged, result.decoded, result.hashed) == (40, 40, 0, 0)
