"""InfiniteAE, EASE and Popularity vs NumPy float64 references; λ selection."""

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import scipy.sparse as sp
from absl.testing import absltest, parameterized

from infinite_ae import evaluation, kernels, models
from infinite_ae.data.interactions import Interactions
from infinite_ae.models import ease as ease_lib

RTOL = {np.float32: 2e-4, np.float64: 1e-9}
ATOL = {np.float32: 2e-5, np.float64: 1e-10}
DTYPES = (("float32", np.float32), ("float64", np.float64))

_kernel = jax.jit(kernels.kernel, static_argnums=0)


def _data(num_users=40, num_items=25, seed=0):
    rng = np.random.default_rng(seed)
    dense = rng.random((num_users, num_items)) < 0.3
    split = rng.random((num_users, num_items))
    train = dense & (split < 0.7)
    val = dense & (split >= 0.7) & (split < 0.85)
    test = dense & (split >= 0.85)
    return Interactions.from_matrices(
        train.astype(np.float32), val.astype(np.float32), test.astype(np.float32)
    )


def _ease_reference(x, reg):
    gram = x.T @ x + reg * np.eye(x.shape[1])
    inverse = np.linalg.inv(gram)
    weights = inverse / (-np.diag(inverse))[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights


def _x64(dtype):
    return jax.enable_x64(dtype == np.float64)


class EASETest(parameterized.TestCase):
    @parameterized.named_parameters(*DTYPES)
    def test_matches_numpy_reference(self, dtype):
        data = _data()
        x = data.train.toarray().astype(np.float64)
        with _x64(dtype):
            model = models.EASE(reg=5.0, dtype=dtype).fit(data)
            want = _ease_reference(x, 5.0)
            np.testing.assert_allclose(
                model.weights_, want, rtol=RTOL[dtype], atol=ATOL[dtype]
            )
            np.testing.assert_array_equal(np.diag(model.weights_), 0.0)
            scores = model.score(jnp.asarray(x[:5], dtype), np.arange(5))
            np.testing.assert_allclose(
                scores, x[:5] @ want, rtol=RTOL[dtype], atol=ATOL[dtype] * 10
            )

    def test_chunked_gram_and_inputs(self):
        data = _data()
        x = data.train.toarray()
        old = ease_lib._GRAM_CHUNK_BYTES
        ease_lib._GRAM_CHUNK_BYTES = 7 * x.shape[1] * 4  # 7 users per chunk
        try:
            np.testing.assert_array_equal(ease_lib.gram_matrix(data.train), x.T @ x)
        finally:
            ease_lib._GRAM_CHUNK_BYTES = old
        a = models.EASE(reg=3.0).fit(data.train).weights_
        b = models.EASE(reg=3.0).fit(x).weights_
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)

    def test_memory_check(self):
        self.assertEqual(models.ease_memory_bytes(100), 4 * 100 * 100 * 4)
        with self.assertRaisesRegex(MemoryError, "SANSA"):
            models.EASE(memory_budget_bytes=1000).fit(_data())
        models.EASE(memory_budget_bytes=0).fit(_data())  # 0 disables the check
        with self.assertRaisesRegex(ValueError, "reg"):
            models.EASE(reg=0.0)

    def test_select_reg_eigh_equals_cholesky(self):
        data = _data()
        grid = (1.0, 10.0, 100.0)
        with jax.enable_x64(True):
            chol = models.EASE(dtype=np.float64).select_reg(
                data, grid, "hr@5", method="cholesky", ks=(5,), psp=False
            )
            eigh = models.EASE(dtype=np.float64).select_reg(
                data, grid, "hr@5", method="eigh", ks=(5,), psp=False
            )
            self.assertEqual(chol.reg_, eigh.reg_)
            np.testing.assert_allclose(chol.weights_, eigh.weights_, atol=1e-9)
            np.testing.assert_allclose(
                chol.weights_,
                _ease_reference(data.train.toarray(), chol.reg_),
                atol=1e-9,
            )
            for reg in grid:
                self.assertAlmostEqual(
                    chol.val_metrics_[reg]["ndcg@5"], eigh.val_metrics_[reg]["ndcg@5"]
                )
        self.assertEqual(chol.selection_["method"], "cholesky")

    def test_select_reg_planted(self):
        data = _data()
        x = data.train.toarray().astype(np.float64)
        planted = x @ _ease_reference(x, 100.0)

        def fake_evaluate(score_fn, data, *, split, batch_size):
            self.assertEqual(split, "val")
            users = np.arange(data.train.shape[0])
            scores = np.asarray(score_fn(jnp.asarray(x, jnp.float32), users))
            return {"neg_mse": -float(np.mean((scores - planted) ** 2))}

        model = models.EASE().select_reg(
            data, (1.0, 10.0, 100.0, 1000.0), "neg_mse", evaluate_fn=fake_evaluate
        )
        self.assertEqual(model.reg_, 100.0)
        self.assertEqual(sorted(model.val_metrics_), [1.0, 10.0, 100.0, 1000.0])

    def test_select_reg_on_another_support(self):
        # B learned from a few rows, validated on every real user's train row.
        data = _data()
        x = data.train.toarray().astype(np.float64)
        rows = x[::4] * 0.5  # continuous rows, like a distilled summary
        grid = (1.0, 10.0)
        with jax.enable_x64(True):
            model = models.EASE(dtype=np.float64).select_reg(
                data, grid, "ndcg@5", support=rows, ks=(5,), psp=False
            )
            np.testing.assert_allclose(
                model.weights_, _ease_reference(rows, model.reg_), atol=1e-9
            )
            for reg in grid:
                want = models.EASE(reg, dtype=np.float64).fit(rows)
                val = evaluation.evaluate(
                    want.score, data, split="val", ks=(5,), psp=False
                )
                self.assertAlmostEqual(model.val_metrics_[reg]["ndcg@5"], val["ndcg@5"])


