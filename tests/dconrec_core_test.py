"""DConRec invariants: estimator, projection, pool, tail, schedule, export."""

import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from absl.testing import absltest, parameterized

from infinite_ae.dconrec import condense, estimator, export, pool, projection
from infinite_ae.trainers import negatives

ATOL = 1e-5


class EstimatorTest(parameterized.TestCase):
    @parameterized.parameters(False, True)
    def test_unbiased_on_linear_loss(self, baseline):
        # L(m) = sum_c a_c m_c + b  =>  d E[L] / ds = a exactly.
        rng = np.random.default_rng(0)
        n, k, reps = 6, 4, 40000
        a = jnp.asarray(rng.normal(size=n), jnp.float32)
        s = jnp.asarray(rng.uniform(0.2, 0.8, size=n), jnp.float32)

        def one(key):
            masks = jax.random.bernoulli(key, jnp.broadcast_to(s, (k, n))).astype(
                jnp.float32
            )
            losses = masks @ a + 3.0
            return estimator.reinforce_gradient(s, masks, losses, baseline=baseline)

        grads = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(1), reps))
        mean = np.asarray(grads.mean(0))
        sem = np.asarray(grads.std(0)) / np.sqrt(reps)
        np.testing.assert_array_less(np.abs(mean - np.asarray(a)), 5 * sem + 1e-3)

    def test_baseline_reduces_variance_with_offset(self):
        s = jnp.full((5,), 0.5)
        key = jax.random.key(0)
        masks = jax.random.bernoulli(key, jnp.broadcast_to(s, (1000, 4, 5))).astype(
            jnp.float32
        )
        losses = masks.sum(-1) + 100.0
        plain = jax.vmap(
            lambda m, lo: estimator.reinforce_gradient(s, m, lo, baseline=False)
        )(masks, losses)
        vr = jax.vmap(
            lambda m, lo: estimator.reinforce_gradient(s, m, lo, baseline=True)
        )(masks, losses)
        self.assertLess(float(vr.var(0).mean()), 0.01 * float(plain.var(0).mean()))


class ProjectionTest(parameterized.TestCase):
    @parameterized.parameters(0, 1, 2, 3)
    def test_feasible_and_exact_matches_bisection(self, seed):
        rng = np.random.default_rng(seed)
        s = jnp.asarray(rng.normal(0.3, 0.6, 500), jnp.float32)
        budget = float(rng.uniform(5, 200))
        exact = projection.project_exact(s, budget)
        bis = projection.project_bisection(s, budget)
        for p in (exact, bis):
            self.assertGreaterEqual(float(p.min()), 0.0)
            self.assertLessEqual(float(p.max()), 1.0)
            self.assertLessEqual(float(p.sum()), budget + 1e-3)
        np.testing.assert_allclose(exact, bis, atol=1e-5)
        np.testing.assert_allclose(float(exact.sum()), budget, rtol=1e-5)

    @parameterized.parameters("exact", "bisection")
    def test_feasible_point_is_unchanged(self, name):
        s = jnp.array([0.1, 0.5, 0.0, 1.0, 0.2])
        out = projection.get_projection(name)(s, 10.0)
        np.testing.assert_array_equal(out, s)

    def test_unknown_projection(self):
        with self.assertRaisesRegex(ValueError, "bisection"):
            projection.get_projection("dykstra")


def _toy_train(num_users=30, num_items=25, seed=0):
    rng = np.random.default_rng(seed)
    dense = rng.random((num_users, num_items)) < rng.uniform(0.1, 0.6, (num_users, 1))
    dense[:, 0] |= True
    return sp.csr_matrix(dense.astype(np.float32))


