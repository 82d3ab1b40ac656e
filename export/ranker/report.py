"""The evaluation report: tables (terminal, Markdown, JSON) and plots (ablation bars, curves)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from rich.table import Table

from export.ranker.evaluate import KS, MethodResult, Metric, gap_closed

COLUMNS = [f"hit@{k}" for k in KS] + ["mrr"]


Reference = tuple[MethodResult, MethodResult]  # (random, true-taste oracle) on the same queries
CLOSED = "closes (Hit@3)"


def rich_table(title: str, results: Sequence[MethodResult], reference: Reference | None = None) -> Table:
    headers = [c.replace("hit", "Hit").replace("mrr", "MRR") for c in COLUMNS] + ([CLOSED] if reference else [])
    table = Table("method", *headers, title=title)
    for result in results:
        table.add_row(*_row(result, reference))
    return table


def markdown_table(results: Sequence[MethodResult], reference: Reference | None = None) -> str:
    headers = COLUMNS + ([CLOSED] if reference else [])
    lines = ["| method | " + " | ".join(headers) + " |", "|---" * (len(headers) + 1) + "|"]
    lines += ["| " + " | ".join(_row(result, reference)) + " |" for result in results]
    return "\n".join(lines)


def _row(result: MethodResult, reference: Reference | None) -> list[str]:
    metrics = result.metrics()
    cells = [result.name, *(str(metrics[c]) for c in COLUMNS)]
    if reference:
        cells.append(f"{100 * gap_closed(result, *reference):.0f}%")
    return cells


def as_json(results: Sequence[MethodResult], reference: Reference | None = None) -> dict:
    return {
        r.name: {c: {"mean": m.mean, "ci95": [m.low, m.high]} for c, m in r.metrics().items()}
        | {"queries": len(r.ranks)}
        | ({"gap_closed_hit@3": gap_closed(r, *reference)} if reference else {})
        for r in results
    }


def ablation_plot(results: Sequence[MethodResult], path: Path) -> None:
    """Hit@3 and MRR per configuration with 95% bootstrap intervals as error bars."""
    metrics = [r.metrics() for r in results]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.45 * len(results) + 1.8), sharey=True)
    for ax, key, label in zip(axes, ("hit@3", "mrr"), ("Hit@3 (%)", "MRR (%)")):
        _bars(ax, [r.name for r in results], [m[key] for m in metrics], label)
    fig.suptitle("Ablations on the test users (95% bootstrap CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def curve_plot(curves: dict[str, dict[int, Metric]], xlabel: str, path: Path) -> None:
    """MRR against a swept quantity, one line per method, shaded 95% intervals."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, points in curves.items():
        xs = sorted(points)
        ax.plot(xs, [100 * points[x].mean for x in xs], marker="o", label=name)
        ax.fill_between(xs, [100 * points[x].low for x in xs], [100 * points[x].high for x in xs], alpha=0.15)
    ax.set_xscale("log")
    ax.set_xticks(sorted({x for points in curves.values() for x in points}))
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel("MRR (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def feedback_plot(right: dict[int, Metric], wrong: dict[int, Metric], floor: Metric, ylabel: str, path: Path) -> None:
    """A metric against the number of judgements per category, right and wrong, with the zero-shot scorer's level
    (no feedback) as the floor wrong feedback must stay above; shaded 95% intervals."""
    fig, ax = plt.subplots(figsize=(7, 4.8))
    for name, points in (("right judgements (the user's true taste)", right), ("wrong judgements (against it)", wrong)):
        xs = sorted(points)
        ax.plot(xs, [100 * points[x].mean for x in xs], marker="o", label=name)
        ax.fill_between(xs, [100 * points[x].low for x in xs], [100 * points[x].high for x in xs], alpha=0.15)
    ax.axhline(100 * floor.mean, color="grey", linestyle="--", label="zero-shot scorer, no feedback")
    ax.axhspan(100 * floor.low, 100 * floor.high, color="grey", alpha=0.1)
    ax.set_xticks(sorted(right))
    ax.set_xlabel("judgements per category (like / not for me)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize="small", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def _bars(ax, names: list[str], values: list[Metric], label: str) -> None:
    ys = range(len(names))
    means = [100 * v.mean for v in values]
    errors = [[100 * (v.mean - v.low) for v in values], [100 * (v.high - v.mean) for v in values]]
    ax.barh(ys, means, xerr=errors, color="#4C72B0", capsize=3)
    ax.set_yticks(list(ys), names)
    ax.invert_yaxis()
    ax.set_xlabel(label)
    ax.grid(axis="x", alpha=0.3)
    for y, value in zip(ys, values):
        ax.text(100 * value.high + 0.8, y, f"{100 * value.mean:.1f}", va="center", fontsize=8)
