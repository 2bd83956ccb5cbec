"""Tests for fold-in (infinite_ae/adapters/foldin.py): planted recovery, a float64
NumPy per-user reference, LightGCN's own propagation, shapes, summary rows."""

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from absl.testing import absltest, parameterized

from infinite_ae.adapters import foldin
from infinite_ae.trainers import BPRMF, LightGCN

RTOL = {np.float32: 2e-4, np.float64: 1e-9}
ATOL = {np.float32: 2e-5, np.float64: 1e-10}
PLANTED_ATOL = 1e-3
"""Planted low-rank recovery (float32, ridge 1e-6 absolute): max |U_hat - U|."""


def _x64(dtype):
    return jax.enable_x64(dtype == np.float64)


def _reference(x: np.ndarray, v: np.ndarray, reg: float, confidence: float):
    """Slow float64 per-user weighted ridge with the relative ridge convention."""
    v = v.astype(np.float64)
    ridge = reg * np.trace(v.T @ v) / v.shape[1]
    out = np.zeros((x.shape[0], v.shape[1]))
    for u, row in enumerate(x.astype(np.float64)):
        c = 1.0 + confidence * row
        lhs = (v * c[:, None]).T @ v + ridge * np.eye(v.shape[1])
        out[u] = np.linalg.solve(lhs, v.T @ (c * row))
    return out


def _binary(rng, users, items, density):
    x = (rng.random((users, items)) < density).astype(np.float32)
    x[np.arange(users), rng.integers(0, items, users)] = 1.0  # no empty history
    return x


class FoldInTest(parameterized.TestCase):
    @parameterized.parameters(0.0, 2.0)
    def test_recovers_planted_user_vectors(self, confidence):
        rng = np.random.default_rng(0)
        # Non-negative factors: the confidence weights need x >= 0.
        users, items = rng.random((20, 4)), rng.normal(size=(30, 4)) ** 2
        x = sp.csr_matrix(users @ items.T)  # every entry stored: X = U Vᵀ exactly
        got = foldin.fold_in(
            x,
            items.astype(np.float32),
            reg=1e-6,
            confidence=confidence,
            absolute_reg=True,
            batch_size=8,
        )
        np.testing.assert_allclose(got, users, atol=PLANTED_ATOL)

    @parameterized.product(dtype=[np.float32, np.float64], confidence=[0.0, 3.0])
    def test_matches_float64_numpy_per_user_solve(self, dtype, confidence):
        rng = np.random.default_rng(1)
        x = _binary(rng, 25, 40, 0.2)
        v = rng.normal(size=(40, 6)).astype(dtype)
        want = _reference(x, v, 0.5, confidence)
        with _x64(dtype):
            got = foldin.fold_in(
                sp.csr_matrix(x), v, reg=0.5, confidence=confidence, batch_size=7
            )
            self.assertEqual(got.dtype, dtype)
            np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=ATOL[dtype])

    def test_histories_are_reusable_and_batch_size_free(self):
        rng = np.random.default_rng(2)
        x = sp.csr_matrix(_binary(rng, 19, 30, 0.3))
        v = rng.normal(size=(30, 5)).astype(np.float32)
        prepared = foldin.prepare_histories(x, batch_size=8, max_entries=64)
        # Length-sorted users at power-of-two shapes within the entry budget.
        for _, items, _ in prepared.batches:
            size, width = items.shape
            self.assertEqual(width & (width - 1), 0)
            self.assertTrue(size * width <= 64 or size == 1)
        rows = np.concatenate([b[0] for b in prepared.batches])
        self.assertEqual(sorted(rows[rows >= 0]), list(range(19)))
        self.assertTrue(np.all(np.diff(np.diff(x.indptr)[rows[rows >= 0]]) >= 0))
        a = foldin.fold_in(prepared, v, reg=0.1, confidence=1.0)
        b = foldin.fold_in(x, v, reg=0.1, confidence=1.0, batch_size=64)
        np.testing.assert_allclose(a, b, rtol=RTOL[np.float32], atol=ATOL[np.float32])

    def test_bprmf_hook_folds_in_with_the_item_table(self):
        rng = np.random.default_rng(3)
        x = sp.csr_matrix(_binary(rng, 9, 12, 0.3))
        params = {"item": jnp.asarray(rng.normal(size=(12, 3)), jnp.float32)}
        users, items = foldin.make_eval_embed(
            BPRMF(num_users=4, num_items=12, embedding_dim=3), x, reg=0.2
        )(params, None)
        self.assertEqual(users.shape, (9, 3))
        np.testing.assert_array_equal(items, params["item"])
        np.testing.assert_allclose(
            users,
            _reference(x.toarray(), np.asarray(params["item"]), 0.2, 0.0),
            rtol=1e-3,
            atol=1e-5,
        )


