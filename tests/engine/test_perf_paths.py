"""The performance paths give the same answers as the plain ones: lanes, top-w, the matrix load, FLOP counting."""

from __future__ import annotations

import numpy as np
import pytest

from engine.recommend.retrieval import top_w


def test_top_w_matches_a_full_sort():
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((5000, 48)).astype(np.float32)
    query = rng.standard_normal(48).astype(np.float32)
    rows, sims = top_w(matrix, query, 64)
    full = matrix.astype(np.float64) @ query.astype(np.float64)
    assert list(rows) == list(np.argsort(-full, kind="stable")[:64])
    np.testing.assert_allclose(sims, full[rows], rtol=1e-5, atol=1e-5)
    assert sims.dtype == np.float32 and rows.dtype == np.int64


def test_top_w_with_fewer_rows_than_w_and_an_empty_library():
    matrix = np.eye(3, dtype=np.float32)
    rows, _ = top_w(matrix, np.array([0.1, 0.9, 0.5], dtype=np.float32), 64)
    assert list(rows) == [1, 2, 0]
    assert list(top_w(np.zeros((0, 3), np.float32), np.ones(3, np.float32), 8)[0]) == []


def test_blas_runs_single_threaded_once_a_model_is_open(lite_bundle):
    from threadpoolctl import threadpool_info

    from engine.models.bundle import load_bundle
    from engine.models.encoders import TextEncoder

    TextEncoder(load_bundle(lite_bundle), provider="cpu")
    assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")


def test_lanes_split_a_batch_and_keep_its_order(lite_bundle, photo_dir):
    from engine.imaging.preprocess import load_tensor
    from engine.models.bundle import load_bundle
    from engine.models.encoders import ImageEncoder

    encoder = ImageEncoder(load_bundle(lite_bundle), provider="cpu", threads=3)
    batch = np.stack([load_tensor(p, encoder.spec) for p in sorted(photo_dir.iterdir())] * 2)
    split, whole = encoder.encode(batch), encoder.encode_lane(batch)
    assert encoder.lanes == 3
    np.testing.assert_allclose(split.embeddings, whole.embeddings, atol=1e-5)
    np.testing.assert_allclose(split.label_probs, whole.label_probs, atol=1e-5)


def test_indexer_lanes_store_each_photo_with_its_own_vector(lite_bundle, photo_dir, tmp_path):
    from engine.imaging.preprocess import load_tensor
    from engine.models.bundle import load_bundle
    from engine.models.encoders import ImageEncoder, TextEncoder
    from engine.profile.describers import load_describer
    from engine.profile.indexer import Indexer
    from engine.profile.store import ProfileStore

    bundle = load_bundle(lite_bundle)
    encoder, text_encoder = ImageEncoder(bundle, provider="cpu"), TextEncoder(bundle, provider="cpu")
    with ProfileStore.open(tmp_path / "store.db", bytes(32)) as store:
        report = Indexer(store, encoder, load_describer(bundle), text_encoder, batch_size=1, lanes=2).run([photo_dir])
        assert report.added == 4 and report.decoded == 4
        stored = store.profiles(store.fingerprints())
    assert len({p.caption for p in stored}) == 4
    for profile in stored:
        expected = encoder.encode_lane(load_tensor(profile.path, encoder.spec)[None]).embeddings[0]
        np.testing.assert_allclose(profile.vector, expected, atol=1e-5)
        np.testing.assert_allclose(profile.caption_vector, text_encoder.encode_lane([profile.caption])[0], atol=1e-5)


def test_an_index_run_fills_in_text_vectors_a_store_lacks(lite_bundle, photo_dir, tmp_path):
    import sqlcipher3

    from engine.models.bundle import load_bundle
    from engine.models.encoders import ImageEncoder, TextEncoder
    from engine.profile.describers import load_describer
    from engine.profile.indexer import Indexer
    from engine.profile.store import CIPHER_PAGE_SIZE, ProfileStore

    bundle, path = load_bundle(lite_bundle), tmp_path / "store.db"
    text_encoder = TextEncoder(bundle, provider="cpu")
    indexer = lambda store: Indexer(store, ImageEncoder(bundle, provider="cpu"), load_describer(bundle), text_encoder)
    with ProfileStore.open(path, bytes(32)) as store:
        indexer(store).run([photo_dir])
        before = {p.path: p.caption_vector for p in store.profiles(store.fingerprints())}
    older = sqlcipher3.connect(str(path), isolation_level=None)  # as a store from before caption vectors holds it
    older.execute(f"PRAGMA key = \"x'{bytes(32).hex()}'\"")
    older.execute(f"PRAGMA cipher_page_size = {CIPHER_PAGE_SIZE}")
    older.execute("DELETE FROM caption_vectors")
    older.execute("DELETE FROM word_vectors")
    older.execute("INSERT INTO meta(key, value) VALUES ('text_vectors_missing', '1')")  # as the migration sets
    older.close()

    with ProfileStore.open(path, bytes(32)) as store:
        report = indexer(store).run([photo_dir])
        assert (report.decoded, report.unchanged, report.captions_filled) == (0, 4, 4)
        assert store.words_without_vectors() == []
        assert indexer(store).run([photo_dir]).captions_filled == 0
        after = {p.path: p.caption_vector for p in store.profiles(store.fingerprints())}
    for photo, vector in before.items():
        np.testing.assert_allclose(after[photo], vector, atol=1e-5)


