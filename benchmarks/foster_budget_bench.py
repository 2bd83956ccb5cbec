"""FOSTER against equal-budget baselines by budget, its ablation, and its step cost.

FOSTER-style, reconstructed from the abstract. Two parts:

1. The FOSTER job (``--config``, default configs/foster_scientific.py: Amazon
   Scientific, all-MiniLM-L6-v2 item texts, the text-based SASRec) with budgets
   ``--budgets`` (10, 20, 50 and 100 synthetic sequences) and the ablation at the
   first budget (each of subset sampling, the anchored reset and the co-occurrence
   regulariser switched off in turn), in ``--workroot``/foster. The job stores every
   expert epoch, distillation and training as it finishes, so an interrupted run
   resumes where it stopped.
2. `foster_step_bench.py` (a subprocess) on the same catalogue size: seconds per
   first-order step against the unrolled second-order step at the config's subset
   size and at the whole catalogue, and the item encoding of the subset against the
   catalogue's.

Run:    python benchmarks/foster_budget_bench.py --workroot=DIR [--out=STEM]
        [--config.foster.steps=150 ...]   (any field of the config)
Smoke:  python benchmarks/foster_budget_bench.py --smoke   (Markov data, seconds)

Writes STEM.json (rows: budget, method, test nDCG@10 / Recall@10, training
seconds; per budget whether FOSTER beats every baseline and its retention; the
ablation; the step timings; the wall time and peak RSS) and STEM.png (nDCG@10
against the number of sequences, log scale), prints the JSON line and a table.
"""

from __future__ import annotations

import json
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from absl import app, flags
from ml_collections import config_flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from configs import foster_quick  # noqa: E402
from experiments import pipeline, plots  # noqa: E402
from infinite_ae import io  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
_CONFIG = config_flags.DEFINE_config_file(
    "config", str(HERE.parent / "configs" / "foster_scientific.py"), "FOSTER config."
)
_BUDGETS = flags.DEFINE_list("budgets", ["10", "20", "50", "100"], "Sequences M.")
_ABLATIONS = flags.DEFINE_list(
    "ablations", ["subset_sampling", "reset", "cooc"], "Components ablated."
)
_WORKROOT = flags.DEFINE_string("workroot", None, "Job workdir root (cache).")
_OUT = flags.DEFINE_string("out", "benchmarks/results/foster_budget", "Output stem.")
_SMOKE = flags.DEFINE_bool("smoke", False, "Planted Markov data, tiny sizes.")


def _config():
    if not _SMOKE.value:
        config = _CONFIG.value
        config.foster.budgets = tuple(int(b) for b in _BUDGETS.value)
        config.foster.ablations = tuple(_ABLATIONS.value)
        return config
    config = foster_quick.get_config()
    config.data.synthetic.num_users = 120
    config.data.synthetic.num_items = 30
    config.sequential.max_epochs = 4
    config.foster.budgets = (4,)
    config.foster.ablations = tuple(_ABLATIONS.value)
    config.foster.expert_epochs = 2
    config.foster.steps = 6
    config.foster.batch_size = 1  # so a subset of 24 of the 30 items holds it
    config.foster.subset_size = 24
    config.foster.reset_every = 3
    return config


def _rows(dataset: str, results) -> list[dict]:
    full = results["full_data"]
    rows = [_row(dataset, None, "full_data", full)]
    for budget in results["per_budget"]:
        m = budget["num_sequences"]
        rows.append(_row(dataset, m, "foster", budget["foster"]))
        rows += [
            _row(dataset, m, kind, record)
            for kind, record in budget["baselines"].items()
        ]
    return rows


def _row(dataset, budget, method, record) -> dict:
    return {
        "dataset": dataset,
        "model": "text_sasrec",
        "budget": budget,
        "method": method,
        "ndcg@10": record["test"]["ndcg@10"],
        "recall@10": record["test"]["recall@10"],
        "train_seconds": record["seconds"],
    }