class PoolTest(parameterized.TestCase):
    @parameterized.parameters("exact", "minus_one")
    def test_pseudo_positives_avoid_train_and_meet_minimum(self, exclusion):
        train = _toy_train()
        rng = np.random.default_rng(1)
        ue = jnp.asarray(rng.normal(size=(30, 4)), jnp.float32)
        ie = jnp.asarray(rng.normal(size=(25, 4)), jnp.float32)
        u, i = pool.pseudo_positives(
            ue,
            ie,
            train,
            ratio=0.5,
            min_per_user=5,
            exclusion=exclusion,
            batch_size=8,
        )
        deg = np.diff(train.indptr)
        if exclusion == "exact":
            self.assertEqual(float(train[u, i].sum()), 0.0)
        counts = np.bincount(u, minlength=30)
        want = np.minimum(
            np.maximum(5, np.floor(0.5 * deg)),
            25 - deg if exclusion == "exact" else 25,
        )
        np.testing.assert_array_equal(counts, want)
        self.assertEqual(len(set(zip(u, i, strict=True))), len(u))

    @pytest.mark.slow  # pools and subsets over many draws: about 5 s
    def test_tail_removed_from_pool_and_in_every_subset(self):
        train = _toy_train()
        deg = np.diff(train.indptr)
        threshold = int(np.median(deg))
        cand = pool.build_pool(
            train,
            np.zeros(0, np.int32),
            np.zeros(0, np.int32),
            tail_threshold=threshold,
        )
        tails = set(np.flatnonzero(deg <= threshold))
        self.assertTrue(set(cand.tail_users.tolist()) <= tails)
        self.assertEqual(len(cand.tail_users), int(deg[list(tails)].sum()))
        self.assertFalse(set(cand.users.tolist()) & tails)
        arrays = _arrays(cand, train)
        tail_pairs = set(zip(cand.tail_users, cand.tail_items, strict=True))
        mask_rows = jax.jit(condense._mask_rows, static_argnums=2)
        for t in range(5):
            mask = jax.random.bernoulli(
                jax.random.key(t), jnp.full(len(cand.users), 0.2)
            )
            users, items, weights, _ = mask_rows(mask, arrays, 64)
            kept = {
                (int(u), int(i))
                for u, i, w in zip(users, items, weights, strict=True)
                if w > 0
            }
            self.assertTrue(tail_pairs <= kept)

    def test_per_user_cap_matches_brute_force(self):
        rng = np.random.default_rng(3)
        counts = rng.integers(0, 40, size=50)
        for mass in (0.0, 1.0, 0.3 * counts.sum(), counts.sum() - 0.5, counts.sum()):
            cap = pool.per_user_cap(counts, mass)
            self.assertAlmostEqual(np.minimum(counts, cap).sum(), mass, places=6)
            # Brute force on a fine grid: the smallest c reaching the mass.
            grid = np.linspace(0, counts.max(), 40001)
            reached = np.minimum(counts[None], grid[:, None]).sum(1) >= mass - 1e-9
            self.assertAlmostEqual(cap, grid[np.argmax(reached)], delta=1e-3)
        with self.assertRaisesRegex(ValueError, "outside"):
            pool.per_user_cap(counts, counts.sum() + 1.0)

    @parameterized.parameters(
        (None, "uniform"), (0.5, "uniform"), (1.0, "per_user"), (None, "per_user")
    )
    def test_initial_probs_mass_and_bounds(self, share, original_init):
        rng = np.random.default_rng(4)
        users = rng.integers(0, 20, size=400)
        is_pseudo = rng.random(400) < 0.2
        mass = 100.0
        s = pool.initial_probs(
            users, is_pseudo, mass, pseudo_share=share, original_init=original_init
        )
        self.assertTrue(np.all((s >= 0) & (s <= 1)))
        self.assertAlmostEqual(float(s.sum()), mass, places=3)
        if share is None and original_init == "uniform":
            np.testing.assert_allclose(s, mass / 400, rtol=1e-6)
        if share == 1.0:
            np.testing.assert_array_equal(s[is_pseudo], 1.0)
        if original_init == "per_user":
            orig = ~is_pseudo
            counts = np.bincount(users[orig], minlength=20)
            kept = np.bincount(users[orig], weights=s[orig], minlength=20)
            cap = pool.per_user_cap(counts, float(s[orig].sum()))
            # Every user keeps min(n_u, c) in expectation.
            np.testing.assert_allclose(kept, np.minimum(counts, cap), rtol=1e-5)
        with self.assertRaisesRegex(ValueError, "original_init"):
            pool.initial_probs(users, is_pseudo, mass, original_init="bad")


def _arrays(cand, train, val=None):
    num_items = train.shape[1]
    val = train if val is None else val
    vc = val.tocoo()
    tc = train.tocoo()
    return condense.Arrays(
        pool_users=jnp.asarray(cand.users),
        pool_items=jnp.asarray(cand.items),
        tail_users=jnp.asarray(cand.tail_users),
        tail_items=jnp.asarray(cand.tail_items),
        val_users=jnp.asarray(vc.row.astype(np.int32)),
        val_items=jnp.asarray(vc.col.astype(np.int32)),
        inner_excluded=jnp.asarray(negatives.exclusion_keys(tc.row, tc.col, num_items)),
        val_excluded=jnp.asarray(negatives.exclusion_keys(tc.row, tc.col, num_items)),
        budget=jnp.float32(0.25 * len(cand.users)),
        inner_lr=jnp.float32(0.01),
    )


class CondenseTest(absltest.TestCase):
    def test_official_schedule(self):
        sched = condense.outer_lr_schedule(condense.OFFICIAL_SCHEDULE)
        for t, want in [
            (0, 0.01),
            (69, 0.01),
            (70, 1e-3),
            (139, 1e-3),
            (140, 1e-4),
            (209, 1e-4),
            (210, 1e-5),
            (999, 1e-5),
        ]:
            np.testing.assert_allclose(float(sched(t)), want, rtol=1e-6)

    # Resume == uninterrupted is tested end to end in dconrec_job_test.py.

    def test_select_final_topk_size(self):
        probs = np.array([0.1, 0.9, 0.5, 0.5, 0.0])
        sel = condense.select_final(probs, mode="topk", budget=2)
        np.testing.assert_array_equal(sel, [False, True, True, False, False])


class ExportTest(absltest.TestCase):
    def test_round_trip_with_raw_ids(self):
        user_ids = np.array([101, 205, 307])
        item_ids = np.array([11, 22, 33, 44])
        cond = export.Condensed(
            users=np.array([0, 2, 1, 2], np.int32),
            items=np.array([3, 0, 1, 3], np.int32),
            provenance=np.array([2, 0, 1, 1], np.int8),
        )
        tmp = tempfile.mkdtemp()
        paths = export.save(
            f"{tmp}/condensed", cond, user_ids, item_ids, probs=np.ones(3)
        )
        # Reload against permuted id maps: the raw ids decide the indices.
        perm_u = np.array([307, 101, 205])
        back = export.load(paths["npz"], perm_u, item_ids)
        np.testing.assert_array_equal(perm_u[back.users], user_ids[cond.users])
        np.testing.assert_array_equal(back.items, cond.items)
        np.testing.assert_array_equal(back.provenance, cond.provenance)
        self.assertEqual(cond.counts(), {"original": 1, "pseudo": 2, "tail": 1})
        lines = open(paths["inter"]).read().splitlines()
        self.assertEqual(lines[0], "user_id:token\titem_id:token\tprovenance:token")
        self.assertEqual(lines[1], "101\t44\ttail")
        self.assertEqual(open(paths["csv"]).read().splitlines()[2], "307,11,original")


if __name__ == "__main__":
    absltest.main()
