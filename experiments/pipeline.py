"""Maps a config to library calls: data -> job -> `results.json` and a printed table.

Everything stateful lives here and in `experiments/jobs/`: I/O, logging, timing,
NumPy randomness and checkpoint handling. `infinite_ae/` never sees a ConfigDict.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import pathlib
import platform
import subprocess
import time
from collections.abc import Mapping
from typing import Any

import jax
import ml_collections
from absl import logging

from experiments import datasets, jobs
from infinite_ae import io

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
_VERSIONED = ("jax", "jaxlib", "flax", "optax", "numpy", "scipy", "h5py")


@dataclasses.dataclass(frozen=True)
class RunContext:
    """What a job gets besides its config and data.

    Attributes:
      workdir: the run's output directory.
      writer: JSONL metric writer (`metrics.jsonl`), already truncated to the
        newest checkpoint's step when the run resumes.
      seed: the run's seed (`config.seed`).
      checkpoint_dir: where the job keeps its resumable state.
      resume_step: newest checkpointed step, or None for a fresh run.
    """

    workdir: pathlib.Path
    writer: io.MetricWriter
    seed: int
    checkpoint_dir: pathlib.Path
    resume_step: int | None


def default_workdir(config_path: str) -> str:
    """`runs/<config name>` for a config path such as `configs/distill_ml1m.py:tiny`."""
    path, _, arg = str(config_path).partition(":")
    name = pathlib.Path(path).stem + (f"_{arg}" if arg else "")
    return str(PROJECT_ROOT / "runs" / name)


def config_hash(config: ml_collections.ConfigDict) -> str:
    """Short sha256 of the config's canonical JSON."""
    text = json.dumps(io.to_jsonable(config.to_dict()), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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


def _check_same_config(path: pathlib.Path, config_dict: Mapping[str, Any]) -> None:
    """Refuses to resume a workdir that was written by a different config."""
    old = json.loads(path.read_text(encoding="utf-8"))
    new = io.to_jsonable(config_dict)
    if old != new:
        diff = sorted(_diff_keys(old, new))
        raise ValueError(
            f"{path} was written by a different config (fields differ: "
            f"{', '.join(diff[:10])}). Use a fresh --workdir or delete the old one."
        )


def _diff_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return [
            d for k in keys for d in _diff_keys(a.get(k), b.get(k), f"{prefix}{k}.")
        ]
    return [] if a == b else [prefix.rstrip(".")]


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


def _metric_order(name: str) -> tuple[str, int, str]:
    base, _, k = name.partition("@")
    return (base, int(k) if k.isdigit() else 0, name)


def run(
    config: ml_collections.ConfigDict, workdir: str | pathlib.Path
) -> dict[str, Any]:
    """Runs the job named by `config.method` and writes its artefacts under `workdir`.

    Writes `config.json` first, then `metrics.jsonl` while the job runs, and
    `results.json` last (atomically). A workdir with checkpoints resumes.

    Returns:
      The results dict that was written to `results.json`.
    """
    start = time.perf_counter()
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config_dict = config.to_dict()
    config_path = workdir / "config.json"
    checkpoint_dir = workdir / "checkpoints"
    resume_step = io.latest_checkpoint(checkpoint_dir)
    if config_path.exists() and resume_step is not None:
        _check_same_config(config_path, config_dict)
    io.atomic_write_json(config_path, config_dict)
    logging.info("workdir %s (config hash %s)", workdir, config_hash(config))
    if resume_step is not None:
        logging.info("resuming from checkpoint at step %d", resume_step)

    job = jobs.get_job(config.method)
    data_start = time.perf_counter()
    data = datasets.load(config.data, seed=config.seed)
    data_seconds = time.perf_counter() - data_start
    logging.info("data %s: %s (%.1f s)", data.name, data.summary(), data_seconds)

    writer = io.MetricWriter(
        workdir / "metrics.jsonl",
        resume_from_step=resume_step if resume_step is not None else -1,
    )
    ctx = RunContext(workdir, writer, int(config.seed), checkpoint_dir, resume_step)
    results = dict(job(config, data, ctx))

    timings = dict(results.get("timings", {}))
    timings["data_load"] = data_seconds
    timings["total"] = time.perf_counter() - start
    results["timings"] = timings
    results = {
        "method": config.method,
        "config_hash": config_hash(config),
        "seed": int(config.seed),
        **results,
        "data": {"name": data.name, "checksum": data.checksum(), **data.summary()},
        **environment(),
    }
    io.atomic_write_json(workdir / "results.json", results)
    print(f"\n{config.method} on {data.name} -> {workdir / 'results.json'}")
    print(format_table(results))
    print(f"wall time {timings['total']:.1f} s\n")
    return results
