"""Times one Distill-CF outer step (and its parts) at a given shape.

Run:   python -m benchmarks.distill_step_bench                # ML-1M shape
       python -m benchmarks.distill_step_bench --smoke        # tiny CI size
Compiles once (untimed), then times --repeats calls with block_until_ready and
prints one JSON line (median, p90, shapes, device, versions, git SHA).
"""

import functools
import json
import subprocess
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from infinite_ae import distill
from infinite_ae.distill import validation

_USERS = flags.DEFINE_integer("users", 6040, "Real users (U).")
_ITEMS = flags.DEFINE_integer("items", 3706, "Items (I).")
_SYNTH = flags.DEFINE_integer("synthetic", 500, "Synthetic users (S).")
_BATCH = flags.DEFINE_integer("batch", 1024, "Real users per step (-1: all).")
_SAMPLES = flags.DEFINE_integer("samples", 200, "γ, Gumbel draws per user.")
_DRAWS = flags.DEFINE_integer("draws", 4, "Draws computed (0: γ).")
_DENSITY = flags.DEFINE_float("density", 0.035, "Density of the random train matrix.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed repeats.")
_SMOKE = flags.DEFINE_bool("smoke", False, "Tiny sizes for CI.")
_PRNG = flags.DEFINE_string("prng_impl", "threefry2x32", "JAX PRNG implementation.")


def _time(fn, *args, repeats):
    jax.block_until_ready(fn(*args))  # compile + warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return {
        "median_s": float(np.median(times)),
        "p90_s": float(np.quantile(times, 0.9)),
    }


def main(argv):
    del argv
    users, items, synth, batch, samples = (
        _USERS.value,
        _ITEMS.value,
        _SYNTH.value,
        _BATCH.value,
        _SAMPLES.value,
    )
    if _SMOKE.value:
        users, items, synth, batch, samples = 200, 100, 10, 64, 10
    batch = users if batch <= 0 else batch
    draws = _DRAWS.value or samples
    rng = np.random.default_rng(0)
    train = (rng.random((users, items)) < _DENSITY.value).astype(np.float32)
    spec = distill.DistillSpec(num_samples=samples, num_draws=min(draws, samples))
    opt = distill.make_optimizer(0.04)
    logits = jnp.asarray(train[rng.choice(users, synth, replace=False)])
    hp = distill.make_hparams(
        temperature=10.0,
        reg=1.0,
        cardinality_reg=1e-3,
        mean_degree=float(train.sum(1).mean()),
    )
    targets, weights = jnp.asarray(train[:batch]), jnp.ones(batch)
    key = jax.random.key(0, impl=_PRNG.value)
    update = jax.jit(functools.partial(distill.update, spec=spec, optimizer=opt))
    state = distill.init_state(logits, opt)
    sample = jax.jit(functools.partial(distill.sample_support, spec=spec))
    grad_sample = jax.jit(
        jax.grad(
            lambda lg, k: jnp.sum(
                distill.sample_support(k, lg, spec=spec, temperature=10.0) ** 2
            )
        )
    )
    all_rows = jnp.asarray(train)
    sweep = jax.jit(
        functools.partial(validation.reg_sweep_sums, learner=spec.learner, ks=(10, 100))
    )
    regs = jnp.asarray([1e-5, 1e-3, 0.1, 1.0, 5.0, 50.0])
    support = sample(key, logits, temperature=10.0)
    parts = {
        "step": _time(update, state, key, targets, weights, hp, repeats=_REPEATS.value),
        "sample_fwd": _time(
            lambda k: sample(k, logits, temperature=10.0), key, repeats=_REPEATS.value
        ),
        "sample_fwd_bwd": _time(grad_sample, logits, key, repeats=_REPEATS.value),
        "validation_sweep": _time(
            sweep,
            support,
            all_rows,
            all_rows,
            all_rows,
            jnp.ones(users),
            regs,
            repeats=_REPEATS.value,
        ),
    }
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = None
    print(
        json.dumps(
            {
                "benchmark": "distill_step",
                "device": jax.devices()[0].device_kind,
                "jax": jax.__version__,
                "shapes": {
                    "U": users,
                    "I": items,
                    "S": synth,
                    "B": batch,
                    "num_samples": samples,
                    "num_draws": draws,
                },
                "dtype": "float32",
                "prng_impl": _PRNG.value,
                "git_sha": sha,
                **parts,
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
