"""Paired, whole-process timing against the original ∞-AE / Distill-CF code.

Speed-ups are only meaningful when both sides run the same work on the same machine
under the same conditions, so this script runs them as whole processes, alternately:
ours (`python -m experiments.run --config=...`) and the original code's script, each
`--repeats` times, and reports median wall times, their ratio, peak RSS (per process,
from `os.wait4`) and the test nDCG@10 each side printed.

The original code is not part of the project. Point `--original` at a runnable
checkout of `noveens/infinite_ae_cf` or `noveens/distill_cf` (a directory with a
`run_orig.py` that runs its `main`/`distill.main` on ML-1M and prints the test
metrics), and `--original_python` at the interpreter of its environment (it needs jax
0.5.3 and neural-tangents 0.6.5). The script copies the checkout to a temporary
directory and links the ML-1M split files (`total_data.hdf5`, `index.npz`) from the
data root into its `data/ml-1m/`.

Run:    python benchmarks/original_bench.py --work=infinite_ae \\
            --original=PATH --original_python=PATH/bin/python [--repeats=2]
Smoke:  python benchmarks/original_bench.py --smoke
        (ours only, configs/infinite_ae_quick.py)

Prints one JSON object (also written to --output) and a table.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from absl import app, flags

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments import pipeline  # noqa: E402
from infinite_ae.data import download  # noqa: E402

WORKS = {
    # work: (our config, the regex of the original's test nDCG@10 line)
    "infinite_ae": ("configs/infinite_ae_ml1m.py", r"'NDCG@10': ([0-9.]+)"),
    "distill_cf": ("configs/distill_ml1m.py", r"NDCG@10 = ([0-9.]+)[^\n]*\(TEST\)"),
}

_WORK = flags.DEFINE_enum("work", "infinite_ae", list(WORKS), "Which job to pair.")
_ORIGINAL = flags.DEFINE_string(
    "original", None, "Runnable checkout of the original code (has run_orig.py)."
)
_ORIGINAL_PYTHON = flags.DEFINE_string(
    "original_python", None, "Python interpreter of the original code's environment."
)
_REPEATS = flags.DEFINE_integer("repeats", 2, "Runs per side, alternating.")
_SMOKE = flags.DEFINE_bool(
    "smoke", False, "Ours only, on configs/infinite_ae_quick.py."
)
_OUTPUT = flags.DEFINE_string("output", None, "Also write the JSON here.")


def _run(command: list[str], cwd: pathlib.Path, env=None) -> dict[str, Any]:
    """Runs a whole process; its wall time, peak RSS and output."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    code = os.waitstatus_to_exitcode(status)
    if code:
        raise RuntimeError(f"{command} failed ({code}):\n{text[-3000:]}")
    return {"wall_s": wall, "peak_rss_gb": usage.ru_maxrss * 1024 / 1e9, "output": text}


def _ours(config: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        env = dict(os.environ, INFINITE_AE_PROGRESS="0")
        command = [sys.executable, "-m", "experiments.run", f"--config={config}"]
        result = _run([*command, f"--workdir={workdir}"], ROOT, env)
        results = json.loads((pathlib.Path(workdir) / "results.json").read_text())
    result["ndcg@10"] = results["test"]["ndcg@10"]
    return result


def _original_copy(source: pathlib.Path) -> pathlib.Path:
    """A scratch copy of the original checkout with the ML-1M split linked in."""
    if not (source / "run_orig.py").exists():
        raise FileNotFoundError(f"--original={source}: no run_orig.py there")
    copy = pathlib.Path(tempfile.mkdtemp(prefix="original_")) / source.name
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("data", "results"))
    target = copy / "data" / "ml-1m"
    target.mkdir(parents=True)
    split = download.data_root() / "infinite_ae_cf" / "ml-1m"
    for name in ("total_data.hdf5", "index.npz"):
        if not (split / name).exists():
            raise FileNotFoundError(f"{split / name} is needed by the original code")
        (target / name).symlink_to(split / name)
    return copy


def _original(copy: pathlib.Path, python: str, pattern: str) -> dict[str, Any]:
    result = _run([python, "run_orig.py"], copy)
    found = re.findall(pattern, result["output"])
    result["ndcg@10"] = float(found[-1]) if found else None
    return result


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall_s"] for r in runs]
    return {
        "wall_median_s": statistics.median(walls),
        "wall_s": walls,
        "peak_rss_gb": max(r["peak_rss_gb"] for r in runs),
        "ndcg@10": runs[-1]["ndcg@10"],
    }


def main(argv):
    del argv
    config, pattern = WORKS[_WORK.value]
    if _SMOKE.value:
        config = "configs/infinite_ae_quick.py"
    with_original = _ORIGINAL.value is not None and not _SMOKE.value
    if with_original and not _ORIGINAL_PYTHON.value:
        raise app.UsageError("--original needs --original_python")
    copy = _original_copy(pathlib.Path(_ORIGINAL.value)) if with_original else None
    ours, original = [], []
    for _ in range(max(1, _REPEATS.value)):
        ours.append(_ours(config))
        if copy is not None:
            original.append(_original(copy, _ORIGINAL_PYTHON.value, pattern))
    result = {
        "benchmark": "original_paired",
        "work": _WORK.value,
        "config": config,
        "repeats": len(ours),
        "ours": _summary(ours),
        "original": _summary(original) if original else None,
        **pipeline.environment(),
    }
    if original:
        ratio = result["original"]["wall_median_s"] / result["ours"]["wall_median_s"]
        result["speedup"] = ratio
    text = json.dumps(result)
    print(text)
    if _OUTPUT.value:
        out = pathlib.Path(_OUTPUT.value)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{'side':<10}{'median s':>10}{'peak RSS GB':>13}{'nDCG@10':>10}")
    for side in ("ours", "original"):
        row = result[side]
        if row is not None:
            ndcg = row["ndcg@10"]
            print(
                f"{side:<10}{row['wall_median_s']:>10.1f}{row['peak_rss_gb']:>13.2f}"
                f"{'-' if ndcg is None else f'{ndcg:.2f}':>10}"
            )
    if original:
        print(f"speed-up (paired medians): {result['speedup']:.1f}x")
    if copy is not None:
        shutil.rmtree(copy.parent, ignore_errors=True)


if __name__ == "__main__":
    app.run(main)