def _budgets(rows, results) -> list[dict]:
    """Per budget: FOSTER against its best baseline, and its retention."""
    full = results["full_data"]["test"]["ndcg@10"]
    out = []
    for budget in results["per_budget"]:
        m = budget["num_sequences"]
        cell = {r["method"]: r["ndcg@10"] for r in rows if r["budget"] == m}
        foster = cell.pop("foster")
        best = max(cell, key=cell.get)
        out.append({
            "budget": m,
            "foster_ndcg@10": foster,
            "best_baseline": best,
            "best_baseline_ndcg@10": cell[best],
            "beats_every_baseline": foster > cell[best],
            "retention_ndcg@10": foster / full if full > 0 else None,
            "distill_seconds": budget["distill_seconds"],
            "distill_step_seconds": budget["distill_step_seconds"],
        })  # fmt: skip
    return out


def _step_costs(
    num_items: int, subset_size: int, inner_steps: int, tmp: pathlib.Path
) -> dict:
    """`foster_step_bench.py` at the catalogue's size (its JSON record)."""
    out = tmp / "foster_step.json"
    command = [
        sys.executable,
        str(HERE / "foster_step_bench.py"),
        f"--output={out}",
        f"--inner_steps={inner_steps}",
    ]
    if _SMOKE.value:
        command.append("--smoke")
    else:
        subsets = sorted({min(subset_size, num_items), num_items})
        command += [f"--items={num_items}", f"--subsets={','.join(map(str, subsets))}"]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.read_text())


def _print_table(rows, budgets, ablation) -> None:
    print(f"\n{'M':>5}  {'method':<14}{'nDCG@10':>8}{'R@10':>8}{'train s':>9}")
    for r in rows:
        budget = "full" if r["budget"] is None else r["budget"]
        print(
            f"{budget:>5}  {r['method']:<14}{r['ndcg@10']:>8.2f}{r['recall@10']:>8.2f}"
            f"{r['train_seconds']:>9.1f}"
        )
    for b in budgets:
        print(
            f"M={b['budget']}: FOSTER {b['foster_ndcg@10']:.2f} vs best baseline "
            f"{b['best_baseline']} {b['best_baseline_ndcg@10']:.2f}"
        )
    print(f"\nablation at M={ablation['num_sequences']}:")
    for name, row in ablation["rows"].items():
        print(
            f"  {name:<20}{row['test']['ndcg@10']:>8.2f}"
            f"{row['distill_step_seconds']:>9.3f} s/step"
        )


def main(argv):
    del argv
    start = time.perf_counter()
    config = _config()
    root = pathlib.Path(_WORKROOT.value or tempfile.mkdtemp(prefix="foster_budget_"))
    results = pipeline.run(config, root / "foster")
    dataset = results["data"]["name"]
    rows = _rows(dataset, results)
    budgets = _budgets(rows, results)
    steps = _step_costs(
        results["data"]["num_items"],
        config.foster.subset_size,
        config.foster.inner_steps,
        root,
    )
    record = {
        "benchmark": "foster_budget",
        "smoke": _SMOKE.value,
        "dataset": dataset,
        "rows": rows,
        "budgets": budgets,
        "ablation": results["ablation"],
        "step": {
            k: steps[k] for k in ("items", "encoder", "unroll", "inner_steps", "rows")
        },
        "job_timings": results["timings"],
        "foster": results["foster"],
        "seconds": time.perf_counter() - start,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
        **pipeline.environment(),
    }
    stem = pathlib.Path(_OUT.value)
    io.atomic_write_json(stem.with_suffix(".json"), record)
    plots.budget_figure(
        rows, stem.with_suffix(".png"), xlabel="sequences (synthetic or real)"
    )
    print(json.dumps({k: record[k] for k in ("benchmark", "dataset", "budgets")}))
    _print_table(rows, budgets, results["ablation"])


if __name__ == "__main__":
    app.run(main)
