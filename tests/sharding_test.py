"""Tests for `infinite_ae.sharding`: sharded == unsharded on 8 forced CPU devices.

The sharded checks run in a subprocess started with
``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (the device count is fixed at
backend initialisation), so the rest of the test session keeps its single CPU device.
The subprocess compares, on the same inputs, the plain single-device computation with
the same computation on meshes of 1, 2, 4 and 8 devices, and prints the maximum
differences as JSON.

Tolerances (float32; the sharded runs only change the order of reductions):
  kernel / prediction blocks: identical row blocks, RTOL 1e-6 (stated: 1e-5);
  Distill-CF loss and grad norm of one step: relative 1e-5;
  logits after 3 Adam steps: absolute 1e-4 (Adam's g/√v amplifies rounding where
  g ≈ 0; the logits are O(1));
  streamed evaluation metrics: relative 1e-5.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import numpy as np
from absl.testing import absltest

KERNEL_RTOL = 1e-5
LOSS_RTOL = 1e-5
LOGITS_ATOL = 1e-4
METRIC_RTOL = 1e-5
NUM_DEVICES = 8
MESH_SIZES = (1, 2, 4, 8)


def _worker() -> dict:
    """Runs inside the 8-device subprocess; returns the max differences."""
    import jax
    import jax.numpy as jnp

    from infinite_ae import kernels, sharding, streaming
    from infinite_ae.data import make_synthetic

    assert len(jax.devices()) == NUM_DEVICES, jax.devices()
    rng = np.random.default_rng(0)
    spec = kernels.KernelSpec()
    x = (rng.random((37, 64)) < 0.2).astype(np.float32)
    y = (rng.random((11, 64)) < 0.3).astype(np.float32)
    alpha = rng.standard_normal((11, 64)).astype(np.float32)
    k_ref = np.asarray(jax.jit(kernels.kernel, static_argnums=0)(spec, x, y))
    p_ref = np.asarray(k_ref @ alpha)
    report: dict = {
        "devices": len(jax.devices()),
        "kernel": {},
        "predict": {},
        "distill": {},
        "evaluate": {},
    }
    for n in MESH_SIZES:
        mesh = sharding.make_user_mesh(n)
        k = sharding.sharded_kernel(spec, x, y, mesh=mesh)
        report["kernel"][n] = float(
            np.max(np.abs(np.asarray(k) - k_ref) / np.abs(k_ref))
        )
        p = sharding.sharded_predict(spec, x, y, alpha, mesh=mesh)
        report["predict"][n] = float(
            np.max(np.abs(np.asarray(p) - p_ref)) / np.max(np.abs(p_ref))
        )

    # Distill-CF steps: plain jit on one device vs the sharded wrapper.
    from infinite_ae import distill

    num_items = 48
    targets = (rng.random((22, num_items)) < 0.25).astype(np.float32)
    weights = np.ones(22, np.float32)
    logits0 = rng.standard_normal((6, num_items)).astype(np.float32)
    dspec = distill.DistillSpec(num_samples=20, num_draws=5)
    optimizer = distill.make_optimizer(0.05)
    hparams = distill.make_hparams(
        temperature=1.0, reg=1.0, cardinality_reg=1e-3, mean_degree=12.0
    )
    base_key = jax.random.key(0)

    def run(step_fn, tgt, wts):
        state = distill.init_state(jnp.asarray(logits0), optimizer)
        auxes = []
        for t in range(3):
            state, aux = step_fn(
                state, jax.random.fold_in(base_key, t), tgt, wts, hparams
            )
            auxes.append({k: float(v) for k, v in aux.items()})
        return np.asarray(state.logits), auxes

    plain = jax.jit(functools.partial(distill.update, spec=dspec, optimizer=optimizer))
    ref_logits, ref_aux = run(plain, jnp.asarray(targets), jnp.asarray(weights))
    for n in MESH_SIZES:
        mesh = sharding.make_user_mesh(n)
        step = sharding.make_sharded_distill_update(
            mesh, spec=dspec, optimizer=optimizer
        )
        tgt, wts = sharding.pad_batch(targets, weights, n)
        logits, auxes = run(step, tgt, wts)
        loss_diff = max(
            abs(a[k] - b[k]) / max(abs(b[k]), 1e-12)
            for a, b in zip(auxes, ref_aux, strict=True)
            for k in ("loss", "grad_norm")
        )
        report["distill"][n] = {
            "loss_rel": loss_diff,
            "logits_abs": float(np.max(np.abs(logits - ref_logits))),
        }
    # The compiled sharded step must all-reduce (psum), not all-gather the targets.
    mesh = sharding.make_user_mesh(NUM_DEVICES)
    tgt, wts = sharding.pad_batch(targets, weights, NUM_DEVICES)
    bound = functools.partial(distill.update, spec=dspec, optimizer=optimizer)
    lowered = jax.jit(
        bound,
        in_shardings=(sharding.replicated(mesh),) * 2
        + (sharding.user_sharding(mesh, 2), sharding.user_sharding(mesh, 1))
        + (sharding.replicated(mesh),),
        out_shardings=sharding.replicated(mesh),
    ).lower(
        distill.init_state(jnp.asarray(logits0), optimizer), base_key, tgt, wts, hparams
    )
    hlo = lowered.compile().as_text()
    report["hlo_all_reduce"] = "all-reduce" in hlo

    # Streamed evaluation sharded vs not.
    data = make_synthetic(300, 120, mean_degree=15, seed=3)
    params = streaming.fit_support(spec, data.train[:40], 5.0)
    score = streaming.krr_score_fn(spec)
    ref = streaming.evaluate_streamed(score, params, data, split="test", tile_size=64)
    for n in MESH_SIZES:
        mesh = sharding.make_user_mesh(n)
        got = streaming.evaluate_streamed(
            score, params, data, split="test", tile_size=64, mesh=mesh
        )
        report["evaluate"][n] = max(
            abs(got[k] - ref[k]) / max(abs(ref[k]), 1.0)
            for k in ref
            if k not in ("tile_size", "num_tiles")
        )
    return report


@functools.cache
def _report() -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "")
        + f" --xla_force_host_platform_device_count={NUM_DEVICES}"
    )
    env["JAX_PLATFORMS"] = "cpu"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=root,
    )
    if proc.returncode:
        raise RuntimeError(f"worker failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class ShardingSubprocessTest(absltest.TestCase):
    def test_worker_saw_eight_devices(self):
        self.assertEqual(_report()["devices"], NUM_DEVICES)

    def test_kernel_blocks_match(self):
        for n, diff in _report()["kernel"].items():
            self.assertLess(diff, KERNEL_RTOL, msg=f"{n} devices")
        for n, diff in _report()["predict"].items():
            self.assertLess(diff, KERNEL_RTOL, msg=f"{n} devices")

    def test_distill_steps_match(self):
        for n, diffs in _report()["distill"].items():
            self.assertLess(diffs["loss_rel"], LOSS_RTOL, msg=f"{n} devices")
            self.assertLess(diffs["logits_abs"], LOGITS_ATOL, msg=f"{n} devices")

    def test_step_all_reduces(self):
        self.assertTrue(_report()["hlo_all_reduce"])

    def test_streamed_evaluation_matches(self):
        for n, diff in _report()["evaluate"].items():
            self.assertLess(diff, METRIC_RTOL, msg=f"{n} devices")


class ShardingHelpersTest(absltest.TestCase):
    """Single-device checks in the main test process."""

    def test_pad_batch_zero_weights(self):
        from infinite_ae import sharding

        t, w = sharding.pad_batch(np.ones((5, 3)), None, 4)
        self.assertEqual(t.shape, (8, 3))
        np.testing.assert_array_equal(w, [1, 1, 1, 1, 1, 0, 0, 0])
        np.testing.assert_array_equal(t[5:], 0)

    def test_mesh_and_shard_rows(self):
        import jax

        from infinite_ae import sharding

        mesh = sharding.make_user_mesh()
        self.assertEqual(sharding.num_shards(mesh), len(jax.devices()))
        x = sharding.shard_rows(mesh, np.arange(6.0).reshape(6, 1))
        np.testing.assert_array_equal(np.asarray(x)[:, 0], np.arange(6.0))
        with self.assertRaises(ValueError):
            sharding.make_user_mesh(len(jax.devices()) + 1)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        print(json.dumps(_worker()))
    else:
        absltest.main()
