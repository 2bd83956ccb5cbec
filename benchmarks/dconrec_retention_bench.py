"""DConRec retention and cross-model tables.

For each condensation model (--condense_models), runs the DConRec job and trains every
eval model on (a) the condensed data, (b) a uniform random subset of the training
split of the same realised size, (c) the full training split. Reports Recall@{5,10}
and nDCG@{5,10} of (a) and (b) as fractions of (c): the retention table (diagonal)
and the cross-model table (condense with one model, evaluate with the other).

Run:   python -m benchmarks.dconrec_retention_bench --workdir=/tmp/dconrec_bench
Smoke: python -m benchmarks.dconrec_retention_bench --smoke
Writes one JSON file (`--output`, default <workdir>/retention.json) and prints tables.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import tempfile

import jax
from absl import app, flags, logging

from configs import dconrec_ml1m, dconrec_quick
from experiments import pipeline
from infinite_ae import progress

_SMOKE = flags.DEFINE_bool("smoke", False, "Tiny synthetic run (CI).")
_WORKDIR = flags.DEFINE_string("workdir", "", "Output directory (default: a tempdir).")
_OUTPUT = flags.DEFINE_string("output", "", "JSON output (default <workdir>/...).")
_CONDENSE = flags.DEFINE_list(
    "condense_models", ["bprmf", "lightgcn"], "Condensation (inner) models."
)
_EVAL = flags.DEFINE_list("eval_models", ["bprmf", "lightgcn"], "Eval models.")
_OUTER_STEPS = flags.DEFINE_integer("outer_steps", 0, "Override outer steps (0: cfg).")

METRICS = ("recall@5", "recall@10", "ndcg@5", "ndcg@10")


def _git_sha() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _ratio(value: float, full: float) -> float:
    return value / full if full > 0 else float("nan")


def format_tables(rows: list[dict]) -> str:
    lines = [
        f"{'condense':>9} {'eval':>9} {'metric':>10} {'full':>8} {'cond':>8} "
        f"{'random':>8} {'ret':>6} {'ret_rand':>8}"
    ]
    for r in rows:
        lines.append(
            f"{r['condense_model']:>9} {r['eval_model']:>9} {r['metric']:>10} "
            f"{r['full']:8.3f} {r['condensed']:8.3f} {r['random']:8.3f} "
            f"{r['retention']:6.3f} {r['retention_random']:8.3f}"
        )
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    workdir = pathlib.Path(_WORKDIR.value or tempfile.mkdtemp(prefix="dconrec_bench"))
    rows, runs = [], {}
    sweep = progress.Progress(len(_CONDENSE.value), "condense models", unit="run")
    for condense_model in _CONDENSE.value:
        config = (dconrec_quick if _SMOKE.value else dconrec_ml1m).get_config()
        config.dconrec.condense_model = condense_model
        config.dconrec.eval_models = tuple(_EVAL.value)
        if _OUTER_STEPS.value:
            config.dconrec.outer_steps = _OUTER_STEPS.value
        if _SMOKE.value:
            config.dconrec.outer_steps = 4
        results = pipeline.run(config, workdir / f"condense_{condense_model}")
        sweep.update(model=condense_model)
        runs[condense_model] = {
            "summary": results["summary"],
            "timings": results["timings"],
        }
        for eval_model, table in results["per_model"].items():
            for metric in METRICS:
                full = table["full_data"][metric]
                rows.append(
                    {
                        "condense_model": condense_model,
                        "eval_model": eval_model,
                        "metric": metric,
                        "full": full,
                        "condensed": table["condensed"][metric],
                        "random": table["random_subset"][metric],
                        "retention": _ratio(table["condensed"][metric], full),
                        "retention_random": _ratio(
                            table["random_subset"][metric], full
                        ),
                    }
                )
    record = {
        "benchmark": "dconrec_retention",
        "smoke": _SMOKE.value,
        "device": str(jax.devices()[0]),
        "jax": jax.__version__,
        "git_sha": _git_sha(),
        "runs": runs,
        "rows": rows,
    }
    output = pathlib.Path(_OUTPUT.value or workdir / "retention.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(record, indent=1))
    logging.info("wrote %s", output)
    print(json.dumps({k: v for k, v in record.items() if k != "runs"}))
    print(format_tables(rows))


if __name__ == "__main__":
    app.run(main)
