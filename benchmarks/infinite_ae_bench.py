"""End-to-end ∞-AE on ML-1M: per-stage time and peak memory.

The same work as the original ∞-AE script: build the support kernel, sweep the
regulariser over 6 values on validation (HR@100 selects), and evaluate the chosen
model once on test (every metric, pooled AUC with 50 negatives).

Run:    python benchmarks/infinite_ae_bench.py [--repeats=3] [--output=FILE]
Smoke:  python benchmarks/infinite_ae_bench.py --smoke     (synthetic, seconds)

Prints one JSON object (also written to --output) and a table. Each stage is
timed with `block_until_ready`; the first pass compiles and is not timed.
Peak RSS per stage is sampled every 5 ms by a background thread. For a speed-up
against the original code, time both as whole processes in one paired run:
benchmarks/original_bench.py.
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from experiments import pipeline  # noqa: E402
from infinite_ae import evaluation, kernels, metrics, solver  # noqa: E402
from infinite_ae.data import download, loaders, make_synthetic  # noqa: E402

_SMOKE = flags.DEFINE_bool("smoke", False, "Tiny synthetic data (CI check).")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats after one warm-up.")
_OUTPUT = flags.DEFINE_string("output", None, "Also write the JSON here.")
_DATA = flags.DEFINE_string(
    "data", "infinite_ae_cf/ml-1m", "∞-AE split directory under the data root."
)
_REGS = flags.DEFINE_list("regs", ["1", "5", "20", "50", "100", "200"], "λ grid.")
_BATCH = flags.DEFINE_integer("batch_size", 2048, "Users per evaluation batch.")

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


class _PeakRss:
    """Samples the resident set size in a thread; `peak()` is the max since reset."""

    def __init__(self, interval: float = 0.005):
        self._interval = interval
        self._peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss_bytes())
            time.sleep(self._interval)

    def reset(self) -> None:
        self._peak = _rss_bytes()

    def peak(self) -> int:
        return max(self._peak, _rss_bytes())

    def stop(self) -> None:
        self._stop.set()


_kernel = jax.jit(kernels.kernel, static_argnums=0)
_fit = jax.jit(solver.fit_krr)


@jax.jit
def _in_sample(targets, alpha, ridge, users):
    return targets[users] - ridge * alpha[users]


@jax.jit
def _predict(queries, support, alpha):
    k_qs = kernels.kernel(kernels.KernelSpec(), queries, support)
    return jnp.matmul(k_qs, alpha, precision="highest")


def _load(smoke: bool):
    if smoke:
        return make_synthetic(400, 300, mean_degree=30, seed=0)
    path = download.data_root() / _DATA.value
    if not (path / "index.npz").exists():
        raise SystemExit(f"{path} not found: set INFINITE_AE_DATA to the shared data")
    return loaders.load_infinite_ae(path, verify="off")


def run_once(regs: list[float], smoke: bool, rss: _PeakRss) -> dict[str, Any]:
    """One pass of the whole pipeline; returns per-stage seconds, peak RSS, metrics."""
    stages: dict[str, dict[str, float]] = {}

    def stage(name: str, fn: Callable[[], Any]) -> Any:
        rss.reset()
        start = time.perf_counter()
        out = jax.block_until_ready(fn())
        stages[name] = {
            "seconds": time.perf_counter() - start,
            "peak_rss_gb": rss.peak() / 2**30,
        }
        return out

    data = stage("load", lambda: _load(smoke))
    negatives = stage(
        "auc_negatives",
        lambda: metrics.sample_auc_negatives(
            data.train, data.test, num=50, rng=np.random.default_rng(0)
        ),
    )
    support = stage("densify", lambda: jnp.asarray(data.train.toarray()))
    k_ss = stage("kernel", lambda: _kernel(kernels.KernelSpec(), support))

    def sweep():
        best = None
        for reg in regs:
            fit = jax.block_until_ready(_fit(k_ss, support, reg))
            val = evaluation.evaluate(
                lambda q, u, fit=fit: _in_sample(support, fit.alpha, fit.ridge, u),
                data,
                split="val",
                batch_size=_BATCH.value,
            )
            if best is None or val["hr@100"] > best[0]["hr@100"]:
                best = (val, reg, fit)
        return best

    val, reg, fit = stage("sweep", sweep)
    test = stage(
        "test",
        lambda: evaluation.evaluate(
            lambda q, u: _predict(q, support, fit.alpha),
            data,
            split="test",
            batch_size=_BATCH.value,
            negatives=negatives,
        ),
    )
    return {"stages": stages, "reg": reg, "val": val, "test": test}


def main(argv):
    del argv
    regs = [float(r) for r in _REGS.value]
    rss = _PeakRss()
    smoke = _SMOKE.value
    run_once(regs, smoke, rss)  # warm-up: compiles every jitted function
    runs = [run_once(regs, smoke, rss) for _ in range(max(1, _REPEATS.value))]
    stage_names = list(runs[0]["stages"])
    table = {}
    for name in stage_names:
        seconds = [r["stages"][name]["seconds"] for r in runs]
        table[name] = {
            "median_s": statistics.median(seconds),
            "p90_s": float(np.percentile(seconds, 90)),
            "peak_rss_gb": max(r["stages"][name]["peak_rss_gb"] for r in runs),
        }
    totals = [sum(r["stages"][n]["seconds"] for n in stage_names) for r in runs]
    compute = [
        t - r["stages"]["load"]["seconds"] for t, r in zip(totals, runs, strict=True)
    ]
    last = runs[-1]
    result = {
        "benchmark": "infinite_ae_pipeline",
        "smoke": smoke,
        "data": "synthetic-400x300" if smoke else _DATA.value,
        "regs": regs,
        "chosen_reg": last["reg"],
        "repeats": len(runs),
        "stages": table,
        "total_median_s": statistics.median(totals),
        "total_without_load_median_s": statistics.median(compute),
        "peak_rss_gb": max(v["peak_rss_gb"] for v in table.values()),
        "test": {
            k: last["test"][k] for k in ("ndcg@10", "hr@10", "hr@100", "psp@10", "auc")
        },
        "val_hr@100": last["val"]["hr@100"],
        "dtype": "float32",
        **pipeline.environment(),
    }
    rss.stop()
    text = json.dumps(result)
    print(text)
    if _OUTPUT.value:
        out = pathlib.Path(_OUTPUT.value)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{'stage':<14}{'median s':>10}{'p90 s':>10}{'peak RSS GB':>13}")
    for name, row in table.items():
        print(
            f"{name:<14}{row['median_s']:>10.2f}{row['p90_s']:>10.2f}"
            f"{row['peak_rss_gb']:>13.2f}"
        )
    print(f"{'total':<14}{result['total_median_s']:>10.2f}")
    test = result["test"]
    print(
        f"test nDCG@10 {test['ndcg@10']:.2f}  HR@10 {test['hr@10']:.2f}"
        f"  (λ* = {last['reg']:g})"
    )


if __name__ == "__main__":
    app.run(main)
