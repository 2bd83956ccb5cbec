"""Scaling of Distill-CF steps and streamed ∞-AE evaluation: users, devices, GEMM.

Sections (``--sections``, comma-separated):

* ``gemm``: achieved FLOP/s of the jitted kernel K(X_tile, X_S) (Gram GEMM + the
  elementwise NTK recurrence) as a fraction of a plain ``jnp.dot`` of the same
  shapes (B × I times I × S), measured in the same run.
* ``batch``: time of one Distill-CF step vs the number of real users per step B;
  reports the log-log slope (≤ 1: no worse than linear).
* ``users``: for each dataset size U (Netflix-shaped, `profiles.netflix_shape`), in a
  fresh subprocess: ``--steps`` Distill-CF steps on user mini-batches and one full
  streamed test evaluation of ∞-AE on the resulting summary; wall time and the
  subprocess's own peak RSS (VmHWM). The largest size is the full Netflix shape
  (480,189 × 17,770, ≈100M interactions).
* ``devices``: for 1, 2, 4, 8 forced CPU devices (or the real accelerators), each in
  a subprocess: step time and streamed evaluation time with users sharded over the
  mesh, and the max difference of the loss / metrics to the 1-device run.

Every timed quantity compiles first (untimed), then reports the median (and p90) of
``--repeats`` runs with ``block_until_ready``. Writes one JSON (``--output``) and a
log-log PNG (``--plot``).

Run:    python benchmarks/scaling_bench.py --output=/tmp/scaling.json --plot=/tmp/s.png
Smoke:  python benchmarks/scaling_bench.py --smoke        (tiny sizes, < 1 min)
Netflix only:
        python benchmarks/scaling_bench.py --sections=users --user_sizes=480189 \
          --steps=50
"""

from __future__ import annotations

import functools
import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np
from absl import app, flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

_SMOKE = flags.DEFINE_bool("smoke", False, "Tiny sizes (CI check).")
_SECTIONS = flags.DEFINE_list(
    "sections", ["gemm", "batch", "users", "devices"], "Sections to run."
)
_OUTPUT = flags.DEFINE_string("output", None, "Write the JSON here.")
_PLOT = flags.DEFINE_string("plot", None, "Write the log-log PNG here.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats after one warm-up.")
_NUM_ITEMS = flags.DEFINE_integer("num_items", 17_770, "I (Netflix: 17,770).")
_NUM_SUPPORT = flags.DEFINE_integer("num_support", 500, "S, synthetic users.")
_NUM_DRAWS = flags.DEFINE_integer("num_draws", 4, "Gumbel draws computed per step.")
_BATCHES = flags.DEFINE_list(
    "batch_sizes", ["256", "512", "1024", "2048"], "Users per step (batch section)."
)
_USER_SIZES = flags.DEFINE_list(
    "user_sizes", ["6000", "60000", "480189"], "U per run (users section)."
)
_STEPS = flags.DEFINE_integer("steps", 50, "Distill-CF steps per users-section run.")
_DEVICES = flags.DEFINE_list("device_counts", ["1", "2", "4", "8"], "Mesh sizes.")
_DEVICE_USERS = flags.DEFINE_integer("device_users", 20_000, "U of the device runs.")
_BUDGET_MB = flags.DEFINE_integer("budget_mb", 1024, "Tile budget (MiB).")
_CACHE = flags.DEFINE_string(
    "cache_dir", "/tmp/infinite_ae_scale_cache", "Generated datasets (npz) go here."
)
_WORKER = flags.DEFINE_string("worker", None, "Internal: 'scale' or 'devices'.")
_WORKER_USERS = flags.DEFINE_integer("worker_users", 0, "Internal.")
_WORKER_DEVICES = flags.DEFINE_integer("worker_devices", 1, "Internal.")


# ----------------------------------------------------------------------------------
# Helpers.


