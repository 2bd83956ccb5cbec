"""Sequential models on distilled users vs equal-budget real sequences, by budget.

For each dataset (ML-1M's first 2,999 users, Amazon Scientific) and backbone
(SASRec, GRU4Rec), runs the `distill_to_sequential` job
(configs/distill_to_sasrec_ml1m.py, with the dataset and model swapped) at budgets of
1, 5, 10 and 20 % of the users: Distill-CF summary -> adapted sequences -> model,
against random users', the longest and the most recent real sequences of the same
number of users, plus the full-data reference. Every trained model is cached in its
job's workdir under `--workroot` as it finishes, so the full benchmark can be
completed over several runs on a small CPU.

Run:    python benchmarks/sequential_budget_bench.py [--workroot=DIR] [--out=STEM]
Smoke:  python benchmarks/sequential_budget_bench.py --smoke   (Markov data, tiny)

Writes STEM.json (rows: dataset, model, budget, method, test nDCG@10 / Recall@10,
training seconds, tokens per second; peak RSS of the process) and STEM.png
(nDCG@10 against the budget, log scale), prints the JSON line and a table.
"""

from __future__ import annotations

import json
import pathlib
import resource
import sys
import tempfile

from absl import app, flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from configs import distill_to_sasrec_ml1m, distill_to_sasrec_quick  # noqa: E402
from experiments import pipeline, plots  # noqa: E402
from infinite_ae import progress  # noqa: E402

DATASETS = {
    "ml1m": (
        "sequences_movielens",
        "movielens/ml-1m/ratings.users0001-2999.partial.dat.gz",
    ),
    "scientific": ("sequences_recbole", "unisrec_scientific"),
}

_DATASETS = flags.DEFINE_list("datasets", list(DATASETS), "Datasets to run.")
_MODELS = flags.DEFINE_list("models", ["sasrec", "gru4rec"], "Backbones.")
_BUDGETS = flags.DEFINE_list(
    "budgets", ["0.01", "0.05", "0.1", "0.2"], "User fractions."
)
_WORKROOT = flags.DEFINE_string("workroot", None, "Job workdirs (cache); default tmp.")
_OUT = flags.DEFINE_string(
    "out", "benchmarks/results/sequential_budget", "Output stem."
)
_SMOKE = flags.DEFINE_bool("smoke", False, "Planted Markov data, one tiny cell.")


def _config(dataset: str, model: str, budgets):
    if _SMOKE.value:
        config = distill_to_sasrec_quick.get_config()
        config.sequential.max_epochs = 2
        config.distill.num_steps = 4
        config.distill.eval_every = 2
    else:
        config = distill_to_sasrec_ml1m.get_config()
        config.data.name, config.data.path = DATASETS[dataset]
        if dataset == "scientific":
            config.sequential.max_len = 50
            config.sequential.dropout_rate = 0.5
            config.adapter.baselines = ("random_users", "longest")  # no timestamps
    config.sequential.model = model
    config.adapter.budgets = tuple(budgets)
    return config


def _rows(dataset: str, model: str, results) -> list[dict]:
    full = results["full_data"]
    rows = [_row(dataset, model, 1.0, "full_data", full)]
    for budget in results["per_budget"]:
        fraction = budget["fraction"]
        rows.append(_row(dataset, model, fraction, "distill_cf", budget["distilled"]))
        for kind, record in budget["baselines"].items():
            rows.append(_row(dataset, model, fraction, kind, record))
    return rows


def _row(dataset, model, fraction, method, record) -> dict:
    return {
        "dataset": dataset,
        "model": model,
        "budget": fraction,
        "method": method,
        "ndcg@10": record["test"]["ndcg@10"],
        "recall@10": record["test"]["recall@10"],
        "train_seconds": record["seconds"],
        "train_sequences": record["train_sequences"],
        "tokens_per_epoch": record["train_tokens_per_epoch"],
    }


def main(argv):
    del argv
    budgets = [float(b) for b in _BUDGETS.value]
    datasets = ["markov"] if _SMOKE.value else _DATASETS.value
    models = ["sasrec"] if _SMOKE.value else _MODELS.value
    if _SMOKE.value:
        budgets = [0.1]
    root = pathlib.Path(_WORKROOT.value or tempfile.mkdtemp(prefix="seq_budget_"))
    rows = []
    cells = [(d, m) for d in datasets for m in models]
    bar = progress.Progress(len(cells), "sequential budgets", unit="cell")
    for dataset, model in cells:
        config = _config(dataset, model, budgets)
        results = pipeline.run(config, root / f"{dataset}_{model}")
        rows += _rows(dataset, model, results)
        bar.update(cell=f"{dataset}/{model}")
    bar.close()
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    record = {
        "benchmark": "sequential_budget",
        "smoke": _SMOKE.value,
        "rows": rows,
        "peak_rss_gb": peak_gb,
        **pipeline.environment(),
    }
    stem = pathlib.Path(_OUT.value)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    plots.budget_figure(
        rows, stem.with_suffix(".png"), xlabel="budget (fraction of users)"
    )
    print(json.dumps({k: v for k, v in record.items() if k != "rows"}))
    header = f"{'dataset':<11}{'model':<9}{'budget':>7}  {'method':<13}"
    print(f"\n{header}{'nDCG@10':>8}{'s':>8}")
    for r in rows:
        print(
            f"{r['dataset']:<11}{r['model']:<9}{r['budget']:>7.2f}  {r['method']:<13}"
            f"{r['ndcg@10']:>8.2f}{r['train_seconds']:>8.1f}"
        )


if __name__ == "__main__":
    app.run(main)
