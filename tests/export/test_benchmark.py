"""The benchmark format (loader, writer, errors) and the simulator of users from registry images."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from export.data.benchmark.format import (
    Benchmark,
    BenchmarkFormatError,
    BenchQuery,
    load_benchmark,
    write_benchmark,
)
from export.data.benchmark.pool import MAX_SIDE
from export.data.benchmark.simulate import SimulationConfig, generate_benchmark
from export.data.cli import app

pytestmark = pytest.mark.slow  # not in `./run test fast`

SMALL = SimulationConfig(
    seed=0, train_users=6, val_users=2, test_users=4, queries_per_user=3, candidates=20, history=(20, 40)
)
FILES = ("benchmark.json", "items.jsonl", "users.jsonl", "queries.jsonl", "photos.jsonl")


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Benchmark:
    return generate_benchmark(tmp_path_factory.mktemp("bench") / "a", SMALL)


@pytest.fixture(scope="module")
def bench_again(tmp_path_factory) -> Benchmark:
    return generate_benchmark(tmp_path_factory.mktemp("bench") / "b", SMALL)


@pytest.fixture(scope="module")
def bench_other_seed(tmp_path_factory) -> Benchmark:
    return generate_benchmark(tmp_path_factory.mktemp("bench") / "c", SimulationConfig(**{**vars(SMALL), "seed": 1}))


def _digests(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_same_config_writes_identical_bytes(bench, bench_again):
    assert bench.root != bench_again.root
    assert _digests(bench.root) == _digests(bench_again.root)
    assert set(FILES) <= set(_digests(bench.root))


def test_another_seed_draws_other_users(bench, bench_other_seed):
    assert (bench.root / "users.jsonl").read_bytes() != (bench_other_seed.root / "users.jsonl").read_bytes()
    assert bench.users["u0001"].liked != bench_other_seed.users["u0001"].liked


def test_users_are_in_one_split_and_queries_follow_them(bench):
    by_split = {split: {user.id for user in bench.users.values() if user.split == split} for split in ("train", "val", "test")}
    assert {split: len(ids) for split, ids in by_split.items()} == {"train": 6, "val": 2, "test": 4}
    assert len(bench.queries) == 12 * SMALL.queries_per_user
    for split, ids in by_split.items():
        queries = bench.split(split)
        assert len(queries) == len(ids) * SMALL.queries_per_user
        assert {query.user_id for query in queries} == ids
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        bench.split("dev")


def test_each_query_has_one_liked_ground_truth_among_n_candidates_of_its_category(bench):
    for query in bench.queries:
        user = bench.users[query.user_id]
        weights = dict(zip(user.liked, user.liked_weights))
        utility = {item: sum(weights.get(tag, 0.0) for tag in bench.items[item].tags) for item in query.candidates}
        assert len(query.candidates) == SMALL.candidates == len(set(query.candidates))
        assert {bench.items[item].category for item in query.candidates} == {query.category}
        assert len(query.ground_truth) == 1 and query.ground_truth[0] in query.candidates
        assert 0 < utility[query.ground_truth[0]] >= max(utility.values()) - 0.15  # noise only swaps near-equal ones


def test_personal_world_has_one_aspect_per_candidate_and_a_liked_ground_truth(tmp_path):
    bench = generate_benchmark(tmp_path / "personal", SMALL.personal())
    assert bench.meta["generator"]["config"]["item_aspect"] == "primary"
    for query in bench.queries:
        user = bench.users[query.user_id]
        weights = dict(zip(user.liked, user.liked_weights))
        tags = {item: bench.items[item].tags for item in query.candidates}
        assert all(len(item_tags) == 1 for item_tags in tags.values())  # every candidate could win for someone
        utility = {item: weights.get(item_tags[0], 0.0) for item, item_tags in tags.items()}
        assert 0 < utility[query.ground_truth[0]] >= max(utility.values()) - 0.15


def test_histories_are_self_contained_photos_in_range_that_show_the_taste(bench):
    photo_tags = {
        bench.root / record["path"]: set(record["tags"])
        for record in map(json.loads, (bench.root / "photos.jsonl").read_text().splitlines())
    }
    for user in bench.users.values():
        assert SMALL.history[0] <= len(user.history) <= SMALL.history[1]
        assert len(set(user.history)) == len(user.history)
        assert all(photo.is_relative_to(bench.root) for photo in user.history)
        assert 2 <= len(user.liked) <= 4 and user.liked_weights[0] == 1.0
        assert list(user.liked_weights) == sorted(user.liked_weights, reverse=True)
        relevant = sum(bool(photo_tags[photo] & set(user.liked)) for photo in user.history)
        assert relevant >= 0.1 * len(user.history)
    for photo in bench.photos():
        with Image.open(photo) as img:
            assert max(img.size) <= MAX_SIDE and img.format in ("PNG", "JPEG")


def test_meta_records_sources_and_stats(bench):
    assert bench.meta["format"] == "visuallens-benchmark" and bench.meta["seed"] == 0
    packages = {source["package"]: source for source in bench.meta["sources"]}
    assert {"tuxpaint-stamps-default", "openclipart-png", "mate-backgrounds", "emoji-datasource-google"} <= set(packages)
    assert "GPL-2" in packages["tuxpaint-stamps-default"]["licence"]
    stats = bench.meta["stats"]
    assert stats["pool_photos"] > 2000 and stats["aspects"] > 30  # aspects shown by real photographs
    assert stats["items_per_category"]["objects"] >= 200 and stats["items_per_category"]["travel & places"] >= 200
    assert stats["random_hit_at_1"] < stats["oracle_hit_at_1"] <= 1


def test_round_trip(bench, tmp_path):
    write_benchmark(bench, tmp_path / "copy")
    again = load_benchmark(tmp_path / "copy")
    assert again.items == bench.items and again.users == bench.users and again.queries == bench.queries
    assert again.meta == bench.meta
    line = json.loads((tmp_path / "copy" / "users.jsonl").read_text().splitlines()[0])
    assert Path(line["history"][0]).is_absolute()


def _mini(root: Path, photos: Path) -> Path:
    """A Review-V shaped benchmark: restaurants, several ground truths, absolute photo paths."""
    root.mkdir()
    (root / "img").mkdir()
    for name in ("ramen", "sushi", "tacos"):
        Image.new("RGB", (8, 8), "red").save(root / "img" / f"{name}.jpg")
    lines = {
        "benchmark.json": ['{"format": "visuallens-benchmark", "version": 1}'],
        "items.jsonl": [
            json.dumps({"id": name, "name": name.title(), "category": "restaurants", "image": f"img/{name}.jpg"})
            for name in ("ramen", "sushi", "tacos")
        ],
        "users.jsonl": [
            json.dumps({"id": "alice", "split": "train", "history": [str(photos / "coffee.jpg")]}),
            json.dumps({"id": "bob", "split": "test", "history": [str(photos / "chelsea.png"), str(photos / "coffee.jpg")]}),
        ],
        "queries.jsonl": [
            json.dumps({"id": "q1", "user_id": "alice", "category": "restaurants", "candidates": ["ramen", "sushi"],
                        "ground_truth": ["ramen"]}),
            json.dumps({"id": "q2", "user_id": "bob", "category": "restaurants",
                        "candidates": ["ramen", "sushi", "tacos"], "ground_truth": ["sushi", "tacos"]}),
        ],
    }  # fmt: skip
    for name, rows in lines.items():
        (root / name).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def test_review_v_shaped_benchmark_loads(tmp_path, photo_dir):
    bench = load_benchmark(_mini(tmp_path / "mini", photo_dir))
    assert bench.split("test") == [BenchQuery("q2", "bob", "restaurants", ("ramen", "sushi", "tacos"), ("sushi", "tacos"))]
    assert bench.photos() == sorted([photo_dir / "chelsea.png", photo_dir / "coffee.jpg"])
    assert bench.items["sushi"].image == tmp_path / "mini" / "img" / "sushi.jpg" and bench.items["sushi"].tags == ()


def _replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


def _edit_line_2(name: str):
    def edit(root: Path, **changes) -> None:
        record = json.loads((root / name).read_text().splitlines()[1])
        _replace_line(root / name, 2, json.dumps({**record, **changes}))
    return edit


_edit_query, _edit_user = _edit_line_2("queries.jsonl"), _edit_line_2("users.jsonl")


BROKEN = {
    "missing file": (lambda root: (root / "queries.jsonl").unlink(), r"queries\.jsonl: file not found"),
    "bad JSON": (lambda root: _replace_line(root / "users.jsonl", 2, '{"id": "bob",'), r"users\.jsonl: line 2: invalid JSON"),
    "unknown item": (
        lambda root: _edit_query(root, candidates=["ramen", "pizza"], ground_truth=["ramen"]),
        r"queries\.jsonl: line 2: query 'q2': unknown item id\(s\) 'pizza'",
    ),
    "ground truth outside": (
        lambda root: _edit_query(root, candidates=["ramen", "sushi"]),
        r"queries\.jsonl: line 2: query 'q2': ground truth 'tacos' not among the candidates",
    ),
    "two splits": (
        lambda root: _replace_line(root / "users.jsonl", 2, json.dumps(
            {"id": "alice", "split": "test", "history": json.loads((root / "users.jsonl").read_text().splitlines()[0])["history"]}
        )),
        r"users\.jsonl: line 2: user 'alice' is in two splits: test here, train at line 1",
    ),
    "missing image": (lambda root: (root / "img" / "tacos.jpg").unlink(), r"items\.jsonl: line 3: image of item 'tacos' not found"),
    "duplicate item": (
        lambda root: _replace_line(root / "items.jsonl", 3, (root / "items.jsonl").read_text().splitlines()[0]),
        r"items\.jsonl: line 3: duplicate id 'ramen' \(first at line 1\)",
    ),
    "typo": (
        lambda root: _edit_query(root, candiates=["ramen"]),
        r"queries\.jsonl: line 2: unknown field\(s\) candiates",
    ),
    "not an object": (
        lambda root: _replace_line(root / "users.jsonl", 2, '["bob"]'),
        r"users\.jsonl: line 2: expected an object with id, split, history, liked, liked_weights, got list",
    ),
    "blank id": (lambda root: _edit_query(root, id=" "), r"queries\.jsonl: line 2: id must be non-empty text"),
    "unknown split": (
        lambda root: _edit_user(root, split="dev"),
        r"users\.jsonl: line 2: split must be one of 'train', 'val' or 'test', got 'dev'",
    ),
    "weight not a number": (
        lambda root: _edit_user(root, liked=["cat"], liked_weights=[True]),
        r"users\.jsonl: line 2: liked_weights\[0\] must be a number, got bool",
    ),
    "weights without aspects": (
        lambda root: _edit_user(root, liked_weights=[0.5]),
        r"users\.jsonl: line 2: liked_weights has 1 entries for 0 liked aspects",
    ),
    "one candidate": (
        lambda root: _edit_query(root, candidates=["sushi"], ground_truth=["sushi"]),
        r"queries\.jsonl: line 2: candidates needs at least 2 entries, got 1",
    ),
    "wrong format": (
        lambda root: (root / "benchmark.json").write_text('{"format": "visuallens-benchmark", "version": 2}'),
        r"benchmark\.json: format version 2 is not supported",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", BROKEN)
def test_loader_errors_name_file_and_line(case, tmp_path, photo_dir):
    root = _mini(tmp_path / "mini", photo_dir)
    breaks, message = BROKEN[case]
    breaks(root)
    with pytest.raises(BenchmarkFormatError, match=message):
        load_benchmark(root)


def test_cli_reports_errors_in_one_line(tmp_path, bench):
    shutil.copytree(bench.root, tmp_path / "taken")
    result = CliRunner().invoke(app, ["benchmark", "--out", str(tmp_path / "taken"), "--seed", "5"])
    assert result.exit_code == 1 and "already built with" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["benchmark", "--out", str(tmp_path / "big"), "--candidates", "300"])
    assert result.exit_code == 1 and "no category has 300 items" in result.output
    assert not (tmp_path / "big").exists()