def _peak_rss_bytes() -> int:
    """This process's own peak resident set (VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


def _time(fn, repeats: int) -> dict[str, float]:
    import jax

    jax.block_until_ready(fn())  # compile + warm-up, untimed
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "median_s": statistics.median(times),
        "p90_s": times[min(len(times) - 1, math.ceil(0.9 * len(times)) - 1)],
        "times_s": times,
    }


def _environment() -> dict[str, Any]:
    import jax

    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=pathlib.Path(__file__).resolve().parents[1],
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = None
    devices = jax.devices()
    return {
        "jax": jax.__version__,
        "numpy": np.__version__,
        "device": devices[0].device_kind,
        "platform": devices[0].platform,
        "num_devices": len(devices),
        "cpu_count": os.cpu_count(),
        "git_sha": sha,
    }


def _dataset(num_users: int, num_items: int):
    """Netflix-shaped data with U users, generated once and cached as npz."""
    from infinite_ae.data import Interactions, profiles

    cache = pathlib.Path(_CACHE.value)
    cache.mkdir(parents=True, exist_ok=True)
    # "cal": item-calibrated generator (profiles.make_shaped); older caches are not.
    path = cache / f"netflix_shape_cal_u{num_users}_i{num_items}.npz"
    if path.exists():
        start = time.perf_counter()
        data = Interactions.load_npz(path)
        return data, {"generated": False, "load_s": time.perf_counter() - start}
    start = time.perf_counter()
    shape = profiles.netflix_shape(num_users=num_users, num_items=num_items)
    data = profiles.make_shaped(shape, seed=0)
    seconds = time.perf_counter() - start
    data.save_npz(path)
    return data, {
        "generated": True,
        "generate_s": seconds,
        "rss_after_generate_bytes": _peak_rss_bytes(),
    }


def _distill_setup(num_items: int, num_support: int, num_draws: int):
    from infinite_ae import distill

    spec = distill.DistillSpec(num_samples=200, num_draws=num_draws)
    optimizer = distill.make_optimizer(0.04)
    return spec, optimizer


def _batch(train, rows: np.ndarray) -> np.ndarray:
    out = np.zeros((rows.size, train.shape[1]), np.float32)
    train[rows].toarray(out=out)
    return out


# ----------------------------------------------------------------------------------
# Sections.


def section_gemm() -> dict[str, Any]:
    """Kernel FLOP/s vs plain matmul FLOP/s, same shapes, same run."""
    import jax
    import jax.numpy as jnp

    from infinite_ae import kernels, tiles

    num_items, num_support = _NUM_ITEMS.value, _NUM_SUPPORT.value
    plan = tiles.plan_tiles(
        480_189,
        tiles.evaluation_row_bytes(num_items, num_support),
        _BUDGET_MB.value << 20,
        fixed_bytes=tiles.support_bytes(num_support, num_items),
    )
    tile = plan.tile_size
    rng = np.random.default_rng(0)
    x = jnp.asarray((rng.random((tile, num_items)) < 0.012).astype(np.float32))
    y = jnp.asarray(rng.random((num_support, num_items)).astype(np.float32))
    spec = kernels.KernelSpec()
    kernel_fn = jax.jit(functools.partial(kernels.kernel, spec))
    dot_fn = jax.jit(lambda a, b: jnp.dot(a, b.T, precision="highest"))
    flops = 2.0 * tile * num_items * num_support
    out: dict[str, Any] = {
        "shape": {"B": tile, "I": num_items, "S": num_support},
        "gram_flops": flops,
    }
    # Interleave the two measurements so that machine load affects both alike.
    kernel_times, dot_times = [], []
    jax.block_until_ready(kernel_fn(x, y))
    jax.block_until_ready(dot_fn(x, y))
    for _ in range(max(3, _REPEATS.value)):
        for fn, times in ((kernel_fn, kernel_times), (dot_fn, dot_times)):
            start = time.perf_counter()
            jax.block_until_ready(fn(x, y))
            times.append(time.perf_counter() - start)
    out["kernel_s"] = statistics.median(kernel_times)
    out["matmul_s"] = statistics.median(dot_times)
    out["kernel_gflops"] = flops / out["kernel_s"] / 1e9
    out["matmul_gflops"] = flops / out["matmul_s"] / 1e9
    out["efficiency"] = out["kernel_gflops"] / out["matmul_gflops"]
    # The elementwise recurrence alone, for the breakdown.
    gram = dot_fn(x, y)
    x_sq, y_sq = jnp.sum(x * x, 1), jnp.sum(y * y, 1)
    elem = jax.jit(
        functools.partial(kernels.kernel_from_gram, spec, num_items=num_items)
    )
    out["elementwise"] = _time(lambda: elem(gram, x_sq, y_sq), _REPEATS.value)
    return out


def section_batch() -> dict[str, Any]:
    """Distill-CF step time vs users per step (log-log slope)."""
    import jax
    import jax.numpy as jnp

    from infinite_ae import distill, sharding

    num_items, num_support = _NUM_ITEMS.value, _NUM_SUPPORT.value
    spec, optimizer = _distill_setup(num_items, num_support, _NUM_DRAWS.value)
    mesh = sharding.make_user_mesh()
    step = sharding.make_sharded_distill_update(mesh, spec=spec, optimizer=optimizer)
    hparams = distill.make_hparams(
        temperature=1.0, reg=5.0, cardinality_reg=1e-3, mean_degree=209.0
    )
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((num_support, num_items)).astype(np.float32)
    rows = []
    for b in [int(v) for v in _BATCHES.value]:
        targets = (rng.random((b, num_items)) < 0.012).astype(np.float32)
        targets, weights = sharding.pad_batch(targets, None, sharding.num_shards(mesh))
        targets = sharding.shard_rows(mesh, targets)
        weights = sharding.shard_rows(mesh, weights)
        key = jax.random.key(0)

        def one(targets=targets, weights=weights, key=key):
            state = distill.init_state(jnp.asarray(logits), optimizer)
            return step(state, key, targets, weights, hparams)[0].logits

        timing = _time(one, _REPEATS.value)
        rows.append({"batch_size": b, **timing})
    sizes = np.log([r["batch_size"] for r in rows])
    times = np.log([r["median_s"] for r in rows])
    slope = float(np.polyfit(sizes, times, 1)[0]) if len(rows) > 1 else float("nan")
    return {
        "rows": rows,
        "loglog_slope": slope,
        "S": num_support,
        "I": num_items,
        "num_draws": _NUM_DRAWS.value,
    }


def _run_worker(args: list[str], env_extra: dict[str, str] | None = None) -> dict:
    env = dict(os.environ)
    env.update(env_extra or {})
    cmd = [sys.executable, str(pathlib.Path(__file__).resolve()), *args]
    for flag in (
        "num_items",
        "num_support",
        "num_draws",
        "steps",
        "budget_mb",
        "cache_dir",
        "repeats",
    ):
        cmd.append(f"--{flag}={flags.FLAGS[flag].value}")
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(
            f"worker {args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["subprocess_wall_s"] = time.perf_counter() - start
    return result


def section_users() -> dict[str, Any]:
    rows = []
    for users in [int(v) for v in _USER_SIZES.value]:
        rows.append(_run_worker(["--worker=scale", f"--worker_users={users}"]))
        print(json.dumps(rows[-1]), flush=True)
    return {"rows": rows}


def section_devices() -> dict[str, Any]:
    rows = []
    for count in [int(v) for v in _DEVICES.value]:
        import jax

        env = {}
        if jax.default_backend() == "cpu":
            env = {
                "XLA_FLAGS": f"--xla_force_host_platform_device_count={count}",
                "JAX_PLATFORMS": "cpu",
            }
        rows.append(
            _run_worker(
                [
                    "--worker=devices",
                    f"--worker_devices={count}",
                    f"--worker_users={_DEVICE_USERS.value}",
                ],
                env,
            )
        )
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    for row in rows:
        row["step_speedup"] = base["step"]["median_s"] / row["step"]["median_s"]
        row["eval_speedup"] = base["eval_s"] / row["eval_s"]
        row["loss_max_rel_diff_vs_first"] = max(
            abs(a - b) / max(abs(b), 1e-12)
            for a, b in zip(row["losses"], base["losses"], strict=True)
        )
        row["metric_max_rel_diff_vs_first"] = max(
            abs(row["metrics"][k] - base["metrics"][k])
            / max(abs(base["metrics"][k]), 1)
            for k in base["metrics"]
        )
    return {"rows": rows, "users": _DEVICE_USERS.value}


# ----------------------------------------------------------------------------------
# Workers (run in subprocesses).


def _distill_and_evaluate(data, mesh, *, steps: int, timings: dict) -> dict:
    """`steps` Distill-CF steps on budgeted user batches, then a budget-tiled test."""
    import jax

    from infinite_ae import distill, evaluation, kernels, sharding, solver, tiles

    num_users, num_items = data.shape
    num_support = _NUM_SUPPORT.value
    budget = _BUDGET_MB.value << 20
    shards = sharding.num_shards(mesh)
    batch_plan = tiles.plan_tiles(
        num_users,
        tiles.distill_row_bytes(num_items, num_support),
        budget,
        fixed_bytes=tiles.distill_fixed_bytes(num_support, num_items),
        multiple_of=shards,
    )
    batch_size = batch_plan.tile_size
    spec, optimizer = _distill_setup(num_items, num_support, _NUM_DRAWS.value)
    step = sharding.make_sharded_distill_update(mesh, spec=spec, optimizer=optimizer)
    train = data.train
    degrees = np.diff(train.indptr)
    hparams = distill.make_hparams(
        temperature=1.0,
        reg=5.0,
        cardinality_reg=1e-3,
        mean_degree=float(degrees.mean()),
    )
    rng = np.random.default_rng(0)
    init_rows = rng.choice(np.flatnonzero(degrees > 0), num_support, replace=False)
    state = distill.init_state(3.0 * _batch(train, np.sort(init_rows)), optimizer)
    state = sharding.replicate(mesh, state)
    base_key = jax.random.key(0)
    losses, step_times = [], []
    for t in range(steps):
        rows = np.sort(
            np.random.default_rng([0, 2, t]).choice(
                num_users, batch_size, replace=False
            )
        )
        targets, weights = sharding.pad_batch(_batch(train, rows), None, shards)
        start = time.perf_counter()
        state, aux = step(
            state, jax.random.fold_in(base_key, t), targets, weights, hparams
        )
        losses.append(float(aux["loss"]))  # blocks
        step_times.append(time.perf_counter() - start)
    timings["distill_steps_s"] = float(sum(step_times))
    timings["distill_step_median_s"] = statistics.median(step_times[1:] or step_times)
    timings["distill_first_step_s"] = step_times[0]
    # ∞-AE on the (expected) summary: X̂ sampled once, binary-free (continuous).
    sample = jax.jit(distill.sample_support, static_argnames="spec")
    support = sample(
        jax.random.key(1), state.logits, spec=spec, temperature=hparams.temperature
    )
    kspec = kernels.KernelSpec()
    params = solver.fit_model(kspec, np.asarray(support), 5.0)
    start = time.perf_counter()
    metrics = evaluation.evaluate(
        solver.krr_score_fn(kspec),
        data,
        params=params,
        split="test",
        budget_bytes=budget,
        mesh=mesh,
        progress="evaluate",
    )
    timings["eval_s"] = time.perf_counter() - start
    # The tiles `evaluate` planned from the same budget and memory model.
    plan = tiles.plan_tiles(
        data.num_users,
        tiles.evaluation_row_bytes(num_items, num_support),
        budget,
        fixed_bytes=sum(x.size * x.dtype.itemsize for x in params),
        multiple_of=shards,
    )
    metrics = {**metrics, "num_tiles": plan.num_tiles, "tile_size": plan.tile_size}
    return {"batch_size": batch_size, "losses": losses, "metrics": metrics}


def worker_scale() -> dict[str, Any]:
    import jax

    from infinite_ae import sharding

    t0 = time.perf_counter()
    data, data_info = _dataset(_WORKER_USERS.value, _NUM_ITEMS.value)
    data_info["rss_after_data_bytes"] = _peak_rss_bytes()
    data_info["nnz"] = int(data.train.nnz + data.val.nnz + data.test.nnz)
    data_info["data_s"] = time.perf_counter() - t0
    timings: dict[str, float] = {}
    mesh = sharding.make_user_mesh()
    out = _distill_and_evaluate(data, mesh, steps=_STEPS.value, timings=timings)
    return {
        "users": _WORKER_USERS.value,
        "items": _NUM_ITEMS.value,
        "steps": _STEPS.value,
        "data": data_info,
        **timings,
        "batch_size": out["batch_size"],
        "first_loss": out["losses"][0],
        "last_loss": out["losses"][-1],
        "metrics": {
            k: out["metrics"][k]
            for k in ("hr@10", "ndcg@10", "hr@100", "num_tiles", "tile_size")
        },
        "peak_rss_bytes": _peak_rss_bytes(),
        "env": _environment(),
        "devices": len(jax.devices()),
    }


def worker_devices() -> dict[str, Any]:
    import jax
    import jax.numpy as jnp

    from infinite_ae import distill, evaluation, kernels, sharding, solver

    count = _WORKER_DEVICES.value
    if len(jax.devices()) < count:
        raise RuntimeError(f"need {count} devices, have {jax.devices()}")
    mesh = sharding.make_user_mesh(count)
    data, _ = _dataset(_WORKER_USERS.value, _NUM_ITEMS.value)
    num_items, num_support = _NUM_ITEMS.value, _NUM_SUPPORT.value
    spec, optimizer = _distill_setup(num_items, num_support, _NUM_DRAWS.value)
    step = sharding.make_sharded_distill_update(mesh, spec=spec, optimizer=optimizer)
    train = data.train
    hparams = distill.make_hparams(
        temperature=1.0,
        reg=5.0,
        cardinality_reg=1e-3,
        mean_degree=float(train.nnz / train.shape[0]),
    )
    rng = np.random.default_rng(0)
    logits = 3.0 * _batch(
        train, np.sort(rng.choice(train.shape[0], num_support, replace=False))
    )
    batch_size = min(1024, train.shape[0])
    rows = np.sort(rng.choice(train.shape[0], batch_size, replace=False))
    targets, weights = sharding.pad_batch(_batch(train, rows), None, count)
    targets = sharding.shard_rows(mesh, targets)
    weights = sharding.shard_rows(mesh, weights)
    key = jax.random.key(0)
    losses = []

    def one():
        state = sharding.replicate(
            mesh, distill.init_state(jnp.asarray(logits), optimizer)
        )
        state, aux = step(state, key, targets, weights, hparams)
        losses.append(float(aux["loss"]))
        return state.logits

    timing = _time(one, _REPEATS.value)
    kspec = kernels.KernelSpec()
    support = np.asarray(jax.nn.sigmoid(jnp.asarray(logits) - 1.5))
    params = solver.fit_model(kspec, support, 5.0)
    score = solver.krr_score_fn(kspec)
    kwargs = dict(
        params=params,
        split="test",
        batch_size=min(1024, train.shape[0]),
        mesh=mesh,
    )
    evaluation.evaluate(  # compile
        score, data, users=np.arange(min(2048, train.shape[0])), **kwargs
    )
    start = time.perf_counter()
    metrics = evaluation.evaluate(score, data, **kwargs)
    eval_s = time.perf_counter() - start
    return {
        "devices": count,
        "step": timing,
        "batch_size": batch_size,
        "losses": losses[-1:],
        "eval_s": eval_s,
        "metrics": {k: v for k, v in metrics.items() if "@" in k},
        "peak_rss_bytes": _peak_rss_bytes(),
        "env": _environment(),
    }


# ----------------------------------------------------------------------------------
# Plot and main.


def _plot(result: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    if "users" in result:
        rows = result["users"]["rows"]
        users = [r["users"] for r in rows]
        axes[0].loglog(
            users,
            [r["distill_step_median_s"] for r in rows],
            "o-",
            label="Distill-CF step (median)",
        )
        axes[0].loglog(
            users, [r["eval_s"] for r in rows], "s-", label="full streamed evaluation"
        )
        axes[0].loglog(
            users,
            [r["peak_rss_bytes"] / 2**30 for r in rows],
            "^--",
            label="peak RSS (GiB)",
        )
        axes[0].set_xlabel("users U")
        axes[0].set_ylabel("seconds / GiB")
        axes[0].set_title("growing users (Netflix shape)")
        axes[0].legend()
    if "batch" in result:
        rows = result["batch"]["rows"]
        b = [r["batch_size"] for r in rows]
        t = [r["median_s"] for r in rows]
        axes[1].loglog(b, t, "o-", label=f"slope {result['batch']['loglog_slope']:.2f}")
        axes[1].loglog(b, [t[0] * x / b[0] for x in b], ":", label="linear")
        axes[1].set_xlabel("real users per step B")
        axes[1].set_ylabel("seconds per step")
        axes[1].set_title("Distill-CF step vs batch")
        axes[1].legend()
    if "devices" in result:
        rows = result["devices"]["rows"]
        d = [r["devices"] for r in rows]
        axes[2].loglog(d, [r["step"]["median_s"] for r in rows], "o-", label="step")
        axes[2].loglog(d, [r["eval_s"] for r in rows], "s-", label="evaluation")
        axes[2].set_xlabel("devices")
        axes[2].set_ylabel("seconds")
        axes[2].set_title(f"devices ({rows[0]['env']['platform']})")
        axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    if _WORKER.value:
        result = {"scale": worker_scale, "devices": worker_devices}[_WORKER.value]()
        print(json.dumps(result))
        return
    if _SMOKE.value:
        overrides = {
            "num_items": 300,
            "num_support": 20,
            "num_draws": 2,
            "repeats": 1,
            "steps": 3,
            "device_users": 600,
            "budget_mb": 64,
            "cache_dir": "/tmp/infinite_ae_scale_cache_smoke",
        }
        for name, value in overrides.items():
            flags.FLAGS[name].value = value
        flags.FLAGS["batch_sizes"].value = ["32", "64"]
        flags.FLAGS["user_sizes"].value = ["500"]
        flags.FLAGS["device_counts"].value = ["1", "2"]
    result: dict[str, Any] = {
        "env": _environment(),
        "flags": {
            name: flags.FLAGS[name].value
            for name in (
                "num_items",
                "num_support",
                "num_draws",
                "budget_mb",
                "steps",
                "repeats",
            )
        },
    }
    sections = {
        "gemm": section_gemm,
        "batch": section_batch,
        "users": section_users,
        "devices": section_devices,
    }
    for name in _SECTIONS.value:
        start = time.perf_counter()
        result[name] = sections[name]()
        result[name]["section_s"] = time.perf_counter() - start
        print(f"[{name}] {json.dumps(result[name])[:2000]}", flush=True)
    if "gemm" in result:
        g = result["gemm"]
        print(
            f"kernel GEMM efficiency {g['efficiency']:.1%} "
            f"({g['kernel_gflops']:.1f} vs {g['matmul_gflops']:.1f} GFLOP/s)"
        )
    if "batch" in result:
        print(
            f"step time vs users per step: log-log slope "
            f"{result['batch']['loglog_slope']:.2f}"
        )
    if "devices" in result:
        for row in result["devices"]["rows"]:
            print(
                f"{row['devices']} devices: step {row['step']['median_s']:.3f} s "
                f"(speed-up {row['step_speedup']:.2f}), eval {row['eval_s']:.2f} s "
                f"(speed-up {row['eval_speedup']:.2f}), max rel diff loss "
                f"{row['loss_max_rel_diff_vs_first']:.2e} metrics "
                f"{row['metric_max_rel_diff_vs_first']:.2e}"
            )
    if _OUTPUT.value:
        pathlib.Path(_OUTPUT.value).write_text(json.dumps(result, indent=1))
    if _PLOT.value:
        _plot(result, _PLOT.value)


if __name__ == "__main__":
    app.run(main)
