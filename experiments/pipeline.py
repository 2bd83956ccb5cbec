"""Maps a config to library calls: data -> job -> `results.json` and a printed table.

Everything stateful lives here and in `experiments/jobs/`: I/O, logging, timing,
NumPy randomness and checkpoint handling. The config is validated into typed
settings (`experiments.settings`) before the workdir is touched or data loads; jobs
receive those settings, and `infinite_ae/` never sees a ConfigDict. A float64 run
enables 64-bit JAX for the run's duration only (a scoped `jax.enable_x64`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import pathlib
import platform
import subprocess
import time
from collections.abc import Mapping
from typing import Any

import jax
import ml_collections
from absl import logging

from experiments import datasets, jobs, settings
from experiments import workdir as workdir_lib
from experiments.jobs import autosample as autosample_job
from experiments.jobs import compare
from infinite_ae import io

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
_VERSIONED = ("jax", "jaxlib", "optax", "numpy", "scipy", "h5py", "pyarrow")


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What a job gets besides its settings and data.

    Attributes:
      workdir: the run's output directory.
      writer: JSONL metric writer (`metrics.jsonl`), already truncated to the
        newest checkpoint's step when the run resumes.
      checkpoint_dir: where the job keeps its resumable state.
      resume_step: newest readable checkpointed step, or None for a fresh run.
      config_hash: short hash of the config (stored with exported artefacts).
    """

    workdir: pathlib.Path
    writer: io.MetricWriter
    checkpoint_dir: pathlib.Path
    resume_step: int | None
    config_hash: str


def default_workdir(config_path: str) -> str:
    """`runs/<config name>` for a config path such as `configs/distill_ml1m.py:tiny`."""
    path, _, arg = str(config_path).partition(":")
    name = pathlib.Path(path).stem + (f"_{arg}" if arg else "")
    return str(PROJECT_ROOT / "runs" / name)


def environment() -> dict[str, Any]:
    """Library versions, device and git revision recorded in every result."""
    versions = {"python": platform.python_version()}
    for name in ("infinite_ae", *_VERSIONED):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = None
    devices = jax.devices()
    return {
        "versions": versions,
        "device": {
            "platform": devices[0].platform,
            "kind": devices[0].device_kind,
            "count": len(devices),
        },
        "git_sha": sha,
    }


def format_table(results: Mapping[str, Any]) -> str:
    """A readable table of the `val`/`test` metric sections of a results dict."""
    sections = [s for s in ("val", "test") if isinstance(results.get(s), Mapping)]
    names = sorted(
        {
            k
            for s in sections
            for k, v in results[s].items()
            if isinstance(v, int | float) and not k.startswith("num_")
        },
        key=_metric_order,
    )
    if not names:
        return "(no metrics)"
    width = max(len(n) for n in names)
    lines = [f"{'metric':<{width}}  " + "  ".join(f"{s:>9}" for s in sections)]
    for name in names:
        cells = []
        for s in sections:
            value = results[s].get(name)
            cells.append(
                f"{value:>9.4f}" if isinstance(value, int | float) else f"{'-':>9}"
            )
        lines.append(f"{name:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


def _distilled_line(results: Mapping[str, Any]) -> str:
    summary = results.get("summary", {})
    seconds = results.get("timings", {}).get("distillation", float("nan"))
    return (
        f"Distill-CF: {summary.get('synthetic_users')} synthetic users from "
        f"{summary.get('real_users')} real ones in {seconds:.1f} s; trained on:"
    )


def _metric_order(name: str) -> tuple[str, int, str]:
    base, _, k = name.partition("@")
    return (base, int(k) if k.isdigit() else 0, name)


def run(
    config: ml_collections.ConfigDict,
    workdir: str | pathlib.Path,
    *,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Runs the job named by `config.method` and writes its artefacts under `workdir`.

    Writes `config.json` first, then `metrics.jsonl` while the job runs, and
    `results.json` last (atomically). A workdir of the same config with
    checkpoints resumes from the newest readable one; a workdir of a different
    config is refused unless `overwrite` (see `prepare_workdir`).

    Args:
      config: the experiment config.
      workdir: the run's output directory.
      overwrite: remove the artefacts of a previous run in `workdir` first and
        start from scratch.

    Returns:
      The results dict that was written to `results.json`.

    Raises:
      settings.SettingsError: an invalid config field (checked before anything is
        written or loaded).
      ValueError: `workdir` holds the artefacts of a different config and
        `overwrite` is False.
    """
    start = time.perf_counter()
    run_settings = settings.from_config(config)
    workdir = pathlib.Path(workdir)
    checkpoint_dir = workdir / "checkpoints"
    workdir_lib.prepare_workdir(workdir, config, overwrite=overwrite)
    resume_step = workdir_lib.find_resume_step(checkpoint_dir)
    digest = workdir_lib.config_hash(config)
    logging.info("workdir %s (config hash %s)", workdir, digest)
    if resume_step is not None:
        logging.info("resuming from checkpoint at step %d", resume_step)
    x64 = run_settings.model.dtype == "float64"
    with jax.enable_x64(True) if x64 else contextlib.nullcontext():
        job = jobs.get_job(run_settings.method)
        data_start = time.perf_counter()
        data = datasets.load_for(run_settings)
        data_seconds = time.perf_counter() - data_start
        logging.info("data %s: %s (%.1f s)", data.name, data.summary(), data_seconds)
        writer = io.MetricWriter(
            workdir / "metrics.jsonl",
            resume_from_step=resume_step if resume_step is not None else -1,
        )
        ctx = RunContext(workdir, writer, checkpoint_dir, resume_step, digest)
        results = dict(job(run_settings, data, ctx))
    timings = dict(results.get("timings", {}))
    timings["data_load"] = data_seconds
    timings["total"] = time.perf_counter() - start
    results["timings"] = timings
    results = {
        "method": run_settings.method,
        "config_hash": digest,
        "seed": run_settings.seed,
        **results,
        "data": {"name": data.name, "checksum": data.checksum(), **data.summary()},
        **environment(),
    }
    io.atomic_write_json(workdir / "results.json", results)
    print(f"\n{run_settings.method} on {data.name} -> {workdir / 'results.json'}")
    print(format_table(results))
    if "compare" in results:
        print(f"\n{_distilled_line(results)}")
        print(compare.format_comparison(results["compare"]))
    if "autosample" in results:
        print(f"\n{autosample_job.format_summary(results)}")
    print(f"wall time {timings['total']:.1f} s\n")
    return results
