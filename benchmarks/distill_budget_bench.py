"""Budget sweep on ML-1M: Distill-CF vs random users / random interactions / head users.

Run:   python -m benchmarks.distill_budget_bench --out=benchmarks/results/distill_budget
       python -m benchmarks.distill_budget_bench --smoke      # synthetic data, seconds
For each budget S (synthetic users, default 10, 50, 100, 500), runs the Distill-CF job
with configs/distill_ml1m.py (or distill_quick with --smoke) and evaluates ∞-AE on the
three baselines at the same S; writes `<out>.json` (one row per method and budget:
HR@10, nDCG@10, PSP@10, wall time) and `<out>.png` (log-scale budget axis). It also
times fitting ∞-AE and EASE on the distilled data vs on the full train matrix
(`speedup` section; block_until_ready, median of --repeats after a warm-up).
"""

import json
import pathlib
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging

from configs import distill_ml1m, distill_quick
from experiments import datasets, pipeline, settings
from infinite_ae import progress

_BUDGETS = flags.DEFINE_list("budgets", ["10", "50", "100", "500"], "Values of S.")
_OUT = flags.DEFINE_string("out", "benchmarks/results/distill_budget", "Output stem.")
_SMOKE = flags.DEFINE_bool("smoke", False, "Synthetic data and tiny budgets.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats of the speed-up fits.")
_METRICS = ("hr@10", "ndcg@10", "psp@10")


def _time(fn, repeats):
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _speedup(support: np.ndarray, train_dense: np.ndarray, repeats: int) -> dict:
    """Seconds to fit ∞-AE (kernel + Cholesky) and EASE on the summary vs full data."""
    from infinite_ae.distill import KernelRidgeLearner  # noqa: PLC0415

    learner = KernelRidgeLearner()
    fit = jax.jit(learner.fit)

    def ease(x):
        gram = jnp.matmul(x.T, x, precision="highest")
        p = jnp.linalg.inv(gram + 1000.0 * jnp.eye(gram.shape[0]))
        return -p / jnp.diag(p)[None, :]

    ease = jax.jit(ease)
    out = {}
    for name, x in (("distilled", support), ("full", train_dense)):
        x = jnp.asarray(x)
        out[f"inf_ae_{name}_s"] = _time(lambda x=x: fit(x, 1.0), repeats)
        out[f"ease_{name}_s"] = _time(lambda x=x: ease(x), repeats)
    out["inf_ae_speedup"] = out["inf_ae_full_s"] / out["inf_ae_distilled_s"]
    out["ease_speedup"] = out["ease_full_s"] / out["ease_distilled_s"]
    return out


def _plot(rows, path):
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        logging.warning("matplotlib missing; no plot")
        return
    fig, axes = plt.subplots(1, len(_METRICS), figsize=(4 * len(_METRICS), 3.2))
    for ax, metric in zip(axes, _METRICS, strict=True):
        for method in sorted({r["method"] for r in rows}):
            pts = sorted(
                (r["budget"], r[metric]) for r in rows if r["method"] == method
            )
            ax.plot(*zip(*pts, strict=True), marker="o", label=method)
        ax.set_xscale("log")
        ax.set_xlabel("synthetic / sampled users")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv):
    del argv
    budgets = [int(b) for b in _BUDGETS.value]
    module = distill_quick if _SMOKE.value else distill_ml1m
    if _SMOKE.value:
        budgets = [4, 8]
    rows, speedups = [], {}
    workroot = pathlib.Path(tempfile.mkdtemp(prefix="distill_budget_"))
    sweep = progress.Progress(len(budgets), "budget sweep", unit="budget")
    for budget in budgets:
        sweep.update(0, budget=budget)
        config = module.get_config()
        config.distill.num_users = budget
        config.distill.baselines = ("random_users", "head_users", "random_interactions")
        start = time.perf_counter()
        results = pipeline.run(config, workroot / f"s{budget}")
        wall = time.perf_counter() - start
        rows.append(
            {
                "method": "distill_cf",
                "budget": budget,
                "wall_s": wall,
                "best_step": results["best"]["step"],
                **{m: results["test"][m] for m in _METRICS},
            }
        )
        for name, res in results["baselines"].items():
            rows.append(
                {
                    "method": name,
                    "budget": budget,
                    **{m: res["test"][m] for m in _METRICS},
                }
            )
        logging.info("budget %d: %s", budget, rows[-4:])
        sweep.update()
        if budget == max(budgets):
            data = datasets.load(settings.from_config(config).data, seed=config.seed)
            with np.load(workroot / f"s{budget}" / "distilled.npz") as f:
                support = f["data"]
            speedups = {
                "budget": budget,
                **_speedup(support, data.train.toarray(), _REPEATS.value),
            }
    wins = {}
    for budget in budgets:
        at = {r["method"]: r for r in rows if r["budget"] == budget}
        wins[str(budget)] = all(
            at["distill_cf"]["ndcg@10"] > r["ndcg@10"]
            for m, r in at.items()
            if m != "distill_cf"
        )
    out = pathlib.Path(_OUT.value)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "distill_budget",
        "device": jax.devices()[0].device_kind,
        "jax": jax.__version__,
        "smoke": _SMOKE.value,
        "rows": rows,
        "distill_beats_all_baselines_ndcg@10": wins,
        "speedup": speedups,
        **pipeline.environment(),
    }
    out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    _plot(rows, out.with_suffix(".png"))
    print(json.dumps({"rows": rows, "wins": wins, "speedup": speedups}))


if __name__ == "__main__":
    app.run(main)