def test_text_encoder_lanes_keep_order_and_match_one_run(lite_bundle):
    from engine.models.bundle import load_bundle
    from engine.models.encoders import TextEncoder

    encoder = TextEncoder(load_bundle(lite_bundle), provider="cpu", threads=2)
    words = ("cats", "a long winding mountain road at dusk", "ramen")
    texts = [f"a photo of {n} {word}" for n, word in enumerate(words)]
    texts = texts * 7 + ["a dome"]  # several batches of mixed lengths
    encoder.batch_size = 4
    lanes = encoder.encode(texts)
    assert encoder.lanes == 2 and lanes.shape == (len(texts), encoder.dim)
    for text, row in zip(texts, lanes):
        np.testing.assert_allclose(row, encoder.encode_lane([text])[0], atol=1e-5)
    np.testing.assert_allclose(encoder.encode_cached(texts, on_this_thread=True), lanes, atol=1e-5)


def test_load_matrix_normalises_in_place_and_keeps_zero_rows(tmp_path):
    from engine.profile.records import PhotoProfile
    from engine.profile.store import ProfileStore

    vectors = [np.array([3.0, 4.0]), np.zeros(2), np.array([0.0, -2.0])]
    with ProfileStore.open(tmp_path / "store.db", bytes(32)) as store:
        store.add_profiles([
            PhotoProfile(path=f"/p/{i}.jpg", folder="/p", size=1, mtime_ns=1, content_hash=str(i), caption="",
                         aspects=(), vector=v, width=1, height=1)
            for i, v in enumerate(vectors)
        ])
        ids, paths, matrix = store.load_matrix()
    assert paths == ["/p/0.jpg", "/p/1.jpg", "/p/2.jpg"] and list(ids) == sorted(ids)
    assert matrix.dtype == np.float32
    np.testing.assert_allclose(matrix, [[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]], atol=1e-6)


def test_dense_flops_of_a_small_graph(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from benchmarks.perf.flops import dense_compute

    rng = np.random.default_rng(0)
    weights = {
        "conv_w": rng.standard_normal((8, 3, 3, 3)).astype(np.float32),  # 8 x 3 x 3 x 3 kernel, 16 x 16 output
        "dw_w": rng.standard_normal((8, 1, 3, 3)).astype(np.float32),  # depthwise: group = 8
        "fc_w": rng.standard_normal((8, 10)).astype(np.float32),
        "gemm_w": rng.standard_normal((10, 4)).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "conv_w"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c1", "dw_w"], ["c2"], pads=[1, 1, 1, 1], group=8),
        helper.make_node("ReduceMean", ["c2"], ["pooled"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["pooled", "fc_w"], ["h"]),
        helper.make_node("Gemm", ["h", "gemm_w"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(w, name) for name, w in weights.items()],
    )
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    compute = dense_compute(path, batch=2)
    assert compute.macs_by_op == {"Conv": 16 * 16 * 8 * 27 + 16 * 16 * 8 * 9, "MatMul": 8 * 10, "Gemm": 10 * 4}
    assert compute.flops == 2 * compute.macs


@pytest.mark.slow  # builds `benchmarks/run`'s 300-photo library: not in `./run test fast`
def test_the_query_benchmark_library_is_served_by_its_bundle(lite_bundle, catalog, tmp_path):
    """`benchmarks/run`'s synthetic library is recorded as the bundle's, so recommend and search read all of it."""
    from benchmarks.perf.queries import populate
    from benchmarks.perf.workspace import open_profile

    populate(tmp_path / "profile", lite_bundle, 300, 0)
    with open_profile(tmp_path / "profile") as lens:
        rec = lens.recommend("outing", catalog, w=16)
        found = lens.search("a cat on a sofa", k=5)
    assert rec.scorer == "trained ranker" and len(rec.grid_paths) == 16 and len(found) == 5
