"""The evaluation report of a bundle: what `visuallens-export eval` writes (report.md, report.json, plots).

Sections, each with 95% bootstrap intervals:
1. The main table on the benchmark's test users: random, the true-taste oracle, the zero-shot baselines and the
   bundle's ranker as the engine serves it, with the share of the random -> oracle gap each closes.
2. This bundle's ranker against a previous bundle's, paired on the same queries (each reads its own encoders).
3. Ablations (each retrained from scratch on the training users) and their plot.
4. What the photos add, and what each ablated part adds: the full recipe minus each ablation, paired on the same
   queries.
5. Cross-source benchmarks: photos of one picture style, candidates of another, and a style never trained on.
6. The bridge on its held-out picture style (from the bundle's manifest).
7. MRR against history length and candidate count.
8. Feedback: Hit@3 and MRR against the number of right and wrong judgements per category.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.models.bundle import Bundle
from export.data.benchmark.format import Benchmark
from export.ranker.evaluate import MethodResult, paired_difference
from export.ranker.features import BenchmarkFeatures
from export.ranker.feedback_eval import feedback_study
from export.ranker.pipeline import Recipe
from export.ranker.report import (
    Reference,
    ablation_plot,
    as_json,
    curve_plot,
    feedback_plot,
    markdown_table,
    rich_table,
    write_json,
)
from export.ranker.study import (
    FULL,
    NO_HISTORY,
    ORACLE,
    RANDOM,
    RANKER,
    ablations,
    candidates_curve,
    history_curve,
    main_table,
    served_ranker,
)

Show = Callable[[object], None]


@dataclass
class Report:
    """Sections of Markdown and the JSON payload, written together."""

    title: str
    sections: list[str] = field(default_factory=list)
    payload: dict = field(default_factory=dict)

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "report.json", self.payload)
        (folder / "report.md").write_text(f"# {self.title}\n\n" + "\n\n".join(self.sections) + "\n", "utf-8")


def reference(results: list[MethodResult]) -> Reference | None:
    """(random, oracle) among `results`, when the benchmark knows its users' taste."""
    by_name = {r.name: r for r in results}
    return (by_name[RANDOM], by_name[ORACLE]) if ORACLE in by_name else None


def add_main_table(
    report: Report, name: str, bench: Benchmark, features: BenchmarkFeatures, bundle: Bundle, show: Show
) -> list[MethodResult]:
    results = main_table(bench, features, bundle)
    ref = reference(results)
    title = f"{name}: {len(bench.split('test'))} test queries of {len(bench.queries[0].candidates)} candidates"
    show(rich_table(title, results, ref))
    report.payload.setdefault("tables", {})[name] = as_json(results, ref)
    report.sections.append(f"## {title}\n\n{_describe(bench)}\n\n{markdown_table(results, ref)}")
    return results


def add_previous(
    report: Report, name: str, bench: Benchmark, main: list[MethodResult], theirs: tuple[BenchmarkFeatures, Bundle],
    show: Show,
) -> None:
    """The main table's ranker minus `name`'s (a previous bundle, scored on its own features), paired per query."""
    ref = reference(main)
    rows = [next(r for r in main if r.name == RANKER), served_ranker(bench, *theirs, name=f"{name} (ONNX)")]
    difference = paired_difference(*rows)
    show(rich_table(f"This bundle against {name}", rows, ref))
    report.payload["vs_previous"] = {"name": name, "rows": as_json(rows, ref),
                                     "difference": {k: vars(v) for k, v in difference.items()}}
    lines = [f"- {_metric_name(key)}: {_signed(metric)}" for key, metric in difference.items()]
    report.sections.append(f"## This bundle against {name} (paired on the main table's queries, 95% bootstrap CI of "
                           f"the difference)\n\n{markdown_table(rows, ref)}\n\n" + "\n".join(lines))


def add_ablations(
    report: Report, bench: Benchmark, features: BenchmarkFeatures, recipe: Recipe, ref: Reference | None, folder: Path,
    show: Show, only: tuple[str, ...] = (),
) -> None:
    rows = ablations(bench, features, recipe, show, only)
    show(rich_table("Ablations", rows, ref))
    ablation_plot(rows, folder / "ablations.png")
    report.payload["ablations"] = as_json(rows, ref)
    report.sections.append(f"## Ablations (retrained from scratch on the training users)\n\n{markdown_table(rows, ref)}"
                           "\n\n![ablations](ablations.png)")
    by_name = {r.name: r for r in rows}
    if FULL not in by_name:
        return
    differences = {r.name: paired_difference(by_name[FULL], r) for r in rows if r.name != FULL}
    report.payload["full_minus_ablation"] = {name: {k: vars(v) for k, v in d.items()} for name, d in differences.items()}
    if NO_HISTORY in differences:
        difference = differences[NO_HISTORY]
        report.payload["photos_vs_no_history"] = report.payload["full_minus_ablation"][NO_HISTORY]
        lines = [f"- {_metric_name(key)}: {_signed(metric)}" for key, metric in difference.items()]
        report.sections.append("## What the photos add (full recipe minus the same recipe with no history, paired on "
                               "the same queries, 95% bootstrap CI)\n\n" + "\n".join(lines))
    if differences:
        keys = list(next(iter(differences.values())))
        table = ["| full minus | " + " | ".join(_metric_name(k) for k in keys) + " |", "|---" * (len(keys) + 1) + "|"]
        table += [f"| {name} | " + " | ".join(_signed(d[k], unit="") for k in keys) + " |" for name, d in differences.items()]
        report.sections.append("## What each part adds (full recipe minus each ablation, paired on the same queries, "
                               "points with 95% bootstrap CI; an interval above 0 means the part helps)\n\n"
                               + "\n".join(table))