class InfiniteAETest(parameterized.TestCase):
    @parameterized.named_parameters(*DTYPES)
    def test_predict_matches_reference(self, dtype):
        data = _data()
        x = data.train.toarray().astype(np.float64)
        rng = np.random.default_rng(1)
        queries = (rng.random((7, x.shape[1])) < 0.3).astype(np.float64)
        spec = kernels.KernelSpec("ntk", 2)
        with jax.enable_x64(True):
            k_ss = np.asarray(_kernel(spec, x))
            k_qs = np.asarray(_kernel(spec, queries, x))
        ridge = 0.5 * np.trace(k_ss) / k_ss.shape[0]
        alpha = scipy.linalg.solve(k_ss + ridge * np.eye(len(x)), x, assume_a="pos")
        with _x64(dtype):
            model = models.InfiniteAE(spec, reg=0.5, dtype=dtype, batch_size=3)
            model.fit(data.train)  # CSR input
            np.testing.assert_allclose(
                model.predict(queries),
                k_qs @ alpha,
                rtol=RTOL[dtype],
                atol=ATOL[dtype] * 10,
            )
            # Support rows as queries: the in-sample identity X − ridge·α.
            np.testing.assert_allclose(
                model.score(jnp.asarray(x, dtype), np.arange(len(x))),
                x - ridge * alpha,
                rtol=RTOL[dtype],
                atol=ATOL[dtype] * 10,
            )
            dense = models.InfiniteAE(spec, reg=0.5, dtype=dtype).fit(x)
            np.testing.assert_allclose(
                dense.predict(queries), model.predict(queries), rtol=1e-6, atol=1e-7
            )

    def test_select_reg_planted(self):
        data = _data()
        x = data.train.toarray().astype(np.float64)
        grid = (0.5, 2.0, 8.0, 32.0)
        planted_reg = 8.0
        with jax.enable_x64(True):
            k_ss = np.asarray(_kernel(kernels.KernelSpec(), x))
        ridge = planted_reg * np.trace(k_ss) / len(x)
        planted = k_ss @ np.linalg.solve(k_ss + ridge * np.eye(len(x)), x)
        calls = []

        def fake_evaluate(score_fn, data, *, split, batch_size, ks):
            calls.append(ks)
            users = np.arange(data.train.shape[0])[::-1]  # any order
            scores = np.asarray(score_fn(jnp.asarray(x[users], jnp.float32), users))
            return {"neg_mse": -float(np.mean((scores - planted[users]) ** 2))}

        model = models.InfiniteAE().select_reg(
            data, grid, "neg_mse", evaluate_fn=fake_evaluate, ks=(3,)
        )
        self.assertEqual(model.reg_, planted_reg)
        self.assertEqual(calls, [(3,)] * len(grid))
        self.assertTrue(model.selection_["in_sample"])
        # The kept fit is the fit at the chosen λ.
        fresh = models.InfiniteAE(reg=planted_reg).fit(data)
        np.testing.assert_allclose(
            model.fit_.alpha, fresh.fit_.alpha, rtol=1e-3, atol=1e-4
        )
        with self.assertRaisesRegex(ValueError, "metric"):
            models.InfiniteAE().select_reg(
                data, grid, "hr@7", evaluate_fn=fake_evaluate, ks=(3,)
            )

    def test_select_reg_real_evaluation_consistent(self):
        """In-sample, other-support and fresh-fit paths give the same val metrics."""
        from infinite_ae import evaluation

        data = _data(num_users=60, num_items=30, seed=3)
        grid = (1.0, 20.0)
        with jax.enable_x64(True):
            kwargs = dict(ks=(5,), psp=False)
            in_sample = models.InfiniteAE(dtype=np.float64).select_reg(
                data, grid, "hr@5", **kwargs
            )
            others = [
                models.InfiniteAE(dtype=np.float64).select_reg(
                    data,
                    grid,
                    "hr@5",
                    support=data.train.toarray(),
                    max_cache_bytes=cache,
                    method="eigh",
                    **kwargs,
                )
                for cache in (0, 2**30)  # recompute K(X_q, X_S) / cache it
            ]
            self.assertFalse(others[0].selection_["in_sample"])
            for reg in grid:
                fresh = models.InfiniteAE(reg=reg, dtype=np.float64).fit(data)
                want = evaluation.evaluate(fresh.score, data, split="val", **kwargs)
                for model in (in_sample, *others):
                    for key in ("hr@5", "ndcg@5"):
                        self.assertAlmostEqual(
                            model.val_metrics_[reg][key], want[key], places=6
                        )
            self.assertEqual(in_sample.reg_, others[1].reg_)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "fit"):
            models.InfiniteAE().predict(np.ones((2, 3)))
        model = models.InfiniteAE().fit(np.eye(4))
        with self.assertRaisesRegex(ValueError, r"\[B, 4\]"):
            model.predict(np.ones((2, 3)))
        with self.assertRaisesRegex(TypeError, "KernelSpec"):
            models.InfiniteAE(kernel="ntk")
        with self.assertRaisesRegex(ValueError, "reg=-5: the ridge must be >= 0"):
            models.InfiniteAE(reg=-5.0)

    def test_tiny_reg_in_float32_is_invalid_not_silently_scored(self):
        # Repeated users make K singular: at λ = 1e-8 α is NaN in float32. The
        # sweep marks that λ invalid (no validation metric is recorded for it),
        # and a plain fit raises saying what to change.
        data = _data(num_users=40, seed=4)
        rows = np.tile(data.train.toarray()[:8], (5, 1))
        data = Interactions.from_matrices(
            rows,
            np.tile(data.val.toarray()[:8], (5, 1)),
            np.tile(data.test.toarray()[:8], (5, 1)),
        )
        with self.assertLogs(level="WARNING"):
            model = models.InfiniteAE().select_reg(data, grid=(1e-8, 5.0))
        self.assertEqual(model.selection_["invalid_regs"], [1e-8])
        self.assertNotIn(1e-8, model.val_metrics_)
        self.assertEqual(model.reg_, 5.0)
        with self.assertRaisesRegex(ValueError, r"reg=1e-08 is too small for float32"):
            models.InfiniteAE(reg=1e-8).fit(data)
        with self.assertRaisesRegex(ValueError, "not finite at every λ"):
            models.InfiniteAE().select_reg(data, grid=(1e-8,))


class RegistryTest(absltest.TestCase):
    def test_popularity(self):
        data = _data()
        model = models.Popularity().fit(data)
        scores = model.score(jnp.zeros((3, 25)), np.arange(3))
        want = np.asarray(data.train.sum(axis=0)).ravel()
        np.testing.assert_array_equal(scores, np.tile(want, (3, 1)))
        np.testing.assert_array_equal(
            models.Popularity().fit(sp.csr_matrix(data.train)).item_counts_, want
        )

    def test_get_model_and_protocol(self):
        for name in ("infinite_ae", "ease", "popularity"):
            cls = models.get_model(name)
            self.assertIsInstance(cls(), models.Recommender)
        with self.assertRaisesRegex(ValueError, "valid names.*ease"):
            models.get_model("mult_vae")


if __name__ == "__main__":
    absltest.main()
