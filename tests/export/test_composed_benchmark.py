"""The composed benchmark: users with a taste for kinds of things, photo histories composed from pictures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from export.data.benchmark.composed import ComposedConfig, ComposedSimulationError, generate_composed_benchmark
from export.data.benchmark.format import load_benchmark
from export.data.pairs import emoji_things
from export.ranker.evaluate import oracle_scores
from export.ranker.examples import QueryExample

pytestmark = pytest.mark.slow  # not in `./run test fast`

SMALL = ComposedConfig(seed=3, train_users=3, val_users=1, test_users=4, queries_per_user=3, history=(30, 50))


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("composed") / "bench"
    generate_composed_benchmark(root, SMALL)
    return root


def _thing_of(photo: Path) -> str | None:
    """Composed photos are named <source>-<thing>-<view>.jpg; everyday photos show no thing."""
    if photo.name.startswith("everyday-"):
        return None
    return photo.stem.removeprefix(f"{SMALL.photo_sources[0]}-").rsplit("-", 1)[0]


def test_queries_ask_about_things_never_photographed_and_the_taste_can_answer(bench_dir):
    bench = load_benchmark(bench_dir)
    assert bench.meta["utility"] == "max" and bench.meta["stats"]["kinds"] >= 20
    assert {u.split for u in bench.users.values()} == {"train", "val", "test"}
    for query in bench.queries:
        user = bench.users[query.user_id]
        photographed = {_thing_of(p) for p in user.history}
        assert not photographed & set(query.candidates)
        assert len(query.candidates) == SMALL.candidates and query.ground_truth[0] in query.candidates
        assert all(bench.items[c].category == query.category for c in query.candidates)
        assert any(set(bench.items[c].tags) & set(user.liked) for c in query.candidates)
    kinds = {t.key: set(t.kinds) for t in emoji_things()}
    for user in bench.users.values():
        assert 2 <= len(user.liked) <= 4 and max(user.liked_weights) == 1.0
        assert set(user.liked) <= set(bench.meta["stats"]["kind_sizes"])
        shown = [_thing_of(p) for p in user.history]
        liked_photos = sum(1 for thing in shown if thing and kinds[thing] & set(user.liked))
        assert 30 <= len(user.history) <= 50 and liked_photos >= 3


def test_the_true_taste_oracle_beats_chance(bench_dir):
    bench = load_benchmark(bench_dir)
    hits = []
    for query in bench.queries:
        example = QueryExample(query.id, {}, np.array([c in query.ground_truth for c in query.candidates], np.float32),
                               query.candidates, (), np.zeros(1), None, None)
        scores = oracle_scores(bench, [example])[0]
        truth = query.candidates.index(query.ground_truth[0])
        hits.append((scores >= scores[truth]).sum() <= 3)
    assert np.mean(hits) > 3 / SMALL.candidates + 0.15


def test_the_same_configuration_writes_the_same_bytes(bench_dir, tmp_path):
    again = tmp_path / "again"
    generate_composed_benchmark(again, SMALL)
    for name in ("queries.jsonl", "users.jsonl", "items.jsonl"):
        assert (again / name).read_bytes() == (bench_dir / name).read_bytes(), name
    first = sorted((bench_dir / "photos").iterdir())[0]
    assert (again / "photos" / first.name).read_bytes() == first.read_bytes()
    assert json.loads((again / ".complete").read_text()) == json.loads((bench_dir / ".complete").read_text())


def test_a_bad_configuration_is_refused_with_the_reason(tmp_path):
    with pytest.raises(ComposedSimulationError, match="unknown picture source"):
        generate_composed_benchmark(tmp_path / "x", ComposedConfig(photo_sources=("polaroid",)))
    with pytest.raises(ComposedSimulationError, match="truth_temperature"):
        generate_composed_benchmark(tmp_path / "y", ComposedConfig(truth_temperature=0))