def add_bridge(report: Report, bundle: Bundle) -> None:
    evaluation = (bundle.manifest.image_encoder.bridge or {}).get("evaluation")
    if not evaluation:
        return
    keys = ("recall_at_1_photo", "recall_at_5_photo", "recall_at_1_plain", "recall_at_5_plain", "kind_precision_at_10")
    lines = ["| bridge | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(f"{100 * s[k]:.1f}" for k in keys) + " |" for name, s in evaluation["held_out"].items()]
    report.payload["bridge"] = evaluation
    report.sections.append(
        f"## The bridge on a picture style it never saw ({evaluation['held_out_source']}, "
        f"{evaluation['held_out_things']} things)\n\nText -> image Recall@k of each thing's name among composed photos "
        "(photo) and plain pictures (plain); kind precision@10 of each kind phrase among the photos.\n\n" + "\n".join(lines)
    )


def add_curves(report: Report, bench: Benchmark, features: BenchmarkFeatures, bundle: Bundle, folder: Path,
               long_bench: tuple[Benchmark, BenchmarkFeatures] | None = None) -> None:
    history_bench, history_features = long_bench or (bench, features)
    for name, label, curve in (
        ("history", "photos in the user's history", history_curve(history_bench, history_features, bundle)),
        ("candidates", "candidates per query", candidates_curve(bench, features, bundle)),
    ):
        curve_plot(curve, label, folder / f"mrr_vs_{name}.png")
        report.payload[f"mrr_vs_{name}"] = {m: {x: vars(v) for x, v in pts.items()} for m, pts in curve.items()}
        report.sections.append(f"## MRR vs {label}\n\n![mrr vs {name}](mrr_vs_{name}.png)")


def add_feedback(report: Report, bench: Benchmark, features: BenchmarkFeatures, bundle: Bundle, folder: Path,
                 show: Show) -> None:
    """The ranker with k "like" / "not for me" judgements per category (right and wrong), paired against k = 0, and
    wrong feedback against the zero-shot scorer."""
    study = feedback_study(bench, features, bundle)
    rows = [*study.right.values(), *study.wrong.values(), study.zero_shot]
    show(rich_table("Feedback", rows))
    none = study.right[0]
    lifts = {k: paired_difference(r, none) for k, r in study.right.items() if k}
    floors = {k: paired_difference(r, study.zero_shot) for k, r in study.wrong.items() if k}
    for key, label in (("hit@3", "Hit@3 (%)"), ("mrr", "MRR (%)")):
        right = {k: r.metrics()[key] for k, r in study.right.items()}
        wrong = {k: r.metrics()[key] for k, r in study.wrong.items()}
        feedback_plot(right, wrong, study.zero_shot.metrics()[key], label, folder / f"feedback_{key.replace('@', '')}.png")
    report.payload["feedback"] = {
        "rows": as_json(rows),
        "right_minus_none": {k: {m: vars(v) for m, v in d.items()} for k, d in lifts.items()},
        "wrong_minus_zero_shot": {k: {m: vars(v) for m, v in d.items()} for k, d in floors.items()},
    }
    table = ["| judgements per category | right minus none, Hit@3 | right minus none, MRR | wrong minus zero-shot, Hit@3 "
             "| wrong minus zero-shot, MRR |", "|---|---|---|---|---|"]
    table += [f"| {k} | {_signed(lifts[k]['hit@3'], '')} | {_signed(lifts[k]['mrr'], '')} | "
              f"{_signed(floors[k]['hit@3'], '')} | {_signed(floors[k]['mrr'], '')} |" for k in lifts]
    report.sections.append(
        "## Feedback: k \"like\" / \"not for me\" judgements per category\n\nBefore each test query its user judged k "
        "other items of the category (never its candidates), half of kinds they like where there are both; right "
        "judgements follow their true taste, wrong ones go against it. The served ranker's scores are shifted by the "
        "engine's `feedback_shift` (fitted on training users).\n\n"
        f"{markdown_table(rows)}\n\nPaired on the same queries (points, 95% bootstrap CI):\n\n" + "\n".join(table)
        + "\n\n![Hit@3 vs judgements](feedback_hit3.png) ![MRR vs judgements](feedback_mrr.png)"
    )


def _describe(bench: Benchmark) -> str:
    config = bench.meta.get("generator", {}).get("config", {})
    if "photo_sources" in config:
        return (f"Photos composed from {', '.join(config['photo_sources'])} pictures; candidates pictured as "
                f"{config['item_source']}; seed {config['seed']}.")
    return bench.meta.get("name", "")


def _signed(metric, unit: str = " points") -> str:
    return f"{100 * metric.mean:+.1f} [{100 * metric.low:+.1f}, {100 * metric.high:+.1f}]{unit}"


def _metric_name(key: str) -> str:
    return key.replace("hit", "Hit").replace("mrr", "MRR")
