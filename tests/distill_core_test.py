"""Tests of infinite_ae.distill core: loss, update, retracing, learners, baselines."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from absl.testing import absltest, parameterized

from infinite_ae import distill, kernels
from infinite_ae.distill import baselines, validation

RTOL = {jnp.float32: 1e-5}


def _planted(num_users=40, num_items=24, seed=0):
    """Two user communities, each interacting with its own half of the items."""
    rng = np.random.default_rng(seed)
    x = np.zeros((num_users, num_items), np.float32)
    half = num_items // 2
    for u in range(num_users):
        block = slice(0, half) if u % 2 == 0 else slice(half, num_items)
        x[u, block] = rng.random(half) < 0.5
    x[np.arange(num_users), np.where(np.arange(num_users) % 2 == 0, 0, half)] = 1
    return jnp.asarray(x)


def _setup(lr=0.1, num_samples=8):
    x = _planted()
    spec = distill.DistillSpec(num_samples=num_samples)
    opt = distill.make_optimizer(lr)
    logits = jax.random.normal(jax.random.key(0), (4, x.shape[1])) * 0.1
    state = distill.init_state(logits, opt)
    hp = distill.make_hparams(
        temperature=1.0,
        reg=0.1,
        cardinality_reg=1e-3,
        mean_degree=float(x.sum(1).mean()),
    )
    return x, spec, opt, state, hp


class DistillCoreTest(parameterized.TestCase):
    def test_updates_lower_the_loss(self):
        # Jitted steps; `test_jit_matches_eager` checks the un-jitted step.
        x, spec, opt, state, hp = _setup(lr=0.05)
        weights = jnp.ones(x.shape[0])
        keys = [jax.random.key(100 + k) for k in range(4)]
        loss_fn = jax.jit(functools.partial(distill.loss_fn, spec=spec))

        def loss(logits):  # averaged over fixed keys: deterministic and less noisy
            values = [loss_fn(logits, k, x, weights, hp)[0] for k in keys]
            return float(np.mean(values))

        before = loss(state.logits)
        step = jax.jit(functools.partial(distill.update, spec=spec, optimizer=opt))
        for t in range(20):
            key = jax.random.fold_in(jax.random.key(7), t)
            state, aux = step(state, key, x, weights, hp)
            self.assertTrue(np.isfinite(float(aux["loss"])))
        self.assertEqual(int(state.step), 20)
        self.assertLess(loss(state.logits), before - 0.1)

    # The un-jitted step runs op by op: about 10 s on 2 cores.
    @pytest.mark.slow
    def test_jit_matches_eager(self):
        x, spec, opt, state, hp = _setup(num_samples=2)
        weights = jnp.ones(x.shape[0])
        key = jax.random.key(3)
        step = functools.partial(distill.update, spec=spec, optimizer=opt)
        eager, _ = step(state, key, x, weights, hp)
        jitted, _ = jax.jit(step)(state, key, x, weights, hp)
        np.testing.assert_allclose(eager.logits, jitted.logits, rtol=1e-5, atol=1e-6)

    def test_padding_rows_do_not_count(self):
        x, spec, _, state, hp = _setup()
        key = jax.random.key(1)
        loss_fn = jax.jit(functools.partial(distill.loss_fn, spec=spec))
        full = loss_fn(state.logits, key, x, jnp.ones(x.shape[0]), hp)[0]
        padded_x = jnp.concatenate([x, jnp.ones((3, x.shape[1]))])
        padded_w = jnp.concatenate([jnp.ones(x.shape[0]), jnp.zeros(3)])
        padded = loss_fn(state.logits, key, padded_x, padded_w, hp)[0]
        np.testing.assert_allclose(full, padded, rtol=1e-5)

    def test_no_retrace_across_steps_regs_and_lr(self):
        x, spec, opt, state, hp = _setup()
        weights = jnp.ones(x.shape[0])

        @functools.partial(jax.jit, donate_argnums=0)
        @chex.assert_max_traces(n=1)
        def step(state, key, targets, weights, hp):
            return distill.update(
                state, key, targets, weights, hp, spec=spec, optimizer=opt
            )

        chex.clear_trace_counter()
        for t, reg in enumerate((1e-5, 1e-3, 0.1, 1.0, 5.0, 50.0)):
            hp = hp._replace(reg=jnp.float32(reg), temperature=jnp.float32(1 + t))
            state.opt_state.hyperparams["learning_rate"] = jnp.float32(0.01 * (t + 1))
            state, _ = step(
                state, jax.random.fold_in(jax.random.key(0), t), x, weights, hp
            )
        self.assertEqual(int(state.step), 6)

    @parameterized.parameters("ntk", "nngp", "linear")
    def test_pluggable_kernels(self, kind):
        x, _, opt, state, hp = _setup()
        learner = distill.KernelRidgeLearner(kernels.KernelSpec(kind=kind, depth=2))
        spec = distill.DistillSpec(num_samples=8, learner=learner)
        state, aux = jax.jit(
            functools.partial(distill.update, spec=spec, optimizer=opt)
        )(state, jax.random.key(0), x, jnp.ones(x.shape[0]), hp)
        self.assertTrue(np.isfinite(float(aux["loss"])))
        self.assertTrue(np.all(np.isfinite(state.logits)))

    def test_learner_reproduces_support_as_reg_vanishes(self):
        x = _planted(12, 10)
        learner = distill.KernelRidgeLearner()
        pred = learner.fit_predict(x, x, 1e-6)
        np.testing.assert_allclose(pred, x, atol=1e-3)

    def test_reg_sweep_sums_against_numpy(self):
        # Per λ: ∞-AE fitted in float64 NumPy on the support, scores masked, then
        # HR@k and nDCG@k summed over users by a slow loop (users without held-out
        # items add 0 but count).
        rng = np.random.default_rng(0)
        support = (rng.random((6, 12)) < 0.4).astype(np.float32)
        queries = (rng.random((5, 12)) < 0.3).astype(np.float32)
        targets = (rng.random((5, 12)) < 0.3).astype(np.float32) * (1 - queries)
        targets[:4, 11] = 1 - queries[:4, 11]
        targets[4] = 0
        regs = (1e-3, 0.1, 1.0)
        spec = kernels.KernelSpec()
        learner = distill.KernelRidgeLearner(spec)
        out = jax.jit(validation.reg_sweep_sums, static_argnames=("learner", "ks"))(
            support, queries, targets, queries, jnp.ones(5), jnp.asarray(regs),
            learner=learner, ks=(3, 5),
        )  # fmt: skip
        with jax.enable_x64(True):
            k_ss = np.asarray(kernels.kernel(spec, jnp.asarray(support, jnp.float64)))
            k_qs = np.asarray(
                kernels.kernel(
                    spec,
                    jnp.asarray(queries, jnp.float64),
                    jnp.asarray(support, jnp.float64),
                )
            )
        for r, reg in enumerate(regs):
            ridge = reg * np.trace(k_ss) / k_ss.shape[0]
            alpha = np.linalg.solve(k_ss + ridge * np.eye(6), support)
            scores = k_qs @ alpha
            for k in (3, 5):
                hr = ndcg = 0.0
                for u in range(5):
                    positives = np.flatnonzero(targets[u])
                    if positives.size == 0:
                        continue
                    ranked = np.argsort(-np.where(queries[u] > 0, -np.inf, scores[u]))
                    hits = np.isin(ranked[:k], positives)
                    m = min(positives.size, k)
                    hr += hits.sum() / m
                    dcg = np.sum(hits / np.log2(np.arange(k) + 2))
                    ndcg += dcg / np.sum(1 / np.log2(np.arange(m) + 2))
                np.testing.assert_allclose(out[f"hr@{k}"][r], hr, rtol=1e-5)
                np.testing.assert_allclose(out[f"ndcg@{k}"][r], ndcg, rtol=1e-5)
            self.assertEqual(float(out["count"][r]), 5.0)
            self.assertTrue(bool(out["finite"][r]))

    def test_reg_sweep_marks_nonfinite_fits(self):
        # A support of repeated rows makes K singular: λ = 1e-8 gives NaN α.
        rng = np.random.default_rng(3)
        support = np.tile((rng.random((3, 20)) < 0.3), (4, 1)).astype(np.float32)
        out = validation.reg_sweep_sums(
            support, support[:4], support[:4], support[:4] * 0, jnp.ones(4),
            jnp.asarray([1e-8, 1.0]), learner=distill.KernelRidgeLearner(), ks=(5,),
        )  # fmt: skip
        self.assertEqual(out["finite"].tolist(), [False, True])
        self.assertTrue(np.all(np.isfinite(np.asarray(out["ndcg@5"]))))


class BaselinesTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(0)
        dense = (rng.random((30, 20)) < 0.2).astype(np.float32)
        dense[5] = 0  # an inactive user is never picked
        self.train = sp.csr_matrix(dense)

    def test_random_users(self):
        rows, users = baselines.random_users(
            self.train, 10, rng=np.random.default_rng(1)
        )
        self.assertEqual(rows.shape, (10, 20))
        self.assertLen(set(users.tolist()), 10)
        self.assertNotIn(5, users)

    def test_head_users(self):
        _, users = baselines.head_users(self.train, 5)
        degree = np.diff(self.train.indptr)
        self.assertEqual(sorted(degree[users]), sorted(np.sort(degree)[-5:]))

    def test_random_interactions_budget(self):
        rows = baselines.random_interactions(
            self.train, 6, rng=np.random.default_rng(2)
        )
        self.assertEqual(rows.shape, (6, 20))
        self.assertTrue(np.all(rows.data == 1))
        active = np.sum(np.diff(self.train.indptr) > 0)
        self.assertLessEqual(rows.nnz, round(6 * self.train.nnz / active))

    def test_budget_too_large(self):
        with self.assertRaises(ValueError):
            baselines.random_users(self.train, 30, rng=np.random.default_rng(0))


if __name__ == "__main__":
    absltest.main()