class LightGCNFoldInTest(absltest.TestCase):
    def _trained(self):
        rng = np.random.default_rng(4)
        x = _binary(rng, 12, 15, 0.25)
        x[:, -1] = 0.0  # an item outside the training graph
        model = LightGCN(
            num_users=12, num_items=15, embedding_dim=8, backend="segment_sum"
        )
        # NumPy parameters and jitted graph code: seconds less than op-by-op.
        params = {
            "user": jnp.asarray(rng.normal(size=(12, 8)), jnp.float32),
            "item": jnp.asarray(rng.normal(size=(15, 8)), jnp.float32),
        }
        users, items = np.nonzero(x)
        graph = jax.jit(model.make_graph)(
            jnp.asarray(users), jnp.asarray(items), jnp.ones(len(users))
        )
        return model, params, graph, sp.csr_matrix(x)

    def test_own_ego_reproduces_the_models_propagation(self):
        model, params, graph, x = self._trained()
        _, item_layers = jax.jit(model.embed_layers)(params, graph)
        degrees = foldin.graph_item_degrees(graph, 15)
        np.testing.assert_array_equal(degrees, x.sum(0).A1)
        got = foldin.fold_in_lightgcn(
            x, item_layers, degrees, ego=params["user"], batch_size=5
        )
        want, _ = jax.jit(model.embed)(params, graph)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

    def test_ridge_ego_fits_the_history_like_plain_fold_in(self):
        # With the ego free and λ -> 0, the final embedding is the least-squares fit
        # of the history on the mean item layers, whatever the propagated part.
        model, params, graph, x = self._trained()
        hook = foldin.lightgcn_eval_embed(model, x, reg=1e-6, absolute_reg=True)
        users, items = hook(params, graph)
        want = _reference(x.toarray(), np.asarray(items, np.float64), 0.0, 0.0)
        np.testing.assert_allclose(users, want, rtol=1e-2, atol=1e-3)
        zero = foldin.make_eval_embed(model, x, ego="zero")(params, graph)[0]
        self.assertFalse(np.allclose(zero, users))

    def test_bad_inputs_are_named(self):
        x = sp.csr_matrix(np.eye(12, 15, dtype=np.float32))
        layers, degrees = np.ones((4, 15, 8), np.float32), np.ones(15, np.float32)
        v = np.ones((15, 3), np.float32)
        cases = [
            (lambda: foldin.fold_in(x, v[0]), r"item_emb must be \[I, d\]"),
            (lambda: foldin.fold_in(x, v[:14]), "histories have 15 items but"),
            (lambda: foldin.fold_in(x, v, reg=-1.0), "reg=-1: the ridge must be"),
            (lambda: foldin.fold_in(x, v, confidence=-1.0), "confidence=-1.0"),
            (
                lambda: foldin.fold_in(-x, v, confidence=1.0),
                "needs histories >= 0",
            ),
            (lambda: foldin.fold_in_lightgcn(x, layers[0], degrees), "item_layers"),
            (lambda: foldin.fold_in_lightgcn(x, layers, degrees[:3]), "item_degrees"),
            (
                lambda: foldin.fold_in_lightgcn(x, layers, degrees, ego=v),
                r"ego must be \[U, d\] = \(12, 8\)",
            ),
            (
                lambda: foldin.fold_in_lightgcn(x, layers, degrees, ego="mean"),
                "ego must be one of",
            ),
            (lambda: foldin.make_eval_embed(object(), x), "no fold-in for model"),
            (
                lambda: foldin.make_eval_embed(BPRMF(2, 15), x, ego="zero"),
                "LightGCN fold-in only",
            ),
        ]
        for call, message in cases:
            with self.assertRaisesRegex(ValueError, message):
                call()


class SummaryRowsTest(absltest.TestCase):
    def test_topk_keeps_the_row_mass_of_largest_entries(self):
        rng = np.random.default_rng(5)
        summary = rng.random((6, 20)).astype(np.float32) * 0.3
        users, items = foldin.summary_rows(summary, mode="topk")
        counts = np.bincount(users, minlength=6)
        np.testing.assert_array_equal(counts, np.rint(summary.sum(1)).astype(int))
        for u in range(6):
            kept = set(items[users == u])
            top = set(np.argsort(-summary[u])[: counts[u]])
            self.assertEqual(kept, top)

    def test_global_topk_keeps_the_summary_mass_of_largest_entries(self):
        rng = np.random.default_rng(6)
        summary = rng.random((6, 20)).astype(np.float32) * 0.3
        users, items = foldin.summary_rows(summary)
        num = int(np.rint(summary.sum()))
        self.assertLen(users, num)
        kept = np.zeros_like(summary, bool)
        kept[users, items] = True
        self.assertGreaterEqual(summary[kept].min(), summary[~kept].max())
        users, _ = foldin.summary_rows(summary, num_entries=7)
        self.assertLen(users, 7)

    def test_sample_and_threshold(self):
        summary = np.array([[0.9, 0.1, 0.6], [0.2, 0.7, 0.3]], np.float32)
        users, items = foldin.summary_rows(
            summary,
            mode="sample",
            logits=np.log(summary),
            rng=np.random.default_rng(0),
            num_samples=50,
        )
        self.assertEqual(set(users.tolist()), {0, 1})
        with self.assertRaisesRegex(ValueError, "needs the summary's logits"):
            foldin.summary_rows(summary, mode="sample")
        with self.assertRaisesRegex(ValueError, "keeps no entry"):
            foldin.summary_rows(summary, mode="threshold", threshold=0.95)
        with self.assertRaisesRegex(ValueError, "mode must be one of"):
            foldin.summary_rows(summary, mode="mass")


if __name__ == "__main__":
    absltest.main()
