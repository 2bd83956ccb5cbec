"""Training time and test quality on full data, Distill-CF summaries and random users.

For each dataset and budget (a fraction of the users, 0.1 % to 50 % on a log
scale), Distill-CF distils that many synthetic users (the dataset's Distill-CF
config, `experiments.run` in a workdir per budget); then each model (`--models`:
∞-AE, EASE and Mult-VAE by default; BPR-MF and LightGCN, which score the real users
by fold-in, on request) is trained on the full data, on the summary and on as many
random users (`experiments/jobs/compare.py`: λ or epoch chosen on the real
validation items, tested once on the real test items). Every cell (dataset,
model, training set, budget) is cached under ``--workroot`` as a JSON file as it
finishes, and each budget's summary in its workdir, so the full curves can be
completed over several runs on a small CPU; a rerun only computes what is missing.

Run:    python benchmarks/speedup_curves.py --workroot=DIR [--datasets=ml1m,netflix]
Smoke:  python benchmarks/speedup_curves.py --smoke   (synthetic data, seconds)

Writes STEM.json (rows: dataset, model, training set, budget, users, test nDCG@10 /
HR@10, training seconds, speed-up over full data, quality relative to full data)
and STEM.png (per model: nDCG@10 against the budget, log scale; and nDCG@10
against training time), prints a table. The headline check compares the summaries'
quality at the smallest budget and the largest speed-up with the Distill-CF
paper's claims (96-105 % of full-data quality at 0.1 % of the users; training up
to ~1000x faster).
"""

from __future__ import annotations

import json
import pathlib
import sys
import tempfile

import numpy as np
from absl import app, flags, logging

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from configs import distill_ml1m, distill_netflix, distill_quick  # noqa: E402
from experiments import datasets, pipeline, settings  # noqa: E402
from experiments.jobs import compare  # noqa: E402
from infinite_ae import io, progress  # noqa: E402
from infinite_ae.distill import baselines, export  # noqa: E402

CONFIGS = {
    "ml1m": lambda: distill_ml1m.get_config(),
    "netflix": lambda: distill_netflix.get_config("small"),
}

_DATASETS = flags.DEFINE_list("datasets", ["ml1m"], f"Of {sorted(CONFIGS)}.")
_MODELS = flags.DEFINE_list(
    "models",
    ["infinite_ae", "ease", "multvae"],
    "Of infinite_ae, ease, multvae, bprmf, lightgcn.",
)
_BUDGETS = flags.DEFINE_list(
    "budgets",
    ["0.001", "0.005", "0.01", "0.05", "0.1", "0.2", "0.5"],
    "User fractions.",
)
_WORKROOT = flags.DEFINE_string("workroot", None, "Cache of cells and summaries.")
_OUT = flags.DEFINE_string("out", "benchmarks/results/speedup_curves", "Output stem.")
_SMOKE = flags.DEFINE_bool("smoke", False, "Small synthetic data, two budgets.")


def _base_config(dataset: str):
    if not _SMOKE.value:
        return CONFIGS[dataset]()
    config = distill_quick.get_config()
    config.distill.baselines = ()
    config.distill.num_steps = 4
    config.distill.eval_every = 2
    config.multvae.hidden, config.multvae.latent = 32, 8
    config.multvae.max_epochs = 3
    return config


def _summary(config, dataset: str, num_users: int, root: pathlib.Path) -> np.ndarray:
    """The continuous summary of ``num_users`` synthetic users (distilled once)."""
    config.distill.num_users = num_users
    config.distill.compare = ()
    workdir = root / dataset / f"distill_{num_users}"
    if not _distilled_by(workdir, config):
        pipeline.run(config, workdir)
    summary = export.load_npz(workdir / "distilled.npz", variant="continuous")
    return np.asarray(summary.train.toarray(), np.float32)


SUMMARY_SECTIONS = ("method", "seed", "data", "model", "distill", "eval")
"""The config sections a summary depends on: a workdir whose finished run had the
same ones holds a current summary, whatever other sections (models trained on it,
other jobs) changed since."""


def _distilled_by(workdir: pathlib.Path, config) -> bool:
    """Whether ``workdir`` holds a finished run with ``config``'s summary sections."""
    stored = workdir / "config.json"
    if not (stored.exists() and (workdir / "results.json").exists()):
        return False
    current = io.to_jsonable(config.to_dict())
    previous = json.loads(stored.read_text())
    return all(previous.get(k) == current.get(k) for k in SUMMARY_SECTIONS)


def _cell(path: pathlib.Path, compute) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    record = compute()
    io.atomic_write_json(path, record)
    return record


def _dataset_rows(dataset: str, models, budgets, root: pathlib.Path, bar) -> list:
    config = _base_config(dataset)
    config.distill.compare = tuple(models)  # validates the models' sections too
    run_settings = settings.from_config(config)
    data = datasets.load(run_settings.data, seed=run_settings.seed)
    spec = run_settings.model.kernel.spec()
    cells = root / dataset / "cells"
    rows = []

    def train(model, rows_, tag):
        return lambda: compare.train_and_test(
            model, rows_, data, run_settings, kernel_spec=spec, negatives=None, tag=tag
        )

    full = {m: _cell(cells / f"{m}__full.json", train(m, None, "full")) for m in models}
    for fraction in budgets:
        num_users = max(1, round(fraction * data.num_users))
        support = _summary(
            config.copy_and_resolve_references(), dataset, num_users, root
        )
        rng = np.random.default_rng([run_settings.seed, num_users])
        random_rows = baselines.random_users(data.train, num_users, rng=rng)[0]
        for model in models:
            for name, rows_ in (("distilled", support), ("random_users", random_rows)):
                path = cells / f"{model}__{name}__{num_users}.json"
                record = _cell(path, train(model, rows_, f"{name}_{num_users}"))
                rows.append(_row(dataset, model, name, fraction, record, full[model]))
        bar.update(cell=f"{dataset}/{num_users} users")
    for model in models:
        rows.append(_row(dataset, model, "full", 1.0, full[model], full[model]))
    return rows


