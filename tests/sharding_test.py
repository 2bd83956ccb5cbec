"""Tests for `infinite_ae.sharding`: sharded == unsharded on the test's CPU devices.

`tests/conftest.py` gives every test process 4 virtual CPU devices, so the mesh
below (all of them) is a real multi-device mesh. Each check compares, on the same
inputs, the plain single-device computation with the sharded one. (Sharded
evaluation, on meshes of 2 and 4 devices, is checked in `tests/evaluation_test.py`,
`ModesAgreeTest`.)

Tolerances (float32; the sharded runs only change the order of reductions):
  kernel / prediction blocks: relative 1e-5;
  Distill-CF loss and grad norm of one step: relative 1e-5;
  logits after 3 Adam steps: absolute 1e-4 (Adam's g/√v amplifies rounding where
  g ≈ 0; the logits are O(1)).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import absltest, parameterized

from infinite_ae import distill, kernels, sharding

KERNEL_RTOL = 1e-5
LOSS_RTOL = 1e-5
LOGITS_ATOL = 1e-4


def _mesh_sizes():
    return [len(jax.devices())]


class ShardedBlocksTest(parameterized.TestCase):
    def test_kernel_and_predict_blocks_match(self):
        rng = np.random.default_rng(0)
        spec = kernels.KernelSpec()
        x = (rng.random((37, 64)) < 0.2).astype(np.float32)
        y = (rng.random((11, 64)) < 0.3).astype(np.float32)
        alpha = rng.standard_normal((11, 64)).astype(np.float32)
        k_ref = np.asarray(jax.jit(kernels.kernel, static_argnums=0)(spec, x, y))
        p_ref = k_ref @ alpha
        for n in _mesh_sizes():
            mesh = sharding.make_user_mesh(n)
            k = np.asarray(sharding.sharded_kernel(spec, x, y, mesh=mesh))
            np.testing.assert_allclose(k, k_ref, rtol=KERNEL_RTOL, err_msg=f"{n}")
            p = np.asarray(sharding.sharded_predict(spec, x, y, alpha, mesh=mesh))
            scale = np.max(np.abs(p_ref))
            self.assertLess(np.max(np.abs(p - p_ref)) / scale, KERNEL_RTOL, msg=n)


class ShardedDistillTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rng = np.random.default_rng(1)
        cls.num_items = 48
        cls.targets = (rng.random((22, cls.num_items)) < 0.25).astype(np.float32)
        cls.weights = np.ones(22, np.float32)
        cls.logits0 = rng.standard_normal((6, cls.num_items)).astype(np.float32)
        cls.spec = distill.DistillSpec(num_samples=20, num_draws=5)
        cls.optimizer = distill.make_optimizer(0.05)
        cls.hparams = distill.make_hparams(
            temperature=1.0, reg=1.0, cardinality_reg=1e-3, mean_degree=12.0
        )

    def _run(self, step_fn, targets, weights):
        state = distill.init_state(jnp.asarray(self.logits0), self.optimizer)
        auxes = []
        for t in range(3):
            key = jax.random.fold_in(jax.random.key(0), t)
            state, aux = step_fn(state, key, targets, weights, self.hparams)
            auxes.append({k: float(v) for k, v in aux.items()})
        return np.asarray(state.logits), auxes

    @pytest.mark.slow  # sharded and unsharded steps compiled: about 5 s
    def test_steps_match_unsharded(self):
        bound = functools.partial(
            distill.update, spec=self.spec, optimizer=self.optimizer
        )
        ref_logits, ref_aux = self._run(
            jax.jit(bound), jnp.asarray(self.targets), jnp.asarray(self.weights)
        )
        for n in _mesh_sizes():
            mesh = sharding.make_user_mesh(n)
            step = sharding.make_sharded_distill_update(
                mesh, spec=self.spec, optimizer=self.optimizer
            )
            targets, weights = sharding.pad_batch(self.targets, self.weights, n)
            logits, auxes = self._run(step, targets, weights)
            for got, want in zip(auxes, ref_aux, strict=True):
                for key in ("loss", "grad_norm"):
                    rel = abs(got[key] - want[key]) / max(abs(want[key]), 1e-12)
                    self.assertLess(rel, LOSS_RTOL, msg=f"{n} devices {key}")
            self.assertLess(np.max(np.abs(logits - ref_logits)), LOGITS_ATOL, msg=n)

    def test_step_all_reduces(self):
        # The compiled sharded step must all-reduce (psum), not gather the targets.
        num = len(jax.devices())
        self.assertGreater(num, 1, "conftest should give the tests several devices")
        mesh = sharding.make_user_mesh(num)
        targets, weights = sharding.pad_batch(self.targets, self.weights, num)
        bound = functools.partial(
            distill.update, spec=self.spec, optimizer=self.optimizer
        )
        state = distill.init_state(jnp.asarray(self.logits0), self.optimizer)
        lowered = jax.jit(
            bound,
            in_shardings=(sharding.replicated(mesh),) * 2
            + (sharding.user_sharding(mesh, 2), sharding.user_sharding(mesh, 1))
            + (sharding.replicated(mesh),),
            out_shardings=sharding.replicated(mesh),
        ).lower(state, jax.random.key(0), targets, weights, self.hparams)
        self.assertIn("all-reduce", lowered.compile().as_text())


class ShardingHelpersTest(absltest.TestCase):
    def test_pad_batch_zero_weights(self):
        t, w = sharding.pad_batch(np.ones((5, 3)), None, 4)
        self.assertEqual(t.shape, (8, 3))
        np.testing.assert_array_equal(w, [1, 1, 1, 1, 1, 0, 0, 0])
        np.testing.assert_array_equal(t[5:], 0)

    def test_mesh_and_shard_rows(self):
        mesh = sharding.make_user_mesh()
        self.assertEqual(sharding.num_shards(mesh), len(jax.devices()))
        x = sharding.shard_rows(mesh, np.arange(8.0).reshape(8, 1))
        np.testing.assert_array_equal(np.asarray(x)[:, 0], np.arange(8.0))
        with self.assertRaisesRegex(ValueError, "pad them first"):
            sharding.shard_rows(mesh, np.arange(7.0).reshape(7, 1))
        with self.assertRaises(ValueError):
            sharding.make_user_mesh(len(jax.devices()) + 1)


if __name__ == "__main__":
    absltest.main()
