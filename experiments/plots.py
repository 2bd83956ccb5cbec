"""Figures a run writes under its workdir (PNG, matplotlib's Agg backend)."""

from __future__ import annotations

import pathlib
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from infinite_ae import io  # noqa: E402

_COLOURS = {"full": "#4c72b0", "distilled": "#dd8452", "random_users": "#8c8c8c"}


def comparison_figure(
    comparison: dict[str, dict[str, Any]],
    path: str | pathlib.Path,
    *,
    metric: str = "ndcg@10",
) -> None:
    """Test ``metric`` and fit time of each model per training set (bar charts).

    Args:
      comparison: ``{model: {training set: record}}`` from `jobs.compare.compare`.
      path: the PNG to write (atomically).
      metric: the test metric of the left panel.
    """
    names = list(comparison)
    sets = list(next(iter(comparison.values())))
    width = 0.8 / len(sets)
    fig, (quality, speed) = plt.subplots(1, 2, figsize=(9, 3.4))
    for j, set_name in enumerate(sets):
        xs = [i + (j - (len(sets) - 1) / 2) * width for i in range(len(names))]
        records = [comparison[n][set_name] for n in names]
        colour = _COLOURS.get(set_name)
        label = f"{set_name} ({records[0]['users']} users)"
        quality.bar(
            xs, [r["test"][metric] for r in records], width, color=colour, label=label
        )
        speed.bar(xs, [r["train_seconds"] for r in records], width, color=colour)
    for ax, title in ((quality, f"test {metric}"), (speed, "fit time (s, log)")):
        ax.set_xticks(range(len(names)), names)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    speed.set_yscale("log")
    handles, labels = quality.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(sets), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    io.atomic_save_figure(path, fig, dpi=120)
    plt.close(fig)


def sampler_weights_figure(
    trajectory, labels: list[str], path: str | pathlib.Path, *, title: str = ""
) -> None:
    """The sampler weights over the search epochs (one line per sampler).

    Args:
      trajectory: [E, S] weights per epoch (`autosample.SearchResult.trajectory`).
      labels: the S sampler labels.
      path: the PNG to write (atomically).
      title: the figure title.
    """
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    epochs = range(1, len(trajectory) + 1)
    for s, label in enumerate(labels):
        ax.plot(epochs, [row[s] for row in trajectory], marker="o", ms=3, label=label)
    ax.set_xlabel("search epoch")
    ax.set_ylabel("sampler weight")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    io.atomic_save_figure(path, fig, dpi=120)
    plt.close(fig)


def budget_figure(
    rows: list[dict[str, Any]],
    path: str | pathlib.Path,
    *,
    xlabel: str,
    metric: str = "ndcg@10",
) -> None:
    """Test ``metric`` against the budget (log scale), one panel per (dataset,
    model), one line per method; a ``"full_data"`` row is a dashed level.

    Args:
      rows: dicts with "dataset", "model", "budget", "method" and ``metric``.
      path: the PNG to write (atomically).
      xlabel: what the budget counts.
      metric: the plotted test metric (×100).
    """
    panels = sorted({(r["dataset"], r["model"]) for r in rows})
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5 * len(panels), 4), squeeze=False
    )
    for ax, (dataset, model) in zip(axes[0], panels, strict=True):
        cell = [r for r in rows if (r["dataset"], r["model"]) == (dataset, model)]
        for method in sorted({r["method"] for r in cell} - {"full_data"}):
            points = sorted(
                (r["budget"], r[metric]) for r in cell if r["method"] == method
            )
            ax.plot(*zip(*points, strict=True), marker="o", label=method)
        full = [r[metric] for r in cell if r["method"] == "full_data"]
        if full:
            ax.axhline(full[0], color="k", linestyle="--", label="full data")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"test {metric} (×100)")
        ax.set_title(f"{model} on {dataset}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    io.atomic_save_figure(path, fig, dpi=120)
    plt.close(fig)