def _row(dataset, model, name, fraction, record, full) -> dict:
    return {
        "dataset": dataset,
        "model": model,
        "trained_on": name,
        "budget": fraction,
        "users": record["users"],
        "ndcg@10": record["test"]["ndcg@10"],
        "hr@10": record["test"]["hr@10"],
        "train_seconds": record["train_seconds"],
        "speedup": full["train_seconds"] / max(record["train_seconds"], 1e-9),
        "relative_ndcg@10": record["test"]["ndcg@10"] / full["test"]["ndcg@10"],
    }


def _plot(rows, stem: pathlib.Path) -> None:
    from experiments import plots  # noqa: PLC0415

    panels = sorted({(r["dataset"], r["model"]) for r in rows})
    fig, axes = plots.plt.subplots(
        2, len(panels), figsize=(4.2 * len(panels), 7), squeeze=False
    )
    for col, (dataset, model) in enumerate(panels):
        cell = [r for r in rows if (r["dataset"], r["model"]) == (dataset, model)]
        full = next(r for r in cell if r["trained_on"] == "full")
        for name in ("distilled", "random_users"):
            pts = sorted(
                (r["budget"], r["ndcg@10"], r["train_seconds"])
                for r in cell
                if r["trained_on"] == name
            )
            budgets, ndcg, seconds = zip(*pts, strict=True)
            axes[0, col].plot(budgets, ndcg, marker="o", label=name)
            axes[1, col].plot(seconds, ndcg, marker="o", label=name)
        axes[0, col].axhline(full["ndcg@10"], color="k", ls="--", label="full data")
        axes[1, col].plot(
            [full["train_seconds"]], [full["ndcg@10"]], "k*", ms=10, label="full data"
        )
        axes[0, col].set(xscale="log", xlabel="budget (fraction of users)")
        axes[1, col].set(xscale="log", xlabel="training time (s)")
        axes[0, col].set_title(f"{model} on {dataset}")
        for ax in axes[:, col]:
            ax.set_ylabel("test nDCG@10 (×100)")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    io.atomic_save_figure(stem.with_suffix(".png"), fig, dpi=120)


def _headline(rows) -> list[dict]:
    """Per dataset and model: quality at the smallest budget, largest speed-up."""
    out = []
    for dataset, model in sorted({(r["dataset"], r["model"]) for r in rows}):
        distilled = [
            r
            for r in rows
            if (r["dataset"], r["model"], r["trained_on"])
            == (dataset, model, "distilled")
        ]
        smallest = min(distilled, key=lambda r: r["budget"])
        out.append(
            {
                "dataset": dataset,
                "model": model,
                "smallest_budget": smallest["budget"],
                "relative_ndcg@10_at_smallest": smallest["relative_ndcg@10"],
                "max_speedup": max(r["speedup"] for r in distilled),
                "best_relative_ndcg@10": max(r["relative_ndcg@10"] for r in distilled),
            }
        )
    return out


def main(argv):
    del argv
    budgets = [0.02, 0.05] if _SMOKE.value else [float(b) for b in _BUDGETS.value]
    datasets_ = ["synthetic"] if _SMOKE.value else _DATASETS.value
    for name in datasets_:
        if name not in CONFIGS and not _SMOKE.value:
            raise app.UsageError(f"--datasets: {name!r}; valid: {sorted(CONFIGS)}")
    root = pathlib.Path(_WORKROOT.value or tempfile.mkdtemp(prefix="speedup_"))
    logging.info("cells and summaries under %s", root)
    bar = progress.Progress(len(datasets_) * len(budgets), "speed-up", unit="budget")
    rows = []
    for dataset in datasets_:
        rows += _dataset_rows(dataset, _MODELS.value, budgets, root, bar)
    bar.close()
    record = {
        "benchmark": "speedup_curves",
        "smoke": _SMOKE.value,
        "headline": _headline(rows),
        "rows": rows,
        **pipeline.environment(),
    }
    stem = pathlib.Path(_OUT.value)
    io.atomic_write_json(stem.with_suffix(".json"), record)
    _plot(rows, stem)
    print(json.dumps({"benchmark": "speedup_curves", "headline": record["headline"]}))
    print(
        f"\n{'dataset':<10}{'model':<12}{'trained on':<13}{'budget':>7}{'users':>7}"
        f"{'nDCG@10':>8}{'rel.':>6}{'train s':>9}{'speed-up':>9}"
    )
    for r in rows:
        print(
            f"{r['dataset']:<10}{r['model']:<12}{r['trained_on']:<13}"
            f"{r['budget']:>7.3f}{r['users']:>7}{r['ndcg@10']:>8.2f}"
            f"{r['relative_ndcg@10']:>6.2f}{r['train_seconds']:>9.3f}"
            f"{r['speedup']:>8.1f}x"
        )


if __name__ == "__main__":
    app.run(main)
